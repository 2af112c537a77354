"""Rounding half away from zero, RAG ratings, where amber ends, movement and direction of travel."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pipelines.catalogue import load_catalogue
from pipelines.rag import amber_edge, change, direction, movement, rag, round_half_away

CAT = {i.id: i for i in load_catalogue()}
UP = CAT["DA04"]  # up, target 95, tolerance 5, 1 dp
DOWN = CAT["CS03"]  # down, target 22, tolerance 3, 1 dp
NEUTRAL = CAT["DA03"]  # neutral, no target
UNRATED_DOWN = CAT["MI04"]  # down, no target


@pytest.mark.parametrize(
    "value, decimals, expected",
    [
        (2.5, 0, 3),
        (3.5, 0, 4),
        (-2.5, 0, -3),
        (0.5, 0, 1),
        (1.49, 0, 1),
        (95.05, 1, 95.1),
        (94.95, 1, 95.0),
        (2.675, 2, 2.68),
        (0.125, 2, 0.13),
        (1901 / 2000 * 100, 1, 95.1),  # stored as 95.04999999999999716: still 95.1
        (1899 / 2000 * 100, 1, 95.0),
        (300 / 7, 1, 42.9),
        (100 / 3, 1, 33.3),
        (12, 1, 12.0),
        (None, 1, None),
        (-0.04, 1, 0.0),
    ],
)
def test_round_half_away_from_zero(value, decimals, expected):
    assert round_half_away(value, decimals) == expected


def test_python_round_would_get_these_wrong():
    # Why rag.py does not use round(): banker's rounding and binary floats.
    assert round(2.5) == 2 and round_half_away(2.5, 0) == 3
    assert round(2.675, 2) == 2.67 and round_half_away(2.675, 2) == 2.68


def test_negative_zero_is_shown_as_zero():
    assert str(round_half_away(-0.04, 1)) == "0.0"


def test_counts_round_to_int():
    assert round_half_away(7, 0) == 7 and isinstance(round_half_away(7, 0), int)
    assert round_half_away(1234.5, 0) == 1235
    assert round_half_away(None, 1) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        (100.0, "green"),
        (95.0, "green"),
        (94.95, "green"),  # 94.95 shows as 95.0
        (94.94, "amber"),
        (90.0, "amber"),
        (89.95, "amber"),  # 89.95 shows as 90.0
        (89.94, "red"),
        (0.0, "red"),
        (None, "none"),
    ],
)
def test_rag_up(value, expected):
    assert rag(UP, value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.0, "green"),
        (22.0, "green"),
        (22.04, "green"),
        (22.05, "amber"),  # 22.05 shows as 22.1
        (25.0, "amber"),
        (25.04, "amber"),
        (25.05, "red"),
        (300 / 7, "red"),
        (None, "none"),
    ],
)
def test_rag_down(value, expected):
    assert rag(DOWN, value) == expected


def test_rag_none_for_neutral_and_for_no_target():
    assert rag(NEUTRAL, 99.0) == "none"
    assert rag(UNRATED_DOWN, 50) == "none"


def test_rag_with_targets_that_are_not_exact_in_binary():
    # target 0.3, tolerance 0.1: 0.4 must be amber (0.3 + 0.1 is 0.4000000000000001 in floats).
    ind = replace(DOWN, target=0.3, tolerance=0.1)
    assert rag(ind, 0.4) == "amber"
    assert rag(ind, 0.44) == "amber"
    assert rag(ind, 0.45) == "red"


@pytest.mark.parametrize(
    "indicator, value, previous, expected",
    [
        (UP, 96.0, 95.0, "improving"),
        (UP, 94.0, 95.0, "worsening"),
        (DOWN, 21.0, 23.1, "improving"),
        (DOWN, 25.7142857, 23.1, "worsening"),
        (DOWN, 23.14, 23.06, "no_change"),  # both show as 23.1
        (UP, 95.04, 94.96, "no_change"),  # both show as 95.0
        (DOWN, 23.15, 23.14, "worsening"),  # 23.2 vs 23.1
        (NEUTRAL, 50.0, 40.0, "not_applicable"),
        (UP, None, 95.0, "not_applicable"),
        (UP, 95.0, None, "not_applicable"),
        (UNRATED_DOWN, 3, 5, "improving"),  # polarity decides, a target is not needed
    ],
)
def test_direction_of_travel(indicator, value, previous, expected):
    assert direction(indicator, value, previous) == expected


def test_change_is_unrounded_and_null_safe():
    assert change(25.7142857, 23.1) == pytest.approx(2.6142857)
    assert change(None, 1.0) is None and change(1.0, None) is None
    assert change(7, 5) == 2


@pytest.mark.parametrize(
    "indicator, value, previous, expected",
    [
        (NEUTRAL, 50.0, 40.0, "up"),  # a neutral indicator still moves, it just has no better direction
        (NEUTRAL, 40.0, 50.0, "down"),
        (NEUTRAL, 10.04, 9.96, "same"),  # both show as 10.0
        (DOWN, 23.15, 23.14, "up"),
        (UP, None, 95.0, None),
        (UP, 95.0, None, None),
    ],
)
def test_movement_compares_values_as_shown(indicator, value, previous, expected):
    assert movement(indicator, value, previous) == expected


def test_amber_edge_is_target_less_or_plus_tolerance_exactly():
    assert amber_edge(UP) == 90.0 and amber_edge(DOWN) == 25.0
    assert amber_edge(replace(DOWN, target=0.3, tolerance=0.1)) == 0.4  # not 0.39999999999999997
    assert amber_edge(NEUTRAL) is None and amber_edge(UNRATED_DOWN) is None
