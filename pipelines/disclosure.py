"""Statistical disclosure control: which figures could identify a child.

One rule for the whole product, decided here and nowhere else: a disclosive indicator whose
numerator is from 1 to the threshold (default 5) shows ``c`` in every output that leaves the
warehouse host, and so does a disclosive count's earlier value in that range (a count's value is
its numerator). The build records each decision in the scorecard; outputs show ``c`` where it
says so. The JSON contract keeps the true value with ``suppressed: true``.
"""

from __future__ import annotations

from typing import Any

from .config import DEFAULT_SUPPRESSION_THRESHOLD

SUPPRESSED = "c"


def is_small(number: Any, threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> bool:
    """A count between 1 and the threshold inclusive, the range that could identify a child."""
    if number is None or isinstance(number, bool):
        return False
    try:
        return 1 <= float(number) <= threshold
    except (TypeError, ValueError):
        return False


def suppressed(disclosive: bool, numerator: Any, threshold: int = DEFAULT_SUPPRESSION_THRESHOLD) -> bool:
    """Value, numerator and denominator show ``c``: disclosive, with a numerator of 1..threshold."""
    return bool(disclosive) and is_small(numerator, threshold)


def earlier_suppressed(
    disclosive: bool, is_count: bool, earlier: Any, threshold: int = DEFAULT_SUPPRESSION_THRESHOLD
) -> bool:
    """An earlier quarter's value shows ``c``: a disclosive count's value is its own numerator.
    (A rate's earlier numerators are not in the scorecard, so only counts can be judged.)"""
    return bool(disclosive) and is_count and is_small(earlier, threshold)
