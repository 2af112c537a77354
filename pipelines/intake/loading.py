"""Upsert a file's accepted rows by their source key, with the load record, in one transaction."""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from ..sources import Source
from ..warehouse.schema import load_files, table_for, warehouse_column_name
from .columns import DATE_KINDS

BLOCK_ROWS = 10_000  # rows converted at a time: SQLite's parameters, PostgreSQL's COPY text
ROWS_PER_STATEMENT = 100  # SQLite: rows one INSERT carries
SQLITE_MAX_PARAMETERS = 999  # the smallest limit any SQLite build has on a statement's parameters
# SQLite page cache while loading a file (grows only as used). It was 128 MB (issue 8); with the
# rows streamed a chunk at a time (issue 20) the cache was most of a big file's memory, and 32 MB
# loads a million rows within a few percent of the time.
LOAD_CACHE_KB = 32 * 1024


def accepted_load_with_hash(engine: Engine, sha256: str) -> dict | None:
    """The finished accepted load of this content, if any: the same bytes again are a duplicate."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(load_files)
                .where(
                    load_files.c.sha256 == sha256,
                    load_files.c.status == "accepted",
                    load_files.c.finished_at.is_not(None),
                )
                .order_by(load_files.c.load_id)
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def unfinished_loads(engine: Engine, sha256: str | None = None) -> list[dict]:
    """Load records whose file was never filed away (``finished_at`` unset): a run stopped after
    recording them. Newest first; only this content's when ``sha256`` is given."""
    query = select(load_files).where(load_files.c.finished_at.is_(None)).order_by(load_files.c.load_id.desc())
    if sha256 is not None:
        query = query.where(load_files.c.sha256 == sha256)
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def record_load(engine: Engine, audit: dict) -> int:
    """Record a file that loaded nothing (rejected or duplicate); unfinished until filed away."""
    with engine.begin() as conn:
        return _inserted_id(conn.execute(insert(load_files).values(**audit)))


def _inserted_id(result) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def mark(engine: Engine, load_id: int, **when: datetime) -> None:
    """Set ``receipt_mailed_at`` or ``finished_at`` on a load record."""
    with engine.begin() as conn:
        conn.execute(update(load_files).where(load_files.c.load_id == load_id).values(**when))


def load_rows(engine: Engine, source: Source, rows, audit: dict) -> int:
    """Insert the load record and upsert ``rows`` (a typed DataFrame, canonical column names) in
    one transaction; returns the load_id (``ChunkedLoad`` with one chunk)."""
    with ChunkedLoad(engine, source, audit, len(rows)) as load:
        load.add(rows)
        load.commit(audit)
    return load.load_id


class ChunkedLoad:
    """One file's load, a chunk of rows at a time, in one transaction with its load record.

    The record goes in first (its ``load_id`` is on every row) and is brought up to date by
    ``commit`` with the file's final counts and receipt; ``rollback`` (or leaving the block
    without committing) undoes it all: a file that ends over the reject threshold loads nothing.
    PostgreSQL: each chunk is COPYed into a temporary table and upserted from it in one statement
    (a big load COPYs straight into the table while none of its keys is there yet); SQLite:
    batched executemany of the upsert. A big load (``expected_rows``: an estimate, made when its
    first chunk is read) rebuilds the table's secondary indexes rather than inserting into them
    (``_indexes_to_rebuild``)."""

    def __init__(self, engine: Engine, source: Source, audit: dict, expected_rows: int):
        self.engine, self.source = engine, source
        self.table = table_for(source.name)
        self.columns = [warehouse_column_name(c) for c in source.columns] + ["load_id"]
        self.expected_rows = expected_rows
        self.rows = 0
        self.staging = False
        self.conn = engine.connect()
        try:
            self.transaction = self.conn.begin()
            self.load_id = _inserted_id(self.conn.execute(insert(load_files).values(**audit)))
            self.set_aside = _indexes_to_rebuild(self.conn, self.table, expected_rows)
            for index in self.set_aside:
                index.drop(self.conn)
        except BaseException:
            self.conn.close()
            raise
        self.straight = bool(self.set_aside)  # PostgreSQL: COPY straight in, while it works

    def __enter__(self) -> ChunkedLoad:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, rows) -> None:
        if not len(rows):
            return
        conn, table = self.conn, self.table
        with _driver_errors_wrapped(self.engine):
            if self.engine.dialect.name == "postgresql":
                blocks = functools.partial(copy_blocks, rows, self.source, self.load_id)  # a fresh iterator each call
                if not (self.straight and _copied_straight_in(conn, table, self.columns, blocks())):
                    self.straight = False
                    _copy_upsert(conn, table, self.columns, blocks(), fresh=not self.staging)
                    self.staging = True
            else:
                _batched_upsert(conn, table, self.columns, _stored_parameters(rows, self.source, self.load_id))
        self.rows += len(rows)

    def commit(self, audit: dict) -> None:
        """The load record as finally decided, the indexes built again, and all of it committed."""
        conn = self.conn
        conn.execute(update(load_files).where(load_files.c.load_id == self.load_id).values(**audit))
        if self.set_aside and self.engine.dialect.name == "sqlite":
            # SQLite sorts an index's entries in one thread unless told it may use more (a
            # million-row table's four indexes: 2.8 s in one, 2.6 s in two). It stays set on
            # this pooled connection, where it only lets another big sort use a second thread.
            conn.exec_driver_sql(f"PRAGMA threads = {SORT_THREADS}")
        for index in self.set_aside:
            index.create(conn)
        if self.rows >= REBUILD_FROM_ROWS and self.engine.dialect.name == "postgresql":
            # Fresh statistics for the planner now, rather than whenever autovacuum (if it is on)
            # gets round to it: the next build's plans depend on them.
            conn.exec_driver_sql(f'ANALYZE "{self.table.name}"')
        self.transaction.commit()

    def rollback(self) -> None:
        if self.transaction.is_active:
            self.transaction.rollback()

    def close(self) -> None:
        try:
            self.rollback()
        finally:
            self.conn.close()


REBUILD_FROM_ROWS = 100_000  # a file this big...
SORT_THREADS = 2  # SQLite: threads it may use to sort a rebuilt index
REBUILD_TABLE_SHARE = 2  # ...into a table holding at most this many times its rows


def _indexes_to_rebuild(conn, table, incoming: int) -> list:
    """The secondary (non-unique) indexes to drop before a big load and build again after it.

    Inserting a million rows one by one into an index of random keys (a child's pseudonym) costs
    several times more than building that index afresh by sorting (issue 8), so when a file is
    large beside what the table already holds, its indexes are rebuilt instead. The key's own
    unique index stays (the upsert needs it). All of it is inside the load's transaction: a crash
    leaves the indexes as they were; meanwhile PostgreSQL holds the table's exclusive lock, so a
    build waits for the load to finish (SQLite's writer lock does the same)."""
    if incoming < REBUILD_FROM_ROWS:
        return []
    if conn.dialect.name == "postgresql":
        # Two big loads into one table would each hold a share lock while waiting for the other's
        # exclusive one (a deadlock): this lock conflicts with itself, so they queue here instead.
        conn.exec_driver_sql(f'LOCK TABLE "{table.name}" IN SHARE ROW EXCLUSIVE MODE')
    existing = conn.execute(select(func.count()).select_from(table)).scalar_one()
    if existing > incoming * REBUILD_TABLE_SHARE:
        return []
    return sorted((index for index in table.indexes if not index.unique), key=lambda index: index.name)


def _stored_parameters(rows, source: Source, load_id: int) -> Iterator[tuple[int, list]]:
    """(rows, their values row after row in warehouse column order, ``load_id`` last), for up
    to ``BLOCK_ROWS`` rows at a time: each column converted at once (``stored_values``) and laid into
    one flat list by slice assignment, without making a tuple per row."""
    width = len(source.columns) + 1
    for start in range(0, len(rows), BLOCK_ROWS):
        part = rows.iloc[start : start + BLOCK_ROWS]
        flat: list = [None] * (len(part) * width)
        for position, column in enumerate(source.columns):
            flat[position::width] = stored_values(part[column.name], column.type)
        flat[width - 1 :: width] = [load_id] * len(part)
        yield len(part), flat


def stored_values(series, kind: str) -> list:
    """A typed column as plain Python values, ``None`` for blanks, converted by column rather than
    by value. Dates and date-times become the text SQLAlchemy stores in SQLite
    (``2024-01-31``, ``2024-01-31 13:45:00.000000``), which PostgreSQL also reads."""
    missing = series.isna().to_numpy()
    if kind in DATE_KINDS:
        stamps = series.to_numpy("datetime64[us]")
        text = np.datetime_as_string(stamps, unit="D" if kind == "date" else "us")
        if kind == "datetime" and text.dtype == np.dtype("<U26"):  # "2024-01-31T13:45:00.000000"
            characters = text.view(np.uint32).reshape(-1, 26)
            characters[:, 10] = np.where(characters[:, 10] == ord("T"), ord(" "), characters[:, 10])
        elif kind == "datetime":  # years beyond 9999 or NaT only: never the usual case
            text = np.char.replace(text, "T", " ")
        out = text.astype(object)
    else:
        out = series.to_numpy(dtype=object, copy=True)
    if missing.any():
        out[missing] = None
    return out.tolist()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_COPY_SPECIAL = ("\\", "\t", "\n", "\r")
_COPY_NULL = "\\N"


def copy_blocks(rows, source: Source, load_id: int) -> Iterator[bytes]:
    """The rows (plus ``load_id``) in PostgreSQL's COPY text format, ``BLOCK_ROWS`` rows a block,
    made a column at a time (``copy_fields``): handing COPY a row at a time cost the checking of
    the next chunk, which runs beside the load, more Python time than the rows took to store."""
    for start in range(0, len(rows), BLOCK_ROWS):
        part = rows.iloc[start : start + BLOCK_ROWS]
        fields: list[Iterable[str]] = [copy_fields(part[c.name], c.type) for c in source.columns]
        fields.append(itertools.repeat(str(int(load_id)), len(part)))
        yield ("\n".join(map("\t".join, zip(*fields))) + "\n").encode("utf-8")


def copy_fields(series, kind: str) -> list[str]:
    """A typed column as COPY text fields: ``\\N`` for blanks, ``t``/``f``, numbers as Python
    writes them, dates as ``stored_values`` writes them, text with backslash, tab, newline and
    carriage return escaped (looked for in the whole column at once: partner text seldom has them)."""
    missing = series.isna().to_numpy()
    out = np.empty(len(series), dtype=object)
    present = ~missing
    if kind in DATE_KINDS:
        out[:] = stored_values(series, kind)
    elif kind == "bool":
        out[:] = np.where(series.to_numpy(dtype=object) == True, "t", "f")  # noqa: E712 (None is not True)
    elif kind in ("int", "number"):
        out[present] = [str(value) for value in series[present].tolist()]
    else:  # text and enum: strings
        values = series.to_numpy(dtype=object)[present]
        joined = "".join(values)
        if any(special in joined for special in _COPY_SPECIAL):
            values = [value.translate(_COPY_ESCAPES) for value in values]
        out[present] = values
    out[missing] = _COPY_NULL
    return out.tolist()


@contextlib.contextmanager
def _driver_errors_wrapped(engine: Engine):
    """The fast paths talk to the driver directly; give its errors SQLAlchemy's shape so the
    caller tells a lost connection from a refused row exactly as for any other statement."""
    try:
        yield
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            "bulk load",
            None,
            exc,
            engine.dialect.loaded_dbapi.Error,
            connection_invalidated=engine.dialect.is_disconnect(exc, None, None),
            dialect=engine.dialect,
        ) from exc


def _batched_upsert(conn, table, columns: list[str], blocks: Iterable[tuple[int, list]]) -> None:
    """The upsert through the sqlite3 driver itself (several times faster than building a dict
    per row for SQLAlchemy), inside the caller's transaction, each statement inserting up to
    ``ROWS_PER_STATEMENT`` rows of a block (``_stored_parameters``): a million rows in 1.7 s
    rather than 2.9 s one row a statement (``executemany``), as SQLite then runs one statement
    where it ran a hundred."""
    keys = [c.name for c in table.primary_key.columns]
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys)
    one = f"({', '.join('?' for _ in columns)})"
    per = max(1, min(ROWS_PER_STATEMENT, SQLITE_MAX_PARAMETERS // len(columns)))

    def upsert(count: int) -> str:
        return (
            f'INSERT INTO "{table.name}" ({quoted}) VALUES {", ".join([one] * count)} '
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )

    full = upsert(per)
    width = per * len(columns)
    cursor = conn.connection.driver_connection.cursor()
    # SQLite's default page cache is 2 MB: a big file's rows land all over the key and the
    # indexes, and with so small a cache each insert rereads pages from the file (issue 8).
    previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
    cursor.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KB}")
    try:
        for count, values in blocks:
            whole = count // per * width
            for start in range(0, whole, width):
                cursor.execute(full, values[start : start + width])
            if whole < len(values):
                cursor.execute(upsert(count % per), values[whole:])
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")
        cursor.close()


def _copy(conn, table_name: str, columns: list[str], blocks: Iterable[bytes]) -> None:
    """COPY ``blocks`` (``copy_blocks``) into the table."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{table_name}" ({quoted}) FROM STDIN') as copy:
            for block in blocks:
                copy.write(block)
    finally:
        cursor.close()


def _copied_straight_in(conn, table, columns: list[str], rows) -> bool:
    """A big file into a table that (mostly) does not hold its keys yet: COPY straight into the
    table, under a savepoint; if any key is already there (a unique violation), undo that and
    say so, and the caller upserts instead. Twice as fast as staging and upserting when it works."""
    import psycopg

    savepoint = conn.begin_nested()
    try:
        _copy(conn, table.name, columns, rows)
    except psycopg.errors.UniqueViolation:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def _copy_upsert(conn, table, columns: list[str], rows, fresh: bool = True) -> None:
    """COPY the rows into a temporary copy of the table, then upsert them all in one statement
    (keys are unique within a file: duplicates were rejected before loading). ``fresh``: the
    transaction's first chunk makes the temporary table; later ones empty it."""
    staging = f"copy_{table.name}"
    keys = [c.name for c in table.primary_key.columns]
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys)
    if fresh:
        conn.exec_driver_sql(
            f'CREATE TEMPORARY TABLE "{staging}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'
        )
    else:
        conn.exec_driver_sql(f'TRUNCATE "{staging}"')
    _copy(conn, staging, columns, rows)
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM "{staging}" '
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


# SQLSTATE classes meaning the server or connection went away (08 connection exception,
# 53 insufficient resources, 57 operator intervention such as pg_terminate_backend, 58 system error).
_CONNECTION_SQLSTATES = ("08", "53", "57", "58")


def is_connection_fault(exc: SQLAlchemyError) -> bool:
    """The warehouse is unreachable (stop the run; retry later), as opposed to refusing this
    file's rows (that file alone stays in the inbox)."""
    if isinstance(exc, InterfaceError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return True
    if isinstance(exc, OperationalError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return sqlstate is None or sqlstate[:2] in _CONNECTION_SQLSTATES  # SQLite's have none
    return False


_QUOTED = re.compile(r""""[^"]*"|'[^']*'""")


def database_reason(exc: SQLAlchemyError) -> str:
    """The driver's own first line, never the statement or its parameters, and with anything it
    quotes (a driver may quote the value it refused) left out."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {_QUOTED.sub('…', lines[0]) if lines else ''}"[:300]
