"""Compute catalogue indicators in the warehouse for a quarter or a month.

The SQL (``sql/indicators/<ID>.sql``) returns raw ``numerator`` and ``denominator``; the
division happens here in Python so that no engine's integer division can truncate a rate and
the unrounded value is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Union

from sqlalchemy import Date, Integer, bindparam, text
from sqlalchemy.engine import Connection, Engine

from .catalogue import Indicator
from .periods import Month, Quarter, add_months
from .resources import sql_dir

Period = Union[Quarter, Month]

COMPLETE, MISSING, NO_DATA = "complete", "missing", "no_data"
SERIES_MONTHS = 24


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


@lru_cache(maxsize=None)
def _read_sql(path: Path, mtime_ns: int) -> str:
    return path.read_text(encoding="utf-8")


def _statement(path: Path):
    """Parse a SQL file and type the binds that appear in it (dates as DATE, so both engines
    compare a DATE parameter with stored dates and datetimes correctly)."""
    sql = _read_sql(path, path.stat().st_mtime_ns)
    stmt = text(sql)
    types = {
        "period_start": Date, "period_end": Date, "rolling_start": Date,
        "period_days": Integer, "population_year": Integer,
    }
    present = [bindparam(name, type_=t) for name, t in types.items() if f":{name}" in sql]
    return stmt.bindparams(*present) if present else stmt


def _params(path: Path, binds: dict) -> dict:
    sql = _read_sql(path, path.stat().st_mtime_ns)
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


def _run(conn: Connection, path: Path, period: Period):
    binds = period_binds(period)
    return conn.execute(_statement(path), _params(path, binds))


def source_rows(conn: Connection, source: str, period: Period) -> int:
    """Rows of a partner source whose event date lies in the period (0: the return is missing)."""
    path = sql_dir() / "returns" / f"{source}.sql"
    return int(_run(conn, path, period).scalar_one() or 0)


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
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return compute_indicator(conn, indicator, period, rows_cache=rows_cache)
    conn = bind
    key = (indicator.source, period.code)
    if rows_cache is not None and key in rows_cache:
        rows = rows_cache[key]
    else:
        rows = source_rows(conn, indicator.source, period)
        if rows_cache is not None:
            rows_cache[key] = rows
    if rows == 0:
        return IndicatorValue(indicator.id, period.code, None, None, None, MISSING)
    row = _run(conn, indicator.sql_path, period).mappings().one()
    numerator, denominator = _plain(row["numerator"]), _plain(row["denominator"])
    value, status = value_of(indicator, numerator, denominator)
    return IndicatorValue(indicator.id, period.code, value, numerator, denominator, status)


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
    include_null: bool = False,
) -> list[tuple[Month, IndicatorValue]]:
    """The monthly series for SPC, oldest first. Months with a null value (missing return, no
    data) are left out unless ``include_null``. CS02's SQL already makes each month the rolling
    12 months ending with it, because ``:rolling_start`` follows the period."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return compute_series(conn, indicator, quarter, rows_cache=rows_cache, include_null=include_null)
    out = []
    for month in series_months(quarter):
        result = compute_indicator(bind, indicator, month, rows_cache=rows_cache)
        if include_null or result.value is not None:
            out.append((month, result))
    return out

