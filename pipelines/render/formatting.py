"""Numbers as people see them: rounding, units and the ``c`` of a suppressed figure.

Every output that leaves the analyst's machine (HTML, plain text, Excel, email) goes through
these functions, so a value reads the same everywhere. Nothing here decides: whether a figure
is suppressed, and how a unit reads, are in the scorecard the build made.
"""

from __future__ import annotations

from ..catalogue import Unit
from ..disclosure import SUPPRESSED

# The number shown is the number the RAG was judged on: one rounding rule, in pipelines.rag.
from ..rag import round_half_away

__all__ = ["SUPPRESSED", "round_half_away"]

MINUS = "\u2212"  # a real minus sign, never a leading hyphen


def format_number(value: float | int | None, decimals: int, *, trim: bool = False) -> str:
    """``5,460`` or ``25.7``; ``trim`` drops a zero fraction (a target of 22.0 reads ``22``)."""
    rounded = round_half_away(value, decimals)
    if rounded is None:
        return ""
    places = max(int(decimals), 0)
    text = f"{rounded:,.{places}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_value(value: float | int | None, unit: Unit, decimals: int, *, trim: bool = False) -> str:
    """A value with its unit as the catalogue writes it (``25.7%``, ``3.1 per day``); empty for null."""
    text = format_number(value, decimals, trim=trim)
    return f"{text}{unit.after_value}" if text else ""


def format_change(value: float | int | None, unit: Unit, decimals: int) -> str:
    """A signed change with the unit's change words (a percentage moves by points: ``+2.6 pts``)."""
    text = format_number(value, decimals)
    if not text:
        return ""
    if not text.startswith("-") and round_half_away(value, decimals) != 0:
        text = "+" + text
    return text.replace("-", MINUS) + unit.after_change


def format_difference(value: float | int | None, unit: Unit, decimals: int) -> str:
    """An unsigned difference, such as a tolerance (``3 pts``, ``0.5 per 100``)."""
    text = format_number(value, decimals, trim=True)
    return f"{text}{unit.after_change}" if text else ""


def suppression_note(threshold: int) -> str:
    """The footnote every suppressed output carries, for the threshold the build used."""
    return (
        f"{SUPPRESSED}: suppressed. The figure is based on fewer than {threshold + 1} children or "
        f"events (1 to {threshold}), so its value, numerator and denominator are not shown, "
        "to protect the children concerned."
    )
