"""Compute catalogue indicators in the warehouse for a quarter or a month.

The SQL (``sql/indicators/<ID>.sql``) returns raw ``numerator`` and ``denominator``; the
division happens here in Python so that no engine's integer division can truncate a rate and
the unrounded value is the same on SQLite and PostgreSQL. Whether a partner's return is in (its
rows in the period) is asked with a query derived from the source's definition
(``return_query``): its table and the column its period is found by.

A build needs each indicator for about 45 periods (the history sheet's quarters and the SPC
months): ``compute_periods`` runs the file once per period inside one statement, and
``compute_all`` spreads indicators over a few connections. The files stay the only
definition of each formula.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Date, Integer, bindparam, text
from sqlalchemy.engine import Connection, Engine

from .catalogue import Indicator
from .periods import Month, Quarter, add_months
from .sources import load_sources
from .warehouse.engine import native_sqlite

Period = Quarter | Month

COMPLETE, MISSING, NO_DATA = "complete", "missing", "no_data"
SERIES_MONTHS = 24
BIND_TYPES: dict[str, Any] = {  # bind name -> SQLAlchemy type
    "period_start": Date,
    "period_end": Date,
    "rolling_start": Date,
    "period_days": Integer,
    "population_year": Integer,
}
_BIND = re.compile(r"(?<![:\w]):(" + "|".join(BIND_TYPES) + r")(?!\w)")
# Periods per statement: SQLite allows 500 arms in a compound SELECT (and 32,766 parameters).
BATCH = 64
# Periods per task of ``compute_all``: small enough to share an indicator between workers.
TASK_PERIODS = 16
SQLITE_CACHE_KIB = 64 * 1024  # page cache of each of a build's SQLite connections


@dataclass(frozen=True)
class IndicatorValue:
    """One indicator for one period. ``value`` is unrounded; null unless ``complete``."""

    indicator_id: str
    period: str  # quarter code (2024-25Q1) or month code (2024-04)
    value: float | int | None
    numerator: float | int | None
    denominator: float | int | None
    data_status: str


def period_binds(period: Period) -> dict:
    """The named parameters every indicator SQL file may use (see ``sql/README.md``)."""
    start, end = period.start, period.end_exclusive
    fy_start = Quarter.containing(start).fy_start
    return {
        "period_start": start,
        "period_end": end,
        "rolling_start": add_months(end, -12),
        "period_days": (end - start).days,
        "population_year": fy_start,
    }


@cache
def _read_sql(path: Path, mtime_ns: int) -> str:
    return path.read_text(encoding="utf-8")


def _sql_of(path: Path) -> str:
    """A SQL file's text, read again only when the file changes."""
    return _read_sql(path, path.stat().st_mtime_ns)


def return_query(source: str) -> str:
    """The rows of a partner source in the period, by the column its period is found by
    (``period: column`` in its definition): zero means the partner's return is missing."""
    found = load_sources()[source]
    if found.period_column is None:
        raise ValueError(f"source {source} has no period column: it has no returns")
    column = found.period_column
    return (
        f"-- Rows of {source} in the period (by {column}): zero means the partner's return is missing.\n"
        f"SELECT COUNT(*) AS n_rows\nFROM {found.table}\n"
        f"WHERE {column} >= :period_start AND {column} < :period_end"
    )


def _statement(sql: str, dialect: str = ""):
    """Parse SQL and type the binds that appear in it (dates as DATE, so both engines compare a
    DATE parameter with stored dates and datetimes correctly). On SQLite the date helpers become
    native expressions (``native_sqlite``)."""
    if dialect == "sqlite":
        sql = native_sqlite(sql)
    stmt = text(sql)
    present = [bindparam(name, type_=t) for name, t in BIND_TYPES.items() if f":{name}" in sql]
    return stmt.bindparams(*present) if present else stmt


@lru_cache(maxsize=256)
def _batched(sql: str, count: int, dialect: str):
    """The SQL run for ``count`` periods in one statement: each copy gets its own binds
    (``:period_start`` becomes ``:period_start_3``) and its rows are tagged with the copy's
    position, ``UNION ALL``. The file stays the only definition of the formula; each copy is
    exactly the per-period statement, so the values are those of running it period by period."""
    sql = sql.strip().rstrip(";").strip()
    if dialect == "sqlite":
        sql = native_sqlite(sql)
    names = [name for name in BIND_TYPES if f":{name}" in sql]
    arms = []
    for i in range(count):
        copy = _BIND.sub(rf":\g<1>_{i}", sql)
        arms.append(f"SELECT {i} AS scorecard_period, q.* FROM (\n{copy}\n) q")
    stmt = text("\nUNION ALL\n".join(arms))
    binds = [bindparam(f"{name}_{i}", type_=BIND_TYPES[name]) for i in range(count) for name in names]
    return stmt.bindparams(*binds) if binds else stmt, tuple(names)


def _run_many(conn: Connection, sql: str, periods: list[Period], what: str) -> list:
    """One result row per period, in order: ``sql`` (named ``what`` in errors) for each period,
    in as few statements as the engine allows."""
    out: list = []
    if conn.dialect.name == "postgresql":
        # One statement for many periods adds up to a plan cost over PostgreSQL's JIT threshold,
        # which one period never reached: compiling it takes longer than running these short
        # scans (seconds a build at 10x scale). For this transaction only.
        conn.execute(text("SET LOCAL jit = off"))
    for first in range(0, len(periods), BATCH):
        chunk = periods[first : first + BATCH]
        stmt, names = _batched(sql, len(chunk), conn.dialect.name)
        params = {}
        for i, period in enumerate(chunk):
            binds = period_binds(period)
            params.update({f"{name}_{i}": binds[name] for name in names})
        rows: list[list] = [[] for _ in chunk]
        for row in conn.execute(stmt, params).mappings():
            rows[row["scorecard_period"]].append(row)
        for period, found in zip(chunk, rows):
            if len(found) != 1:
                raise ValueError(f"{what} returned {len(found)} rows for {period.code}: it must return exactly one")
        out.extend(found[0] for found in rows)
    return out


def _params(sql: str, binds: dict) -> dict:
    return {k: v for k, v in binds.items() if f":{k}" in sql}


def _plain(number):
    """PostgreSQL returns SUM(bigint) as Decimal; keep whole numbers as int, others as float."""
    if number is None:
        return None
    if isinstance(number, Decimal):
        return int(number) if number == number.to_integral_value() else float(number)
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def _execute(conn: Connection, sql: str, period: Period):
    return conn.execute(_statement(sql, conn.dialect.name), _params(sql, period_binds(period)))


def _run(conn: Connection, path: Path, period: Period):
    """A SQL file run for one period."""
    return _execute(conn, _sql_of(path), period)


def source_rows(conn: Connection, source: str, period: Period) -> int:
    """Rows of a partner source whose event date lies in the period (0: the return is missing)."""
    return int(_execute(conn, return_query(source), period).scalar_one() or 0)


def source_rows_many(conn: Connection, source: str, periods: list[Period], rows_cache: dict | None = None) -> list[int]:
    """``source_rows`` for each period, asking the warehouse only about periods not in
    ``rows_cache`` (keyed by source and period code), in one statement."""
    cache = {} if rows_cache is None else rows_cache
    wanted = list({p.code: p for p in periods if (source, p.code) not in cache}.values())
    if wanted:
        for period, row in zip(wanted, _run_many(conn, return_query(source), wanted, f"the return query of {source}")):
            cache[(source, period.code)] = int(row["n_rows"] or 0)
    return [cache[(source, p.code)] for p in periods]


def value_of(indicator: Indicator, numerator, denominator):
    """Unrounded value and data status from raw numerator and denominator (source present)."""
    if indicator.is_count:
        return numerator, COMPLETE
    if denominator is None or denominator == 0 or numerator is None:
        return None, NO_DATA
    return numerator / denominator * indicator.scale, COMPLETE


def compute_indicator(
    bind: Engine | Connection,
    indicator: Indicator,
    period: Period,
    *,
    rows_cache: dict | None = None,
) -> IndicatorValue:
    """One indicator for one quarter or month. ``rows_cache`` shares the source-row counts
    between indicators of the same source (a build asks the same question many times)."""
    return compute_periods(bind, indicator, [period], rows_cache=rows_cache)[0]


def compute_periods(
    bind: Engine | Connection,
    indicator: Indicator,
    periods: Iterable[Period],
    *,
    rows_cache: dict | None = None,
    values_cache: dict | None = None,
) -> list[IndicatorValue]:
    """``compute_indicator`` for each of ``periods`` (quarters and months may be mixed), in
    order, with one statement for the source's row counts and one for the indicator instead
    of one each per period. ``values_cache`` (keyed by indicator id and period code) holds
    values already computed on the same data, which are not asked again."""
    periods = list(periods)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return compute_periods(conn, indicator, periods, rows_cache=rows_cache, values_cache=values_cache)
    conn = bind
    values = {} if values_cache is None else values_cache
    todo = _not_computed(indicator, periods, values)
    if todo:
        rows = source_rows_many(conn, indicator.source, todo, rows_cache)
        present = [p for p, n in zip(todo, rows) if n]
        for period in todo:
            values[(indicator.id, period.code)] = IndicatorValue(indicator.id, period.code, None, None, None, MISSING)
        found = _run_many(conn, _sql_of(indicator.sql_path), present, indicator.sql_path.name) if present else []
        for period, row in zip(present, found):
            numerator, denominator = _plain(row["numerator"]), _plain(row["denominator"])
            value, status = value_of(indicator, numerator, denominator)
            values[(indicator.id, period.code)] = IndicatorValue(
                indicator.id, period.code, value, numerator, denominator, status
            )
    return [values[(indicator.id, p.code)] for p in periods]


def _not_computed(indicator: Indicator, periods: list[Period], values: dict) -> list[Period]:
    """``periods`` without those already in ``values`` and without repeats, in order."""
    return list({p.code: p for p in periods if (indicator.id, p.code) not in values}.values())


def compute_all(
    engine: Engine,
    wanted: list[tuple[Indicator, list[Period]]],
    *,
    workers: int = 1,
    values_cache: dict | None = None,
) -> dict:
    """``compute_periods`` for each (indicator, periods), spread over ``workers`` connections
    (the warehouse runs them side by side: SQLite and PostgreSQL both work on one statement per
    connection). Returns the values keyed by indicator id and period code. The source row
    counts are asked first, one statement per source, so every task finds them cached."""
    values = {} if values_cache is None else values_cache
    rows: dict = {}
    by_source: dict[str, dict[str, Period]] = {}
    for ind, periods in wanted:
        by_source.setdefault(ind.source, {}).update({p.code: p for p in periods})
    with engine.connect() as conn:
        for source, by_code in by_source.items():
            source_rows_many(conn, source, list(by_code.values()), rows)
    tasks = []
    for ind, periods in wanted:
        todo = _not_computed(ind, periods, values)
        tasks += [(ind, todo[i : i + TASK_PERIODS]) for i in range(0, len(todo), TASK_PERIODS)]

    def run(task) -> None:
        ind, periods = task
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                # SQLite's default page cache (2 MiB) holds little of a big warehouse's indexes:
                # re-referrals probe one at random per referral. This engine is the build's own.
                conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            compute_periods(conn, ind, periods, rows_cache=rows, values_cache=values)

    in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
    if workers <= 1 or len(tasks) <= 1 or in_memory:  # an in-memory SQLite is one per thread
        for task in tasks:
            run(task)
    else:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="indicators")
        try:
            for _ in pool.map(run, tasks):  # in order; the first failure is raised here
                pass
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # after a failure, start nothing more
    return values


def series_months(quarter: Quarter, months: int = SERIES_MONTHS) -> list[Month]:
    """The months of the SPC series: ``months`` calendar months ending with the quarter's last."""
    last = quarter.months[-1]
    return [last.shift(i - months + 1) for i in range(months)]


def compute_series(
    bind: Engine | Connection,
    indicator: Indicator,
    quarter: Quarter,
    *,
    rows_cache: dict | None = None,
    values_cache: dict | None = None,
    include_null: bool = False,
) -> list[tuple[Month, IndicatorValue]]:
    """The monthly series for SPC, oldest first. Months with a null value (missing return, no
    data) are left out unless ``include_null``. CS02's SQL already makes each month the rolling
    12 months ending with it, because ``:rolling_start`` follows the period."""
    months = series_months(quarter)
    results = compute_periods(bind, indicator, months, rows_cache=rows_cache, values_cache=values_cache)
    return [(month, result) for month, result in zip(months, results) if include_null or result.value is not None]
