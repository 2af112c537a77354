"""``/returns``: each visible source's returns by quarter (received, late, missing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ...sources import partner_sources
from ..returns import returns_by_quarter
from ..sessions import Session
from ..web import need, portal_of, render

router = APIRouter()


@router.get("/returns")
def returns(request: Request, session: Annotated[Session, Depends(need(lambda u: u.can_submit))]) -> Response:
    portal = portal_of(request)
    sources = session.user.visible_sources(s.name for s in partner_sources())
    return render(request, "returns.html.j2", title="Returns", quarters=returns_by_quarter(portal.engine, sources))
