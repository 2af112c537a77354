"""The plain-text scorecard: the email's alternative part, for readers without HTML mail."""

from __future__ import annotations

from typing import Any, Mapping

from .formatting import DEFAULT_SUPPRESSION_THRESHOLD
from .templating import render
from .view import build_view


def render_text(
    scorecard: Mapping[str, Any], *, suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
) -> str:
    """The same summary, exceptions and figures as the HTML, as plain text."""
    view = build_view(scorecard, suppression_threshold=suppression_threshold)
    return render("scorecard.txt.j2", autoescape=False, v=view)
