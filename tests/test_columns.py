"""Whole-column typing (``columns.py``) gives exactly what the cell parser (``values.py``) gives,
cell for cell, value or reason; and the csv line splitter reads as ``io.StringIO`` did."""

from __future__ import annotations

import csv
import io
import math
import random
from datetime import date, datetime, time

import numpy as np
import pandas as pd
import pytest

from pipelines.intake.columns import type_column
from pipelines.intake.loading import stored_values
from pipelines.intake.reading import _lines
from pipelines.intake.values import InvalidValue, parse_value
from pipelines.sources import Column, load_sources

DATE_TEXTS = [
    "31/01/2024",
    "31/01/2024 13:45",
    "31/01/2024 13:45:59",
    "31-01-2024",
    "31-01-2024 09:05",
    "31/01-2024",
    "2024-01-31",
    "2024-01-31 13:45",
    "2024-01-31T13:45",
    "2024-01-31 13:45:59",
    "2024-01-31T13:45:59",
    "5/1/2024",
    "05/1/2024 9:05",
    "2024-1-5",
    "31/01/24",
    "31 Jan 2024",
    "31-January-2024 10:00",
    "31/02/2024",
    "31/02/2024 10:00",
    "2024-02-30",
    "2024-13-01",
    "00/01/2024",
    "31/01/0000",
    "31/01/2024 24:00",
    "31/01/2024 23:60",
    "31/01/2024 23:59:60",
    "31/01/2024 25:00:00",
    "2024-01-31 13:45:59.123",
    " 31/01/2024 ",
    "31/01/2024\t",
    "01/31/2024",
    "31.01.2024",
    "٣١/٠١/٢٠٢٤",
    "31/01/2024 1:05",
    "31/01/1500",
    "31/12/9999 23:59:59",
    "15/06/1970",
    "",
    "   ",
    "not a date",
    "x" * 300,
    "2024-01-31 13:45:00+01:00",
    "20240131",
]
OTHER_RAW = [
    None,
    float("nan"),
    0,
    1,
    1.0,
    2.5,
    -0.0,
    True,
    False,
    45000,
    2**70,
    datetime(2024, 1, 31, 13, 45, 59, 500000),
    datetime(2024, 1, 31),
    date(2024, 1, 31),
    time(13, 45),
    datetime(1500, 1, 1),
    datetime(9999, 12, 31, 23, 59, 59),
]
TEXTS = [
    "Y",
    "y ",
    "yes",
    "No",
    "TRUE",
    "f",
    "1",
    "0",
    "2",
    "maybe",
    "1,234",
    "12,34",
    "1.0",
    "1.5",
    "-3",
    " +7 ",
    "1e3",
    "nan",
    "inf",
    "M",
    "F",
    "male",
    "Female",
    "U",
    "unknown",
    "Other",
    "x\x00y",
    "a" * 256,
    "a" * 10_001,
    "WYP123",
    " WYP123 ",
    "Total",
    "12345678901234567890",
]


def expected(raw, column: Column, key: bool):
    try:
        return ("value", parse_value(raw, column, key=key))
    except InvalidValue as exc:
        return ("error", str(exc))


def got(typed, i: int, kind: str):
    if i in typed.errors:
        return ("error", typed.errors[i])
    value = typed.values[i]
    if kind in ("date", "datetime"):
        if np.isnat(value):
            return ("value", None)
        stamp = pd.Timestamp(value).to_pydatetime()
        return ("value", stamp.date() if kind == "date" else stamp)
    return ("value", value)


def same(a, b) -> bool:
    if a[0] != b[0]:
        return False
    x, y = a[1], b[1]
    if isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y):
        return True
    return type(x) is type(y) and x == y


def every_kind():
    seen = {}
    for source in load_sources().values():
        for column in source.columns:
            seen.setdefault(column.type, (column, column.name in source.key))
    return sorted(seen.items())


@pytest.mark.parametrize("kind,column_key", every_kind(), ids=[k for k, _ in every_kind()])
@pytest.mark.parametrize("mix", ["strings only", "mixed cells"])
def test_a_typed_column_equals_the_cell_parser_cell_for_cell(kind, column_key, mix):
    column, key = column_key
    cells = (
        DATE_TEXTS
        + TEXTS
        + [v for enum in [column.values or {}] for v in enum]
        + (OTHER_RAW if mix == "mixed cells" else [])
    )
    random.Random(7).shuffle(cells)
    cells = cells * 3  # repeats go through the remembered values
    typed = type_column(cells, column, key=key)
    for i, raw in enumerate(cells):
        want, have = expected(raw, column, key), got(typed, i, kind)
        assert same(want, have), f"{kind} {raw!r}: parser {want!r}, column {have!r}"
        assert bool(typed.blank[i]) == (want == ("value", None) and i not in typed.errors), raw


def test_fixed_shape_dates_are_parsed_in_bulk_and_agree_with_the_parser():
    column = Column(name="when", type="datetime", rules=load_sources()["missing_episodes"].rules)
    rng = random.Random(3)
    cells = [
        f"{rng.randint(1, 31):02d}/{rng.randint(1, 12):02d}/{rng.randint(1999, 2030)} "
        f"{rng.randint(0, 24):02d}:{rng.randint(0, 60):02d}"
        for _ in range(20_000)
    ]
    typed = type_column(cells, column)
    for i, raw in enumerate(cells):
        assert same(expected(raw, column, False), got(typed, i, "datetime")), raw
    assert typed.errors, "impossible dates and times among them are reported"


def test_declared_formats_are_typed_in_bulk_exactly_as_the_parser_reads_them():
    """Formats of a source's own (``types: {from: standard, date_formats: [...]}``): the fast
    shapes are derived from them, and still agree with the parser cell for cell."""
    from pipelines.intake.columns import _fixed_shapes
    from pipelines.resources import definitions_dir
    from pipelines.typerules import build, read_sets

    standard = read_sets(definitions_dir() / "types.yaml")["standard"]
    rules = build(
        {
            **standard,
            "date_formats": ["yyyyMMdd", "dd.MM.yy", "d MMM y", "d/M/y"],
            "time_formats": ["HH.mm", "H:mm:ss"],
            "time_separators": [", ", " "],
        },
        "a source's own",
    )
    column = Column(name="when", type="datetime", rules=rules)
    rng = random.Random(11)
    cells = []
    for _ in range(5_000):
        d, m, y, hh, mm = (
            rng.randint(0, 32),
            rng.randint(0, 13),
            rng.randint(1999, 2031),
            rng.randint(0, 25),
            rng.randint(0, 61),
        )
        time_part = rng.choice(
            ["", f", {hh:02d}.{mm:02d}", f" {hh}:{mm:02d}:{rng.randint(0, 60):02d}", f" {hh:02d}.{mm:02d}"]
        )
        cells.append(
            rng.choice(
                [
                    f"{y}{m:02d}{d:02d}",
                    f"{d:02d}.{m:02d}.{y % 100:02d}",
                    f"{d} Jan {y}",
                    f"{d:02d}/{m:02d}/{y}",
                    f"{y}-{m:02d}-{d:02d}",
                ]
            )
            + time_part
        )
    cells += DATE_TEXTS + TEXTS + OTHER_RAW
    typed = type_column(cells, column)
    for i, raw in enumerate(cells):
        assert same(expected(raw, column, False), got(typed, i, "datetime")), raw
    out = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[us]")
    assert _fixed_shapes(cells, out, rules.dates.shapes, only_text=False).sum() > 1_000  # the fast path did the bulk
    assert expected("2024-01-31", column, False) == (
        "error",
        "is not a date we recognise (use 20240131, 31.01.24 or 31 Jan 2024)",
    )


@pytest.mark.parametrize(
    "text",
    [
        "a,b\r\n1,2\r\n",
        "a,b\n1,2\n",
        "a,b\r1,2\r3,4",
        'a,b\n"x\ny",2\n',
        'a,b\r\n"x\r\ny",2\r\n',
        "a,b\n1,2",
        "a,b\n1,\u2028 2\n",
        "a,b\n\x0c1,2\n",
        "",
        "\n\n",
        'a,"b\rc"\r1,2',
    ],
)
def test_csv_lines_read_as_stringio_read_them(text):
    old = list(csv.reader(io.StringIO(text, newline="")))
    assert list(csv.reader(_lines(text))) == old


def test_stored_values_are_sqlalchemys_sqlite_text():
    stamps = pd.Series(np.array(["2024-01-31T13:45:00", "NaT", "1999-02-03"], dtype="datetime64[us]"))
    assert stored_values(stamps, "datetime") == ["2024-01-31 13:45:00.000000", None, "1999-02-03 00:00:00.000000"]
    assert stored_values(stamps, "date") == ["2024-01-31", None, "1999-02-03"]
    assert stored_values(pd.Series([1, None], dtype="Int64"), "int") == [1, None]
    assert stored_values(pd.Series([True, None], dtype=object), "bool") == [True, None]
    assert stored_values(pd.Series([1.5, float("nan")]), "number") == [1.5, None]


def test_csv_lines_split_in_blocks_read_as_one_piece():
    from pipelines.intake.reading import _lines_by_block

    text = "".join(f'{i},"a\r\nb",{"x" * (i % 7)}\r\n' if i % 3 else f"{i},plain\n" for i in range(2000)) + "last,row"
    assert list(csv.reader(_lines_by_block(text, size=97))) == list(csv.reader(io.StringIO(text, newline="")))
