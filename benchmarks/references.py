"""The two reference points the product's intake is measured against, on the same files.

LOWER BOUND: the least work that still reads and stores the rows: the fastest reader
(python-calamine for xlsx, ``pandas.read_csv`` for csv), minimal conversion to typed columns
(vectorised pandas: one date format guessed per column with a fallback, yes/no and enum spellings
mapped through a dict), then a bulk insert with no validation, no pseudonymisation and no upsert:
PostgreSQL ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg, SQLite ``executemany`` in one
transaction through the standard library driver, into a plain table of the warehouse table's
columns and types (no key, no index).

NAIVE: what an analyst would write instead of the product: ``pandas.read_excel(engine="openpyxl")``
or ``pandas.read_csv``, the same minimal typing, one Great Expectations validation of the source's
suite (``expectations/<source>.json``, loaded as ``pipelines/intake/expectations.py`` does, with
``result_format`` COMPLETE), then ``DataFrame.to_sql(if_exists="append", method=None)``.

Both are given each file's layout (sheet, header row, delimiter, encoding, which column is which),
found before the clock starts (``sniff_layout``): knowing the file is free for the references.
"""

from __future__ import annotations

import csv
import json
import os
import time
from datetime import datetime
from datetime import time as dtime
from pathlib import Path

# --- layouts: found once, before anything is timed ---------------------------------------------

HEADER_SEARCH_ROWS = 20


def _first_rows_csv(path: Path) -> tuple[list[list[str]], str, str]:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    else:
        try:
            data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
    text = data[: 1 << 16].decode(encoding, errors="replace")
    lines = [line for line in text.splitlines()[:30]]
    best, width = ",", 0
    for candidate in (",", ";"):
        widths = [len(r) for r in csv.reader(lines, delimiter=candidate)]
        if widths and max(widths) > width:
            best, width = candidate, max(widths)
    rows = list(csv.reader(lines, delimiter=best))[:HEADER_SEARCH_ROWS]
    return rows, encoding, best


def _first_rows_xlsx(path: Path) -> tuple[list[list[object]], str]:
    import python_calamine as calamine

    workbook = calamine.CalamineWorkbook.from_path(str(path))
    try:
        meta = next(
            m
            for m in workbook.sheets_metadata
            if m.visible == calamine.SheetVisibleEnum.Visible and m.typ == calamine.SheetTypeEnum.WorkSheet
        )
        rows = []
        for row in workbook.get_sheet_by_name(meta.name).iter_rows():
            rows.append(list(row))
            if len(rows) >= HEADER_SEARCH_ROWS:
                break
        return rows, meta.name
    finally:
        workbook.close()


def sniff_layout(path: Path) -> dict:
    """Where the data is in ``path`` and which source it holds (the first row within the first 20
    that holds every required column of exactly one source, as the product's identify does)."""
    from pipelines.sources import load_sources

    path = Path(path)
    layout: dict = {"path": str(path), "format": "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "csv"}
    if layout["format"] == "csv":
        rows, layout["encoding"], layout["delimiter"] = _first_rows_csv(path)
    else:
        rows, layout["sheet"] = _first_rows_xlsx(path)
    for index, row in enumerate(rows):
        found = []
        for source in load_sources().values():
            columns = {}
            for position, cell in enumerate(row):
                name = source.match_header(cell) if cell not in (None, "") else None
                if name and name not in columns.values():
                    columns[position] = name
            if all(c.name in columns.values() for c in source.required):
                found.append((source.name, columns))
        if len(found) == 1:
            layout["source"], columns = found[0]
            layout["header_index"] = index
            layout["columns"] = {str(p): n for p, n in columns.items()}
            return layout
    raise ValueError(f"no source header found in {path.name}")


# --- minimal typing, shared by both references ------------------------------------------------

_DATETIME_FORMATS = (
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%d-%b-%Y",
)


def _spellings(words: dict) -> dict:
    """Each spelling in the cases files use (as sent, lower, upper, title) -> its value."""
    out = {}
    for word, value in words.items():
        for variant in (word, word.lower(), word.upper(), word.title()):
            out[variant] = value
    return out


_BOOLS = {
    **_spellings({w: True for w in ("y", "yes", "true", "t", "1")}),
    **_spellings({w: False for w in ("n", "no", "false", "f", "0")}),
    1: True,  # also the bool True (True == 1)
    0: False,
}


def _blank_to_none(s):
    """Empty cells as missing (calamine gives ""; read_csv already gives NaN)."""
    if s.dtype == object:
        return s.mask(s.eq(""))
    return s


def _guess_format(s) -> str | None:
    """The format of the column's first text value (one strptime per format, not per row)."""
    from datetime import datetime as dt

    for value in s.head(1000):
        if isinstance(value, str) and value.strip():
            for fmt in _DATETIME_FORMATS:
                try:
                    dt.strptime(value.strip(), fmt)
                    return fmt
                except ValueError:
                    continue
            return None
    return None


def _to_datetime(s):
    import pandas as pd

    fmt = _guess_format(s)
    if fmt is None:
        out = pd.to_datetime(s, errors="coerce", dayfirst=True, format="mixed")
    else:
        out = pd.to_datetime(s, errors="coerce", format=fmt)
        missed = out.isna() & s.notna()
        if missed.any():  # other spellings in the same column: let pandas work them out
            out[missed] = pd.to_datetime(s[missed], errors="coerce", dayfirst=True, format="mixed")
    return out.astype("datetime64[us]")


def type_frame(frame, source):
    """``frame`` (canonical column names, raw cells) as typed columns of every column of
    ``source``, vectorised: no Python code per value except for non-text ids from a workbook."""
    import pandas as pd
    from pandas.api.types import infer_dtype

    out = {}
    n = len(frame)
    for column in source.columns:
        if column.name not in frame.columns:
            out[column.name] = pd.Series([None] * n, dtype=object, index=frame.index)
            continue
        s = _blank_to_none(frame[column.name])
        kind = column.type
        if kind in ("datetime", "date"):
            typed = _to_datetime(s)
            out[column.name] = typed.dt.normalize() if kind == "date" else typed
        elif kind == "bool":
            out[column.name] = s.map(_BOOLS).astype("boolean")
        elif kind in ("int", "number"):
            if infer_dtype(s, skipna=True) in ("string", "mixed", "mixed-integer", "mixed-integer-float"):
                s = s.astype(str).str.replace(",", "", regex=False).mask(s.isna())
            number = pd.to_numeric(s, errors="coerce")
            out[column.name] = number.round().astype("Int64") if kind == "int" else number.astype("float64")
        elif kind == "enum":
            lookup = {}
            for canonical, synonyms in column.values.items():
                lookup.update(_spellings({spelling: canonical for spelling in (canonical, *synonyms)}))
            out[column.name] = s.map(lookup).astype(object)
        else:  # text: as sent, except a number typed into a workbook cell
            if infer_dtype(s, skipna=True) != "string":
                s = s.map(_text, na_action="ignore")
            out[column.name] = s.astype(object)
    return pd.DataFrame(out, index=frame.index)


def _text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _drop_non_data(frame, source):
    """Rows without their key (blank rows, the totals row) are not data."""
    keys = [k for k in source.key if k in frame.columns]
    mask = frame[keys].notna().all(axis=1)
    for k in keys:
        if frame[k].dtype == object:
            mask &= frame[k].astype(str).str.strip().ne("")
    return frame[mask]


# --- the plain tables --------------------------------------------------------------------------


def plain_table(source_name: str, table_name: str):
    """A table of the warehouse table's columns and types, with no key, index or constraint."""
    from sqlalchemy import Column, MetaData, Table

    from pipelines.warehouse.schema import table_for

    warehouse = table_for(source_name)
    metadata = MetaData()
    return Table(table_name, metadata, *[Column(c.name, c.type) for c in warehouse.columns if c.name != "load_id"])


def _warehouse_names(source) -> dict[str, str]:
    from pipelines.warehouse.schema import warehouse_column_name

    return {c.name: warehouse_column_name(c) for c in source.columns}


def create_tables(url: str, layouts: list[dict], prefix: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        for source in sorted({layout["source"] for layout in layouts}):
            plain_table(source, f"{prefix}_{source}").metadata.create_all(engine)
    finally:
        engine.dispose()


# --- lower bound --------------------------------------------------------------------------------


def _read_lower(layout: dict, source):
    import pandas as pd

    positions = sorted(int(p) for p in layout["columns"])
    names = [layout["columns"][str(p)] for p in positions]
    if layout["format"] == "csv":
        frame = pd.read_csv(
            layout["path"],
            sep=layout["delimiter"],
            encoding=layout["encoding"],
            skiprows=layout["header_index"],
            header=0,
            usecols=positions,
            dtype=str,
        )
        frame.columns = names
        return frame
    import python_calamine as calamine

    workbook = calamine.CalamineWorkbook.from_path(layout["path"])
    try:
        rows = workbook.get_sheet_by_name(layout["sheet"]).to_python(skip_empty_area=False)
    finally:
        workbook.close()
    data = rows[layout["header_index"] + 1 :]
    columns = {name: [r[p] if p < len(r) else None for r in data] for p, name in zip(positions, names)}
    return pd.DataFrame(columns, dtype=object)


def _sqlite_lists(typed, source) -> list[list]:
    """Each column as a list of Python values the sqlite3 driver stores as SQLAlchemy would."""
    lists = []
    for column in source.columns:
        s = typed[column.name]
        if column.type in ("datetime", "date"):
            values = s.astype(str)  # ISO 8601, formatted in C ("2024-01-31 13:45:00"; a date column "2024-01-31")
        else:
            values = s.astype(object)
        lists.append(values.where(s.notna(), None).tolist())
    return lists


def lower_bound_file(layout: dict, url: str, table: str, timings: dict) -> int:
    import pandas as pd

    from pipelines.sources import load_sources

    source = load_sources()[layout["source"]]
    started = time.perf_counter()
    frame = _read_lower(layout, source)
    timings["read"] += time.perf_counter() - started

    started = time.perf_counter()
    frame = _drop_non_data(frame, source)
    typed = type_frame(frame, source)
    timings["map_type"] += time.perf_counter() - started

    started = time.perf_counter()
    names = _warehouse_names(source)
    columns = [names[c.name] for c in source.columns]
    if url.startswith("postgresql"):
        import psycopg

        buffer = typed.to_csv(header=False, index=False, na_rep="")  # ISO dates; PostgreSQL reads them
        with psycopg.connect(_libpq(url)) as conn:
            with conn.cursor() as cur:
                quoted = ", ".join(f'"{c}"' for c in columns)
                with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN (FORMAT csv)') as copy:
                    copy.write(buffer)
    else:
        import sqlite3

        rows = list(zip(*_sqlite_lists(typed, source)))
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            with conn:
                conn.executemany(
                    f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in columns)}) '
                    f"VALUES ({', '.join('?' for _ in columns)})",
                    rows,
                )
        finally:
            conn.close()
    timings["load"] += time.perf_counter() - started
    del pd
    return len(typed)


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


# --- naive --------------------------------------------------------------------------------------

_GX = None


def _gx_batch_definition():
    global _GX
    if _GX is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        batch_definition = (
            context.data_sources.add_pandas("naive")
            .add_dataframe_asset("rows")
            .add_batch_definition_whole_dataframe("whole_file")
        )
        _GX = (gx, batch_definition)
    return _GX


def _naive_validate(source_name: str, frame) -> int:
    """One GX validation of the source's suite, result_format COMPLETE; returns failing results."""
    from pipelines.resources import expectations_dir

    gx, batch_definition = _gx_batch_definition()
    document = json.loads((expectations_dir() / f"{source_name}.json").read_text(encoding="utf-8"))
    suite = gx.ExpectationSuite(name=document["name"], expectations=[dict(e) for e in document["expectations"]])
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite,
        expectation_parameters={
            "earliest_date": datetime(2000, 1, 1),
            "latest_date": datetime.combine(datetime.now().date(), dtime.max),
        },
        result_format={"result_format": "COMPLETE"},
    )
    for outcome in result.results:
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"expectation {outcome.expectation_config.type} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
    return sum(1 for outcome in result.results if not outcome.success)


def naive_file(layout: dict, engine, table: str, timings: dict) -> tuple[int, int]:
    import pandas as pd

    from pipelines.sources import load_sources

    source = load_sources()[layout["source"]]
    started = time.perf_counter()
    if layout["format"] == "csv":
        frame = pd.read_csv(
            layout["path"],
            sep=layout["delimiter"],
            encoding=layout["encoding"],
            skiprows=layout["header_index"],
            header=0,
        )
    else:
        frame = pd.read_excel(
            layout["path"], sheet_name=layout["sheet"], engine="openpyxl", header=layout["header_index"]
        )
    timings["read"] += time.perf_counter() - started

    started = time.perf_counter()
    positions = {int(p): n for p, n in layout["columns"].items()}
    frame = frame.iloc[:, sorted(positions)]
    frame.columns = [positions[p] for p in sorted(positions)]
    frame = _drop_non_data(frame.astype(object), source)
    typed = type_frame(frame, source)
    timings["map_type"] += time.perf_counter() - started

    started = time.perf_counter()
    failing = _naive_validate(source.name, typed)
    timings["validate"] += time.perf_counter() - started

    started = time.perf_counter()
    names = _warehouse_names(source)
    typed = typed.rename(columns=names)
    typed.to_sql(table, engine, if_exists="append", index=False, method=None)
    timings["load"] += time.perf_counter() - started
    return len(typed), failing
