"""Type rules from sources.md: booleans, integers, dates (day first, always) and enums."""

from datetime import date, datetime

import pytest

from pipelines.intake.values import InvalidValue, parse_bool, parse_date, parse_datetime, parse_enum, parse_int
from pipelines.sources import load_sources, normalise_header

RULES = load_sources()["police_domestic_incidents"].rules  # the standard set (definitions/types.yaml)


@pytest.mark.parametrize("raw", ["Y", "yes", "TRUE", "t", "1", 1, 1.0, True])
def test_true_values(raw):
    assert parse_bool(raw, RULES) is True


@pytest.mark.parametrize("raw", ["N", "No", "false", "F", "0", 0, 0.0, False])
def test_false_values(raw):
    assert parse_bool(raw, RULES) is False


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_blank_bool_is_unknown(raw):
    assert parse_bool(raw, RULES) is None


@pytest.mark.parametrize("raw", ["maybe", "2", "Yess"])
def test_other_bool_values_are_invalid(raw):
    with pytest.raises(InvalidValue, match="not yes or no"):
        parse_bool(raw, RULES)


@pytest.mark.parametrize("raw,expected", [("1,234", 1234), ("12", 12), (7.0, 7), ("1,234,567", 1234567), (" 3 ", 3)])
def test_integers(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["1.5", 2.5, "12a", "1,23"])
def test_not_integers(raw):
    with pytest.raises(InvalidValue, match="whole number"):
        parse_int(raw)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("2024-05-01", datetime(2024, 5, 1)),
        ("2024-05-01 13:45", datetime(2024, 5, 1, 13, 45)),
        ("2024-05-01T13:45:10", datetime(2024, 5, 1, 13, 45, 10)),
        ("01/05/2024", datetime(2024, 5, 1)),
        ("1/5/2024", datetime(2024, 5, 1)),
        ("01-05-2024", datetime(2024, 5, 1)),
        ("01/05/2024 13:45", datetime(2024, 5, 1, 13, 45)),
        ("01/05/2024 13:45:00", datetime(2024, 5, 1, 13, 45)),
        ("1 May 2024", datetime(2024, 5, 1)),
        ("01-May-2024", datetime(2024, 5, 1)),
        ("1 may 24", datetime(2024, 5, 1)),
        ("1 September 2024", datetime(2024, 9, 1)),
        ("05/01/2024", datetime(2024, 1, 5)),  # day first: 5 January
        (datetime(2024, 5, 1, 9, 30), datetime(2024, 5, 1, 9, 30)),  # an Excel date cell
        (date(2024, 5, 1), datetime(2024, 5, 1)),
    ],
)
def test_dates_are_day_first(raw, expected):
    assert parse_datetime(raw, RULES) == expected


@pytest.mark.parametrize("raw", ["12/25/2024", "31/02/2024", "2024/05/01", "May 1 2024", "yesterday", "13/13/2024"])
def test_impossible_or_unknown_dates_are_invalid(raw):
    with pytest.raises(InvalidValue):
        parse_date(raw, RULES)


def test_enum_synonyms_map_to_canonical_values():
    referrals = load_sources()["csws_referrals"]
    outcome = referrals.column("outcome")
    assert parse_enum("No Further Action", outcome) == "nfa"
    assert parse_enum("single assessment", outcome) == "assessment"
    assert parse_enum("C&F Assessment", outcome) == "assessment"
    assert parse_enum("EARLY_HELP", outcome) == "early_help"
    assert parse_enum("something else", outcome) == "something else"  # left for the suite to reject
    attendance = load_sources()["school_attendance"]
    assert parse_enum("State-funded primary", attendance.column("phase")) == "primary"
    assert parse_enum("PRU", attendance.column("phase")) == "other"


def test_header_normalisation_ignores_case_space_and_punctuation():
    assert normalise_header(" Date Reported ") == normalise_header("date_reported") == normalise_header("DATE-REPORTED")
    assert normalise_header("Child(ren) Present") == "childrenpresent"


def test_every_alias_maps_to_its_own_column():
    for source in load_sources().values():
        for column in source.columns:
            for alias in column.aliases:
                assert source.match_header(alias) == column.name, (source.name, alias)


def test_suites_enum_sets_match_the_definitions():
    """The GX suites and the YAML definitions must agree on each enum's values."""
    from pipelines.intake.expectations import suite_document

    for source in load_sources().values():
        sets = {
            e["kwargs"]["column"]: set(e["kwargs"]["value_set"])
            for e in suite_document(source.name)["expectations"]
            if e["type"] == "expect_column_values_to_be_in_set"
        }
        for column in source.columns:
            if column.type == "enum":
                assert sets.get(column.name) == set(column.values), (source.name, column.name)
