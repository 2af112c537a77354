"""Numbers as people see them: rounding, units and statistical disclosure control.

Every output that leaves the analyst's machine (HTML, plain text, Excel, email) goes through
these functions, so a value reads the same everywhere and a disclosive figure is never shown.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..config import DEFAULT_SUPPRESSION_THRESHOLD
from ..disclosure import SUPPRESSED, is_small
# The number shown is the number the RAG was judged on: one rounding rule, in pipelines.rag.
from ..rag import round_half_away

__all__ = ["DEFAULT_SUPPRESSION_THRESHOLD", "SUPPRESSED", "is_small", "round_half_away"]

# Units written straight after the number ("25.7%"); others follow a space ("3.2 per day").
_TIGHT_UNITS = {"%"}
_NO_SUFFIX_UNITS = {"count", "", None}


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


def with_unit(number_text: str, unit: str | None) -> str:
    """Attach the unit so a reader never has to guess whether 3.1 is a rate or a percentage."""
    if not number_text or unit in _NO_SUFFIX_UNITS:
        return number_text
    if unit in _TIGHT_UNITS:
        return f"{number_text}{unit}"
    return f"{number_text} {unit}"


def format_value(value: float | int | None, unit: str | None, decimals: int, *, trim: bool = False) -> str:
    """A value with its unit, rounded for people; an empty string for null."""
    return with_unit(format_number(value, decimals, trim=trim), unit)


def format_change(value: float | int | None, unit: str | None, decimals: int) -> str:
    """A signed change: percentages change by percentage points, not by per cent."""
    text = format_number(value, decimals)
    if not text:
        return ""
    if not text.startswith("-") and round_half_away(value, decimals) != 0:
        text = "+" + text
    text = text.replace("-", "\u2212")  # a real minus sign, never a leading hyphen
    if unit == "%":
        return f"{text} pts"
    return with_unit(text, unit)


def is_suppressed(indicator: Mapping[str, Any], threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> bool:
    """Whether value, numerator and denominator must show ``c``.

    The pipeline's own ``suppressed`` flag is honoured, and the rule is re-applied with this
    output's threshold, so an output never shows less protection than either asks for.
    """
    if indicator.get("suppressed"):
        return True
    return bool(indicator.get("disclosive")) and is_small(indicator.get("numerator"), threshold)


def comparison_suppressed(indicator: Mapping[str, Any], value: Any, threshold: int) -> bool:
    """A disclosive count's earlier value is its own numerator, so it is suppressed the same way.

    (For rates the earlier numerators are not in the scorecard, so only counts can be judged.)
    """
    return bool(indicator.get("disclosive")) and indicator.get("unit") == "count" and is_small(value, threshold)


def suppression_note(threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> str:
    """The footnote every suppressed output carries."""
    return (
        f"{SUPPRESSED}: suppressed. The figure is based on fewer than {threshold + 1} children or "
        f"events (1 to {threshold}), so its value, numerator and denominator are not shown, "
        "to protect the children concerned."
    )
