"""``pipelines.spc.analyse`` on hand-worked series: every rule of indicators.md ("Statistical
process control"), its edge cases, recalculation, minimum points, assurance, neutral polarity and
a conflict; then the catalogue's rule settings and recalculation months reaching ``analyse``.

Base patterns alternate between two values, so every moving range is equal and each mean and
limit is worked out by hand in a comment (``by_hand`` repeats the arithmetic independently).
The published peer cases are in ``test_spc_conformance.py``.
"""

from __future__ import annotations

import doctest
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pipelines.catalogue import CatalogueError, SpcSettings, catalogue_path, load_catalogue, load_units
from pipelines.decide import indicator_result, spc_of
from pipelines.indicators import IndicatorValue
from pipelines.periods import Month
from pipelines.render.sentences import exception_sentence
from pipelines.spc import RULES, Signal, analyse

ALT_8_14 = [8, 14] * 6  # mean 11, every moving range 6
ALT_10_12 = [10, 12] * 6  # mean 11, every moving range 2


def by_hand(values):
    """(mean, lower limit, upper limit, lower 2σ line, upper 2σ line) of one segment."""
    mean = sum(values) / len(values)
    mr = sum(abs(b - a) for a, b in zip(values, values[1:])) / (len(values) - 1)
    return mean, mean - 2.66 * mr, mean + 2.66 * mr, mean - 2 / 3 * 2.66 * mr, mean + 2 / 3 * 2.66 * mr


def rules(result):
    return [p.rules for p in result.points]


def test_limits_and_points_by_hand():
    result = analyse([49, 51] * 7, polarity="up")
    assert len(result.points) == 14
    for p, v in zip(result.points, [49, 51] * 7):
        assert (p.value, p.mean, p.segment) == (v, 50.0, 0)
        assert p.lower_limit == pytest.approx(50 - 5.32) and p.upper_limit == pytest.approx(50 + 5.32)
        assert p.rules == () and p.judgement is None and not p.special_cause
    assert (result.variation, result.assurance, result.conflict, result.signals) == ("common_cause", None, False, ())
    assert (result.mean, result.count) == (50.0, 14)


def test_every_rule_name_is_one_of_the_issues_eight():
    assert RULES == (
        "outside_high",
        "outside_low",
        "shift_high",
        "shift_low",
        "trend_high",
        "trend_low",
        "two_of_three_high",
        "two_of_three_low",
    )


# --- outside the limits --------------------------------------------------------------------------


def test_a_point_above_the_upper_limit():
    values = ALT_8_14 + [40]
    # mean = (132 + 40) / 13 = 13.23; mean MR = (11 * 6 + 26) / 12 = 7.667; UCL = 13.23 + 20.39 = 33.62.
    mean, lower, upper, _, _ = by_hand(values)
    result = analyse(values, polarity="up")
    assert (result.mean, result.lower_limit, result.upper_limit) == pytest.approx((mean, lower, upper))
    assert 40 > upper
    assert rules(result) == [()] * 12 + [("outside_high",)]
    assert result.variation == "special_cause_improvement" and result.points[-1].judgement == "improvement"
    assert result.signals == (Signal("outside", "high", 1),)
    down = analyse(values, polarity="down")
    assert down.variation == "special_cause_concern" and down.points[-1].judgement == "concern"
    neutral = analyse(values, polarity="neutral")
    assert neutral.variation == "special_cause_high" and neutral.points[-1].judgement == "neutral"


def test_a_point_below_the_lower_limit():
    values = ALT_8_14 + [-18]
    # mean = 114 / 13 = 8.77; mean MR = (66 + 26) / 12 = 7.667; LCL = 8.77 - 20.39 = -11.62.
    assert -18 < by_hand(values)[1]
    assert rules(analyse(values, polarity="up"))[-1] == ("outside_low",)
    assert analyse(values, polarity="up").variation == "special_cause_concern"
    assert analyse(values, polarity="down").variation == "special_cause_improvement"
    assert analyse(values, polarity="neutral").variation == "special_cause_low"


def test_a_point_exactly_on_a_limit_is_not_outside():
    flat = analyse([7.0] * 13, polarity="up")  # every moving range 0: both limits equal the mean
    assert all((p.lower_limit, p.mean, p.upper_limit) == (7.0, 7.0, 7.0) for p in flat.points)
    assert not any(rules(flat)) and flat.variation == "common_cause"


# --- shift: a run of 6 on one side of the mean -------------------------------------------------


def test_six_points_above_the_mean_are_a_shift():
    values = ALT_10_12 + [12.5] * 5
    # mean = (132 + 62.5) / 17 = 11.44: the last 6 points (12, then 12.5 x 5) are above it; the
    # 10 before them is below. mean MR = (11 * 2 + 0.5) / 16 = 1.41: 2σ line 13.93, not reached.
    mean, _, _, _, two_sigma = by_hand(values)
    assert mean == pytest.approx(194.5 / 17) and values[10] < mean < values[11] and two_sigma > 12.5
    result = analyse(values, polarity="down", target=10)
    assert rules(result) == [()] * 11 + [("shift_high",)] * 6
    assert result.variation == "special_cause_concern"
    assert result.signals == (Signal("shift", "high", 6),)
    assert analyse(values, polarity="neutral").variation == "special_cause_high"


def test_five_points_above_the_mean_are_not():
    values = ALT_10_12 + [12.5] * 4
    # mean = (132 + 50) / 16 = 11.375: the run above it is 12 then 12.5 x 4 = 5 points.
    assert values[10] < by_hand(values)[0] < values[11]
    result = analyse(values, polarity="down", target=10)
    assert result.variation == "common_cause" and not any(rules(result))
    # ... unless the catalogue asks for runs of 5.
    assert analyse(values, polarity="down", shift_points=5).variation == "special_cause_concern"


def test_six_points_below_the_mean_are_a_shift():
    values = [24 - v for v in ALT_10_12 + [12.5] * 5]  # the mirror image
    result = analyse(values, polarity="down")
    assert rules(result)[-6:] == [("shift_low",)] * 6 and result.variation == "special_cause_improvement"


def test_a_point_on_the_mean_breaks_a_run():
    values = ALT_10_12 + [12.5, 12.5, 12.5, 11.5, 12.5, 12.5, 12.5]
    # mean = (132 + 75 + 11.5) / 19 = 11.5 exactly: 12 and 12.5 x 3 (4 above), 11.5 on the mean,
    # then 12.5 x 3 (3 above): no run of 6.
    assert by_hand(values)[0] == 11.5
    result = analyse(values, polarity="up")
    assert result.points[-1].mean == 11.5
    assert result.variation == "common_cause" and not any(rules(result))
    # With the point just above the mean instead, the 8 points are one run.
    moved = values[:15] + [12.4] + values[16:]
    assert rules(analyse(moved, polarity="up"))[-8:] == [("shift_high",)] * 8


# --- trend: 6 points each rising (or falling) ----------------------------------------------------

TREND_6 = [9.7, 10.2, 10.7, 11.2, 11.7, 12.2]


def test_six_rising_points_are_a_trend_and_the_first_is_part_of_it():
    values = ALT_10_12 + TREND_6
    # mean = (132 + 65.7) / 18 = 10.98: the rise crosses the mean (no shift); mean MR =
    # (22 + 2.3 + 5 * 0.5) / 17 = 1.576, 2σ line 13.78 (not reached). The rise starts at 9.7
    # (after a fall from 12), which is part of the trend.
    mean, _, _, _, two_sigma = by_hand(values)
    assert mean == pytest.approx(197.7 / 18) and two_sigma > 12.2
    result = analyse(values, polarity="up")
    assert rules(result) == [()] * 12 + [("trend_high",)] * 6
    assert result.signals == (Signal("trend", "high", 6),)
    assert result.variation == "special_cause_improvement"
    assert analyse(values, polarity="down").variation == "special_cause_concern"


def test_six_falling_points_are_a_trend():
    values = [24 - v for v in ALT_10_12 + TREND_6]
    result = analyse(values, polarity="down")
    assert rules(result)[-6:] == [("trend_low",)] * 6 and result.variation == "special_cause_improvement"
    assert analyse(values, polarity="neutral").variation == "special_cause_low"


def test_five_rising_points_are_not_a_trend():
    values = ALT_10_12 + TREND_6[1:]  # 12, then 10.2 .. 12.2: a rise of 5 points
    result = analyse(values, polarity="up")
    assert result.variation == "common_cause" and not any(rules(result))


def test_an_equal_value_breaks_a_trend():
    values = ALT_10_12 + [9.7, 10.2, 10.7, 10.7, 11.2, 11.7, 12.2]  # rises of 3 and 4 points
    assert not any(rules(analyse(values, polarity="up")))
    rising = ALT_10_12 + [9.7, 10.2, 10.7, 10.8, 11.2, 11.7, 12.2]  # one rise of 7 points
    assert rules(analyse(rising, polarity="up"))[-7:] == [("trend_high",)] * 7


# --- two of three beyond the 2σ line -------------------------------------------------------------

BASE_20 = [10, 12] * 10  # mean 11, every moving range 2


def two_of_three_case(tail):
    values = BASE_20 + tail
    return values, by_hand(values), analyse(values, polarity="up")


def test_two_of_three_close_to_the_upper_limit():
    values, (mean, _, upper, _, two_sigma), result = two_of_three_case([13, 16, 16])
    # mean = (220 + 45) / 23 = 11.52; mean MR = (19 * 2 + 1 + 3 + 0) / 22 = 1.909: UCL 16.60,
    # 2σ line 14.91. 13, 16, 16 are all above the mean; both 16s lie between the 2σ line and the limit.
    assert mean == pytest.approx(265 / 23) and two_sigma < 16 <= upper and 13 < two_sigma
    assert rules(result)[-3:] == [(), ("two_of_three_high",), ("two_of_three_high",)]
    assert result.signals == (Signal("two_of_three", "high", 2),)
    assert result.variation == "special_cause_improvement" and result.points[-1].judgement == "improvement"


def test_two_of_three_with_a_gap_between():
    _, (_, _, upper, _, two_sigma), result = two_of_three_case([16, 13, 16])
    assert two_sigma < 16 <= upper
    assert rules(result)[-3:] == [("two_of_three_high",), (), ("two_of_three_high",)]


def test_two_of_three_needs_all_three_points_on_one_side_of_the_mean():
    values, (mean, _, upper, _, two_sigma), result = two_of_three_case([10, 16, 16])
    # mean = 262 / 23 = 11.39: 10 lies below it, so the window 10, 16, 16 does not count
    # (the only window holding both 16s), although both are beyond the 2σ line (15.10).
    assert 10 < mean and two_sigma < 16 <= upper
    assert not any(rules(result)) and result.variation == "common_cause"


def test_a_point_beyond_the_limit_is_not_counted_in_the_window():
    values, (mean, _, upper, _, two_sigma), result = two_of_three_case([13, 18, 16])
    # mean = 267 / 23 = 11.61; mean MR = (38 + 1 + 5 + 2) / 22 = 2.091: UCL 17.17, 2σ line 15.32.
    # 18 is beyond the limit (outside, not counted); 16 is the window's only point close to it.
    assert mean == pytest.approx(267 / 23) and 18 > upper and two_sigma < 16 <= upper
    assert rules(result)[-3:] == [(), ("outside_high",), ()]
    assert result.variation == "common_cause"


def test_a_window_with_a_point_beyond_the_limit_and_two_close_to_it():
    _, (_, _, upper, _, two_sigma), result = two_of_three_case([16, 18, 16])
    # 16, 18, 16: 18 is outside (and only that); the two 16s are two of three close to the limit.
    assert 18 > upper and two_sigma < 16 <= upper
    assert rules(result)[-3:] == [("two_of_three_high",), ("outside_high",), ("two_of_three_high",)]


def test_two_of_three_close_to_the_lower_limit():
    values = [22 - v for v in BASE_20 + [13, 16, 16]]  # the mirror image
    result = analyse(values, polarity="down")
    assert rules(result)[-3:] == [(), ("two_of_three_low",), ("two_of_three_low",)]
    assert result.variation == "special_cause_improvement"
    assert result.signals == (Signal("two_of_three", "low", 2),)


def test_close_points_on_opposite_sides_do_not_pair():
    values = [1, -1] * 7 + [5, -5]
    # mean 0; mean MR = (13 * 2 + 6 + 10) / 15 = 2.8: limits ±7.45, 2σ lines ±4.97: 5 and -5 are
    # each close to a limit, but on opposite sides.
    mean, lower, upper, low_line, high_line = by_hand(values)
    assert mean == 0 and high_line < 5 <= upper and lower <= -5 < low_line
    assert not any(rules(analyse(values, polarity="neutral")))


# --- recalculation --------------------------------------------------------------------------------


def test_recalculation_gives_each_segment_its_limits_and_a_trend_runs_across():
    first = ALT_10_12 + [9.7, 10.2, 10.7]  # 15 points: mean 162.6 / 15 = 10.84
    second = [11.2, 11.7, 12.2] + [11, 13] * 5  # 13 points: mean 155.1 / 13 = 11.93
    values = first + second
    result = analyse(values, polarity="up", recalculate_at=[15])
    a, b = by_hand(first), by_hand(second)
    assert [p.segment for p in result.points] == [0] * 15 + [1] * 13
    for p in result.points[:15]:
        assert (p.mean, p.lower_limit, p.upper_limit) == pytest.approx(a[:3])
    for p in result.points[15:]:
        assert (p.mean, p.lower_limit, p.upper_limit) == pytest.approx(b[:3])
    # 9.7, 10.2, 10.7 | 11.2, 11.7, 12.2 rise across the recalculation: one trend of 6.
    assert rules(result)[12:18] == [("trend_high",)] * 6
    assert not any(rules(result)[18:])
    # The latest segment's 13 points are enough to judge; assurance uses its limits.
    assert result.variation == "common_cause"
    assert (result.mean, result.lower_limit, result.upper_limit) == pytest.approx(b[:3])
    assert analyse(values, polarity="up", target=result.upper_limit, recalculate_at=[15]).assurance == "fail"


def test_a_shift_does_not_run_across_a_recalculation():
    first = [10, 12] * 5 + [12.5] * 3  # 13 points: mean 147.5 / 13 = 11.35; 12, 12.5 x 3 above it
    second = [12.5] * 3 + [10, 14] * 5  # 13 points: mean 157.5 / 13 = 12.12; 12.5 x 3 above it
    values = first + second
    assert not any("shift_high" in r for r in rules(analyse(values, polarity="up", recalculate_at=[13])))
    # As one segment (mean 305 / 26 = 11.73) the 7 points 12, 12.5 x 6 are a shift.
    assert rules(analyse(values, polarity="up"))[9:16] == [("shift_high",)] * 7


def test_too_few_points_in_the_latest_segment_after_a_recalculation():
    values = ALT_8_14 * 2 + [40, 41, 39]
    result = analyse(values, polarity="up", target=30, recalculate_at=[24])
    assert result.variation == "insufficient_history" and result.assurance is None
    assert result.points[-1].mean == 40.0 and result.count == 27


def test_recalculate_at_must_index_the_values():
    with pytest.raises(ValueError, match="not an index"):
        analyse([1, 2, 3], polarity="up", recalculate_at=[3])
    assert analyse([1, 2, 3], polarity="up", recalculate_at=[0]) == analyse([1, 2, 3], polarity="up")


# --- minimum points ------------------------------------------------------------------------------


def test_exactly_twelve_points_are_too_few_but_rules_are_still_reported():
    values = [8, 14] * 5 + [8, 40]
    # mean = (110 + 8 + 40) / 12 = 13.17; mean MR = (10 * 6 + 32) / 11 = 8.36; UCL 35.41.
    result = analyse(values, polarity="up", target=5)
    assert len(result.points) == 12 and result.count == 12
    assert (result.variation, result.assurance, result.conflict) == ("insufficient_history", None, False)
    assert result.points[-1].rules == ("outside_high",) and result.points[-1].judgement == "improvement"
    assert result.mean == pytest.approx(158 / 12) and result.upper_limit == pytest.approx(158 / 12 + 2.66 * 92 / 11)
    assert analyse(values, polarity="up", minimum_points=12).variation == "special_cause_improvement"


def test_exactly_thirteen_points_are_enough():
    values = [8, 14] * 6 + [40]  # LCL 13.23 - 20.39 = -7.16
    result = analyse(values, polarity="up", target=-10)
    assert (result.count, result.variation, result.assurance) == (13, "special_cause_improvement", "pass")
    assert analyse(values, polarity="up", minimum_points=14).variation == "insufficient_history"


def test_empty_and_single_value_series():
    empty = analyse([], polarity="up", target=5)
    assert (empty.points, empty.variation, empty.assurance, empty.mean) == ((), "insufficient_history", None, None)
    one = analyse([3], polarity="up")
    assert (one.points[0].mean, one.points[0].upper_limit, one.points[0].rules) == (3.0, None, ())


# --- missing values -------------------------------------------------------------------------------


def test_missing_values_are_left_out_and_their_neighbours_are_consecutive():
    values = ALT_10_12 + [9.7, None, 10.2, 10.7, float("nan"), 11.2, 11.7, 12.2]
    result = analyse(values, polarity="up")
    valued = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    assert len(result.points) == len(values) and result.count == 18
    assert result.points[13].value is None and result.points[16].value is None
    assert result.points[13].mean == pytest.approx(by_hand(valued)[0])  # its segment's mean, no rules
    assert result.points[13].rules == () and result.points[13].judgement is None
    # The rise 9.7 .. 12.2 is 6 consecutive points across the gaps: a trend.
    assert [p.rules for p in result.points if p.value is not None][-6:] == [("trend_high",)] * 6


# --- assurance --------------------------------------------------------------------------------------

LIMIT_SERIES = [49, 51] * 7  # mean 50, every moving range 2: limits 50 ± 5.32
LOWER, UPPER = 50 - 2.66 * 2, 50 + 2.66 * 2


@pytest.mark.parametrize(
    "polarity, target, expected",
    [
        ("up", 40, "pass"),  # every month should meet it
        ("up", LOWER, "pass"),  # a target equal to the lower limit: pass
        ("up", LOWER + 0.01, "hit_and_miss"),
        ("up", 50, "hit_and_miss"),
        ("up", UPPER - 0.01, "hit_and_miss"),
        ("up", UPPER, "fail"),  # a target equal to the upper limit: fail
        ("up", 60, "fail"),  # no month is expected to meet it
        ("down", 60, "pass"),
        ("down", UPPER, "pass"),  # equal to the upper limit: pass
        ("down", UPPER - 0.01, "hit_and_miss"),
        ("down", LOWER + 0.01, "hit_and_miss"),
        ("down", LOWER, "fail"),  # equal to the lower limit: fail
        ("down", 40, "fail"),
        ("neutral", 50, None),  # neutral indicators are never rated
        ("up", None, None),
    ],
)
def test_assurance(polarity, target, expected):
    result = analyse(LIMIT_SERIES, polarity=polarity, target=target)
    assert (result.lower_limit, result.upper_limit) == (LOWER, UPPER)
    assert result.assurance == expected


# --- neutral polarity and conflict -----------------------------------------------------------------


def test_neutral_polarity_says_high_or_low_and_colours_purple():
    high = analyse(ALT_10_12 + [12.5] * 5, polarity="neutral", target=11)
    assert (high.variation, high.assurance, high.points[-1].judgement) == ("special_cause_high", None, "neutral")
    low = analyse([24 - v for v in ALT_10_12 + [12.5] * 5], polarity="neutral")
    assert (low.variation, low.points[-1].judgement) == ("special_cause_low", "neutral")


CONFLICT = ALT_10_12 + [17, 16, 15, 14, 13, 12.5]


def test_a_conflict_is_shown_as_improvement_and_recorded():
    # mean = (132 + 87.5) / 18 = 12.19: 17 .. 12.5 are 6 points above it (shift_high) and 6 points
    # falling (trend_low). mean MR = (22 + 5 + 4 * 1 + 0.5) / 17 = 1.853: UCL 17.12 (17 inside),
    # 2σ line 15.48: 17 and 16 are two of three close to the upper limit.
    mean, _, upper, _, two_sigma = by_hand(CONFLICT)
    assert mean == pytest.approx(219.5 / 18) and 17 < upper and 16 > two_sigma > 15
    up = analyse(CONFLICT, polarity="up")
    assert rules(up)[-6:] == [
        ("shift_high", "trend_low", "two_of_three_high"),
        ("shift_high", "trend_low", "two_of_three_high"),
        ("shift_high", "trend_low"),
        ("shift_high", "trend_low"),
        ("shift_high", "trend_low"),
        ("shift_high", "trend_low"),
    ]
    assert (up.variation, up.conflict) == ("special_cause_improvement", True)
    assert up.signals == (Signal("shift", "high", 6), Signal("trend", "low", 6))
    assert up.points[-1].judgement == "improvement"
    down = analyse(CONFLICT, polarity="down")
    assert (down.variation, down.conflict, down.points[-1].judgement) == (
        "special_cause_improvement",
        True,
        "improvement",
    )
    neutral = analyse(CONFLICT, polarity="neutral")
    assert (neutral.variation, neutral.conflict) == ("special_cause_high", True)


def test_no_conflict_without_a_judgement():
    assert analyse(CONFLICT[-12:], polarity="up").conflict is False  # 12 points: insufficient history


# --- the result and its inputs -----------------------------------------------------------------------


def test_signal_lengths_for_a_fall_through_the_lower_limit():
    falling = [50, 52] * 8 + [49, 48, 47, 46, 45, 44, 43, 20]
    result = analyse(falling, polarity="up", target=60)
    # Mean 1158 / 24 = 48.25; moving ranges 15 x 2, 3, 6 x 1, 23: mean 62 / 23, so the lower
    # limit is 48.25 - 2.66 x 62 / 23 = 41.08 and the lower 2σ line 43.47: 43 is close to it, but
    # 20 is beyond the limit and not counted, so no two of three.
    assert result.lower_limit == pytest.approx(48.25 - 2.66 * 62 / 23)
    assert result.signals == (
        Signal("outside", "low", 1),  # 20 < 41.08
        Signal("shift", "low", 7),  # 48 .. 20 below 48.25 (49 is above it)
        Signal("trend", "low", 9),  # 52, 49, 48, ..., 43, 20: each lower than the one before
    )
    assert [s.name for s in result.signals] == list(result.points[-1].rules)
    assert result.variation == "special_cause_concern" and result.assurance == "fail"


def test_the_result_is_plain_data():
    result = analyse(CONFLICT, polarity="up", target=11, recalculate_at=[6])
    out = result.to_dict()
    assert json.loads(json.dumps(out)) == out
    assert out["points"][-1] == {
        "value": 12.5,
        "mean": result.points[-1].mean,
        "lower_limit": result.points[-1].lower_limit,
        "upper_limit": result.points[-1].upper_limit,
        "rules": list(result.points[-1].rules),
        "segment": 1,
        "judgement": result.points[-1].judgement,
    }
    assert out["variation"] == result.variation and out["conflict"] is result.conflict


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"polarity": "upward"}, "polarity"),
        ({"polarity": "up", "shift_points": 1}, "shift_points"),
        ({"polarity": "up", "trend_points": 6.5}, "trend_points"),
        ({"polarity": "up", "minimum_points": True}, "minimum_points"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        analyse([1, 2, 3], **kwargs)


def test_values_must_be_numbers_or_none():
    with pytest.raises(TypeError, match="value 1"):
        analyse([1, "2", 3], polarity="up")
    with pytest.raises(ValueError, match="infinite"):
        analyse([1, float("inf")], polarity="up")


# --- the catalogue's settings reach analyse ---------------------------------------------------------


def write_catalogue(tmp_path, edit):
    raw = yaml.safe_load(catalogue_path().read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "indicators.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_the_shipped_catalogue_has_the_spec_defaults():
    assert {i.spc for i in load_catalogue()} == {SpcSettings(6, 6, 13, ())}


def test_catalogue_spc_block_and_per_indicator_override(tmp_path):
    def edit(raw):
        raw["spc"] = {"shift_points": 7, "trend_points": 7, "minimum_points": 12}
        raw["indicators"][0]["spc"] = {"recalculate_from": ["2024-01", "2023-04"], "minimum_points": 15}

    cat = load_catalogue(write_catalogue(tmp_path, edit))
    assert cat[0].spc == SpcSettings(7, 7, 15, ("2023-04", "2024-01"))
    assert cat[1].spc == SpcSettings(7, 7, 12, ())


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda raw: raw.update(spc={"shift_points": 1}), "shift_points must be a whole number"),
        (lambda raw: raw.update(spc={"run_points": 6}), "spc block may only set"),
        (lambda raw: raw["indicators"][2].update(spc={"recalculate_from": ["April 2025"]}), "indicator DA03: spc"),
        (lambda raw: raw["indicators"][2].update(spc={"recalculate_from": ["2025-04", "2025-04"]}), "twice"),
        (lambda raw: raw["indicators"][2].update(spc={"trend_points": "6"}), "trend_points"),
    ],
)
def test_bad_spc_settings_name_the_entry(tmp_path, edit, message):
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(write_catalogue(tmp_path, edit))


JULY_2022 = Month(2022, 7)


def monthly(values, start=JULY_2022):
    return [
        (start.shift(i), IndicatorValue("DA01", start.shift(i).code, v, v, None, "complete" if v else "missing"))
        for i, v in enumerate(values)
    ]


def test_the_build_passes_the_catalogue_settings_and_recalculation_months():
    ind = next(i for i in load_catalogue() if i.id == "DA01")  # neutral count
    first = ALT_10_12 + [9.7, 10.2, 10.7]
    second = [11.2, 11.7, 12.2] + [11, 13] * 4 + [None, 11]
    series = monthly(first + second)  # 2022-07 .. 2024-10; 2024-09 has no value
    assert series[15][0].code == "2023-10" and (series[-2][0].code, series[-2][1].value) == ("2024-09", None)
    settings = SpcSettings(6, 6, 13, ("2021-01", "2023-10"))  # 2021-01 is outside the series: ignored
    spc = spc_of(replace(ind, spc=settings), series)
    direct = analyse([v.value for _, v in series], polarity="neutral", recalculate_at=[15])
    assert spc.recalculate_from == ("2023-10",)
    assert spc.points == 27 and len(spc.series) == 27 and "2024-09" not in [p.month for p in spc.series]
    kept = [p for p in direct.points if p.value is not None]
    assert [(p.value, p.mean, p.lower_limit, p.upper_limit, p.rules, p.segment, p.judgement) for p in spc.series] == [
        (p.value, p.mean, p.lower_limit, p.upper_limit, p.rules, p.segment, p.judgement) for p in kept
    ]
    assert any(p.rules for p in spc.series) and {p.segment for p in spc.series} == {0, 1}
    assert (spc.variation, spc.conflict, spc.target) == (direct.variation, direct.conflict, None)
    assert spc.variation == "insufficient_history"  # 12 values in the latest segment
    assert spc_of(replace(ind, spc=replace(settings, minimum_points=12)), series).variation == "common_cause"
    # Without the recalculation month the series is one segment.
    assert {p.segment for p in spc_of(ind, series).series} == {0}


def test_the_worked_examples_in_docs_spc_md_are_true():
    doc = Path(__file__).resolve().parents[1] / "docs" / "spc.md"
    outcome = doctest.testfile(str(doc), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert outcome.attempted >= 12 and outcome.failed == 0


def test_the_exception_sentence_names_the_rules_analyse_returned():
    ind = next(i for i in load_catalogue() if i.id == "CS03")  # re-referrals: down, target 22
    values = [21.0, 23.5, 21.8, 22.9, 21.2, 23.1, 21.9, 22.8, 21.4, 23.3, 21.7, 22.6]
    values += [21.1, 23.0, 21.6, 22.7, 21.5, 23.0, 22.8, 23.5, 23.1, None, 23.4, 22.9]  # docs/spc.md's example
    now = IndicatorValue("CS03", "2024-25Q1", 25.7142857, 540, 2100, "complete")
    before = IndicatorValue("CS03", "2023-24Q4", 23.1, 462, 2000, "complete")
    result = indicator_result(
        ind,
        unit=load_units()[ind.unit],
        source_title="Children's social work referrals",
        now=now,
        previous=before,
        last_year=before,
        series=[
            (m, IndicatorValue("CS03", m.code, v, None, None, "complete" if v else "missing"))
            for m, v in zip([JULY_2022.shift(i) for i in range(24)], values)
        ],
        benchmarks=[],
        threshold=5,
    )
    assert result.spc.variation == "special_cause_concern" and result.exception
    assert [p.rules for p in result.spc.series][-6:] == [("shift_high",)] * 6
    assert exception_sentence(result) == (
        "Re-referrals within 12 months rose to 25.7%, above the 22% target and outside tolerance; "
        "six months in a row above average."
    )
