"""Statistical process control (XmR charts) as NHS England's "Making Data Count" does it.

RAG compares one number with a target; SPC says whether the latest month is signal or noise.
``analyse`` is the one public function (``docs/spc.md`` documents it with a worked example); the
build, the model, the decisions and the sentences all take their SPC from it and never work a
rule out again. The rules are those of ``indicators.md`` ("Statistical process control"):

- limits per segment (a recalculation starts a new one): mean ± 2.66 × mean moving range, no
  outlier screening; the "2σ line" lies 2/3 of the way from the mean to each limit;
- ``outside``: strictly beyond a limit;
- ``shift``: one of a run of at least ``shift_points`` consecutive points strictly on one side of
  the segment's mean (a point on the mean breaks the run; runs stay within a segment);
- ``trend``: one of a run of at least ``trend_points`` consecutive points each strictly greater
  (or each strictly less) than the one before (an equal value breaks it; trends run across
  segments);
- ``two_of_three``: beyond the 2σ line but not beyond the limit, in a window of 3 consecutive
  points of the segment all on that side of the mean, at least 2 of them beyond that 2σ line but
  not beyond the limit.

A missing value (``None``, or NaN from a pandas column) is left out: the points either side of
it are consecutive. Every rule has a side, so each rule a point meets is one of ``RULES``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

SIGMA_FACTOR = 2.66
# The rule settings indicators.md gives as defaults (the catalogue's ``spc:`` block ships them).
DEFAULT_SHIFT_POINTS = 6
DEFAULT_TREND_POINTS = 6
DEFAULT_MINIMUM_POINTS = 13
MIN_POINTS = DEFAULT_MINIMUM_POINTS  # the default minimum, for wording that names it

# The kinds of rule and their sides; a rule's name is ``<kind>_<side>`` (``shift_high``).
OUTSIDE, SHIFT, TREND, TWO_OF_THREE = "outside", "shift", "trend", "two_of_three"
HIGH_SIDE, LOW_SIDE = "high", "low"
KINDS = (OUTSIDE, SHIFT, TREND, TWO_OF_THREE)
RULES = tuple(f"{kind}_{side}" for kind in KINDS for side in (HIGH_SIDE, LOW_SIDE))

COMMON = "common_cause"
IMPROVEMENT, CONCERN = "special_cause_improvement", "special_cause_concern"
HIGH, LOW = "special_cause_high", "special_cause_low"
INSUFFICIENT = "insufficient_history"
PASS, FAIL, HIT_AND_MISS = "pass", "fail", "hit_and_miss"
POLARITIES = ("up", "down", "neutral")
# What a special-cause point means, for its colour on a chart (Making Data Count: orange for
# concern, blue for improvement, purple for neutral; a point with no rule is grey).
IMPROVEMENT_POINT, CONCERN_POINT, NEUTRAL_POINT = "improvement", "concern", "neutral"


@dataclass(frozen=True)
class Point:
    """One input value and what SPC says about it.

    ``mean``, ``lower_limit`` and ``upper_limit`` are those of the point's segment (None when the
    segment has no value, and the limits None when it has fewer than 2); ``rules`` are the names
    (``RULES`` order) of the rules that hold for it; ``judgement`` is what a chart colours it:
    ``improvement``, ``concern``, ``neutral`` (special cause with no better direction) or None
    (no rule holds, or no value)."""

    value: float | None
    mean: float | None
    lower_limit: float | None
    upper_limit: float | None
    rules: tuple[str, ...]
    segment: int  # 0 for the first segment, 1 after the first recalculation, ...
    judgement: str | None

    @property
    def special_cause(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True)
class Signal:
    """A rule the latest point meets, with what a sentence needs to name it: ``rule`` is its kind
    (``outside``, ``shift``, ``trend``, ``two_of_three``), ``side`` is ``high`` (above the mean, or
    rising) or ``low``, and ``length`` is the run's points (shift, trend), the points of the last
    three beyond the 2σ line but within the limit (two_of_three), or 1 (outside)."""

    rule: str
    side: str
    length: int

    @property
    def name(self) -> str:
        """The rule's name as ``Point.rules`` gives it: ``shift_high``."""
        return f"{self.rule}_{self.side}"


@dataclass(frozen=True)
class SpcResult:
    """What ``analyse`` returns: ``variation`` and ``assurance`` judged on the latest point and
    the latest segment, ``conflict`` (rules of both sides hold on the latest point, which Making
    Data Count shows as improvement, or as high for a neutral measure), and ``points``, one per
    input value in input order."""

    variation: str
    assurance: str | None
    conflict: bool
    points: tuple[Point, ...]
    signals: tuple[Signal, ...]  # the rules the latest point meets, with side and length

    @property
    def count(self) -> int:
        """How many points have a value."""
        return sum(1 for p in self.points if p.value is not None)

    @property
    def latest(self) -> Point | None:
        """The latest point (None for an empty series): its mean and limits are the latest
        segment's."""
        return self.points[-1] if self.points else None

    @property
    def mean(self) -> float | None:
        return self.latest.mean if self.latest else None

    @property
    def lower_limit(self) -> float | None:
        return self.latest.lower_limit if self.latest else None

    @property
    def upper_limit(self) -> float | None:
        return self.latest.upper_limit if self.latest else None

    def to_dict(self) -> dict:
        """Plain JSON types, e.g. for ``pandas.DataFrame(result.to_dict()["points"])``."""
        return {
            "variation": self.variation,
            "assurance": self.assurance,
            "conflict": self.conflict,
            "points": [{**asdict(p), "rules": list(p.rules)} for p in self.points],
            "signals": [{**asdict(s), "name": s.name} for s in self.signals],
        }


@dataclass(frozen=True)
class _Limits:
    mean: float
    lower: float | None  # None with fewer than 2 values (no moving range)
    upper: float | None

    def side(self, x: float) -> int:
        """+1 above the mean, -1 below, 0 on it. "On" allows a relative 1e-9, so a value meant
        to equal the mean is not pushed off it by the rounding of the mean's own division."""
        eps = 1e-9 * max(1.0, abs(self.mean))
        return 1 if x > self.mean + eps else -1 if x < self.mean - eps else 0

    def outside(self, x: float) -> int:
        if self.upper is None or self.lower is None:
            return 0
        return 1 if x > self.upper else -1 if x < self.lower else 0

    def near(self, x: float) -> int:
        """+1/-1 beyond the upper/lower 2σ line but not beyond that limit, else 0."""
        if self.upper is None or self.lower is None:
            return 0
        if self.mean + 2 / 3 * (self.upper - self.mean) < x <= self.upper:
            return 1
        if self.lower <= x < self.mean - 2 / 3 * (self.mean - self.lower):
            return -1
        return 0


def _limits(values: Sequence[float]) -> _Limits | None:
    if not values:
        return None
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return _Limits(mean, None, None)
    mr = math.fsum(abs(b - a) for a, b in zip(values, values[1:])) / (len(values) - 1)
    return _Limits(mean, mean - SIGMA_FACTOR * mr, mean + SIGMA_FACTOR * mr)


def _clean(values: Iterable[object]) -> list[float | None]:
    out: list[float | None] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(None)
            continue
        if isinstance(v, (bool, str, bytes)):
            raise TypeError(f"value {i} is {v!r}: values must be numbers or None")
        x = float(v)  # type: ignore[arg-type]  # numbers of any kind (int, numpy, Decimal)
        if math.isinf(x):
            raise ValueError(f"value {i} is infinite")
        out.append(None if math.isnan(x) else x)
    return out


def _flag_runs(keys: list[int], min_length: int, flag: Callable[[int, int], None]) -> list[int]:
    """Call ``flag(j, key)`` for every position of a maximal run of at least ``min_length`` equal
    non-zero keys; return, for each position, the length of the run so far (0 for key 0)."""
    so_far = [0] * len(keys)
    start = 0
    for i in range(len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            if start < len(keys) and keys[start] != 0 and i - start >= min_length:
                for j in range(start, i):
                    flag(j, keys[j])
            start = i
        if i < len(keys) and keys[i] != 0:
            so_far[i] = i - start + 1
    return so_far


def _side(key: int) -> str:
    return HIGH_SIDE if key > 0 else LOW_SIDE


def analyse(
    values: Sequence[float | int | None],
    *,
    polarity: str,
    target: float | None = None,
    recalculate_at: Iterable[int] = (),
    shift_points: int = DEFAULT_SHIFT_POINTS,
    trend_points: int = DEFAULT_TREND_POINTS,
    minimum_points: int = DEFAULT_MINIMUM_POINTS,
) -> SpcResult:
    """SPC of a series, oldest first, as Making Data Count judges it (see ``docs/spc.md``).

    ``values``: numbers, or None (or NaN) for a period with no value. ``polarity``: ``up``
    (higher is better), ``down`` or ``neutral``. ``target``: assurance is judged only for ``up``
    or ``down`` with a target. ``recalculate_at``: indexes into ``values`` that each start a new
    segment (its own mean and limits); index 0 changes nothing. ``shift_points``,
    ``trend_points``: the shortest run and trend that count; ``minimum_points``: the fewest
    values the latest segment needs before variation and assurance are judged (limits and rules
    are reported regardless).
    """
    if polarity not in POLARITIES:
        raise ValueError(f"polarity must be up, down or neutral, not {polarity!r}")
    for name, setting in (
        ("shift_points", shift_points),
        ("trend_points", trend_points),
        ("minimum_points", minimum_points),
    ):
        if isinstance(setting, bool) or not isinstance(setting, int) or setting < 2:
            raise ValueError(f"{name} must be a whole number of at least 2, not {setting!r}")
    xs = _clean(values)
    n = len(xs)
    starts = {0}
    for index in recalculate_at:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise ValueError(f"recalculate_at holds {index!r}, which is not an index into the {n} values")
        starts.add(index)
    bounds = sorted(starts) + [n]
    segment_of = [0] * n
    rules: list[set[str]] = [set() for _ in range(n)]
    limits_of: list[_Limits | None] = [None] * n
    shift_len = [0] * n
    segments: list[tuple[list[int], _Limits | None]] = []

    for seg, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        idx = [i for i in range(lo, hi) if xs[i] is not None]
        seg_values = [x for x in xs[lo:hi] if x is not None]
        limits = _limits(seg_values)
        segments.append((idx, limits))
        for i in range(lo, hi):
            segment_of[i], limits_of[i] = seg, limits
        if limits is None:
            continue
        sides = [limits.side(x) for x in seg_values]
        near = [limits.near(x) for x in seg_values]
        for k, x in enumerate(seg_values):
            out = limits.outside(x)
            if out:
                rules[idx[k]].add(f"{OUTSIDE}_{_side(out)}")

        def flag_shift(k: int, key: int, idx: list[int] = idx) -> None:
            rules[idx[k]].add(f"{SHIFT}_{_side(key)}")

        for k, length in enumerate(_flag_runs(sides, shift_points, flag_shift)):
            shift_len[idx[k]] = length
        for k in range(len(seg_values) - 2):
            window_sides = set(sides[k : k + 3])
            if len(window_sides) != 1 or 0 in window_sides:
                continue
            side = sides[k]
            close = [j for j in range(k, k + 3) if near[j] == side]
            if len(close) >= 2:
                for j in close:
                    rules[idx[j]].add(f"{TWO_OF_THREE}_{_side(side)}")

    # Trends run across segments, over the points with a value.
    valued = [i for i in range(n) if xs[i] is not None]
    present = [x for x in xs if x is not None]
    steps = [0] + [(b > a) - (b < a) for a, b in zip(present, present[1:])]

    def flag_trend(k: int, key: int) -> None:
        rules[valued[k]].add(f"{TREND}_{_side(key)}")
        if k > 0:  # the run's first point: the one before its first step
            rules[valued[k - 1]].add(f"{TREND}_{_side(key)}")

    trend_steps = _flag_runs(steps, trend_points - 1, flag_trend)

    def judgement(point_rules: set[str]) -> str | None:
        if not point_rules:
            return None
        if polarity == "neutral":
            return NEUTRAL_POINT
        good = HIGH_SIDE if polarity == "up" else LOW_SIDE
        return IMPROVEMENT_POINT if any(r.endswith("_" + good) for r in point_rules) else CONCERN_POINT

    points = tuple(
        Point(
            value=x,
            mean=limits.mean if limits else None,
            lower_limit=limits.lower if limits else None,
            upper_limit=limits.upper if limits else None,
            rules=tuple(r for r in RULES if r in point_rules),
            segment=segment,
            judgement=judgement(point_rules),
        )
        for x, limits, point_rules, segment in zip(xs, limits_of, rules, segment_of)
    )

    latest_idx, latest_limits = segments[-1] if segments else ([], None)
    if len(latest_idx) < minimum_points or latest_limits is None or latest_limits.upper is None:
        return SpcResult(INSUFFICIENT, None, False, points, ())
    last = latest_idx[-1]
    last_rules = points[last].rules
    signals = _signals(last_rules, shift_len[last], trend_steps[-1] + 1, points, latest_idx)
    high = any(r.endswith("_" + HIGH_SIDE) for r in last_rules)
    low = any(r.endswith("_" + LOW_SIDE) for r in last_rules)
    if not last_rules:
        variation = COMMON
    elif polarity == "neutral":
        variation = HIGH if high else LOW
    else:
        good = high if polarity == "up" else low
        variation = IMPROVEMENT if good else CONCERN
    rated = polarity in ("up", "down") and target is not None
    assurance = _assurance(latest_limits, polarity, float(target)) if rated and target is not None else None
    return SpcResult(variation, assurance, high and low, points, signals)


def _signals(
    rules: tuple[str, ...], shift_run: int, trend_run: int, points: tuple[Point, ...], segment: list[int]
) -> tuple[Signal, ...]:
    """Each rule of the latest point with its side and length, in ``RULES`` order."""
    out = []
    for name in rules:
        kind, side = name.rsplit("_", 1)
        if kind == OUTSIDE:
            length = 1
        elif kind == SHIFT:
            length = shift_run
        elif kind == TREND:
            length = trend_run
        else:  # two_of_three: the last three points of the segment beyond that 2σ line, within the limit
            length = sum(1 for i in segment[-3:] if name in points[i].rules)
        out.append(Signal(kind, side, length))
    return tuple(out)


def _assurance(limits: _Limits, polarity: str, target: float) -> str:
    """indicators.md: for ``up``, pass when the target ≤ the lower limit and fail when it is ≥ the
    upper limit; for ``down`` the mirror image; otherwise hit and miss."""
    assert limits.lower is not None and limits.upper is not None
    if polarity == "up":
        if target <= limits.lower:
            return PASS
        return FAIL if target >= limits.upper else HIT_AND_MISS
    if target >= limits.upper:
        return PASS
    return FAIL if target <= limits.lower else HIT_AND_MISS
