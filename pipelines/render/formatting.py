"""Numbers as people see them: rounding, units and statistical disclosure control.

Every output that leaves the analyst's machine (HTML, plain text, Excel, email) goes through
these functions, so a value reads the same everywhere and a disclosive figure is never shown.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Mapping

SUPPRESSED = "c"
DEFAULT_SUPPRESSION_THRESHOLD = 5

# Float noise is removed at this many places before the real rounding, so 1901/2000*100
# (stored as 95.04999999999999716) rounds like the exact 95.05 it stands for. The same rule
# as pipelines.rag, so the number shown is the number the RAG was judged on.
_NOISE_PLACES = Decimal("1e-10")

# Units written straight after the number ("25.7%"); others follow a space ("3.2 per day").
_TIGHT_UNITS = {"%"}
_NO_SUFFIX_UNITS = {"count", "", None}


def round_half_away(value: float | int | None, decimals: int) -> float | int | None:
    """Round half away from zero (2.25 -> 2.3, -2.25 -> -2.3), as partnership reports do.

    Python's ``round`` rounds half to even on the binary float, so it would show 2.25 as 2.2.
    """
    if value is None:
        return None
    exact = Decimal(repr(float(value))).quantize(_NOISE_PLACES, rounding=ROUND_HALF_UP)
    rounded = exact.quantize(Decimal(1).scaleb(-int(decimals)), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # never show "-0.0"
    return int(rounded) if int(decimals) <= 0 else float(rounded)


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


def is_small(number: Any, threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> bool:
    """A count between 1 and the threshold inclusive, the range that could identify a child."""
    if number is None or isinstance(number, bool):
        return False
    try:
        return 1 <= float(number) <= threshold
    except (TypeError, ValueError):
        return False


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
