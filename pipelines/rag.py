"""Rounding for people, RAG ratings, where amber ends, movement and direction of travel.

RAG and direction of travel compare values rounded to the indicator's decimals, because the
board sees rounded numbers: a value shown as 95.0 against a target of 95 must read green, and
two quarters both shown as 23.1 must read "no change". The build asks these functions once per
indicator and the outputs show their answers.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .catalogue import Indicator

GREEN, AMBER, RED, NONE = "green", "amber", "red", "none"
IMPROVING, WORSENING, NO_CHANGE, NOT_APPLICABLE = "improving", "worsening", "no_change", "not_applicable"
UP, DOWN, SAME = "up", "down", "same"

# Float noise is removed at this many places before the real rounding, so 1901/2000*100
# (stored as 95.04999999999999716) rounds like the exact 95.05 it stands for.
_NOISE_PLACES = Decimal("1e-10")


def round_half_away(value: float | int | None, decimals: int) -> float | int | None:
    """Round half away from zero (2.5 -> 3, -2.5 -> -3, 95.05 -> 95.1).

    Python's ``round`` rounds half to even and works on the binary float, so it would show
    95.05 as 95.0 and 2.5 as 2; partnership reports round half away from zero.
    """
    if value is None:
        return None
    raw = Decimal(value) if isinstance(value, int) else Decimal(repr(float(value)))
    exact = raw.quantize(_NOISE_PLACES, rounding=ROUND_HALF_UP)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # -0.04 shows as 0.0, not -0.0
    return int(rounded) if decimals == 0 else float(rounded)


def rag(indicator: Indicator, value: float | int | None) -> str:
    """green / amber / red for rated indicators; ``none`` for neutral, no target or null value."""
    if value is None or not indicator.rated:
        return NONE
    # Decimal arithmetic so a target of 0.3 with tolerance 0.1 never becomes 0.39999999.
    shown = Decimal(repr(round_half_away(value, indicator.decimals)))
    target, tol = Decimal(repr(indicator.target)), Decimal(repr(indicator.tolerance or 0.0))
    if indicator.polarity == "up":
        if shown >= target:
            return GREEN
        return AMBER if shown >= target - tol else RED
    if shown <= target:
        return GREEN
    return AMBER if shown <= target + tol else RED


def amber_edge(indicator: Indicator) -> float | None:
    """The far end of amber (target - tolerance for ``up``, + for ``down``); None if not rated."""
    if not indicator.rated or indicator.target is None:
        return None
    target, tol = Decimal(repr(indicator.target)), Decimal(repr(indicator.tolerance or 0.0))
    return float(target - tol if indicator.polarity == "up" else target + tol)


def change(value: float | int | None, comparison: float | int | None) -> float | int | None:
    """Unrounded ``value - comparison``; null when either is null."""
    if value is None or comparison is None:
        return None
    return value - comparison


def movement(indicator: Indicator, value: float | int | None, previous: float | int | None) -> str | None:
    """``up``, ``down`` or ``same`` against the previous quarter, both rounded as shown (a
    difference too small to be seen is ``same``); None when either is null."""
    now = round_half_away(value, indicator.decimals)
    before = round_half_away(previous, indicator.decimals)
    if now is None or before is None:
        return None
    if now == before:
        return SAME
    return UP if now > before else DOWN


def direction(indicator: Indicator, value: float | int | None, previous: float | int | None) -> str:
    """Direction of travel against the previous quarter, judged by polarity on the ``movement``.

    Neutral indicators, and any comparison with a null, are ``not_applicable`` (there is no
    better direction, or nothing to compare).
    """
    moved = movement(indicator, value, previous)
    if indicator.polarity == "neutral" or moved is None:
        return NOT_APPLICABLE
    if moved == SAME:
        return NO_CHANGE
    return IMPROVING if (moved == UP) == (indicator.polarity == "up") else WORSENING
