"""The outputs people receive, rendered from the typed ``Scorecard`` (``pipelines.model``).

Renderers only format: every rating, exception, suppression, direction, SPC signal, order,
label and unit they show is in the scorecard the build made (see docs/architecture.md).
"""

from .archive import write_archive_index, write_icons, write_indicator_pages
from .charts import mdc_chart, render_charts, render_full_charts
from .email import build_scorecard_email
from .excel import write_workbook
from .formatting import round_half_away
from .html import render_html
from .sentences import exception_sentences, subject_for
from .text import render_text

__all__ = [
    "build_scorecard_email",
    "exception_sentences",
    "mdc_chart",
    "render_charts",
    "render_full_charts",
    "render_html",
    "render_text",
    "round_half_away",
    "subject_for",
    "write_archive_index",
    "write_icons",
    "write_indicator_pages",
    "write_workbook",
]
