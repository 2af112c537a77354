"""Engines that behave the same on SQLite and PostgreSQL.

The indicator SQL uses two small functions, ``hours_between(a, b)`` and ``days_between(a, b)``
(``b - a``), so each SQL file runs unchanged on both engines: they are registered on every
SQLite connection and created in PostgreSQL from ``sql/functions/postgresql.sql`` by migration 0004. The indicator
SQL run by the build uses native SQLite expressions for them instead (``native_sqlite``).
"""

from __future__ import annotations

import re
import sqlite3
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError


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


# The same two helpers as native SQLite expressions, substituted into the indicator SQL on SQLite
# (``native_sqlite``): a Python function called per row costs several microseconds, and a build
# calls them about a million times at a regional consortium's scale. They give exactly the
# Python functions' results for the stored text forms (``YYYY-MM-DD`` and
# ``YYYY-MM-DD HH:MM:SS[.ffffff]``): whole seconds come from the first 19 characters (SQLite
# would round the fraction to milliseconds, and can carry 59.9999 s into the next minute), the
# microseconds from the digits after the point, and the hours are computed as Python does
# (total microseconds / 1e6 / 3600). Days compare the dates only, like ``date - date``.
def native_forms(unixepoch: bool) -> dict[str, str]:
    """The native expressions; ``unixepoch()`` (SQLite 3.38+) is faster than ``strftime('%s')``
    and gives the same integer."""
    seconds = "unixepoch(substr({x}, 1, 19))" if unixepoch else "CAST(strftime('%s', substr({x}, 1, 19)) AS INTEGER)"
    micros = "CAST(substr({x} || '000000', 21, 6) AS INTEGER)"
    return {
        "hours_between": (
            "(((("
            + seconds.format(x="{b}")
            + " - "
            + seconds.format(x="{a}")
            + ") * 1000000 + ("
            + micros.format(x="{b}")
            + " - "
            + micros.format(x="{a}")
            + ")) / 1000000.0) / 3600.0)"
        ),
        "days_between": "CAST(julianday(substr({b}, 1, 10)) - julianday(substr({a}, 1, 10)) AS INTEGER)",
    }


SQLITE_NATIVE = native_forms(unixepoch=sqlite3.sqlite_version_info >= (3, 38, 0))
_CALL = re.compile(r"\b(" + "|".join(SQLITE_NATIVE) + r")\s*\(", re.IGNORECASE)


def _arguments(sql: str, start: int) -> tuple[list[str], int] | None:
    """The top-level comma-separated arguments of the call whose ``(`` is at ``start``, and the
    index after its ``)``; None if the parentheses do not close (left as it is)."""
    depth, quote, args, current = 0, None, [], start + 1
    for i in range(start, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[current:i].strip())
                return args, i + 1
        elif ch == "," and depth == 1:
            args.append(sql[current:i].strip())
            current = i + 1
    return None


def native_sqlite(sql: str, forms: dict[str, str] | None = None) -> str:
    """``sql`` with every ``hours_between(a, b)`` and ``days_between(a, b)`` replaced by its
    native SQLite expression (see ``SQLITE_NATIVE``); anything else is left as written."""
    forms = forms or SQLITE_NATIVE
    out, position = [], 0
    while True:
        match = _CALL.search(sql, position)
        if not match:
            out.append(sql[position:])
            return "".join(out)
        call = _arguments(sql, match.end() - 1)
        if call is None or len(call[0]) != 2:
            out.append(sql[position : match.end()])
            position = match.end()
            continue
        (a, b), end = call
        a, b = native_sqlite(a, forms), native_sqlite(b, forms)
        out.append(sql[position : match.start()])
        out.append(forms[match.group(1).lower()].format(a=f"({a})", b=f"({b})"))
        position = end


def _register_sqlite_functions(dbapi_connection, _record) -> None:
    dbapi_connection.create_function("hours_between", 2, _hours_between, deterministic=True)
    dbapi_connection.create_function("days_between", 2, _days_between, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def connect_warehouse(url: str) -> Engine:
    """An engine for ``url``; a SQLite file gets its folder (owner-only) and the SQL helpers.

    Statement parameters are partner data: ``hide_parameters`` keeps them out of SQLAlchemy's
    logging (``--debug``) and out of its error messages."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                from ..config import HomeNotUsable

                raise HomeNotUsable(
                    f"cannot create {folder} for the SQLite warehouse ({exc.strerror or type(exc).__name__}): "
                    "it must be a folder this user can write to (SCORECARD_HOME or SCORECARD_WAREHOUSE_URL)"
                ) from None
        engine = create_engine(url, hide_parameters=True)
        event.listen(engine, "connect", _register_sqlite_functions)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def init_warehouse(engine: Engine) -> None:
    """Bring the schema to the latest migration (which also creates the SQL helpers on
    PostgreSQL, once, under the migration lock: see migration 0004)."""
    from ..logs import quiet_third_party

    quiet_third_party()  # Alembic logs its plugins while it is imported
    from .migrate import upgrade

    try:
        upgrade(engine)
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            Path(database).touch(exist_ok=True)
            Path(database).chmod(0o600)
    except OperationalError as exc:
        raise WarehouseUnavailable(
            f"the warehouse at {engine.url.render_as_string(hide_password=True)} could not be reached: {exc.orig}"
        ) from None
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be prepared: {exc}") from None
