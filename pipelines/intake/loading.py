"""Upsert a file's accepted rows by their source key, with the load record, in one transaction."""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
from collections.abc import Iterable
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from ..sources import Source
from ..warehouse.schema import load_files, table_for, warehouse_column_name
from .columns import DATE_KINDS

CHUNK = 5000
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
        stored = functools.partial(_stored_rows, rows, self.source, self.load_id)  # a fresh iterator each call
        conn, table = self.conn, self.table
        with _driver_errors_wrapped(self.engine):
            if self.engine.dialect.name == "postgresql":
                if not (self.straight and _copied_straight_in(conn, table, self.columns, stored())):
                    self.straight = False
                    _copy_upsert(conn, table, self.columns, stored(), fresh=not self.staging)
                    self.staging = True
            else:
                _batched_upsert(conn, self.engine, table, self.columns, stored())
        self.rows += len(rows)

    def commit(self, audit: dict) -> None:
        """The load record as finally decided, the indexes built again, and all of it committed."""
        conn = self.conn
        conn.execute(update(load_files).where(load_files.c.load_id == self.load_id).values(**audit))
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


STORE_CHUNK = 50_000  # rows converted at a time: a big file's stored values are never all in memory


def _stored_rows(rows, source: Source, load_id: int):
    """Tuples in warehouse column order (plus ``load_id``), converted a chunk of rows at a time."""
    for start in range(0, len(rows), STORE_CHUNK):
        part = rows.iloc[start : start + STORE_CHUNK]
        values: list[Iterable] = [stored_values(part[c.name], c.type) for c in source.columns]
        values.append(itertools.repeat(load_id, len(part)))
        yield from zip(*values)


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


def _batched_upsert(conn, engine: Engine, table, columns: list[str], rows) -> None:
    """The upsert through the sqlite3 driver's own executemany, in batches (several times
    faster than building a dict per row for SQLAlchemy), inside the caller's transaction."""
    keys = [c.name for c in table.primary_key.columns]
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys)
    sql = (
        f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" for _ in columns)}) '
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )
    cursor = conn.connection.driver_connection.cursor()
    # SQLite's default page cache is 2 MB: a big file's rows land all over the key and the
    # indexes, and with so small a cache each insert rereads pages from the file (issue 8).
    previous = cursor.execute("PRAGMA cache_size").fetchone()[0]
    cursor.execute(f"PRAGMA cache_size = -{LOAD_CACHE_KB}")
    try:
        while batch := list(itertools.islice(rows, CHUNK)):
            cursor.executemany(sql, batch)
    finally:
        cursor.execute(f"PRAGMA cache_size = {int(previous)}")
        cursor.close()


def _copy(conn, table_name: str, columns: list[str], rows) -> None:
    quoted = ", ".join(f'"{c}"' for c in columns)
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{table_name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
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
