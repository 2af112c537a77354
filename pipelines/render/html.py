"""The HTML scorecard: the page on disk and the body of the PMSG email.

Email-safe by construction: every style is an inline attribute (Outlook and Gmail drop
``<style>`` blocks), layout is tables, there are no scripts and no remote resources; charts are
given as ``src`` values (a file beside the page, or ``cid:`` parts of the email).
"""

from __future__ import annotations

from collections.abc import Mapping

from ..model import Scorecard
from .templating import render
from .view import build_view


def render_html(
    scorecard: Scorecard,
    *,
    charts: Mapping[str, str] | None = None,
    icons: Mapping[str, str] | None = None,
    pages: Mapping[str, str] | None = None,
) -> str:
    """The scorecard page; ``charts`` maps indicator id to a sparkline's ``src``, ``icons`` an
    SPC icon's key to its ``src``, ``pages`` indicator id to its own page (the archive only:
    the email has no pages to link to)."""
    view = build_view(scorecard, charts=charts, icons=icons, pages=pages)
    return render("scorecard.html.j2", autoescape=True, v=view)
