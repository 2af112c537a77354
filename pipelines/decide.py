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
from .spc import CONCERN, OUTSIDE, SHIFT, TREND, TWO_OF_THREE, analyse, special_cause_rules, xmr_limits


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
    """The SPC summary of the monthly series (months with a value only, oldest first)."""
    points = [(month, v) for month, v in series if v.value is not None]
    result = analyse(
        [float(v.value) for _, v in points if v.value is not None], ind.polarity, ind.target if ind.rated else None
    )
    return Spc(
        variation=result.variation,
        assurance=result.assurance,
        points=result.points,
        mean=result.mean,
        lower_limit=result.lower_limit,
        upper_limit=result.upper_limit,
        signals=result.details,
        series=tuple(
            SpcPoint(
                month=month.code,
                value=v.value,
                numerator=v.numerator,
                denominator=v.denominator,
                special_cause=flag,
                judgement=judgement,
                mean=result.mean,
                lower_limit=result.lower_limit,
                upper_limit=result.upper_limit,
                rules=rules,
            )
            for (month, v), flag, judgement, rules in zip(
                points,
                result.special_cause,
                result.judgements,
                _point_rules([float(v.value) for _, v in points if v.value is not None], result.special_cause),
            )
            if v.value is not None
        ),
    )


def _point_rules(values: list[float], special: Sequence[bool]) -> list[tuple[str, ...]]:
    """STOP-GAP until the revised ``pipelines.spc.analyse`` (issue 18) returns each point's rules:
    today's per-point flags named with a side, so the charts can be drawn from ``SpcPoint.rules``.
    One segment (today's rules have no recalculation); the rewrite replaces this function."""
    limits = xmr_limits(values)
    if limits is None or not any(special):  # too few points: no rule is judged
        return [() for _ in values]
    named: list[tuple[str, ...]] = []
    for i, (x, flags) in enumerate(zip(values, special_cause_rules(values, limits))):
        high = limits.side(x) > 0
        rising = x > values[i - 1] if i else values[1] > x
        sides = {
            OUTSIDE: "outside_high" if x > limits.upper else "outside_low",
            SHIFT: "shift_high" if high else "shift_low",
            TREND: "trend_high" if rising else "trend_low",
            TWO_OF_THREE: "two_of_three_high" if limits.beyond_two_thirds(x) > 0 else "two_of_three_low",
        }
        named.append(tuple(sides[rule] for rule in (OUTSIDE, SHIFT, TREND, TWO_OF_THREE) if rule in flags))
    return named


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
