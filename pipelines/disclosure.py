"""Statistical disclosure control: which figures could identify a child.

One rule for the whole product: a disclosive indicator whose numerator is from 1 to the
threshold (default 5) shows ``c`` in every output that leaves the warehouse host. The JSON
contract keeps the true value with ``suppressed: true``.
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
