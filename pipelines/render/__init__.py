"""The outputs people receive, rendered from the ``scorecard.json`` dict.

Only the dict is needed (the catalogue is optional, for the workbook's definitions), so every
output can be rebuilt from a stored ``scorecard.json`` without the warehouse.
"""

from .archive import write_archive_index
from .charts import render_charts
from .email import build_scorecard_email
from .excel import write_workbook
from .formatting import round_half_away
from .html import render_html
from .sentences import exception_sentences, subject_for
from .text import render_text

__all__ = [
    "build_scorecard_email",
    "exception_sentences",
    "render_charts",
    "render_html",
    "render_text",
    "round_half_away",
    "subject_for",
    "write_archive_index",
    "write_workbook",
]
