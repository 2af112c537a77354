"""The marts: where a build leaves its scorecard and where every output reads it back.

``store_scorecard`` writes a quarter's marts in one transaction that replaces the quarter's
rows, so a rebuild never duplicates them; ``load_scorecard`` rebuilds the typed scorecard from
the marts alone (no staging table is read), which is what the outputs are rendered from, both
right after a build and by ``scorecard render``.

- ``mart_scorecard``: the scorecard as built (``Scorecard.payload()``: the contract plus the
  words and decisions people see).
- ``mart_indicator_history``: that build's history sheet, row by row.
- ``mart_indicator_quarter`` and ``mart_indicator_month``: each indicator's quarterly result and
  monthly series, for analysts' own queries.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Connection, Engine

from .indicators import series_months
from .model import HistoryRow, Number, Scorecard
from .periods import Quarter
from .warehouse.schema import mart_indicator_history, mart_indicator_month, mart_indicator_quarter, mart_scorecard

LONDON = ZoneInfo("Europe/London")
MART_LOCK = 727_274_0002  # advisory lock key for writing the marts


class NotBuilt(LookupError):
    """The quarter has no scorecard in the marts."""


def _utc_naive(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _plain(number: float | None) -> Number | None:
    """A whole float read back from a Float column is the int the build had."""
    if isinstance(number, float) and number.is_integer():
        return int(number)
    return number


def store_scorecard(engine: Engine, scorecard: Scorecard) -> None:
    """Write the quarter's marts in one transaction, replacing any earlier build of it
    (``write_scorecard`` under ``lock_marts``)."""
    with engine.begin() as conn:
        lock_marts(conn)
        write_scorecard(conn, scorecard)


def lock_marts(conn: Connection) -> None:
    """Take the marts' write lock for the rest of ``conn``'s transaction. Builds running at once
    (of one quarter, or of neighbours whose 24-month windows overlap) take turns here, so none
    sees another's half-replaced rows and none inserts a row another just inserted. SQLite
    serialises writers by itself."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MART_LOCK})


def write_scorecard(conn: Connection, scorecard: Scorecard) -> None:
    """Replace the quarter's marts with ``scorecard`` in ``conn``'s transaction (the caller
    holds ``lock_marts``).

    ``mart_indicator_month`` keeps one row per indicator and month: the 24 months of this
    build's window are replaced by its series (months with no value are removed), so the
    overlapping windows of neighbouring quarters never duplicate a month. Times are UTC.
    """
    quarter = Quarter.parse(scorecard.quarter)
    built_at = _utc_naive(scorecard.generated_at)
    ids = [i.id for i in scorecard.indicators]
    quarter_rows = [
        {
            "quarter": quarter.code,
            "indicator_id": i.id,
            "value": i.value,
            "numerator": i.numerator,
            "denominator": i.denominator,
            "data_status": i.data_status,
            "rag": i.rag,
            "previous_quarter": i.previous.value,
            "same_quarter_last_year": i.last_year.value,
            "direction": i.direction,
            "spc_variation": i.spc.variation,
            "spc_assurance": i.spc.assurance,
            "spc_points": i.spc.points,
            "spc_mean": i.spc.mean,
            "spc_lower_limit": i.spc.lower_limit,
            "spc_upper_limit": i.spc.upper_limit,
            "disclosive": i.disclosive,
            "suppressed": i.suppressed,
            "built_at": built_at,
        }
        for i in scorecard.indicators
    ]
    month_rows = [
        {
            "indicator_id": i.id,
            "month": p.month,
            "value": p.value,
            "numerator": p.numerator,
            "denominator": p.denominator,
            "data_status": "complete",
            "built_at": built_at,
        }
        for i in scorecard.indicators
        for p in i.spc.series
    ]
    history_rows = [
        {
            "built_quarter": quarter.code,
            "quarter": h.quarter,
            "indicator_id": h.indicator_id,
            "position": n,
            "value": h.value,
            "numerator": h.numerator,
            "denominator": h.denominator,
            "data_status": h.data_status,
            "suppressed": h.suppressed,
            "built_at": built_at,
        }
        for n, h in enumerate(scorecard.history)
    ]
    window = [m.code for m in series_months(quarter)]
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
    conn.execute(delete(mart_indicator_history).where(mart_indicator_history.c.built_quarter == quarter.code))
    if history_rows:
        conn.execute(insert(mart_indicator_history), history_rows)
    conn.execute(delete(mart_scorecard).where(mart_scorecard.c.quarter == quarter.code))
    conn.execute(
        insert(mart_scorecard),
        {
            "quarter": quarter.code,
            "generated_at": built_at,
            "exceptions": len(scorecard.exceptions),
            "payload": json.dumps(scorecard.payload(), ensure_ascii=False),
        },
    )


def load_scorecard(engine: Engine, quarter: Quarter) -> Scorecard:
    """The scorecard as last built for a quarter, from the marts alone; ``NotBuilt`` if never
    built. Both reads share one snapshot, so a rebuild running meanwhile is seen whole or not
    at all."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            payload = conn.execute(
                select(mart_scorecard.c.payload).where(mart_scorecard.c.quarter == quarter.code)
            ).scalar_one_or_none()
            if payload is None:
                raise NotBuilt(f"{quarter.label} has not been built: run scorecard build --quarter {quarter.code}")
            rows = (
                conn.execute(
                    select(mart_indicator_history)
                    .where(mart_indicator_history.c.built_quarter == quarter.code)
                    .order_by(mart_indicator_history.c.position)
                )
                .mappings()
                .all()
            )
    history = tuple(
        HistoryRow(
            quarter=r["quarter"],
            label=Quarter.parse(r["quarter"]).label,
            indicator_id=r["indicator_id"],
            value=_plain(r["value"]),
            numerator=_plain(r["numerator"]),
            denominator=_plain(r["denominator"]),
            data_status=r["data_status"],
            suppressed=bool(r["suppressed"]),
        )
        for r in rows
    )
    return Scorecard.from_payload(json.loads(payload), history)
