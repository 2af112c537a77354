"""``pipelines.spc.analyse`` against the published test cases of two independent implementations
of NHS England's Making Data Count rules: NHSRplotthedots (R) and nhspy-plotthedots (Python).

The cases are data in ``tests/spc_cases/`` (one file per package, each case naming the file, line
and test it was copied from, with the commit). The packages test their rules one helper at a
time, on the helper's own inputs; each kind of case is translated into a series as follows:

- ``series``: the values go straight in; the package's mean, limits, 2σ lines, sides of the mean,
  points close to a limit or outside it, and special-cause flags are compared point by point.
- ``trend_markers``: the values go straight in. The package marks the last point of each trend
  of 7; like the package (``part_of_seven_trend``) each mark is widened to the 7 points ending
  there, and those are the points that must carry a ``trend_*`` rule, on the marked side.
- ``shift_markers``: the package's input is a vector of sides of the mean (1, 0, -1). It is
  realised as a series whose mean is exactly 0: the sides themselves as values, after a
  balancing prefix (``-sign(sum)`` repeated ``|sum|`` times) and one point on the mean, which
  keeps the prefix out of every run as the package's zero padding does. The marks are widened as
  above and compared with the ``shift_*`` rules of the pattern's points.
- ``two_of_three_windows`` / ``two_of_three_flags``: the inputs are "close to a limit" flags and
  sides. They are realised around a mean of exactly 0 with limits pinned by 3,000 points
  alternating ±2 (mean moving range close to 4: limits near ±10.6, 2σ lines near ±7.1): a close
  point is ±9, any other ±2, a point with side 0 is 0; a mirror image of the pattern inside the
  filler balances the sum; points on the mean either side of the pattern play the package's zero
  padding. A window result is reduced to the flags as the package does (``part_of_two_in_three``:
  flagged and close) and compared with the ``two_of_three_*`` rules.
- ``segments``: the package's 0/1 rebase column becomes ``recalculate_at`` (the indexes of its 1s);
  its segment (``rebase_group``) is the column's cumulative sum.
- ``assurance``: a segment with the package's limits is realised as 14 points alternating either
  side of the midpoint.

Every translation is checked: the realised series must reproduce the package's inputs (its
sides and close points) under ``analyse``'s own mean and limits, or the case fails.

Rule cases run with the package's fixed lengths of 7 (``peer_settings``); where the spec decides
differently from a package, the case is in ``differences`` with the line of indicators.md it
follows, and the test asserts both that ``analyse`` does what the spec says and that this differs
from what the package gives.
"""

from __future__ import annotations

import math
from itertools import accumulate
from pathlib import Path

import pytest
import yaml

from pipelines.spc import analyse

CASES = Path(__file__).parent / "spc_cases"
PEERS = {path.stem: yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(CASES.glob("*.yaml"))}
ASSURANCE_WORDS = {"consistent_pass": "pass", "consistent_fail": "fail", "inconsistent": "hit_and_miss", None: None}


def cases(kind: str | None = None, section: str = "cases"):
    return [
        pytest.param(peer, case, id=f"{name}:{case['id']}")
        for name, peer in PEERS.items()
        for case in peer.get(section, [])
        if kind is None or case["kind"] == kind
    ]


def widen(markers, length):
    """The package's ``part_of_seven_trend``: each mark covers the ``length`` points ending at it.
    Returns the flagged positions for each side (+1, -1)."""
    sides: dict[int, set[int]] = {1: set(), -1: set()}
    for i, mark in enumerate(markers):
        if mark:
            sides[1 if mark > 0 else -1].update(range(max(0, i - length + 1), i + 1))
    return sides


def side_of(point) -> int:
    return 0 if point.value == point.mean else (1 if point.value > point.mean else -1)


def close_of(point) -> int:
    """Beyond the 2σ line but not beyond the limit, by ``analyse``'s own mean and limits."""
    upper_line = point.mean + 2 / 3 * (point.upper_limit - point.mean)
    lower_line = point.mean - 2 / 3 * (point.mean - point.lower_limit)
    return (
        1
        if upper_line < point.value <= point.upper_limit
        else -1
        if point.lower_limit <= point.value < lower_line
        else 0
    )


def positions(result, kind: str, offset: int = 0, length: int | None = None) -> dict[int, set[int]]:
    """Where (relative to ``offset``) each side of rule ``kind`` holds."""
    points = result.points[offset : offset + length if length is not None else None]
    return {
        1: {i for i, p in enumerate(points) if f"{kind}_high" in p.rules},
        -1: {i for i, p in enumerate(points) if f"{kind}_low" in p.rules},
    }


def realise_sides(sides):
    total = sum(sides)
    prefix = [-(1 if total > 0 else -1)] * abs(total)
    return [*prefix, 0, *sides], len(prefix) + 1


def realise_close(close, sides):
    pattern = [0 if s == 0 else s * (9 if c else 2) for c, s in zip(close, sides)]
    filler = [2, -2] * 750
    values = [*filler, *[-v for v in pattern], *filler, 0, *pattern, 0]
    return values, len(values) - len(pattern) - 1


def settings_of(peer, case):
    return case.get("settings", peer["peer_settings"])


# --- rules on their own ----------------------------------------------------------------------------


@pytest.mark.parametrize("peer, case", cases("trend_markers"))
def test_trends(peer, case):
    result = analyse(case["values"], polarity="up", **settings_of(peer, case))
    assert positions(result, "trend") == widen(case["expected"], settings_of(peer, case)["trend_points"])


@pytest.mark.parametrize("peer, case", cases("shift_markers"))
def test_shifts(peer, case):
    sides = case["relative_to_mean"]
    values, offset = realise_sides(sides)
    result = analyse(values, polarity="up", **settings_of(peer, case))
    pattern = result.points[offset:]
    assert all(p.mean == 0 for p in result.points) and [side_of(p) for p in pattern] == sides
    expected = widen(case["expected"], settings_of(peer, case)["shift_points"])
    flagged = positions(result, "shift", offset)
    assert flagged[1] | flagged[-1] == expected[1] | expected[-1]
    assert all(sides[i] == 1 for i in flagged[1]) and all(sides[i] == -1 for i in flagged[-1])


@pytest.mark.parametrize("peer, case", cases("two_of_three_windows") + cases("two_of_three_flags"))
def test_two_of_three(peer, case):
    close, sides = case["close"], case["relative_to_mean"]
    values, offset = realise_close(close, sides)
    result = analyse(values, polarity="up", **settings_of(peer, case))
    pattern = result.points[offset : offset + len(sides)]
    assert result.points[0].mean == 0 and [side_of(p) for p in pattern] == sides
    # A point on the mean cannot be close to a limit (nhspy's test_large says so of some).
    assert [abs(close_of(p)) for p in pattern] == [c if s else 0 for c, s in zip(close, sides)]
    expected = case["expected"]
    if case["kind"] == "two_of_three_windows":
        expected = [1 if (w and c) else 0 for w, c in zip(expected, close)]  # part_of_two_in_three
    flagged = positions(result, "two_of_three", offset, len(sides))
    assert {i for i, e in enumerate(expected) if e} == flagged[1] | flagged[-1]
    assert all(sides[i] == 1 for i in flagged[1]) and all(sides[i] == -1 for i in flagged[-1])


# --- whole series ---------------------------------------------------------------------------------


def same(ours, theirs, significant=None):
    if theirs is None or ours is None:
        return ours is theirs
    if significant:
        return f"{ours:.{significant}g}" == f"{theirs:.{significant}g}"
    return ours == pytest.approx(theirs, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("peer, case", cases("series"))
def test_series(peer, case):
    result = analyse(case["values"], polarity="up", **settings_of(peer, case))
    expected, sig = case["expected"], case["expected"].get("significant")
    assert len(result.points) == len(case["values"])
    for p in result.points:
        for key in ("mean", "lower_limit", "upper_limit"):
            if key in expected:
                assert same(getattr(p, key), expected[key], sig), key
        if "upper_line" in expected:
            assert same(p.mean + 2 / 3 * (p.upper_limit - p.mean), expected["upper_line"])
            assert same(p.mean - 2 / 3 * (p.mean - p.lower_limit), expected["lower_line"])
    if "relative_to_mean" in expected:
        assert [side_of(p) for p in result.points[: len(expected["relative_to_mean"])]] == expected["relative_to_mean"]
    if "close" in expected:
        assert [abs(close_of(p)) for p in result.points] == expected["close"]
    if "outside" in expected:
        assert [int(any(r.startswith("outside") for r in p.rules)) for p in result.points] == expected["outside"]
    if "special_cause" in expected:
        assert [int(p.special_cause) for p in result.points] == expected["special_cause"]
    if "last_special_cause" in expected:
        tail = result.points[-len(expected["last_special_cause"]) :]
        assert [int(p.special_cause) for p in tail] == expected["last_special_cause"]
        ours = analyse(case["values"], polarity="up").points[-len(tail) :]  # and with the spec's lengths
        assert [int(p.special_cause) for p in ours] == expected["last_special_cause"]


@pytest.mark.parametrize("peer, case", cases("segments"))
def test_segments(peer, case):
    starts = [i for i, r in enumerate(case["rebase"]) if r]
    result = analyse(case["values"], polarity="up", recalculate_at=starts)
    assert [p.segment for p in result.points] == list(accumulate(case["rebase"]))
    for segment in set(accumulate(case["rebase"])):
        members = [v for v, s in zip(case["values"], accumulate(case["rebase"])) if s == segment]
        means = [p.mean for p in result.points if p.segment == segment]
        assert means == [pytest.approx(sum(members) / len(members))] * len(members)


def limits_series(lower, upper):
    """14 points alternating either side of the midpoint, whose XmR limits are ``lower``, ``upper``."""
    mid, step = (lower + upper) / 2, (upper - lower) / (2 * 2.66)
    return [mid - step / 2, mid + step / 2] * 7


@pytest.mark.parametrize("peer, case", cases("assurance"))
def test_assurance(peer, case):
    values = limits_series(case["lower_limit"], case["upper_limit"])
    result = analyse(values, polarity=case["polarity"], target=case["target"])
    assert result.lower_limit == pytest.approx(case["lower_limit"]) and result.upper_limit == pytest.approx(
        case["upper_limit"]
    )
    assert min(abs(case["target"] - result.lower_limit), abs(case["target"] - result.upper_limit)) > 1e-6
    assert result.assurance == ASSURANCE_WORDS[case["expected"]]


# --- where the spec decides differently -------------------------------------------------------------


def outcome(difference):
    """What ``analyse`` gives for a difference's input, in the keys its ``ours`` and ``peer`` use."""
    settings = difference.get("settings", {})
    if "relative_to_mean" in difference:
        values, offset = realise_sides(difference["relative_to_mean"])
    else:
        values, offset = difference["values"], 0
    polarity = difference.get("polarity", "up")
    result = analyse(values, polarity=polarity, recalculate_at=difference.get("recalculate_at", ()), **settings)
    if "target_at" in difference:
        target = getattr(result, difference["target_at"])
        result = analyse(values, polarity=polarity, target=target, **settings)
    shifts = positions(result, "shift", offset)
    trends = positions(result, "trend", offset)
    return {
        "variation": result.variation,
        "assurance": result.assurance,
        "conflict": result.conflict,
        "last_rules": list(result.points[-1].rules),
        "mean": result.points[-1].mean,
        "lower_limit": result.points[-1].lower_limit,
        "upper_limit": result.points[-1].upper_limit,
        "special_cause": [int(p.special_cause) for p in result.points[offset:]],
        "shift_points": sorted(shifts[1] | shifts[-1]),
        "trend_points": sorted(trends[1] | trends[-1]),
    }


def peer_outcome(difference):
    """The package's answer in the same keys (markers widened, assurance words mapped)."""
    theirs = dict(difference["peer"])
    if "shift_markers" in theirs:
        widened = widen(theirs.pop("shift_markers"), difference["settings"]["shift_points"])
        theirs["shift_points"] = sorted(widened[1] | widened[-1])
    if "assurance" in theirs:
        theirs["assurance"] = ASSURANCE_WORDS[theirs["assurance"]]
    return theirs


@pytest.mark.parametrize("peer, difference", cases(section="differences"))
def test_deliberate_differences(peer, difference):
    assert difference["spec"] and isinstance(difference["spec_line"], int) and difference["peer_code"]
    ours, sig = outcome(difference), difference.get("significant")

    def agrees(key, value):
        return same(ours[key], value, sig) if isinstance(value, float) else ours[key] == value

    for key, value in difference["ours"].items():
        assert agrees(key, value), key
    differing = [key for key, value in peer_outcome(difference).items() if not agrees(key, value)]
    assert differing, "the spec's answer should differ from the package's here"


def test_every_peer_file_names_its_source_and_every_case_its_line():
    assert set(PEERS) == {"nhsrplotthedots", "nhspy_plotthedots"}
    for name, peer in PEERS.items():
        assert peer["repository"] and len(peer["commit"]) == 40, name
        for case in peer["cases"]:
            assert case["file"].startswith("tests/") and case["line"] > 0 and case["test"], case["id"]
        assert len({c["id"] for c in peer["cases"]}) == len(peer["cases"])
        assert all(n["why"] for n in peer["not_translated"])
    kinds = {c["kind"] for peer in PEERS.values() for c in peer["cases"]}
    assert kinds == {
        "series",
        "trend_markers",
        "shift_markers",
        "two_of_three_windows",
        "two_of_three_flags",
        "segments",
        "assurance",
    }


def test_nan_is_a_missing_value():
    result = analyse([math.nan, 1.0, 2.0], polarity="up")
    assert result.points[0].value is None and result.count == 2
