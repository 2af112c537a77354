"""``/status`` (the analyst): the pipeline's status, exactly what ``scorecard status`` shows."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...status import system_status
from ..sessions import Session
from ..web import need, portal_of, render

router = APIRouter()


@router.get("/status")
async def status(request: Request, session: Annotated[Session, Depends(need(lambda u: u.is_analyst))]) -> Response:
    portal = portal_of(request)
    current = await run_in_threadpool(partial(system_status, portal.settings, engine=portal.engine))
    return render(request, "status.html.j2", title="Pipeline status", status=current)
