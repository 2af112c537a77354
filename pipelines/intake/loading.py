"""Upsert a file's accepted rows by their source key, with the load record, in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ..sources import Source
from ..warehouse.schema import load_files, table_for, warehouse_column_name

CHUNK = 5000


def _upsert_statement(engine: Engine, table):
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=updates)


def accepted_load_with_hash(engine: Engine, sha256: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            select(load_files).where(load_files.c.sha256 == sha256, load_files.c.status == "accepted").limit(1)
        ).mappings().first()
    return dict(row) if row else None


def record_load(engine: Engine, audit: dict) -> int:
    """Record a file that loaded nothing (rejected or duplicate)."""
    with engine.begin() as conn:
        return conn.execute(insert(load_files).values(**audit)).inserted_primary_key[0]


def load_rows(engine: Engine, source: Source, records: list[dict], audit: dict) -> int:
    """Insert the load record and upsert ``records`` (canonical names) atomically; returns load_id."""
    table = table_for(source.name)
    names = {c.name: warehouse_column_name(c) for c in source.columns}
    stmt = _upsert_statement(engine, table)
    with engine.begin() as conn:
        load_id = conn.execute(insert(load_files).values(**audit)).inserted_primary_key[0]
        batch = []
        for record in records:
            row = {warehouse: record.get(canonical) for canonical, warehouse in names.items()}
            row["load_id"] = load_id
            batch.append(row)
            if len(batch) >= CHUNK:
                conn.execute(stmt, batch)
                batch = []
        if batch:
            conn.execute(stmt, batch)
    return load_id


def now_utc() -> datetime:
    return datetime.utcnow().replace(microsecond=0)
