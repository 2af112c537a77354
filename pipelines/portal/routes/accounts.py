"""The analyst's view of accounts and of the audit log: ``/users`` lists every account (read
only: the command line manages them, ``scorecard users``), ``/audit`` the log, newest first,
filtered by action and by user, a page at a time."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from .. import audit
from ..accounts import list_users
from ..sessions import Session
from ..web import need, portal_of, render

router = APIRouter()

Analyst = Annotated[Session, Depends(need(lambda u: u.is_analyst))]
PER_PAGE = 50


@router.get("/users")
def users(request: Request, session: Analyst) -> Response:
    return render(request, "users.html.j2", title="Accounts", accounts=list_users(portal_of(request).engine))


@router.get("/audit")
def audit_log(
    request: Request,
    session: Analyst,
    action: Annotated[str | None, Query(max_length=32)] = None,
    user: Annotated[str | None, Query(max_length=254)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    engine = portal_of(request).engine
    action, user = (action or "").strip() or None, (user or "").strip().lower() or None
    found = audit.search(engine, action=action, email=user, page=page, per_page=PER_PAGE)
    filters = {k: v for k, v in (("action", action), ("user", user)) if v}

    def page_link(n: int) -> str:
        return "/audit?" + urlencode({**filters, "page": n})

    return render(
        request,
        "audit.html.j2",
        title="Audit log",
        found=found,
        actions=audit.actions(engine),
        action=action,
        user_filter=user,
        newer=page_link(page - 1) if page > 1 else None,
        older=page_link(page + 1) if found.has_next else None,
    )
