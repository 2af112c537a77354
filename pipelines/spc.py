"""Statistical process control (XmR charts) after NHS England "Making Data Count".

RAG compares one number with a target; SPC says whether the latest month is signal or noise.
Limits are mean ± 2.66 × mean moving range over every point (no outlier screening). A point is
special cause when any of four rules holds (see ``special_cause_rules``).

Under ``MIN_POINTS`` points no judgement is made: variation is ``insufficient_history``,
assurance is null and no point is flagged, but the mean and limits are still reported (when
they can be computed) so a chart can draw them.

This module is the only place the rules are worked out: besides the flags it says, for the
latest point, each rule's side and run length (``Signal``), and for each special-cause point
whether it is good or bad news, so the sentences and charts describe a signal without
re-deriving it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_POINTS = 12
RUN_LENGTH = 7
SIGMA_FACTOR = 2.66

OUTSIDE, SHIFT, TREND, TWO_OF_THREE = "outside_limits", "shift", "trend", "two_of_three"

COMMON = "common_cause"
IMPROVEMENT, CONCERN = "special_cause_improvement", "special_cause_concern"
HIGH, LOW = "special_cause_high", "special_cause_low"
INSUFFICIENT = "insufficient_history"
PASS, FAIL, HIT_AND_MISS = "pass", "fail", "hit_and_miss"
RULE_ORDER = (OUTSIDE, SHIFT, TREND, TWO_OF_THREE)
HIGH_SIDE, LOW_SIDE = "high", "low"
# What a special-cause point means, for its colour on a chart.
IMPROVEMENT_POINT, CONCERN_POINT, NEUTRAL_POINT = "improvement", "concern", "neutral"


@dataclass(frozen=True)
class Signal:
    """A rule the latest point meets, with what a sentence needs to name it.

    ``side`` is ``high`` (above the mean, above the upper limit, or rising) or ``low``;
    ``length`` is the number of points: the run (shift, trend), those beyond the two-thirds
    line among the last three (two_of_three), or 1 (outside the limits)."""

    rule: str
    side: str
    length: int


@dataclass(frozen=True)
class Limits:
    mean: float
    mean_moving_range: float
    lower: float
    upper: float

    def side(self, x: float) -> int:
        """+1 above the mean, -1 below, 0 on it (a point on the mean breaks a run)."""
        eps = 1e-9 * max(1.0, abs(self.mean))
        if x > self.mean + eps:
            return 1
        if x < self.mean - eps:
            return -1
        return 0

    def beyond_two_thirds(self, x: float) -> int:
        """+1/-1 when beyond 2/3 of the way from the mean to the upper/lower limit, else 0."""
        if x > self.mean + 2 / 3 * (self.upper - self.mean):
            return 1
        if x < self.mean - 2 / 3 * (self.mean - self.lower):
            return -1
        return 0


@dataclass(frozen=True)
class SpcResult:
    points: int
    mean: float | None
    lower_limit: float | None
    upper_limit: float | None
    variation: str
    assurance: str | None
    special_cause: tuple[bool, ...]  # one flag per point, oldest first
    signals: tuple[str, ...] = field(default=())  # rules the latest point meets
    details: tuple[Signal, ...] = field(default=())  # the same rules with side and length
    judgements: tuple[str | None, ...] = field(default=())  # per point: improvement/concern/neutral, or None


def xmr_limits(values: list[float]) -> Limits | None:
    """Mean ± 2.66 × mean moving range; None with fewer than 2 points (no moving range)."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    mr = sum(abs(b - a) for a, b in zip(values, values[1:])) / (len(values) - 1)
    return Limits(mean, mr, mean - SIGMA_FACTOR * mr, mean + SIGMA_FACTOR * mr)


def _flag_runs(keys: list[int], flags: list[set[str]], rule: str) -> None:
    """Flag every point of a maximal run of ≥ RUN_LENGTH equal non-zero keys."""
    start = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            if keys[start] != 0 and i - start >= RUN_LENGTH:
                for j in range(start, i):
                    flags[j].add(rule)
            start = i


def special_cause_rules(values: list[float], limits: Limits) -> list[set[str]]:
    """For each point, the special-cause rules it meets.

    (1) outside the limits; (2) one of a run of ≥ 7 consecutive points all above or all below
    the mean (a point on the mean breaks the run); (3) one of a run of ≥ 7 consecutive points
    each strictly greater (or each strictly less) than the one before; (4) beyond the 2/3 line
    with another point beyond it on the same side within a window of 3 consecutive points.
    """
    n = len(values)
    flags: list[set[str]] = [set() for _ in range(n)]
    for i, x in enumerate(values):
        if x > limits.upper or x < limits.lower:
            flags[i].add(OUTSIDE)
    _flag_runs([limits.side(x) for x in values], flags, SHIFT)
    # Trend: step k is +1 when values[k] > values[k-1]; a run of 6 equal steps is 7 points.
    steps = [0] + [(b > a) - (b < a) for a, b in zip(values, values[1:])]
    start = 1
    for i in range(2, n + 1):
        if i == n or steps[i] != steps[start]:
            if start < n and steps[start] != 0 and i - start + 1 >= RUN_LENGTH:
                for j in range(start - 1, i):
                    flags[j].add(TREND)
            start = i
    beyond = [limits.beyond_two_thirds(x) for x in values]
    for i, b in enumerate(beyond):
        if b and any(beyond[j] == b for j in range(max(0, i - 2), min(n, i + 3)) if j != i):
            flags[i].add(TWO_OF_THREE)
    return flags


def _variation(values: list[float], limits: Limits, rules: set[str], polarity: str) -> str:
    """Judge the latest point. The side is the latest point's side of the mean, as the spec
    says; only a point exactly on the mean (special only through a trend) takes the trend's
    direction."""
    if not rules:
        return COMMON
    high = limits.side(values[-1])
    if high == 0:
        high = 1 if values[-1] > values[-2] else -1
    if polarity == "neutral":
        return HIGH if high > 0 else LOW
    good = high > 0 if polarity == "up" else high < 0
    return IMPROVEMENT if good else CONCERN


def _side_word(positive: bool) -> str:
    return HIGH_SIDE if positive else LOW_SIDE


def _run_back(keys: list[int]) -> int:
    """How many points at the end of ``keys`` equal the last one."""
    count = 0
    for key in reversed(keys):
        if key != keys[-1]:
            break
        count += 1
    return count


def signal_details(values: list[float], limits: Limits, rules: set[str]) -> tuple[Signal, ...]:
    """Side and length of each rule the latest point meets (``rules``), in ``RULE_ORDER``."""
    last = values[-1]
    details = []
    if OUTSIDE in rules:
        details.append(Signal(OUTSIDE, _side_word(last > limits.upper), 1))
    if SHIFT in rules:
        sides = [limits.side(x) for x in values]
        details.append(Signal(SHIFT, _side_word(sides[-1] > 0), _run_back(sides)))
    if TREND in rules:
        steps = [(b > a) - (b < a) for a, b in zip(values, values[1:])]
        details.append(Signal(TREND, _side_word(steps[-1] > 0), _run_back(steps) + 1))
    if TWO_OF_THREE in rules:
        side = limits.beyond_two_thirds(last)
        near = sum(1 for x in values[-3:] if limits.beyond_two_thirds(x) == side)
        details.append(Signal(TWO_OF_THREE, _side_word(side > 0), near))
    return tuple(details)


def _judgement(x: float, limits: Limits, polarity: str) -> str:
    """A special-cause point's news: above the mean is good for ``up``; on the mean, or with no
    better direction, it is neither."""
    side = limits.side(x)
    if side == 0 or polarity not in ("up", "down"):
        return NEUTRAL_POINT
    return IMPROVEMENT_POINT if (side > 0) == (polarity == "up") else CONCERN_POINT


def _assurance(limits: Limits, polarity: str, target: float) -> str:
    """pass: the target is beyond the limit on the bad side (every month should meet it);
    fail: beyond the limit on the good side (no month is expected to); else hit and miss."""
    if polarity == "up":
        if target <= limits.lower:
            return PASS
        return FAIL if target > limits.upper else HIT_AND_MISS
    if target >= limits.upper:
        return PASS
    return FAIL if target < limits.lower else HIT_AND_MISS


def analyse(values: list[float], polarity: str, target: float | None = None) -> SpcResult:
    """SPC for a series (oldest first). Assurance is given only when a target is passed and
    the polarity is up or down (rated indicators)."""
    values = [float(v) for v in values]
    n = len(values)
    limits = xmr_limits(values)
    mean = limits.mean if limits else (values[0] if n == 1 else None)
    lower = limits.lower if limits else None
    upper = limits.upper if limits else None
    if n < MIN_POINTS or limits is None:
        return SpcResult(
            n,
            mean,
            lower,
            upper,
            INSUFFICIENT,
            None,
            tuple(False for _ in values),
            judgements=tuple(None for _ in values),
        )
    rules = special_cause_rules(values, limits)
    rated = polarity in ("up", "down") and target is not None
    return SpcResult(
        points=n,
        mean=mean,
        lower_limit=lower,
        upper_limit=upper,
        variation=_variation(values, limits, rules[-1], polarity),
        assurance=_assurance(limits, polarity, target) if rated and target is not None else None,
        special_cause=tuple(bool(r) for r in rules),
        signals=tuple(r for r in RULE_ORDER if r in rules[-1]),
        details=signal_details(values, limits, rules[-1]),
        judgements=tuple(_judgement(x, limits, polarity) if r else None for x, r in zip(values, rules)),
    )
