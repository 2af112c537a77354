"""Lead officers' commentary (``pipelines.commentary``): ``/commentary`` (the quarters),
``/commentary/{quarter}`` (the indicators this user may comment on, the exceptions of the
quarter's last build first, those awaiting commentary marked; for the analyst, every exception
awaiting commentary before the build emails) and a form per indicator posting to
``/commentary/{quarter}/{indicator}``.

The analyst may comment on any indicator, a data officer on those whose catalogue ``source`` is
one of theirs (``PortalUser.can_comment_on``), the board on none: anything else is 403 whatever
id is guessed. The audit log records ``comment`` with the indicator and quarter, never the text;
the text is shown escaped (the templates autoescape), never as markup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.exceptions import HTTPException

from ...catalogue import Indicator, load_catalogue
from ...commentary import (
    MAX_CHARS,
    CommentaryError,
    add_commentary,
    awaiting_commentary,
    built_exceptions,
    latest_commentary,
)
from ...model import Commentary
from ...periods import PeriodError, Quarter
from ...sources import load_sources
from ...warehouse.schema import mart_scorecard
from .. import audit
from ..accounts import PortalUser
from ..sessions import Session
from ..web import Forbidden, csrf_checked, need, portal_of, render

router = APIRouter()

Commenter = Annotated[Session, Depends(need(lambda u: u.can_comment))]
_CODE = re.compile(r"\d{4}-\d{2}Q[1-4]")
QUARTERS_LISTED = 8


def _quarter(code: str) -> Quarter:
    """The quarter a path names, written exactly as its code (``2024-25Q1``), or 404."""
    if not _CODE.fullmatch(code):
        raise HTTPException(404)
    try:
        quarter = Quarter.parse(code)
    except PeriodError:
        raise HTTPException(404) from None
    if quarter.code != code:
        raise HTTPException(404)
    return quarter


def _indicator(user: PortalUser, indicator_id: str) -> Indicator:
    """The catalogue indicator, if this user may comment on it: 404 when there is none, 403 when
    it is another source's (or the user may comment on nothing)."""
    found = next((i for i in load_catalogue() if i.id == indicator_id), None)
    if found is None:
        raise HTTPException(404)
    if not user.can_comment_on(found.source):
        raise Forbidden()
    return found


@dataclass(frozen=True)
class Row:
    """One indicator on a quarter's commentary page."""

    id: str
    name: str
    source_title: str
    exception: bool
    awaiting: bool
    current: Commentary | None


def _rows(user: PortalUser, exceptions: list[str] | None, latest: dict[str, Commentary]) -> list[Row]:
    titles = {name: s.title for name, s in load_sources().items()}
    flagged = set(exceptions or ())
    rows = [
        Row(
            id=ind.id,
            name=ind.name,
            source_title=titles.get(ind.source, ind.source),
            exception=ind.id in flagged,
            awaiting=ind.id in flagged and ind.id not in latest,
            current=latest.get(ind.id),
        )
        for ind in load_catalogue()
        if user.can_comment_on(ind.source)
    ]
    return sorted(rows, key=lambda r: not r.exception)  # exceptions first, each part in catalogue order


def _built_quarters(request: Request) -> list[Quarter]:
    with portal_of(request).engine.connect() as conn:
        query = select(mart_scorecard.c.quarter).order_by(mart_scorecard.c.quarter.desc()).limit(QUARTERS_LISTED)
        codes: list[str] = list(conn.execute(query).scalars())
    return [Quarter.parse(c) for c in codes]


@router.get("/commentary")
def quarters(request: Request, session: Commenter) -> Response:
    built = _built_quarters(request)
    latest = Quarter.latest_complete(date.today())
    listed = sorted({*built, latest}, reverse=True)
    return render(
        request, "commentary_quarters.html.j2", title="Commentary", quarters=listed, built={q.code for q in built}
    )


def _page(
    request: Request,
    user: PortalUser,
    quarter: Quarter,
    *,
    status_code: int = 200,
    message: str | None = None,
    kept: str | None = None,
    draft: tuple[str, str] | None = None,
) -> Response:
    engine = portal_of(request).engine
    exceptions = built_exceptions(engine, quarter)
    rows = _rows(user, exceptions, latest_commentary(engine, quarter))
    return render(
        request,
        "commentary.html.j2",
        status_code=status_code,
        title=f"Commentary for {quarter.label}",
        quarter=quarter,
        built=exceptions is not None,
        rows=rows,
        awaiting=awaiting_commentary(engine, quarter) if user.is_analyst else None,
        max_chars=MAX_CHARS,
        message=message,
        kept=kept,
        draft=draft,
    )


@router.get("/commentary/{quarter}")
def quarter_page(request: Request, quarter: str, session: Commenter, kept: str | None = None) -> Response:
    found = _quarter(quarter)
    return _page(request, session.user, found, kept=kept if kept and re.fullmatch(r"[A-Z]{2}\d{2}", kept) else None)


@router.post("/commentary/{quarter}/{indicator_id}", dependencies=[Depends(csrf_checked)])
async def comment(request: Request, quarter: str, indicator_id: str, session: Commenter) -> Response:
    found = _quarter(quarter)
    user = session.user
    indicator = _indicator(user, indicator_id)
    form = await request.form()
    text = str(form.get("text") or "")
    portal = portal_of(request)
    try:
        add_commentary(portal.engine, found, indicator.id, text, user.email)
    except CommentaryError as exc:
        return _page(
            request,
            user,
            found,
            status_code=400,
            message=f"{indicator.id}: {exc}.",
            draft=(indicator.id, text[: MAX_CHARS * 2]),
        )
    audit.record(
        portal.engine,
        "comment",
        user_id=user.user_id,
        email=user.email,
        detail=f"commentary on {indicator.id} for {found.code}",
        remote=request.client.host if request.client else None,
    )
    return RedirectResponse(f"/commentary/{found.code}?kept={indicator.id}#{indicator.id}", status_code=303)
