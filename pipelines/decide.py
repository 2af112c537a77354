"""From computed values to decided results: the one place a build rates, compares, suppresses,
judges SPC and flags exceptions.

Pure functions (no warehouse), so a test can hand them numbers and see every decision the
outputs will show. Each decision's rule lives in its own module (``rag``, ``spc``,
``disclosure``); this module asks each once per indicator and records the answer in the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from .catalogue import Indicator, Unit
from .disclosure import earlier_suppressed, suppressed
from .indicators import IndicatorValue
from .model import Benchmark, Comparison, HistoryRow, IndicatorResult, Spc, SpcPoint
from .periods import Month, Quarter
from .rag import RED, amber_edge, change, direction, movement, rag
from .spc import CONCERN, analyse


def is_exception(rating: str, variation: str) -> bool:
    """Red, or the latest month is special cause of concern (indicators.md)."""
    return rating == RED or variation == CONCERN


def comparison(ind: Indicator, now: IndicatorValue, earlier: IndicatorValue, threshold: int) -> Comparison:
    earlier_hidden = earlier_suppressed(ind.disclosive, ind.is_count, earlier.value, threshold)
    return Comparison(
        value=earlier.value,
        change=change(now.value, earlier.value),
        suppressed=earlier_hidden,
        change_suppressed=earlier_hidden or suppressed(ind.disclosive, now.numerator, threshold),
    )


def spc_of(ind: Indicator, series: Sequence[tuple[Month, IndicatorValue]]) -> Spc:
    """The SPC of the monthly series (oldest first), as ``pipelines.spc.analyse`` judges it with
    the indicator's rule settings and recalculation months from the catalogue. Months with no
    value are passed as None (left out of the calculation) and left out of the series kept."""
    settings = ind.spc
    codes = [month.code for month, _ in series]
    starts = [i for i, code in enumerate(codes) if i > 0 and code in settings.recalculate_from]
    result = analyse(
        [None if v.value is None else float(v.value) for _, v in series],
        polarity=ind.polarity,
        target=ind.target if ind.rated else None,
        recalculate_at=starts,
        shift_points=settings.shift_points,
        trend_points=settings.trend_points,
        minimum_points=settings.minimum_points,
    )
    return Spc(
        variation=result.variation,
        assurance=result.assurance,
        points=result.count,
        mean=result.mean,
        lower_limit=result.lower_limit,
        upper_limit=result.upper_limit,
        signals=result.signals,
        series=tuple(
            SpcPoint(
                month=month.code,
                value=v.value,
                numerator=v.numerator,
                denominator=v.denominator,
                mean=point.mean,
                lower_limit=point.lower_limit,
                upper_limit=point.upper_limit,
                rules=point.rules,
                judgement=point.judgement,
                segment=point.segment,
            )
            for (month, v), point in zip(series, result.points)
            if v.value is not None
        ),
        conflict=result.conflict,
        target=ind.target,
        recalculate_from=tuple(codes[i] for i in starts),
    )


def indicator_result(
    ind: Indicator,
    *,
    unit: Unit,
    source_title: str,
    now: IndicatorValue,
    previous: IndicatorValue,
    last_year: IndicatorValue,
    series: Sequence[tuple[Month, IndicatorValue]],
    benchmarks: Sequence[Benchmark],
    threshold: int,
) -> IndicatorResult:
    """Every decision about one indicator for one quarter, made once."""
    rating = rag(ind, now.value)
    spc = spc_of(ind, series)
    return IndicatorResult(
        id=ind.id,
        name=ind.name,
        priority=ind.priority,
        oba=ind.oba,
        source=ind.source,
        source_title=source_title,
        definition=ind.definition,
        plain_definition=ind.plain_definition,
        unit=unit,
        decimals=ind.decimals,
        polarity=ind.polarity,
        value=now.value,
        numerator=now.numerator,
        denominator=now.denominator,
        data_status=now.data_status,
        target=ind.target,
        tolerance=ind.tolerance,
        amber_edge=amber_edge(ind),
        rag=rating,
        previous=comparison(ind, now, previous, threshold),
        last_year=comparison(ind, now, last_year, threshold),
        direction=direction(ind, now.value, previous.value),
        movement=movement(ind, now.value, previous.value),
        benchmarks=tuple(benchmarks),
        spc=spc,
        disclosive=ind.disclosive,
        suppressed=suppressed(ind.disclosive, now.numerator, threshold),
        exception=is_exception(rating, spc.variation),
    )


def history_rows(
    catalogue: Iterable[Indicator],
    span: Sequence[Quarter],
    values: Mapping[tuple[str, str], IndicatorValue],
    threshold: int,
) -> list[HistoryRow]:
    """The data sheet: each indicator (catalogue order) for each quarter of ``span`` (oldest
    first), with its suppression decided."""
    rows = []
    for ind in catalogue:
        for quarter in span:
            v = values[(ind.id, quarter.code)]
            rows.append(
                HistoryRow(
                    quarter=quarter.code,
                    label=quarter.label,
                    indicator_id=ind.id,
                    value=v.value,
                    numerator=v.numerator,
                    denominator=v.denominator,
                    data_status=v.data_status,
                    suppressed=suppressed(ind.disclosive, v.numerator, threshold),
                )
            )
    return rows
