"""Build a quarter's ``scorecard.json`` dict and store it in the warehouse marts.

``build_scorecard`` only reads the warehouse; ``store_scorecard`` writes the marts in one
transaction that replaces the quarter's rows, so a rebuild never duplicates them. The dict is
the contract in ``outputs.md`` (validated by ``schemas/scorecard.schema.json``) plus a few keys
the renderers need: ``definition``, ``source``, the two changes and the SPC ``series``.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from .catalogue import Indicator, load_catalogue
from .disclosure import is_small
from .indicators import compute_all, compute_periods, series_months, source_rows
from .periods import Quarter
from .rag import RED, change, direction, rag
from .sources import load_sources, partner_sources
from .spc import CONCERN, analyse
from .warehouse.schema import (
    mart_indicator_month,
    mart_indicator_quarter,
    mart_scorecard,
    table_for,
)

LONDON = ZoneInfo("Europe/London")
COMPARATOR_ORDER = ("england", "statistical_neighbours", "core_cities", "region")


def _london_iso(moment: datetime | None) -> str:
    """ISO time with the UK offset (+01:00 in summer). A naive datetime is taken as UK time."""
    if moment is None:
        moment = datetime.now(LONDON)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    else:
        moment = moment.astimezone(LONDON)
    return moment.isoformat(timespec="seconds")


def _benchmarks(conn: Connection, quarter: Quarter) -> dict[str, dict[str, float]]:
    """{indicator: {comparator: value}}: for each comparator, the row for the quarter's financial
    year, else its latest earlier period (periods like ``2023-24`` sort as text), so a comparator
    published a year behind the others still shows."""
    table = table_for("benchmarks")
    fy = quarter.financial_year
    best: dict[tuple[str, str], tuple[str, float]] = {}
    for row in conn.execute(select(table.c.indicator_id, table.c.comparator, table.c.period, table.c.value)):
        if row.period is None or row.value is None or str(row.period) > fy:
            continue
        key = (row.indicator_id, row.comparator)
        if key not in best or str(row.period) > best[key][0]:
            best[key] = (str(row.period), float(row.value))
    out: dict[str, dict[str, float]] = {}
    order = {c: i for i, c in enumerate(COMPARATOR_ORDER)}
    for (ind, comparator), (_, value) in sorted(best.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99), kv[0][1])):
        out.setdefault(ind, {})[comparator] = value
    return out


def _suppressed(indicator: Indicator, numerator, threshold: int) -> bool:
    """Disclosive with a numerator of 1..threshold: outputs leaving the warehouse show ``c``."""
    return bool(indicator.disclosive) and is_small(numerator, threshold)


def _indicator_entry(conn, ind: Indicator, quarter: Quarter, cache: dict, benchmarks: dict, threshold: int,
                     values: dict | None = None) -> dict:
    months = series_months(quarter)
    # The three quarters and the 24 months in one statement (see ``compute_periods``).
    now, previous, last_year, *monthly = compute_periods(
        conn, ind, [quarter, quarter.shift(-1), quarter.shift(-4), *months], rows_cache=cache, values_cache=values
    )
    previous, last_year = previous.value, last_year.value
    series = [(month, v) for month, v in zip(months, monthly) if v.value is not None]
    spc = analyse([v.value for _, v in series], ind.polarity, ind.target if ind.rated else None)
    return {
        "id": ind.id,
        "name": ind.name,
        "priority": ind.priority,
        "oba": ind.oba,
        "source": ind.source,
        "definition": ind.definition,
        "unit": ind.unit,
        "decimals": ind.decimals,
        "polarity": ind.polarity,
        "value": now.value,
        "numerator": now.numerator,
        "denominator": now.denominator,
        "data_status": now.data_status,
        "target": ind.target,
        "tolerance": ind.tolerance,
        "rag": rag(ind, now.value),
        "previous_quarter": previous,
        "same_quarter_last_year": last_year,
        "change_previous_quarter": change(now.value, previous),
        "change_same_quarter_last_year": change(now.value, last_year),
        "direction": direction(ind, now.value, previous),
        "benchmarks": benchmarks.get(ind.id, {}),
        "spc": {
            "variation": spc.variation,
            "assurance": spc.assurance,
            "points": spc.points,
            "mean": spc.mean,
            "lower_limit": spc.lower_limit,
            "upper_limit": spc.upper_limit,
            "signals": list(spc.signals),
            "series": [
                {
                    "month": month.code,
                    "value": v.value,
                    "numerator": v.numerator,
                    "denominator": v.denominator,
                    "special_cause": flag,
                }
                for (month, v), flag in zip(series, spc.special_cause)
            ],
        },
        "disclosive": ind.disclosive,
        "suppressed": _suppressed(ind, now.numerator, threshold),
    }


def is_exception(entry: dict) -> bool:
    """Red, or the latest month is special cause of concern."""
    return entry["rag"] == RED or entry["spc"]["variation"] == CONCERN


def build_scorecard(
    engine: Engine,
    quarter: Quarter,
    *,
    suppression_threshold: int = 5,
    generated_at: datetime | None = None,
    values_cache: dict | None = None,
) -> dict:
    """The ``scorecard.json`` dict for a quarter: every catalogue indicator, in catalogue order,
    with its value, RAG, comparisons, benchmarks and SPC. Reads the warehouse only.
    ``values_cache`` receives every value computed (see ``indicator_history``)."""
    catalogue = load_catalogue()
    cache: dict = {}
    with engine.connect() as conn:
        returns = []
        for source in partner_sources():
            rows = source_rows(conn, source.name, quarter)
            cache[(source.name, quarter.code)] = rows
            returns.append({"source": source.name, "status": "received" if rows else "missing", "rows": rows})
        benchmarks = _benchmarks(conn, quarter)
        entries = [_indicator_entry(conn, ind, quarter, cache, benchmarks, suppression_threshold, values_cache)
                   for ind in catalogue]
    return {
        "quarter": quarter.code,
        "label": quarter.label,
        "period_start": quarter.start.isoformat(),
        "period_end": quarter.end.isoformat(),
        "generated_at": _london_iso(generated_at),
        "returns": returns,
        "exceptions": [e["id"] for e in entries if is_exception(e)],
        "indicators": entries,
    }


def _utc_naive(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


MART_LOCK = 727_274_0002  # advisory lock key for writing the marts


def store_scorecard(engine: Engine, scorecard: dict) -> None:
    """Write the quarter's marts in one transaction, replacing any earlier build of it.

    ``mart_indicator_month`` keeps one row per indicator and month: the 24 months of this
    build's window are replaced by its series (months with no value are removed), so the
    overlapping windows of neighbouring quarters never duplicate a month. Times are UTC.
    """
    quarter = Quarter.parse(scorecard["quarter"])
    built_at = _utc_naive(scorecard["generated_at"])
    entries = scorecard["indicators"]
    ids = [e["id"] for e in entries]
    quarter_rows = [
        {
            "quarter": quarter.code,
            "indicator_id": e["id"],
            "value": e["value"],
            "numerator": e["numerator"],
            "denominator": e["denominator"],
            "data_status": e["data_status"],
            "rag": e["rag"],
            "previous_quarter": e["previous_quarter"],
            "same_quarter_last_year": e["same_quarter_last_year"],
            "direction": e["direction"],
            "spc_variation": e["spc"]["variation"],
            "spc_assurance": e["spc"]["assurance"],
            "spc_points": e["spc"]["points"],
            "spc_mean": e["spc"]["mean"],
            "spc_lower_limit": e["spc"]["lower_limit"],
            "spc_upper_limit": e["spc"]["upper_limit"],
            "disclosive": e["disclosive"],
            "suppressed": e["suppressed"],
            "built_at": built_at,
        }
        for e in entries
    ]
    month_rows = [
        {
            "indicator_id": e["id"],
            "month": p["month"],
            "value": p["value"],
            "numerator": p.get("numerator"),
            "denominator": p.get("denominator"),
            "data_status": "complete",
            "built_at": built_at,
        }
        for e in entries
        for p in e["spc"]["series"]
    ]
    window = [m.code for m in series_months(quarter)]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Builds running at once (of one quarter, or of neighbours whose 24-month windows
            # overlap) take turns here, so none sees another's half-replaced rows and none
            # inserts a row another just inserted. SQLite serialises writers by itself.
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MART_LOCK})
        conn.execute(delete(mart_indicator_quarter).where(mart_indicator_quarter.c.quarter == quarter.code))
        if quarter_rows:
            conn.execute(insert(mart_indicator_quarter), quarter_rows)
        conn.execute(
            delete(mart_indicator_month).where(
                mart_indicator_month.c.indicator_id.in_(ids), mart_indicator_month.c.month.in_(window)
            )
        )
        if month_rows:
            conn.execute(insert(mart_indicator_month), month_rows)
        conn.execute(delete(mart_scorecard).where(mart_scorecard.c.quarter == quarter.code))
        conn.execute(
            insert(mart_scorecard),
            {
                "quarter": quarter.code,
                "generated_at": built_at,
                "exceptions": len(scorecard["exceptions"]),
                "payload": json.dumps(scorecard, ensure_ascii=False),
            },
        )


def load_scorecard(engine: Engine, quarter: Quarter) -> dict | None:
    """The scorecard dict as last stored for a quarter, or None if it was never built."""
    with engine.connect() as conn:
        payload = conn.execute(
            select(mart_scorecard.c.payload).where(mart_scorecard.c.quarter == quarter.code)
        ).scalar_one_or_none()
    return json.loads(payload) if payload is not None else None


def first_quarter_with_data(engine: Engine) -> Quarter | None:
    """The earliest quarter holding any partner row (by each source's event date)."""
    earliest = []
    with engine.connect() as conn:
        for source in partner_sources():
            column = table_for(source.name).c[load_sources()[source.name].period_column]
            first = conn.execute(select(func.min(column))).scalar_one_or_none()
            if first is not None:
                earliest.append(first.date() if isinstance(first, datetime) else first)
    return Quarter.containing(min(earliest)) if earliest else None


def history_span(engine: Engine, quarter: Quarter, quarters: int | None = None) -> list[Quarter]:
    """The quarters of the history sheet: the last ``quarters`` up to ``quarter``, or all since
    the first partner data."""
    if quarters is None:
        first = first_quarter_with_data(engine) or quarter
        first = min(first, quarter)
    else:
        first = quarter.shift(1 - quarters)
    span = [first]
    while span[-1] < quarter:
        span.append(span[-1].shift(1))
    return span


def build_values(engine: Engine, quarter: Quarter, *, workers: int = 1) -> dict:
    """Every value a build of ``quarter`` shows (the quarter, the previous one, last year's, the
    24 SPC months and the history sheet's quarters), for every indicator, computed up front
    over ``workers`` connections: hand it to ``build_scorecard`` and ``indicator_history`` as
    their ``values_cache``."""
    periods = [quarter, quarter.shift(-1), quarter.shift(-4), *series_months(quarter), *history_span(engine, quarter)]
    return compute_all(engine, [(ind, periods) for ind in load_catalogue()], workers=workers)


def indicator_history(
    engine: Engine,
    quarter: Quarter,
    *,
    quarters: int | None = None,
    suppression_threshold: int = 5,
    values_cache: dict | None = None,
) -> list[dict]:
    """Every indicator's value for each quarter up to ``quarter`` (the last ``quarters``, or all
    since the first partner data), for the workbook's data sheet. Computed, not read from the
    marts, so quarters that were never built (and corrected data) are included: one statement
    per indicator for all the quarters. ``values_cache`` holds values a build has just computed
    on the same data (``build_scorecard``'s), which are not computed again."""
    span = history_span(engine, quarter, quarters)
    rows = []
    cache: dict = {}
    with engine.connect() as conn:
        for ind in load_catalogue():
            for q, v in zip(span, compute_periods(conn, ind, span, rows_cache=cache, values_cache=values_cache)):
                rows.append({
                    "quarter": q.code, "indicator_id": ind.id, "value": v.value, "numerator": v.numerator,
                    "denominator": v.denominator, "data_status": v.data_status,
                    "suppressed": _suppressed(ind, v.numerator, suppression_threshold),
                })
    return rows
