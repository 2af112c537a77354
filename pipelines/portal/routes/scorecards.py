"""The board's pages: ``/scorecards`` (the quarters built), ``/scorecards/{quarter}`` (the built
page, as it was emailed), ``/scorecards/{quarter}/indicators/{id}`` (an indicator's page with its
full SPC chart) and ``/scorecards/{quarter}/workbook`` (its Excel file). Images are inlined from
the quarter's own folder; links between the built pages are pointed at these routes. The quarter
must be written exactly as a quarter's code (``2024-25Q4``) before it names a folder, so nothing
else under ``out/`` can be reached."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.exceptions import HTTPException

from ...config import Settings
from ...periods import PeriodError, Quarter
from .. import audit
from ..security import SCORECARD_CSP
from ..sessions import Session
from ..web import need, portal_of, render

router = APIRouter()

Reader = Annotated[Session, Depends(need(lambda u: u.can_read_scorecards))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_CODE = re.compile(r"\d{4}-\d{2}Q[1-4]")
# An image a built page refers to: a PNG in the quarter's charts/, icons/ or indicators/ folder,
# relative to the page (the scorecard at the top, an indicator page one level down).
_IMAGE = re.compile(r'src="((?:\.\./)?(?:(?:charts|icons|indicators)/)?[A-Za-z0-9_-]{1,100}\.png)"')
_INDICATOR_LINK = re.compile(r'href="indicators/([A-Za-z0-9_-]{1,40})\.html"')
_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def _folder(settings: Settings, code: str) -> Path:
    """The built quarter's folder, or 404 for anything that is not a quarter built."""
    if not _CODE.fullmatch(code):
        raise HTTPException(404)
    try:
        quarter = Quarter.parse(code)
    except PeriodError:
        raise HTTPException(404) from None
    if quarter.code != code:
        raise HTTPException(404)
    folder = settings.out / quarter.code
    if not (folder / "scorecard.html").is_file():
        raise HTTPException(404)
    return folder


def built_quarters(settings: Settings) -> list[dict]:
    """The quarters with a built scorecard in ``out/``, newest first."""
    found = []
    if settings.out.is_dir():
        for entry in settings.out.iterdir():
            if not _CODE.fullmatch(entry.name) or not (entry / "scorecard.html").is_file():
                continue
            try:
                quarter = Quarter.parse(entry.name)
            except PeriodError:
                continue
            built = datetime.fromtimestamp((entry / "scorecard.html").stat().st_mtime, UTC)
            found.append(
                {
                    "code": quarter.code,
                    "label": quarter.label,
                    "built": built.strftime("%Y-%m-%d %H:%M UTC"),
                    "has_workbook": (entry / "scorecard.xlsx").is_file(),
                }
            )
    return sorted(found, key=lambda q: q["code"], reverse=True)


@router.get("/scorecards")
def scorecards(request: Request, session: Reader) -> Response:
    settings = portal_of(request).settings
    return render(request, "scorecards.html.j2", title="Scorecards", quarters=built_quarters(settings))


def _for_the_portal(html: str, folder: Path, page_folder: Path) -> str:
    """A built page with its images inline (it fits a phone by itself: its own media queries)."""
    return _inline_images(html, folder, page_folder)


def _inline_images(html: str, folder: Path, page_folder: Path) -> str:
    """The page's images as data: URIs, read only from inside the quarter's ``folder``, so the
    page shows whole under its own Content Security Policy."""
    root = folder.resolve()

    def inline(match: re.Match) -> str:
        png = (page_folder / match.group(1)).resolve()
        if not png.is_relative_to(root) or not png.is_file():
            return 'src=""'
        return f'src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode("ascii")}"'

    return _IMAGE.sub(inline, html)


def _audit_view(request: Request, session: Session, detail: str) -> None:
    audit.record(
        portal_of(request).engine,
        "download",
        user_id=session.user.user_id,
        email=session.user.email,
        detail=detail,
        remote=request.client.host if request.client else None,
    )


@router.get("/scorecards/{quarter}")
def scorecard(request: Request, quarter: str, session: Reader) -> Response:
    folder = _folder(portal_of(request).settings, quarter)
    html = (folder / "scorecard.html").read_text(encoding="utf-8")
    html = _INDICATOR_LINK.sub(lambda m: f'href="/scorecards/{folder.name}/indicators/{m.group(1)}"', html)
    html = _for_the_portal(html, folder, folder)
    _audit_view(request, session, f"scorecard page {folder.name}")
    return HTMLResponse(html, headers={"content-security-policy": SCORECARD_CSP})


@router.get("/scorecards/{quarter}/indicators/{indicator_id}")
def indicator_page(request: Request, quarter: str, indicator_id: str, session: Reader) -> Response:
    folder = _folder(portal_of(request).settings, quarter)
    page = folder / "indicators" / f"{indicator_id}.html"
    if not _ID.fullmatch(indicator_id) or not page.is_file():
        raise HTTPException(404)
    html = page.read_text(encoding="utf-8")
    html = html.replace('href="../scorecard.html"', f'href="/scorecards/{folder.name}"')
    html = html.replace('href="../../index.html"', 'href="/scorecards"')
    html = _for_the_portal(html, folder, folder / "indicators")
    _audit_view(request, session, f"indicator page {folder.name} {indicator_id}")
    return HTMLResponse(html, headers={"content-security-policy": SCORECARD_CSP})


@router.get("/scorecards/{quarter}/workbook")
def workbook(request: Request, quarter: str, session: Reader) -> Response:
    portal = portal_of(request)
    folder = _folder(portal.settings, quarter)
    path = folder / "scorecard.xlsx"
    if not path.is_file():
        raise HTTPException(404)
    _audit_view(request, session, f"scorecard workbook {folder.name}")
    return FileResponse(path, media_type=XLSX, filename=f"scorecard-{folder.name}.xlsx")
