"""Build a quarter's scorecard (``pipelines.model.Scorecard``) from the warehouse.

``build_scorecard`` only reads the warehouse: it computes the values (``pipelines.indicators``),
picks the benchmarks, counts the returns and hands each indicator to ``pipelines.decide``, which
makes every decision once. Storing the result is ``pipelines.marts``'s job; showing it is the
renderers'.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from .catalogue import Comparator, load_catalogue, load_comparators, load_priorities, load_units
from .decide import history_rows, indicator_result
from .indicators import IndicatorValue, Period, compute_all, compute_periods, series_months, source_rows
from .model import Benchmark, HistoryRow, Return, Scorecard
from .periods import Quarter
from .sources import load_sources, partner_sources
from .warehouse.schema import table_for

LONDON = ZoneInfo("Europe/London")


def _london_iso(moment: datetime | None) -> str:
    """ISO time with the UK offset (+01:00 in summer). A naive datetime is taken as UK time."""
    if moment is None:
        moment = datetime.now(LONDON)
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    else:
        moment = moment.astimezone(LONDON)
    return moment.isoformat(timespec="seconds")


def _benchmarks(conn: Connection, quarter: Quarter, comparators: list[Comparator]) -> dict[str, list[Benchmark]]:
    """{indicator: benchmarks}: for each comparator, the row for the quarter's financial year,
    else its latest earlier period (periods like ``2023-24`` sort as text), so a comparator
    published a year behind the others still shows. In the catalogue's comparator order (any
    comparator it does not list last, by its code, so the contract check names it)."""
    table = table_for("benchmarks")
    fy = quarter.financial_year
    best: dict[tuple[str, str], tuple[str, float]] = {}
    for row in conn.execute(select(table.c.indicator_id, table.c.comparator, table.c.period, table.c.value)):
        if row.period is None or row.value is None or str(row.period) > fy:
            continue
        key = (row.indicator_id, row.comparator)
        if key not in best or str(row.period) > best[key][0]:
            best[key] = (str(row.period), float(row.value))
    order = {c.code: i for i, c in enumerate(comparators)}
    labels = {c.code: c.label for c in comparators}
    out: dict[str, list[Benchmark]] = {}
    for (ind, code), (period, value) in sorted(
        best.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order)), kv[0][1])
    ):
        out.setdefault(ind, []).append(
            Benchmark(comparator=code, label=labels.get(code, code), value=value, period=period)
        )
    return out


def _returns(conn: Connection, quarter: Quarter, cache: dict) -> list[Return]:
    """Each partner source's return: received when it has rows with event dates in the quarter."""
    returns = []
    for source in partner_sources():
        rows = source_rows(conn, source.name, quarter)
        cache[(source.name, quarter.code)] = rows
        returns.append(
            Return(
                source=source.name,
                status="received" if rows else "missing",
                rows=rows,
                title=source.title,
                agency=source.agency,
            )
        )
    return returns


def quarter_returns(conn: Connection, quarter: Quarter) -> list[Return]:
    """Each partner source's return for the quarter, as a build counts it (``scorecard status``)."""
    return _returns(conn, quarter, {})


def build_scorecard(
    engine: Engine,
    quarter: Quarter,
    *,
    suppression_threshold: int = 5,
    generated_at: datetime | None = None,
    values_cache: dict | None = None,
) -> Scorecard:
    """The scorecard for a quarter: every catalogue indicator, in catalogue order, with its
    value, RAG, comparisons, benchmarks and SPC, and the history sheet's rows. Reads the
    warehouse only. ``values_cache`` receives every value computed (see ``build_values``)."""
    catalogue = load_catalogue()
    units = load_units()
    titles = {name: source.title for name, source in load_sources().items()}
    values = {} if values_cache is None else values_cache
    cache: dict = {}
    months = series_months(quarter)
    with engine.connect() as conn:
        returns = _returns(conn, quarter, cache)
        benchmarks = _benchmarks(conn, quarter, load_comparators())
        indicators = []
        for ind in catalogue:
            # The three quarters and the 24 months in one statement (see ``compute_periods``).
            now, previous, last_year, *monthly = compute_periods(
                conn,
                ind,
                [quarter, quarter.shift(-1), quarter.shift(-4), *months],
                rows_cache=cache,
                values_cache=values,
            )
            indicators.append(
                indicator_result(
                    ind,
                    unit=units[ind.unit],
                    source_title=titles.get(ind.source, ind.source),
                    now=now,
                    previous=previous,
                    last_year=last_year,
                    series=list(zip(months, monthly)),
                    benchmarks=benchmarks.get(ind.id, []),
                    threshold=suppression_threshold,
                )
            )
    return Scorecard(
        quarter=quarter.code,
        label=quarter.label,
        period_start=quarter.start.isoformat(),
        period_end=quarter.end.isoformat(),
        generated_at=_london_iso(generated_at),
        returns=tuple(returns),
        indicators=tuple(indicators),
        priorities=tuple(load_priorities()),
        suppression_threshold=suppression_threshold,
        history=tuple(
            indicator_history(engine, quarter, suppression_threshold=suppression_threshold, values_cache=values)
        ),
    )


def first_quarter_with_data(engine: Engine) -> Quarter | None:
    """The earliest quarter holding any partner row (by each source's event date)."""
    earliest: list[date] = []
    with engine.connect() as conn:
        for source in partner_sources():
            period_column = load_sources()[source.name].period_column
            if period_column is None:
                continue
            column = table_for(source.name).c[period_column]
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
    over ``workers`` connections: hand it to ``build_scorecard`` as its ``values_cache``."""
    periods: list[Period] = [
        quarter,
        quarter.shift(-1),
        quarter.shift(-4),
        *series_months(quarter),
        *history_span(engine, quarter),
    ]
    return compute_all(engine, [(ind, periods) for ind in load_catalogue()], workers=workers)


def indicator_history(
    engine: Engine,
    quarter: Quarter,
    *,
    quarters: int | None = None,
    suppression_threshold: int = 5,
    values_cache: dict | None = None,
) -> list[HistoryRow]:
    """Every indicator's value for each quarter up to ``quarter`` (the last ``quarters``, or all
    since the first partner data), for the workbook's data sheet, catalogue order then oldest
    first. Computed at build time (so quarters that were never built are included) and stored
    in the marts with the scorecard, which is where the workbook reads it. ``values_cache``
    holds values a build has just computed on the same data, which are not computed again."""
    span = history_span(engine, quarter, quarters)
    values: dict[tuple[str, str], IndicatorValue] = {} if values_cache is None else values_cache
    catalogue = load_catalogue()
    cache: dict = {}
    with engine.connect() as conn:
        for ind in catalogue:
            compute_periods(conn, ind, span, rows_cache=cache, values_cache=values)
    return history_rows(catalogue, span, values, suppression_threshold)
