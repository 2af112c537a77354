"""A source's rules are data (issue 13): its order, period columns, type rules (yes/no spellings,
date formats, earliest date) come from its definition and ``definitions/types.yaml``, and a
mistake in them is refused with the file and the key named."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.dateformats import DateReader, FormatError
from pipelines.indicators import return_query
from pipelines.intake.values import InvalidValue, parse_bool, parse_datetime
from pipelines.sources import load_sources, sources_at
from pipelines.typerules import RulesError

REPO = Path(__file__).resolve().parent.parent
STANDARD = load_sources()["police_domestic_incidents"].rules


def test_order_periods_and_earliest_date_come_from_the_definitions():
    sources = load_sources()
    assert list(sources) == [
        "police_domestic_incidents",
        "csws_referrals",
        "school_attendance",
        "missing_episodes",
        "population",
        "benchmarks",
    ]
    assert [s.order for s in sources.values()] == [1, 2, 3, 4, 5, 6]
    assert {name: s.period_columns for name, s in sources.items()} == {
        "police_domestic_incidents": ("reported_at",),
        "csws_referrals": ("referral_date",),
        "school_attendance": ("period_end",),
        "missing_episodes": ("missing_from", "returned_at"),
        "population": (),
        "benchmarks": (),
    }
    assert {s.earliest_date for s in sources.values()} == {date(2000, 1, 1)}
    # one shared set, referred to by every source: each rule written once
    assert all(s.rules == STANDARD for s in sources.values())
    assert all(c.rules is s.rules for s in sources.values() for c in s.columns)


def test_the_return_query_is_derived_from_the_source_definition():
    assert return_query("school_attendance").splitlines()[1:] == [
        "SELECT COUNT(*) AS n_rows",
        "FROM stg_school_attendance",
        "WHERE period_end >= :period_start AND period_end < :period_end",
    ]
    with pytest.raises(ValueError, match="no period column"):
        return_query("population")


def test_the_spec_spellings_and_formats_are_the_standard_set():
    """sources.md "Types", read through the standard set of definitions/types.yaml."""
    assert {k for k, v in STANDARD.truth.items() if v} == {"y", "yes", "true", "t", "1"}
    assert {k for k, v in STANDARD.truth.items() if not v} == {"n", "no", "false", "f", "0"}
    read = {
        text: parse_datetime(text, STANDARD)
        for text in (
            "2024-05-01",
            "2024-05-01 13:45",
            "2024-05-01T13:45:10",
            "01/05/2024",
            "1/5/2024",
            "01-05-2024",
            "01/05/2024 13:45",
            "01/05/2024 13:45:00",
            "1 May 2024",
            "01-May-2024",
            "1 May 24",
            "1 SEPTEMBER 2024",
        )
    }
    assert set(read.values()) == {
        datetime(2024, 5, 1),
        datetime(2024, 5, 1, 13, 45),
        datetime(2024, 5, 1, 13, 45, 10),
        datetime(2024, 9, 1),
    }
    # a separator changed half way is no format of the spec's
    for text in ("01/05-2024", "1 May-2024", "2024/05/01"):
        with pytest.raises(InvalidValue, match="not a date we recognise"):
            parse_datetime(text, STANDARD)


def _rules_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(REPO / "definitions", folder / "definitions")
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    "file,old,new,message",
    [
        ("types.yaml", 'true_values: ["Y", "Yes",', 'true_values: ["Y", Yes,', "quote it"),
        ("types.yaml", "- d/M/y ", "- d/M/y QQ ", "'QQ' is not a date or time field"),
        ("types.yaml", "- d/M/y ", "- d/y ", "needs year, month, day"),
        ("types.yaml", "    - [May]\n", "", "twelve months"),
        ("types.yaml", 'false_values: ["N",', 'false_values: ["Y",', "both true and false"),
        ("types.yaml", "earliest_date: 2000-01-01", "earliest_date: the millennium", "earliest_date must be a date"),
        ("sources/missing_episodes.yaml", "types: standard", "types: american", "types set 'american' is not in"),
        (
            "sources/missing_episodes.yaml",
            "types: standard",
            "types: {from: standard, date_format: [d/M/y]}",
            "unknown key(s) date_format",
        ),
        ("sources/missing_episodes.yaml", "order: 4", "order: 3", "have the same order (3)"),
        (
            "sources/missing_episodes.yaml",
            "  also: [returned_at]",
            "  also: [returned]",
            "period column 'returned' is not one",
        ),
        (
            "sources/missing_episodes.yaml",
            "period:\n  column: missing_from",
            "periods:\n  column: missing_from",
            "unknown key(s) periods",
        ),
        ("sources/csws_referrals.yaml", "period:\n  column: referral_date  #", "#", "a partner source needs period"),
    ],
)
def test_a_mistake_in_the_rules_is_refused_naming_the_file(tmp_path, file, old, new, message):
    folder = _rules_folder(tmp_path)
    _edit(folder / "definitions" / file, old, new)
    with pytest.raises(RulesError) as refused:
        sources_at(folder)
    assert message in str(refused.value)
    assert str(folder / "definitions") in str(refused.value)


def test_a_source_may_change_part_of_a_set_for_itself(tmp_path):
    folder = _rules_folder(tmp_path)
    _edit(
        folder / "definitions" / "sources" / "missing_episodes.yaml",
        "types: standard",
        'types: {from: standard, date_formats: ["dd.MM.yyyy"], true_values: ["J"], false_values: ["N"]}',
    )
    sources = sources_at(folder)
    own, police = sources["missing_episodes"].rules, sources["police_domestic_incidents"].rules
    assert police == STANDARD and own.earliest_date == STANDARD.earliest_date
    assert parse_datetime("31.01.2024 10:00", own) == datetime(2024, 1, 31, 10, 0)
    with pytest.raises(InvalidValue, match=r"not a date we recognise \(use 31\.01\.2024\)"):
        parse_datetime("31/01/2024", own)
    assert (parse_bool("j", own), parse_bool("N", own), parse_bool(True, own)) == (True, False, True)
    with pytest.raises(InvalidValue, match=r"use J/N\)"):
        parse_bool("Y", own)
    with pytest.raises(InvalidValue, match=r"use J/N\)"):
        parse_bool(1, own)  # a number cell 1 is yes only where 1 spells yes


def test_fast_shapes_are_only_those_the_parser_reads_by_the_same_format():
    months = STANDARD.month_names
    # "dMy" reads every 8-digit text first (day, month, then a four-digit year), so yyyyMMdd gets no shape
    reader = DateReader(("dMy", "yyyyMMdd"), (), (), months)
    shown = ["".join(p or lit for p, lit in zip(s.positions, s.literals)) for s in reader.shapes]
    assert shown == ["DDMMYYYY", "DDMMYY"]
    assert reader.read("20240131") == (131, 24, 20, 0, 0, 0)  # day 20, month 24: the parser refuses it, as typing must
    # a month name or a fraction of a second has no fixed width: no shape, the parser reads them
    assert DateReader(("d MMM y",), ("H:mm:ss.S",), (" ",), months).shapes == ()
    with pytest.raises(FormatError, match="opens a quote"):
        DateReader(("d'/M/y",), (), (), months)


def test_every_spelling_the_generator_writes_is_one_the_rules_accept():
    """The synthetic extracts use only spellings sources.md accepts, now read from the YAML."""
    from pipelines.generate import cells

    when = datetime(2024, 1, 5, 9, 7, 3)
    for yes, no in cells.BOOL_STYLES.values():
        assert (parse_bool(yes, STANDARD), parse_bool(no, STANDARD)) == (True, False)
        assert (parse_bool(str(yes), STANDARD), parse_bool(str(no), STANDARD)) == (True, False)
    for style in cells.DATETIME_TEXT:
        assert parse_datetime(cells.datetime_text(style)(when), STANDARD) == when.replace(
            second=0 if style in ("uk", "iso_t") else 3
        )
    for style in (*cells.DATE_TEXT, "uk_short"):
        assert parse_datetime(cells.date_text(when.date(), style), STANDARD) == datetime(2024, 1, 5)
