"""The scorecard turned into what people read: one view shared by HTML, text and Excel.

Rounding, units, ``c`` for suppressed figures, words and symbols are applied once here, which
keeps the three outputs saying exactly the same thing and the templates free of logic. Every
decision shown (rating, exception, suppression, direction, SPC signal, order, labels) is read
from the ``Scorecard`` the build made; none is taken here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ..catalogue import Unit
from ..model import Comparison, IndicatorResult, Return, Scorecard, SpcPoint
from .formatting import (
    SUPPRESSED,
    format_change,
    format_number,
    format_value,
    round_half_away,
    suppression_note,
)
from .icons import ICON_CSS_PX, Icon, assurance_icon, variation_icon
from .labels import (
    DIRECTION_WORDS,
    MOVEMENT_ARROWS,
    MOVEMENT_WORDS,
    Badge,
    assurance_badge,
    data_status_word,
    rag_badge,
    return_badge,
    variation_badge,
)
from .sentences import exception_sentence, revision_sentence, spc_signals, subject_for

NOT_AVAILABLE = "n/a"
LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True)
class IconView:
    """An SPC icon as a page shows it: the image (``src`` None: words only) and its meaning."""

    src: str | None
    words: str
    alt: str
    size: int = ICON_CSS_PX


@dataclass
class IndicatorView:
    id: str
    name: str
    priority: str
    oba: str
    unit: Unit
    decimals: int
    polarity: str
    definition: str
    source: str
    source_title: str
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
    variation_icon: IconView | None = None
    assurance_icon: IconView | None = None
    page_href: str | None = None  # the indicator's own page (the archive), None in the email
    plain_definition: str = ""  # the catalogue's sentence for people (the HTML and email show it)
    # (comparator label, value as shown, the year it is for): the HTML and email name the year
    benchmark_items: list[tuple[str, str, str]] = field(default_factory=list)
    commentary_text: str = ""  # the lead officer's commentary, as written
    commentary_by: str = ""  # "Jo Bloggs, 3 July 2024"
    commentary_awaited: bool = False  # an exception with no commentary yet
    look_at: str = ""  # for an exception: what to look at on its chart, from the build's signals

    @property
    def direction_text(self) -> str:
        return f"{self.direction_arrow} {self.direction_word}"

    @property
    def benchmarks_text(self) -> str:
        return "; ".join(f"{label} {text}" for label, text in self.benchmarks)

    @property
    def spc_text(self) -> str:
        return "; ".join(i.words for i in (self.variation_icon, self.assurance_icon) if i)


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
    revision_notes: list[str]  # "DA01 for 2024-25 Q1 was revised from 5,460 to 5,512."
    summary_lines: list[str] = field(default_factory=list)

    @property
    def rag_key(self) -> dict[str, Badge]:
        return {code: rag_badge(code) for code in ("green", "amber", "red", "none")}

    @property
    def missing_returns(self) -> list[ReturnView]:
        return [r for r in self.returns if r.status != "received"]

    @property
    def show_benchmarks(self) -> bool:
        """The benchmarks column only when at least one comparator has a value."""
        return any(i.benchmarks for i in self.indicators)

    @property
    def benchmark_year(self) -> str:
        """The year every benchmark shown is for, when they share one (named once, in the
        column's heading); "" when they differ (each names its own)."""
        years = {period for i in self.indicators for _, _, period in i.benchmark_items}
        return years.pop() if len(years) == 1 else ""

    @property
    def sections_exceptions_first(self) -> list[tuple[str, list[IndicatorView]]]:
        """Each section with the build's exceptions at its top (in catalogue order), then the
        rest in catalogue order: a reader sees a section's exceptions on its first screen."""
        return [
            (priority, [r for r in rows if r.is_exception] + [r for r in rows if not r.is_exception])
            for priority, rows in self.sections
        ]


def build_view(
    scorecard: Scorecard,
    *,
    charts: Mapping[str, str] | None = None,
    icons: Mapping[str, str] | None = None,
    pages: Mapping[str, str] | None = None,
) -> ScorecardView:
    """Everything the outputs show, worded once from the scorecard. ``charts`` maps indicator
    id to a sparkline's ``src``, ``icons`` an icon key (``pipelines.render.icons``) to its
    ``src`` (without it the icons' words show alone), ``pages`` indicator id to its page."""
    charts = charts or {}
    pages = pages or {}
    indicators = [
        indicator_view(ind, chart_src=charts.get(ind.id), icons=icons, page_href=pages.get(ind.id))
        for ind in scorecard.indicators
    ]
    by_id = {i.id: i for i in indicators}
    returns = [_return_view(r) for r in scorecard.returns]
    received = sum(1 for r in returns if r.status == "received")
    counts = {code: sum(1 for i in indicators if i.rag == code) for code in ("red", "amber", "green", "none")}
    view = ScorecardView(
        title=f"LSCP performance scorecard {scorecard.label}",
        subject=subject_for(scorecard),
        label=scorecard.label,
        quarter=scorecard.quarter,
        period_text=_period_text(scorecard.period_start, scorecard.period_end),
        generated_text=_datetime_text(scorecard.generated_at),
        returns=returns,
        received=received,
        missing=len(returns) - received,
        rag_counts=counts,
        exceptions=[by_id[i] for i in scorecard.exceptions],
        sections=[(priority, [by_id[i.id] for i in rows]) for priority, rows in scorecard.sections],
        indicators=indicators,
        suppression_threshold=scorecard.suppression_threshold,
        suppression_note=suppression_note(scorecard.suppression_threshold),
        revision_notes=[revision_sentence(r) + "." for r in scorecard.revisions],
    )
    view.summary_lines = _summary_lines(view)
    return view


def _shown(ind: IndicatorResult, earlier: Comparison) -> tuple[str, float | int | None]:
    """An earlier quarter's value as text and as the rounded number behind it."""
    if earlier.value is None:
        return NOT_AVAILABLE, None
    if earlier.suppressed:
        return SUPPRESSED, None
    return format_value(earlier.value, ind.unit, ind.decimals), round_half_away(earlier.value, ind.decimals)


def _change(ind: IndicatorResult, earlier: Comparison) -> tuple[str, float | int | None]:
    if earlier.change is None:
        return "", None
    if earlier.change_suppressed:
        return SUPPRESSED, None
    return format_change(earlier.change, ind.unit, ind.decimals), round_half_away(earlier.change, ind.decimals)


def indicator_view(
    ind: IndicatorResult,
    *,
    chart_src: str | None = None,
    icons: Mapping[str, str] | None = None,
    page_href: str | None = None,
) -> IndicatorView:
    if ind.value is None:
        value_text, value_number = data_status_word(ind.data_status), None
    elif ind.suppressed:
        value_text, value_number = SUPPRESSED, None
    else:
        value_text, value_number = (
            format_value(ind.value, ind.unit, ind.decimals),
            round_half_away(ind.value, ind.decimals),
        )
    if ind.suppressed:
        num_text, num_number, den_text, den_number = SUPPRESSED, None, SUPPRESSED, None
    else:
        num_text, num_number = format_number(ind.numerator, 0), ind.numerator
        den_text, den_number = format_number(ind.denominator, 0), ind.denominator
    prev_text, prev_number = _shown(ind, ind.previous)
    year_text, year_number = _shown(ind, ind.last_year)
    chg_prev_text, chg_prev_number = _change(ind, ind.previous)
    chg_year_text, chg_year_number = _change(ind, ind.last_year)
    spc = ind.spc
    view = IndicatorView(
        id=ind.id,
        name=ind.name,
        priority=ind.priority,
        oba=ind.oba,
        unit=ind.unit,
        decimals=ind.decimals,
        polarity=ind.polarity,
        definition=ind.definition,
        source=ind.source,
        source_title=ind.source_title,
        disclosive=ind.disclosive,
        suppressed=ind.suppressed,
        data_status=ind.data_status,
        value_text=value_text,
        value_number=value_number,
        value_missing=ind.value is None,
        numerator_text=num_text,
        numerator_number=num_number,
        denominator_text=den_text,
        denominator_number=den_number,
        target_text=format_value(ind.target, ind.unit, ind.decimals, trim=True),
        target_number=ind.target,
        tolerance_number=ind.tolerance,
        amber_text=_amber_text(ind),
        rag=ind.rag,
        rag_badge=rag_badge(ind.rag),
        previous_text=prev_text,
        previous_number=prev_number,
        last_year_text=year_text,
        last_year_number=year_number,
        change_previous_text=chg_prev_text,
        change_previous_number=chg_prev_number,
        change_last_year_text=chg_year_text,
        change_last_year_number=chg_year_number,
        direction=ind.direction,
        direction_arrow=MOVEMENT_ARROWS[ind.movement],
        direction_word=DIRECTION_WORDS[ind.direction]
        if ind.direction != "not_applicable"
        else MOVEMENT_WORDS[ind.movement],
        benchmarks=[(b.label, format_value(b.value, ind.unit, ind.decimals)) for b in ind.benchmarks],
        variation=spc.variation,
        variation_badge=variation_badge(spc.variation),
        assurance=spc.assurance,
        assurance_badge=assurance_badge(spc.assurance),
        spc_points=spc.points,
        is_exception=ind.exception,
        sentence=exception_sentence(ind) if ind.exception else "",
        chart_src=chart_src,
        variation_icon=_icon_view(variation_icon(ind), icons, variation_badge(spc.variation)),
        assurance_icon=_icon_view(assurance_icon(ind), icons, assurance_badge(spc.assurance)),
        page_href=page_href,
    )
    view.chart_alt = _chart_alt(ind, view)
    view.plain_definition = ind.plain_definition or ind.definition
    view.benchmark_items = [(b.label, format_value(b.value, ind.unit, ind.decimals), b.period) for b in ind.benchmarks]
    if ind.commentary is not None:
        written = ind.commentary.written_at.replace(tzinfo=UTC).astimezone(LONDON).date()  # stored as naive UTC
        view.commentary_text = ind.commentary.text
        view.commentary_by = ", ".join(filter(None, [ind.commentary.author, _day(written)]))
    view.commentary_awaited = ind.commentary_awaited
    view.look_at = _look_at(ind, view) if ind.exception else ""
    return view


def _icon_view(icon: Icon | None, icons: Mapping[str, str] | None, badge: Badge | None) -> IconView | None:
    """The icon and its words; a judgement with no icon (too few months) keeps its words."""
    if icon is None:
        return IconView(None, badge.word, "") if badge else None
    return IconView((icons or {}).get(icon.key), icon.words, icon.alt)


def _amber_text(ind: IndicatorResult) -> str:
    """Where amber ends, which is what a reader actually wants from a tolerance."""
    if ind.amber_edge is None:
        return ""
    word = "down to" if ind.polarity == "up" else "up to"
    return f"amber {word} {format_value(ind.amber_edge, ind.unit, ind.decimals, trim=True)}"


POINT_COLOUR_WORDS = {"concern": "orange", "improvement": "blue", "neutral": "purple"}


def _chart_alt(ind: IndicatorResult, view: IndicatorView) -> str:
    """What the sparkline shows, in words: the months, where the latest month sits against the
    mean and limits, and the signal, all as the build decided them. Values only where the page
    shows them anyway: a disclosive indicator's chart carries no numbers, nor does its text."""
    series = ind.spc.series
    if not series:
        return f"No monthly figures to chart for {ind.name}"
    first, last = series[0], series[-1]
    text = f"SPC chart of {ind.name}, {len(series)} monthly points from {_month(first.month)} to {_month(last.month)}"
    if last.mean is not None:
        text += f"; the latest month is {_against(last)}"
        if not ind.disclosive:
            shown = lambda v: format_value(v, ind.unit, ind.decimals)  # noqa: E731
            text += f" ({shown(last.value)}; mean {shown(last.mean)}"
            if last.lower_limit is not None and last.upper_limit is not None:
                text += f", limits {shown(last.lower_limit)} to {shown(last.upper_limit)}"
            text += ")"
    if view.target_text:
        text += f"; target {view.target_text} (dotted red line)"
    badge = view.variation_badge
    if badge is not None:
        text += f"; {badge.word}"
    signals = spc_signals(ind)
    if signals:
        text += ": " + ", ".join(signals)
    if ind.disclosive:
        text += "; no values given, as the chart is about identifiable children"
    return text + "."


def _against(point: SpcPoint) -> str:
    if point.upper_limit is not None and point.value > point.upper_limit:
        return "above the upper limit"
    if point.lower_limit is not None and point.value < point.lower_limit:
        return "below the lower limit"
    if point.mean is not None and point.value > point.mean:
        return "above the mean, within the limits"
    if point.mean is not None and point.value < point.mean:
        return "below the mean, within the limits"
    return "on the mean"


def _look_at(ind: IndicatorResult, view: IndicatorView) -> str:
    """For an exception: where on its chart to look, worded from the build's SPC decisions."""
    parts = []
    signals = spc_signals(ind)
    judged = [p.judgement for p in ind.spc.series if p.judgement]
    if not ind.spc.series:
        parts.append("there are no monthly figures to chart")
    elif signals:
        colour = POINT_COLOUR_WORDS.get(judged[-1] if judged else "", "coloured")
        parts.append(f"the {colour} points at the right of the chart ({', '.join(signals)})")
    elif ind.spc.variation == "common_cause":
        parts.append("the points stay between the dashed limits: ordinary variation, no sign of a change")
    elif ind.spc.variation == "insufficient_history":
        parts.append("the chart has too few months to judge a change yet")
    if view.target_text and ind.rag in ("red", "amber"):
        line = " (the dotted red line)" if ind.spc.series else ""
        parts.append(f"the gap to the {view.target_text} target{line}")
    if ind.spc.assurance == "fail":
        parts.append("the target lies outside the limits, so it will not be met without a change in approach")
    text = "; ".join(parts)
    return (text[:1].upper() + text[1:] + ".") if text else ""


def _month(month: str) -> str:
    year, number = month.split("-")
    return f"{date(int(year), int(number), 1):%b %Y}"


def _return_view(ret: Return) -> ReturnView:
    rows_text = f"{format_number(ret.rows, 0)} rows" if ret.status == "received" else ""
    return ReturnView(
        source=ret.source,
        title=ret.title,
        agency=ret.agency,
        status=ret.status,
        badge=return_badge(ret.status),
        rows_text=rows_text,
    )


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
    lines.append(f"Ratings: {c['red']} red, {c['amber']} amber, {c['green']} green, {c['none']} not rated.")
    n = len(view.exceptions)
    if n:
        lines.append(f"{n} exception{'s' if n != 1 else ''} (red, or special cause concern in the monthly figures):")
    else:
        lines.append("No exceptions: no indicator is red or showing special cause concern.")
    return lines


def _period_text(start: str, end: str) -> str:
    try:
        s, e = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return ""
    return f"{_day(s)} to {_day(e)}"


def _datetime_text(value: str) -> str:
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return f"{_day(moment.date())} at {moment:%H:%M}"


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"
