"""The first page after sign-in, by role: a data officer's returns dashboard, the board's
scorecards, the analyst's overview of every source."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...sources import partner_sources
from ..commentary import commentary_due
from ..returns import returns_by_quarter
from ..submissions import list_submissions
from ..web import SignedIn, portal_of, render
from .scorecards import built_quarters

router = APIRouter()

DASHBOARD_QUARTERS = 4


@router.get("/")
def home(request: Request, session: SignedIn) -> Response:
    user = session.user
    if not user.can_submit:
        if user.can_read_scorecards:  # the board's first page is the list of scorecards itself
            return render(
                request,
                "scorecards.html.j2",
                title="Scorecards",
                quarters=built_quarters(portal_of(request).settings),
            )
        return render(request, "home.html.j2")
    portal = portal_of(request)
    sources = user.visible_sources(s.name for s in partner_sources())
    quarters = returns_by_quarter(portal.engine, sources, quarters=DASHBOARD_QUARTERS)
    waiting = [s for s in list_submissions(portal.engine, None if user.is_analyst else sources) if s.waiting]
    late = [r for q in quarters for r in q.returns if r.state == "late"]
    return render(
        request,
        "dashboard.html.j2",
        title="Your returns" if not user.is_analyst else "Overview",
        quarters=quarters,
        waiting=waiting,
        late=late,
        sources=sources,
        commentary_due=commentary_due(portal.engine, user),
    )
