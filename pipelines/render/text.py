"""The plain-text scorecard: the email's alternative part, for readers without HTML mail."""

from __future__ import annotations

from ..model import Scorecard
from .templating import render
from .view import build_view


def render_text(scorecard: Scorecard) -> str:
    """The same summary, exceptions and figures as the HTML, as plain text, with each indicator's
    commentary as the build read it (``commentary awaited`` for an exception without)."""
    results = {i.id: i for i in scorecard.indicators}
    return render("scorecard.txt.j2", autoescape=False, v=build_view(scorecard), results=results)
