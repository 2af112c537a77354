"""How accepted rows reach the warehouse (issue 20): PostgreSQL's COPY text made a column at a
time, and PostgreSQL loads run by a thread of their own. Text that COPY would misread (backslash,
tab, newline, carriage return, a literal ``\\N``), blanks of every type, numbers and dates must be
stored exactly as SQLite stores them, and a refusal inside the load's thread must reach the
caller as the same error."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from pipelines.intake.background_load import LoadHere, LoadInBackground, load_runner
from pipelines.intake.loading import ChunkedLoad, copy_fields, database_reason, load_rows
from pipelines.sources import load_sources
from pipelines.warehouse.schema import table_for, warehouse_column_name

AWKWARD = ["back\\slash", "tab\there", "new\nline", "carriage\rreturn", "\\N", 'Zoë £1, "quoted"', "plain"]


def _audit(name: str) -> dict:
    return {
        "source": "police_domestic_incidents",
        "original_name": name,
        "stored_name": name,
        "sha256": "0" * 64,
        "status": "accepted",
        "received_at": datetime(2024, 5, 1, 9, 0),
        "rows_read": 0,
        "rows_loaded": 0,
        "rows_rejected": 0,
    }


def _police_frame() -> pd.DataFrame:
    """Typed police rows as checking makes them: every column, awkward text in the free-text
    ones, a blank of each type."""
    source = load_sources()["police_domestic_incidents"]
    n = len(AWKWARD)
    data: dict[str, object] = {}
    for column in source.columns:
        if column.type in ("date", "datetime"):
            stamps = np.array([f"2024-04-{i + 1:02d}T10:{i:02d}:00" for i in range(n)], dtype="datetime64[us]")
            stamps[2] = np.datetime64("NaT")
            data[column.name] = pd.Series(stamps, dtype="datetime64[us]")
        elif column.type == "bool":
            data[column.name] = pd.Series([True, False, None] * 2 + [True], dtype=object)
        elif column.type == "int":
            data[column.name] = pd.Series([0, 1, None, 3, 12, 2, 7], dtype="Int64")
        elif column.type == "number":
            data[column.name] = pd.Series([0.5, 1e-05, None, 3.0, 12.25, 2, 7], dtype="float64")
        elif column.type == "enum":
            allowed = sorted(column.values)
            data[column.name] = pd.Series([allowed[i % len(allowed)] for i in range(n - 1)] + [None], dtype=object)
        else:
            key = column.name in source.key
            data[column.name] = pd.Series(
                [f"{column.name}-{i}-{text}" if key else text for i, text in enumerate(AWKWARD)], dtype=object
            )
            if not key and not column.required:
                data[column.name][3] = None
    return pd.DataFrame(data)


def _stored(engine) -> list[tuple]:
    table = table_for("police_domestic_incidents")
    with engine.connect() as conn:
        rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
    return [tuple(row)[:-1] for row in rows]  # without load_id (each warehouse numbers its own)


def test_copy_fields_escape_what_copy_would_misread_and_mark_blanks():
    text = copy_fields(pd.Series(AWKWARD + [None], dtype=object), "text")
    assert text == [
        "back\\\\slash",
        "tab\\there",
        "new\\nline",
        "carriage\\rreturn",
        "\\\\N",
        'Zoë £1, "quoted"',
        "plain",
        "\\N",
    ]
    assert copy_fields(pd.Series([True, False, None], dtype=object), "bool") == ["t", "f", "\\N"]
    assert copy_fields(pd.Series([3, None], dtype="Int64"), "int") == ["3", "\\N"]
    assert copy_fields(pd.Series([0.5, 1e-05, np.nan]), "number") == ["0.5", "1e-05", "\\N"]
    stamps = pd.Series(np.array(["2024-01-31T13:45:00", "NaT"], dtype="datetime64[us]"))
    assert copy_fields(stamps, "datetime") == ["2024-01-31 13:45:00.000000", "\\N"]
    assert copy_fields(stamps, "date") == ["2024-01-31", "\\N"]


def test_postgresql_stores_awkward_text_blanks_numbers_and_dates_as_sqlite_does(pg_url, tmp_path):
    from pipelines.warehouse import connect_warehouse, init_warehouse

    stored = {}
    for label, url in (("sqlite", f"sqlite:///{tmp_path / 'w.db'}"), ("postgresql", pg_url)):
        engine = connect_warehouse(url)
        init_warehouse(engine)
        try:
            source = load_sources()["police_domestic_incidents"]
            load_rows(engine, source, _police_frame(), _audit("first.csv"))
            stored[label] = _stored(engine)
        finally:
            engine.dispose()
    assert stored["postgresql"] == stored["sqlite"]
    rows = stored["postgresql"]
    assert len(rows) == len(AWKWARD)
    texts = [value for row in rows for value in row if isinstance(value, str)]
    for awkward in AWKWARD:
        assert any(text.endswith(awkward) for text in texts), awkward
    source = load_sources()["police_domestic_incidents"]
    names = [warehouse_column_name(c) for c in source.columns]
    count = names.index(warehouse_column_name(next(c for c in source.columns if c.type == "int")))
    assert [row[count] for row in rows] == [0, 1, None, 3, 12, 2, 7]


def test_a_postgresql_load_runs_in_its_own_thread_and_sqlite_in_the_callers(warehouse):
    source = load_sources()["police_domestic_incidents"]
    runner = load_runner(warehouse, lambda: ChunkedLoad(warehouse, source, _audit("x.csv"), 10))
    with runner:
        runner.add(_police_frame())
        load_id = runner.commit(_audit("x.csv") | {"rows_loaded": len(AWKWARD)})
    expected = LoadInBackground if warehouse.dialect.name == "postgresql" else LoadHere
    assert isinstance(runner, expected)
    assert load_id == runner.load_id
    assert len(_stored(warehouse)) == len(AWKWARD)


def test_a_refusal_in_the_load_thread_reaches_the_caller_and_nothing_is_kept(pg_url):
    from pipelines.warehouse import connect_warehouse, init_warehouse

    engine = connect_warehouse(pg_url)
    init_warehouse(engine)
    try:
        source = load_sources()["police_domestic_incidents"]
        frame = _police_frame()
        enum = next(c for c in source.columns if c.type == "enum")
        frame[enum.name] = "x" * 500  # longer than the column allows: the server refuses the chunk
        runner = LoadInBackground(lambda: ChunkedLoad(engine, source, _audit("refused.csv"), 10))
        with pytest.raises(SQLAlchemyError) as caught:
            with runner:
                runner.add(frame)
                runner.add(_police_frame())
                runner.commit(_audit("refused.csv"))
        assert "too long" in database_reason(caught.value)
        assert "xxxx" not in database_reason(caught.value)
        assert _stored(engine) == []
        with engine.connect() as conn:
            from pipelines.warehouse.schema import load_files

            assert conn.execute(select(load_files)).all() == []
    finally:
        engine.dispose()
