"""The scorecard dict turned into what people read: one view shared by HTML, text and Excel.

Doing the rounding, suppression and wording once here is what keeps the three outputs
saying exactly the same thing, and keeps the templates free of logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Mapping

from .formatting import (
    DEFAULT_SUPPRESSION_THRESHOLD,
    SUPPRESSED,
    comparison_suppressed,
    format_change,
    format_number,
    format_value,
    is_suppressed,
    round_half_away,
    suppression_note,
)
from .labels import (
    Badge,
    DIRECTION_WORDS,
    assurance_badge,
    benchmark_label,
    data_status_word,
    rag_badge,
    return_badge,
    variation_badge,
)
from .sentences import exception_ids, exception_sentence, quarter_label, subject_for

PRIORITIES = (
    "Domestic abuse and its impact on children",
    "Identification and assessment of need",
    "Vulnerable learners",
    "Exploitation and children missing from home or care",
)

NOT_AVAILABLE = "n/a"


@dataclass
class IndicatorView:
    id: str
    name: str
    priority: str
    oba: str
    unit: str
    decimals: int
    polarity: str
    definition: str
    source: str
    disclosive: bool
    suppressed: bool
    data_status: str
    # what people see (text) and, for Excel, the rounded number behind it (None when not a number)
    value_text: str
    value_number: float | int | None
    value_missing: bool
    numerator_text: str
    numerator_number: float | int | None
    denominator_text: str
    denominator_number: float | int | None
    target_text: str
    target_number: float | None
    tolerance_text: str
    tolerance_number: float | None
    amber_text: str
    rag: str
    rag_badge: Badge
    previous_text: str
    previous_number: float | int | None
    last_year_text: str
    last_year_number: float | int | None
    change_previous_text: str
    change_previous_number: float | int | None
    change_last_year_text: str
    change_last_year_number: float | int | None
    direction: str
    direction_arrow: str
    direction_word: str
    benchmarks: list[tuple[str, str]]
    variation: str | None
    variation_badge: Badge | None
    assurance: str | None
    assurance_badge: Badge | None
    spc_points: int | None
    is_exception: bool
    sentence: str
    chart_src: str | None = None
    chart_alt: str = ""

    @property
    def direction_text(self) -> str:
        return f"{self.direction_arrow} {self.direction_word}"

    @property
    def benchmarks_text(self) -> str:
        return "; ".join(f"{label} {text}" for label, text in self.benchmarks)

    @property
    def spc_text(self) -> str:
        parts = [b.word for b in (self.variation_badge, self.assurance_badge) if b]
        return "; ".join(parts)


@dataclass
class ReturnView:
    source: str
    title: str
    agency: str
    status: str
    badge: Badge
    rows_text: str


@dataclass
class ScorecardView:
    title: str
    subject: str
    label: str
    quarter: str
    period_text: str
    generated_text: str
    returns: list[ReturnView]
    received: int
    missing: int
    rag_counts: dict[str, int]
    exceptions: list[IndicatorView]
    sections: list[tuple[str, list[IndicatorView]]]
    indicators: list[IndicatorView]
    suppression_threshold: int
    suppression_note: str
    any_suppressed: bool
    summary_lines: list[str] = field(default_factory=list)

    @property
    def rag_key(self) -> dict[str, Badge]:
        return {code: rag_badge(code) for code in ("green", "amber", "red", "none")}

    @property
    def missing_returns(self) -> list[ReturnView]:
        return [r for r in self.returns if r.status != "received"]


def build_view(
    scorecard: Mapping[str, Any],
    *,
    charts: Mapping[str, str] | None = None,
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
) -> ScorecardView:
    """Everything the outputs show, worked out once from the ``scorecard.json`` dict."""
    charts = charts or {}
    listed = set(exception_ids(scorecard))
    indicators = [
        indicator_view(ind, suppression_threshold=suppression_threshold, exception=str(ind.get("id")) in listed,
                       chart_src=charts.get(str(ind.get("id"))))
        for ind in scorecard.get("indicators") or []
    ]
    by_id = {i.id: i for i in indicators}
    exceptions = [by_id[i] for i in exception_ids(scorecard) if i in by_id]
    returns = [_return_view(r) for r in scorecard.get("returns") or []]
    received = sum(1 for r in returns if r.status == "received")
    counts = {code: sum(1 for i in indicators if i.rag == code) for code in ("red", "amber", "green", "none")}
    label = quarter_label(scorecard)
    view = ScorecardView(
        title=f"LSCP performance scorecard {label}",
        subject=subject_for(scorecard),
        label=label,
        quarter=str(scorecard.get("quarter") or ""),
        period_text=_period_text(scorecard.get("period_start"), scorecard.get("period_end")),
        generated_text=_datetime_text(scorecard.get("generated_at")),
        returns=returns,
        received=received,
        missing=len(returns) - received,
        rag_counts=counts,
        exceptions=exceptions,
        sections=_sections(indicators),
        indicators=indicators,
        suppression_threshold=suppression_threshold,
        suppression_note=suppression_note(suppression_threshold),
        any_suppressed=any(i.suppressed for i in indicators),
    )
    view.summary_lines = _summary_lines(view)
    return view


def indicator_view(
    ind: Mapping[str, Any],
    *,
    suppression_threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
    exception: bool = False,
    chart_src: str | None = None,
) -> IndicatorView:
    unit = str(ind.get("unit") or "")
    decimals = int(ind.get("decimals") or 0)
    suppressed = is_suppressed(ind, suppression_threshold)
    value = ind.get("value")
    status = str(ind.get("data_status") or ("complete" if value is not None else "no_data"))

    def shown(v: Any) -> tuple[str, float | int | None]:
        if v is None:
            return NOT_AVAILABLE, None
        if comparison_suppressed(ind, v, suppression_threshold):
            return SUPPRESSED, None
        return format_value(v, unit, decimals), round_half_away(v, decimals)

    def change(v: Any, earlier: Any) -> tuple[str, float | int | None]:
        if v is None or suppressed or comparison_suppressed(ind, earlier, suppression_threshold):
            return ("" if v is None else SUPPRESSED), None
        return format_change(v, unit, decimals), round_half_away(v, decimals)

    if value is None:
        value_text, value_number = data_status_word(status), None
    elif suppressed:
        value_text, value_number = SUPPRESSED, None
    else:
        value_text, value_number = format_value(value, unit, decimals), round_half_away(value, decimals)

    numerator, denominator = ind.get("numerator"), ind.get("denominator")
    if suppressed:
        num_text, num_number, den_text, den_number = SUPPRESSED, None, SUPPRESSED, None
    else:
        num_text, num_number = format_number(numerator, 0), _plain_number(numerator)
        den_text, den_number = format_number(denominator, 0), _plain_number(denominator)

    target, tolerance = ind.get("target"), ind.get("tolerance")
    prev_text, prev_number = shown(ind.get("previous_quarter"))
    year_text, year_number = shown(ind.get("same_quarter_last_year"))
    chg_prev = ind.get("change_previous_quarter")
    if chg_prev is None and value is not None and ind.get("previous_quarter") is not None:
        chg_prev = value - ind["previous_quarter"]
    chg_year = ind.get("change_same_quarter_last_year")
    if chg_year is None and value is not None and ind.get("same_quarter_last_year") is not None:
        chg_year = value - ind["same_quarter_last_year"]
    chg_prev_text, chg_prev_number = change(chg_prev, ind.get("previous_quarter"))
    chg_year_text, chg_year_number = change(chg_year, ind.get("same_quarter_last_year"))
    arrow, word = _direction(ind, chg_prev, decimals)

    spc = ind.get("spc") or {}
    variation, assurance = spc.get("variation"), spc.get("assurance")
    rag = str(ind.get("rag") or "none")
    view = IndicatorView(
        id=str(ind.get("id") or ""),
        name=str(ind.get("name") or ind.get("id") or ""),
        priority=str(ind.get("priority") or "Other indicators"),
        oba=str(ind.get("oba") or ""),
        unit=unit,
        decimals=decimals,
        polarity=str(ind.get("polarity") or ""),
        definition=str(ind.get("definition") or ""),
        source=str(ind.get("source") or ""),
        disclosive=bool(ind.get("disclosive")),
        suppressed=suppressed,
        data_status=status,
        value_text=value_text,
        value_number=value_number,
        value_missing=value is None,
        numerator_text=num_text,
        numerator_number=num_number,
        denominator_text=den_text,
        denominator_number=den_number,
        target_text=format_value(target, unit, decimals, trim=True) if target is not None else "",
        target_number=target,
        tolerance_text=_tolerance_text(tolerance, unit, decimals),
        tolerance_number=tolerance,
        amber_text=_amber_text(ind.get("polarity"), target, tolerance, unit, decimals),
        rag=rag,
        rag_badge=rag_badge(rag),
        previous_text=prev_text,
        previous_number=prev_number,
        last_year_text=year_text,
        last_year_number=year_number,
        change_previous_text=chg_prev_text,
        change_previous_number=chg_prev_number,
        change_last_year_text=chg_year_text,
        change_last_year_number=chg_year_number,
        direction=str(ind.get("direction") or "not_applicable"),
        direction_arrow=arrow,
        direction_word=word,
        benchmarks=[
            (benchmark_label(k), format_value(v, unit, decimals))
            for k, v in (ind.get("benchmarks") or {}).items()
            if v is not None
        ],
        variation=variation,
        variation_badge=variation_badge(variation),
        assurance=assurance,
        assurance_badge=assurance_badge(assurance),
        spc_points=spc.get("points"),
        is_exception=exception,
        sentence=exception_sentence(ind, suppression_threshold=suppression_threshold) if exception else "",
        chart_src=chart_src,
    )
    view.chart_alt = _chart_alt(view, spc)
    return view


def _plain_number(v: Any) -> float | int | None:
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v if isinstance(v, (int, float)) else None


def _tolerance_text(tolerance: Any, unit: str, decimals: int) -> str:
    if tolerance is None:
        return ""
    number = format_number(tolerance, decimals, trim=True)
    return f"{number} pts" if unit == "%" else format_value(tolerance, unit, decimals, trim=True)


def _amber_text(polarity: Any, target: Any, tolerance: Any, unit: str, decimals: int) -> str:
    """Where amber ends, which is what a reader actually wants from a tolerance."""
    if target is None or tolerance is None or polarity not in ("up", "down"):
        return ""
    edge = target - tolerance if polarity == "up" else target + tolerance
    word = "down to" if polarity == "up" else "up to"
    return f"amber {word} {format_value(edge, unit, decimals, trim=True)}"


def _direction(ind: Mapping[str, Any], change: Any, decimals: int) -> tuple[str, str]:
    """An arrow for the movement and a word for whether it is better: both, never arrow alone."""
    code = str(ind.get("direction") or "not_applicable")
    polarity = ind.get("polarity")
    if code in ("improving", "worsening") and polarity in ("up", "down"):
        went_up = (code == "improving") == (polarity == "up")
        return ("\u2191" if went_up else "\u2193"), DIRECTION_WORDS[code]
    if code == "no_change":
        return "\u2192", DIRECTION_WORDS[code]
    moved = round_half_away(change, decimals)
    if moved is None:
        return "\u2013", "No comparison"
    if moved > 0:
        return "\u2191", "Up"
    if moved < 0:
        return "\u2193", "Down"
    return "\u2192", "No change"


def _chart_alt(view: IndicatorView, spc: Mapping[str, Any]) -> str:
    # No values in the alt text: it must be as safe as the chart for a suppressed indicator.
    points = len([p for p in spc.get("series") or [] if p.get("value") is not None]) or spc.get("points") or 0
    special = any(p.get("special_cause") for p in spc.get("series") or [])
    text = f"SPC chart of {view.name}: {points} monthly points with the mean and control limits"
    if view.target_text:
        text += " and the target"
    if special:
        text += "; special cause points highlighted"
    return text


def _sections(indicators: list[IndicatorView]) -> list[tuple[str, list[IndicatorView]]]:
    """The partnership priorities in their fixed order, then any others as first met."""
    order = list(PRIORITIES)
    for ind in indicators:
        if ind.priority not in order:
            order.append(ind.priority)
    grouped = {p: [i for i in indicators if i.priority == p] for p in order}
    return [(p, rows) for p, rows in grouped.items() if rows]


def _return_view(raw: Mapping[str, Any]) -> ReturnView:
    source = str(raw.get("source") or "")
    title, agency = source_title(source)
    status = str(raw.get("status") or "missing")
    rows = raw.get("rows")
    rows_text = f"{format_number(rows, 0)} rows" if status == "received" and rows is not None else ""
    return ReturnView(source=source, title=title, agency=agency, status=status, badge=return_badge(status), rows_text=rows_text)


def source_title(source: str) -> tuple[str, str]:
    """The partner's own name for a source when the definitions are at hand, else a tidy id."""
    try:
        from pipelines.sources import load_sources

        found = load_sources().get(source)
        if found is not None:
            return found.title, found.agency
    except Exception:  # the view needs only the scorecard; titles are a courtesy
        pass
    return source.replace("_", " ").capitalize(), ""


def _summary_lines(view: ScorecardView) -> list[str]:
    lines = []
    total = len(view.returns)
    if total:
        line = f"Returns: {view.received} of {total} received"
        if view.missing:
            line += "; missing: " + ", ".join(
                f"{r.title} ({r.agency})" if r.agency else r.title for r in view.missing_returns
            )
        lines.append(line + ".")
    else:
        lines.append("Returns: none recorded for this quarter.")
    c = view.rag_counts
    lines.append(
        f"Ratings: {c['red']} red, {c['amber']} amber, {c['green']} green, {c['none']} not rated."
    )
    n = len(view.exceptions)
    if n:
        lines.append(f"{n} exception{'s' if n != 1 else ''} (red, or special cause concern in the monthly figures):")
    else:
        lines.append("No exceptions: no indicator is red or showing special cause concern.")
    return lines


def _period_text(start: Any, end: Any) -> str:
    try:
        s, e = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    except ValueError:
        return ""
    return f"{_day(s)} to {_day(e)}"


def _datetime_text(value: Any) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{_day(moment.date())} at {moment:%H:%M}"


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"
