"""The HTML scorecard: the page on disk and the body of the PMSG email.

Email-safe by construction: layout is tables with widths in attributes (Outlook's Word engine
shows them without any CSS), the look is one ``<style>`` block of class rules in the head
(``scorecard_templates/_scorecard_css.j2``: Outlook, Gmail, Apple Mail and Outlook.com read it;
written once, it keeps the email under Gmail's clipping size) with a media query that turns rows
into cards below 600 px, and only the badges' colours are inline. There are no scripts and no
remote resources; charts are given as ``src`` values (a file beside the page, or ``cid:`` parts
of the email). See README "The scorecard's layout".
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
