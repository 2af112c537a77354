"""XmR limits, the four special-cause rules, variation and assurance, on hand-built series.

Base pattern: a process alternating between two values, whose moving ranges are all equal, so
every mean and limit below is worked out by hand in the test.
"""

from __future__ import annotations

import pytest

from pipelines.spc import Signal, analyse, special_cause_rules, xmr_limits

ALT_8_14 = [8, 14] * 6  # mean 11, every moving range 6
ALT_10_12 = [10, 12] * 6  # mean 11, every moving range 2


def limits_by_hand(values):
    mean = sum(values) / len(values)
    mr = sum(abs(b - a) for a, b in zip(values, values[1:])) / (len(values) - 1)
    return mean, mean - 2.66 * mr, mean + 2.66 * mr


def test_xmr_limits_by_hand():
    limits = xmr_limits([49, 51] * 6)
    assert limits.mean == pytest.approx(50)
    assert limits.mean_moving_range == pytest.approx(2)
    assert limits.lower == pytest.approx(50 - 5.32)
    assert limits.upper == pytest.approx(50 + 5.32)


def test_common_cause_process():
    result = analyse(ALT_8_14, "up", 5)
    assert result.points == 12
    assert result.mean == pytest.approx(11)
    assert result.lower_limit == pytest.approx(11 - 2.66 * 6)
    assert result.upper_limit == pytest.approx(11 + 2.66 * 6)
    assert result.variation == "common_cause"
    assert result.special_cause == (False,) * 12
    assert result.signals == ()


# --- rule 1: outside the limits ----------------------------------------------------------------


def test_point_above_the_upper_limit():
    values = ALT_8_14 + [40]
    # mean = (132 + 40) / 13 = 13.23; mean MR = (11 * 6 + 26) / 12 = 7.667; UCL = 13.23 + 20.39 = 33.62.
    mean, lower, upper = 172 / 13, 172 / 13 - 2.66 * 92 / 12, 172 / 13 + 2.66 * 92 / 12
    assert limits_by_hand(values) == pytest.approx((mean, lower, upper))
    result = analyse(values, "up", None)
    assert (result.mean, result.lower_limit, result.upper_limit) == pytest.approx((mean, lower, upper))
    assert 40 > upper
    assert result.special_cause == (False,) * 12 + (True,)
    assert result.signals == ("outside_limits",)
    assert result.variation == "special_cause_improvement"  # high is good for up
    assert analyse(values, "down", None).variation == "special_cause_concern"
    assert analyse(values, "neutral", None).variation == "special_cause_high"


def test_point_below_the_lower_limit():
    values = ALT_8_14 + [-18]
    # mean = (132 - 18) / 13 = 8.77; mean MR = (66 + 26) / 12 = 7.667; LCL = 8.77 - 20.39 = -11.62.
    mean, lower, _ = limits_by_hand(values)
    assert -18 < lower
    up = analyse(values, "up", None)
    assert up.special_cause[-1] and up.signals == ("outside_limits",)
    assert up.variation == "special_cause_concern"
    assert analyse(values, "down", None).variation == "special_cause_improvement"
    assert analyse(values, "neutral", None).variation == "special_cause_low"


# --- rule 2: a run of 7 on one side of the mean -----------------------------------------------


def test_seven_point_shift_above_the_mean():
    values = ALT_10_12 + [12.5] * 6
    # mean = (132 + 75) / 18 = 11.5; the last 7 points (12, then 12.5 x 6) are all above it.
    # mean MR = (11 * 2 + 0.5) / 17 = 1.3235; 2/3 line at 11.5 + 2/3 * 3.52 = 13.85 (not reached).
    mean, lower, upper = limits_by_hand(values)
    assert mean == pytest.approx(11.5)
    assert upper == pytest.approx(11.5 + 2.66 * 22.5 / 17)
    result = analyse(values, "down", 10)
    assert result.signals == ("shift",)
    assert result.special_cause == (False,) * 11 + (True,) * 7
    assert result.variation == "special_cause_concern"  # above the mean is bad for down
    assert analyse(values, "neutral").variation == "special_cause_high"


def test_six_point_run_does_not_trigger():
    values = ALT_10_12 + [12.5] * 5
    # mean = (132 + 62.5) / 17 = 11.44; the run above it is 12 then 12.5 x 5 = 6 points.
    mean, _, _ = limits_by_hand(values)
    assert mean == pytest.approx(194.5 / 17)
    assert values[10] < mean < values[11]
    result = analyse(values, "down", 10)
    assert result.variation == "common_cause"
    assert not any(result.special_cause)


def test_a_point_on_the_mean_breaks_a_run():
    values = ALT_10_12 + [12.5, 12.5, 12.5, 11.5, 12.5, 12.5, 12.5]
    # mean = (132 + 75 + 11.5) / 19 = 11.5 exactly: 12, 12.5 x 3 (4 above), 11.5 (on it), 12.5 x 3 (3 above).
    limits = xmr_limits(values)
    assert limits.mean == 11.5
    result = analyse(values, "up", None)
    assert result.variation == "common_cause"
    assert not any(result.special_cause)
    # Without the point on the mean the 8 points above would be a run.
    shifted = ALT_10_12 + [12.5] * 7
    assert analyse(shifted, "up", None).variation == "special_cause_improvement"


# --- rule 3: a trend of 7 ------------------------------------------------------------------------

TREND_7 = [9.7, 10.2, 10.7, 11.2, 11.7, 12.2, 12.7]


def test_seven_point_rising_trend():
    values = ALT_10_12 + TREND_7
    # mean = (132 + 78.4) / 19 = 11.07: the trend crosses the mean (no shift);
    # mean MR = (22 + 2.3 + 6 * 0.5) / 18 = 1.5167; 2/3 line at 11.07 + 2.69 = 13.76 (not reached).
    mean, lower, upper = limits_by_hand(values)
    assert mean == pytest.approx(210.4 / 19)
    assert upper == pytest.approx(210.4 / 19 + 2.66 * 27.3 / 18)
    result = analyse(values, "up", None)
    assert result.signals == ("trend",)
    assert result.special_cause == (False,) * 12 + (True,) * 7
    assert result.variation == "special_cause_improvement"
    assert analyse(values, "down", None).variation == "special_cause_concern"


def test_seven_point_falling_trend():
    values = [24 - v for v in ALT_10_12 + TREND_7]  # mirror image: falls, ending below the mean
    result = analyse(values, "down", None)
    assert result.signals == ("trend",)
    assert result.variation == "special_cause_improvement"
    assert analyse(values, "neutral").variation == "special_cause_low"


def test_six_point_trend_does_not_trigger():
    values = ALT_10_12 + TREND_7[1:]
    # mean = (132 + 68.7) / 18 = 11.15; the rise is 10.2 .. 12.7 (6 points, after a 12).
    result = analyse(values, "up", None)
    assert result.variation == "common_cause"
    assert not any(result.special_cause)


def test_equal_neighbours_break_a_trend():
    values = ALT_10_12 + [9.7, 10.2, 10.7, 10.7, 11.2, 11.7, 12.2, 12.7]
    assert not any(analyse(values, "up", None).special_cause)


# --- rule 4: two of three beyond the 2/3 line -------------------------------------------------


def test_two_of_three_beyond_two_thirds():
    values = ALT_8_14 + [28, 11, 28]
    # mean = (132 + 67) / 15 = 13.267; mean MR = (66 + 14 + 17 + 17) / 14 = 8.143;
    # UCL = 13.267 + 21.66 = 34.93 (28 inside); 2/3 line = 13.267 + 14.44 = 27.71 (28 beyond).
    mean, lower, upper = limits_by_hand(values)
    assert mean == pytest.approx(199 / 15) and upper == pytest.approx(199 / 15 + 2.66 * 114 / 14)
    two_thirds = mean + 2 / 3 * (upper - mean)
    assert two_thirds < 28 < upper
    result = analyse(values, "up", None)
    assert result.signals == ("two_of_three",)
    assert result.special_cause == (False,) * 12 + (True, False, True)
    assert result.variation == "special_cause_improvement"
    assert analyse(values, "neutral").variation == "special_cause_high"


def test_one_point_beyond_two_thirds_is_not_enough():
    values = ALT_8_14 + [11, 11, 28]
    # mean = (132 + 50) / 15 = 12.13; mean MR = (66 + 3 + 0 + 17) / 14 = 6.143; UCL = 28.47;
    # 2/3 line = 23.03: only the last point is beyond it, and it is inside the limits.
    mean, _, upper = limits_by_hand(values)
    assert mean + 2 / 3 * (upper - mean) < 28 < upper
    result = analyse(values, "up", None)
    assert result.variation == "common_cause"
    assert not any(result.special_cause)


def test_points_beyond_two_thirds_on_opposite_sides_do_not_pair():
    flags = special_cause_rules([0.0] * 10 + [5.0, -5.0], xmr_limits([0.0] * 10 + [5.0, -5.0]))
    # mean 0, mean MR 10/11 -> limits ±2.42: both last points are outside (rule 1) but not a pair.
    assert "two_of_three" not in flags[-1] and "two_of_three" not in flags[-2]
    assert "outside_limits" in flags[-1] and "outside_limits" in flags[-2]


# --- history and assurance ------------------------------------------------------------------------


def test_fewer_than_twelve_points_is_insufficient_history():
    values = [8, 14] * 5 + [40]  # 11 points, the last far out
    result = analyse(values, "up", 5)
    assert result.points == 11
    assert result.variation == "insufficient_history"
    assert result.assurance is None
    assert result.special_cause == (False,) * 11
    assert result.mean == pytest.approx((5 * 22 + 40) / 11)  # still reported for the chart
    assert analyse([], "up", 5).mean is None and analyse([], "up", 5).points == 0
    assert analyse([3.0], "up", 5).mean == 3.0 and analyse([3.0], "up", 5).upper_limit is None


@pytest.mark.parametrize(
    "polarity, target, expected",
    [
        # [49, 51] x 6: mean 50, limits 44.68 .. 55.32
        ("up", 40, "pass"),  # every month should meet it
        ("up", 44.6, "pass"),
        ("up", 44.7, "hit_and_miss"),
        ("up", 47, "hit_and_miss"),
        ("up", 50, "hit_and_miss"),
        ("up", 55.3, "hit_and_miss"),
        ("up", 60, "fail"),  # no month is expected to meet it
        ("down", 60, "pass"),
        ("down", 55.4, "pass"),
        ("down", 55.3, "hit_and_miss"),
        ("down", 53, "hit_and_miss"),
        ("down", 50, "hit_and_miss"),
        ("down", 44.7, "hit_and_miss"),
        ("down", 40, "fail"),
        ("neutral", 50, None),
        ("up", None, None),
    ],
)
def test_assurance(polarity, target, expected):
    assert analyse([49, 51] * 6, polarity, target).assurance == expected


# --- what the sentences and charts are told: each rule's side and run length -------------------


def test_signal_details_name_side_and_length_of_each_rule():
    # 17 points around the mean, then a run of 7 above it that stays under the 2/3 line, is not
    # monotone and never crosses the upper limit: only the shift rule holds.
    run = [
        21.0,
        23.5,
        21.8,
        22.9,
        21.2,
        23.1,
        21.9,
        22.8,
        21.4,
        23.3,
        21.7,
        22.6,
        21.1,
        23.0,
        21.6,
        22.7,
        21.5,
        23.0,
        22.8,
        23.5,
        23.1,
        23.4,
        22.9,
        23.2,
    ]
    result = analyse(run, "down", 22.0)
    assert result.details == (Signal("shift", "high", 7),)
    assert result.variation == "special_cause_concern"
    # Concern for a down indicator above the mean; points not special have no judgement.
    assert result.judgements[-7:] == ("concern",) * 7 and set(result.judgements[:17]) == {None}
    assert analyse(run, "up", 22.0).judgements[-1] == "improvement"
    assert analyse(run, "neutral").judgements[-1] == "neutral"


def test_signal_details_for_a_fall_through_the_lower_limit():
    falling = [50, 52] * 8 + [49, 48, 47, 46, 45, 44, 43, 20]
    result = analyse(falling, "up", 60)
    # Mean 1158 / 24 = 48.25; moving ranges 15 x 2, 3, 6 x 1, 23: mean 62 / 23, so the lower
    # limit is 48.25 - 2.66 x 62 / 23 = 41.08 and the lower 2/3 line 43.47.
    assert result.lower_limit == pytest.approx(48.25 - 2.66 * 62 / 23)
    assert result.details == (
        Signal("outside_limits", "low", 1),  # 20 < 41.08
        Signal("shift", "low", 7),  # 48 .. 20 below 48.25 (49 is above it)
        Signal("trend", "low", 9),  # 52, 49, 48, ..., 43, 20: each lower than the one before
        Signal("two_of_three", "low", 2),  # of 44, 43, 20 only 43 and 20 are beyond 43.47
    )
    assert [s.rule for s in result.details] == list(result.signals)
    assert result.variation == "special_cause_concern" and result.judgements[-1] == "concern"


def test_two_of_three_counts_the_points_near_the_limit():
    values = [10, 12] * 8 + [11, 15, 15.1]
    # Mean 217.1 / 19 = 11.43; moving ranges 15 x 2, 1, 4, 0.1: mean 35.1 / 18, so the upper
    # limit is 16.61 and the 2/3 line 14.88: 15 and 15.1 lie between them.
    result = analyse(values, "neutral")
    assert result.upper_limit == pytest.approx(217.1 / 19 + 2.66 * 35.1 / 18)
    assert result.details == (Signal("two_of_three", "high", 2),)
    assert result.variation == "special_cause_high" and result.judgements[-2:] == ("neutral", "neutral")
