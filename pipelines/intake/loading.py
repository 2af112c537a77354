"""Upsert a file's accepted rows by their source key, with the load record, in one transaction."""

from __future__ import annotations

import contextlib
from datetime import date, datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError

from ..sources import Source
from ..warehouse.schema import load_files, table_for, warehouse_column_name

CHUNK = 5000


def accepted_load_with_hash(engine: Engine, sha256: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(load_files).where(load_files.c.sha256 == sha256, load_files.c.status == "accepted").limit(1)
        ).mappings().first()
    return dict(row) if row else None


def unfinished_load(engine: Engine, sha256: str, archive, rejected) -> dict | None:
    """A load record for this content whose original never reached archive/ or rejected/: a
    run crashed after recording it. (An original deleted by retention is not unfinished.)"""
    with engine.connect() as conn:
        rows = conn.execute(
            select(load_files)
            .where(load_files.c.sha256 == sha256, load_files.c.original_deleted_at.is_(None), load_files.c.stored_name.is_not(None))
            .order_by(load_files.c.load_id.desc())
        ).mappings().all()
    for row in rows:
        folder = archive if row["status"] == "accepted" else rejected
        if not (folder / row["stored_name"]).exists():
            return dict(row)
    return None


def record_load(engine: Engine, audit: dict) -> int:
    """Record a file that loaded nothing (rejected or duplicate)."""
    with engine.begin() as conn:
        return conn.execute(insert(load_files).values(**audit)).inserted_primary_key[0]


def load_rows(engine: Engine, source: Source, records: list[dict], audit: dict) -> int:
    """Insert the load record and upsert ``records`` (canonical names) in one transaction;
    returns the load_id. PostgreSQL: COPY into a temporary table, then one upsert from it;
    SQLite: batched executemany of the upsert."""
    table = table_for(source.name)
    names = {c.name: warehouse_column_name(c) for c in source.columns}
    columns = [*names.values(), "load_id"]
    with engine.begin() as conn:
        load_id = conn.execute(insert(load_files).values(**audit)).inserted_primary_key[0]
        rows = ([record.get(canonical) for canonical in names] + [load_id] for record in records)
        with _driver_errors_wrapped(engine):
            if engine.dialect.name == "postgresql":
                _copy_upsert(conn, table, columns, rows)
            else:
                _batched_upsert(conn, engine, table, columns, rows)
    return load_id


@contextlib.contextmanager
def _driver_errors_wrapped(engine: Engine):
    """The fast paths talk to the driver directly; give its errors SQLAlchemy's shape so the
    caller tells a lost connection from a refused row exactly as for any other statement."""
    try:
        yield
    except engine.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            "bulk load", None, exc, engine.dialect.loaded_dbapi.Error,
            connection_invalidated=engine.dialect.is_disconnect(exc, None, None), dialect=engine.dialect,
        ) from exc


def _sqlite_value(value):
    """Values as SQLAlchemy stores them in SQLite, so rows read back and compare the same."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _batched_upsert(conn, engine: Engine, table, columns: list[str], rows) -> None:
    """The upsert through the sqlite3 driver's own executemany, in batches (several times
    faster than building a dict per row for SQLAlchemy), inside the caller's transaction."""
    keys = [c.name for c in table.primary_key.columns]
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys)
    sql = (
        f'INSERT INTO "{table.name}" ({quoted}) VALUES ({", ".join("?" for _ in columns)}) '
        f'ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {updates}'
    )
    cursor = conn.connection.driver_connection.cursor()
    try:
        batch = []
        for row in rows:
            batch.append([_sqlite_value(v) for v in row])
            if len(batch) >= CHUNK:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
    finally:
        cursor.close()


def _copy_upsert(conn, table, columns: list[str], rows) -> None:
    """COPY the rows into a temporary copy of the table, then upsert them all in one statement
    (keys are unique within a file: duplicates were rejected before loading)."""
    staging = f"copy_{table.name}"
    keys = [c.name for c in table.primary_key.columns]
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in columns if c not in keys)
    conn.exec_driver_sql(f'CREATE TEMPORARY TABLE "{staging}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
    cursor = conn.connection.driver_connection.cursor()
    try:
        with cursor.copy(f'COPY "{staging}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    finally:
        cursor.close()
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM "{staging}" '
        f'ON CONFLICT ({", ".join(keys)}) DO UPDATE SET {updates}'
    )


def now_utc() -> datetime:
    return datetime.utcnow().replace(microsecond=0)
