"""Engines that behave the same on SQLite and PostgreSQL.

The indicator SQL uses two small functions, ``hours_between(a, b)`` and ``days_between(a, b)``
(``b - a``), so each SQL file runs unchanged on both engines: they are registered on every
SQLite connection and created in PostgreSQL from ``sql/functions/postgresql.sql``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ..resources import sql_dir


class WarehouseUnavailable(RuntimeError):
    """The warehouse could not be reached or opened."""


def _as_datetime(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(str(value))


def _hours_between(a, b):
    a, b = _as_datetime(a), _as_datetime(b)
    if a is None or b is None:
        return None
    return (b - a).total_seconds() / 3600.0


def _days_between(a, b):
    a, b = _as_datetime(a), _as_datetime(b)
    if a is None or b is None:
        return None
    return (b.date() - a.date()).days


def _register_sqlite_functions(dbapi_connection, _record) -> None:
    dbapi_connection.create_function("hours_between", 2, _hours_between, deterministic=True)
    dbapi_connection.create_function("days_between", 2, _days_between, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def connect_warehouse(url: str) -> Engine:
    """An engine for ``url``; a SQLite file gets its folder (owner-only) and the SQL helpers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            folder.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        event.listen(engine, "connect", _register_sqlite_functions)
        return engine
    return create_engine(url, pool_pre_ping=True)


def init_warehouse(engine: Engine) -> None:
    """Bring the schema to the latest migration (and, on PostgreSQL, create the SQL helpers)."""
    from .migrate import upgrade

    try:
        upgrade(engine)
        if engine.dialect.name == "postgresql":
            ddl = (sql_dir() / "functions" / "postgresql.sql").read_text(encoding="utf-8")
            with engine.begin() as conn:
                conn.exec_driver_sql(ddl)
        elif engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            Path(engine.url.database).touch(exist_ok=True)
            Path(engine.url.database).chmod(0o600)
    except OperationalError as exc:
        raise WarehouseUnavailable(f"the warehouse at {engine.url.render_as_string(hide_password=True)} could not be reached: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be prepared: {exc}") from None


def ping(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {exc}") from None
