"""The scorecard as one typed object: every figure of a quarter and every decision about it.

The build (``pipelines.scorecard``) makes a ``Scorecard`` once; the marts store it
(``pipelines.marts``); the renderers (HTML, text, Excel, charts, email, sentences) receive it and
only format what it says. Nothing downstream rates, suppresses, orders or labels again, so the
outputs cannot disagree with each other or with ``scorecard.json``.

``Scorecard.contract()`` is ``scorecard.json`` exactly as ``outputs.md`` and
``schemas/scorecard.schema.json`` define it; ``payload()`` is the contract's superset the marts
keep (the words and decisions people see), from which ``from_payload`` rebuilds the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .catalogue import Unit
from .spc import Signal

Number = float | int


@dataclass(frozen=True)
class Return:
    """One partner source's return for the quarter, with the names people know it by."""

    source: str
    status: str  # received | missing
    rows: int
    title: str
    agency: str


@dataclass(frozen=True)
class Benchmark:
    comparator: str  # the contract's code, e.g. england
    label: str  # the words people read, from the catalogue's comparators
    value: float
    period: str = ""  # the year the value is for, as loaded (2024-25): the outputs name it


@dataclass(frozen=True)
class Comparison:
    """An earlier quarter's value and the change from it to now (unrounded)."""

    value: Number | None
    change: Number | None
    suppressed: bool  # the earlier value shows c (a disclosive count from 1 to the threshold)
    change_suppressed: bool  # the change shows c (either end of it is suppressed)


@dataclass(frozen=True)
class SpcPoint:
    """One month of the SPC series as ``pipelines.spc.analyse`` judged it: its value, its
    segment's mean and limits, the rules that hold for it (``shift_high``, ...) and what a chart
    colours it (``judgement``: improvement, concern, neutral, or None for no rule)."""

    month: str  # 2024-04
    value: Number  # never None here: months with no value are left out of the series
    numerator: Number | None
    denominator: Number | None
    mean: float | None
    lower_limit: float | None
    upper_limit: float | None
    rules: tuple[str, ...]
    judgement: str | None  # improvement | concern | neutral for a special-cause point, else None
    segment: int = 0  # 0, then 1 after the first recalculation, ...

    @property
    def special_cause(self) -> bool:
        return bool(self.rules)


@dataclass(frozen=True)
class Spc:
    """The SPC of an indicator's monthly series. ``mean`` and the limits are the latest
    segment's; ``signals`` the rules the latest month meets with their side and length;
    ``conflict`` says rules of both sides hold on it (shown as improvement, or high)."""

    variation: str
    assurance: str | None
    points: int
    mean: float | None
    lower_limit: float | None
    upper_limit: float | None
    signals: tuple[Signal, ...]  # the rules the latest month meets, with side and length
    series: tuple[SpcPoint, ...]  # oldest first; months with no value are left out
    conflict: bool = False
    target: float | None = None  # the indicator's target, for the chart's target line
    recalculate_from: tuple[str, ...] = ()  # months of the series that start a new segment


@dataclass(frozen=True)
class Commentary:
    """The lead officer's commentary on an indicator for a quarter (why it moved, what is being
    done), as the build read it from the warehouse (``pipelines.commentary``): plain text, never
    markup; who wrote it (a portal user's email, or the name given on the command line) and when
    (naive UTC)."""

    text: str
    author: str
    written_at: datetime  # naive UTC

    def contract(self) -> dict[str, str]:
        """As ``scorecard.json`` carries it: ``written_at`` in ISO form with its UTC offset."""
        return {
            "text": self.text,
            "author": self.author,
            "written_at": self.written_at.replace(tzinfo=UTC).isoformat(timespec="seconds"),
        }

    @classmethod
    def from_contract(cls, data: Mapping[str, Any]) -> Commentary:
        moment = datetime.fromisoformat(data["written_at"])
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return cls(text=data["text"], author=data["author"], written_at=moment)


@dataclass(frozen=True)
class IndicatorResult:
    """One indicator for the quarter: the catalogue entry, its figures and every decision."""

    id: str
    name: str
    priority: str
    oba: str
    source: str
    source_title: str
    definition: str
    plain_definition: str  # the definition as one sentence for people (the catalogue's)
    unit: Unit
    decimals: int
    polarity: str
    value: Number | None
    numerator: Number | None
    denominator: Number | None
    data_status: str
    target: float | None
    tolerance: float | None
    amber_edge: float | None  # where amber ends (target -/+ tolerance), for rated indicators
    rag: str
    previous: Comparison
    last_year: Comparison
    direction: str  # improving | worsening | no_change | not_applicable (judged by polarity)
    movement: str | None  # up | down | same, as shown (rounded), against the previous quarter
    benchmarks: tuple[Benchmark, ...]  # in the catalogue's comparator order
    spc: Spc
    disclosive: bool
    suppressed: bool
    exception: bool
    commentary: Commentary | None = None  # the latest entered for the quarter when it was built

    @property
    def commentary_awaited(self) -> bool:
        """An exception nobody has commented on yet: the outputs say "commentary awaited"."""
        return self.exception and self.commentary is None

    def contract(self) -> dict[str, Any]:
        """This indicator as ``scorecard.json`` carries it (key order as published)."""
        return {
            "id": self.id,
            "name": self.name,
            "priority": self.priority,
            "oba": self.oba,
            "source": self.source,
            "definition": self.definition,
            "plain_definition": self.plain_definition or self.definition,
            "unit": self.unit.code,
            "decimals": self.decimals,
            "polarity": self.polarity,
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "data_status": self.data_status,
            "target": self.target,
            "tolerance": self.tolerance,
            "rag": self.rag,
            "previous_quarter": self.previous.value,
            "same_quarter_last_year": self.last_year.value,
            "change_previous_quarter": self.previous.change,
            "change_same_quarter_last_year": self.last_year.change,
            "direction": self.direction,
            "benchmarks": {b.comparator: b.value for b in self.benchmarks},
            "spc": {
                "variation": self.spc.variation,
                "assurance": self.spc.assurance,
                "conflict": self.spc.conflict,
                "points": self.spc.points,
                "mean": self.spc.mean,
                "lower_limit": self.spc.lower_limit,
                "upper_limit": self.spc.upper_limit,
                "signals": [s.name for s in self.spc.signals],
                "recalculate_from": list(self.spc.recalculate_from),
                "series": [
                    {
                        "month": p.month,
                        "value": p.value,
                        "numerator": p.numerator,
                        "denominator": p.denominator,
                        "mean": p.mean,
                        "lower_limit": p.lower_limit,
                        "upper_limit": p.upper_limit,
                        "rules": list(p.rules),
                        "special_cause": p.special_cause,
                        "judgement": p.judgement,
                    }
                    for p in self.spc.series
                ],
            },
            "disclosive": self.disclosive,
            "suppressed": self.suppressed,
            "commentary": None if self.commentary is None else self.commentary.contract(),
        }


@dataclass(frozen=True)
class HistoryRow:
    """One indicator in one quarter, for the workbook's data sheet."""

    quarter: str  # 2024-25Q1
    label: str  # 2024-25 Q1
    indicator_id: str
    value: Number | None
    numerator: Number | None
    denominator: Number | None
    data_status: str
    suppressed: bool


@dataclass(frozen=True)
class Figure:
    """An indicator's headline figure as a scorecard shows it: its value (unrounded), why there
    is none (``data_status``), and whether it shows ``c``."""

    value: Number | None
    data_status: str
    suppressed: bool


@dataclass(frozen=True)
class Revision:
    """A figure a published scorecard showed that later data changed (``pipelines.revisions``),
    for the notes of the next scorecard built."""

    indicator_id: str
    name: str
    quarter: str  # 2024-25Q1: the quarter whose published figure changed
    label: str  # 2024-25 Q1
    unit: Unit
    decimals: int
    old: Figure  # as published
    new: Figure  # as the warehouse now has it (the quarter was republished with it)


@dataclass(frozen=True)
class Scorecard:
    quarter: str
    label: str
    period_start: str  # ISO dates
    period_end: str
    generated_at: str  # ISO, UK time with its offset
    returns: tuple[Return, ...]
    indicators: tuple[IndicatorResult, ...]  # catalogue order
    priorities: tuple[str, ...]  # the sections, in the catalogue's order
    suppression_threshold: int  # the threshold the suppression decisions used (for the note)
    history: tuple[HistoryRow, ...] = field(default=())  # catalogue order, then oldest first
    revisions: tuple[Revision, ...] = field(default=())  # earlier quarters' figures revised since (notes)

    @property
    def exceptions(self) -> list[str]:
        return [i.id for i in self.indicators if i.exception]

    @property
    def sections(self) -> list[tuple[str, list[IndicatorResult]]]:
        """(priority, its indicators) in the catalogue's priority order; empty ones left out."""
        grouped = [(p, [i for i in self.indicators if i.priority == p]) for p in self.priorities]
        return [(p, rows) for p, rows in grouped if rows]

    def indicator(self, indicator_id: str) -> IndicatorResult:
        return next(i for i in self.indicators if i.id == indicator_id)

    def contract(self) -> dict[str, Any]:
        """``scorecard.json``: the machine-readable contract (outputs.md)."""
        return {
            "quarter": self.quarter,
            "label": self.label,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "generated_at": self.generated_at,
            "returns": [{"source": r.source, "status": r.status, "rows": r.rows} for r in self.returns],
            "exceptions": self.exceptions,
            "indicators": [i.contract() for i in self.indicators],
        }

    def payload(self) -> dict[str, Any]:
        """Everything but the history (which has its own mart), as plain JSON types."""
        return {
            "model": PAYLOAD_VERSION,
            "quarter": self.quarter,
            "label": self.label,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "generated_at": self.generated_at,
            "returns": [_fields(r) for r in self.returns],
            "indicators": [_indicator_payload(i) for i in self.indicators],
            "priorities": list(self.priorities),
            "suppression_threshold": self.suppression_threshold,
            "revisions": [_revision_payload(r) for r in self.revisions],
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any], history: tuple[HistoryRow, ...] = ()) -> Scorecard:
        """The scorecard a build stored; ``PayloadError`` if an earlier version stored it."""
        if data.get("model") != PAYLOAD_VERSION:
            raise PayloadError(
                f"the stored scorecard for {data.get('quarter', 'this quarter')} was built by an earlier "
                "version of the pipeline: build the quarter again"
            )
        return cls(
            quarter=data["quarter"],
            label=data["label"],
            period_start=data["period_start"],
            period_end=data["period_end"],
            generated_at=data["generated_at"],
            returns=tuple(Return(**r) for r in data["returns"]),
            indicators=tuple(_indicator_from(i) for i in data["indicators"]),
            priorities=tuple(data["priorities"]),
            suppression_threshold=int(data["suppression_threshold"]),
            history=history,
            revisions=tuple(_revision_from(r) for r in data.get("revisions", ())),  # none before revisions
        )


# 2: SPC points carry their segment's mean, limits and rules; 3: each indicator's commentary
PAYLOAD_VERSION = 3


class PayloadError(ValueError):
    """A stored scorecard this version cannot read."""


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


def _indicator_payload(ind: IndicatorResult) -> dict[str, Any]:
    out = _fields(ind)
    out["unit"] = _fields(ind.unit)
    out["previous"] = _fields(ind.previous)
    out["last_year"] = _fields(ind.last_year)
    out["benchmarks"] = [_fields(b) for b in ind.benchmarks]
    spc = _fields(ind.spc)
    spc["signals"] = [_fields(s) for s in ind.spc.signals]
    spc["series"] = [{**_fields(p), "rules": list(p.rules)} for p in ind.spc.series]
    spc["recalculate_from"] = list(ind.spc.recalculate_from)
    out["spc"] = spc
    out["commentary"] = None if ind.commentary is None else ind.commentary.contract()
    return out


def _revision_payload(revision: Revision) -> dict[str, Any]:
    out = _fields(revision)
    out["unit"] = _fields(revision.unit)
    out["old"] = _fields(revision.old)
    out["new"] = _fields(revision.new)
    return out


def _revision_from(data: Mapping[str, Any]) -> Revision:
    fields = dict(data)
    fields.update(unit=Unit(**data["unit"]), old=Figure(**data["old"]), new=Figure(**data["new"]))
    return Revision(**fields)


def _indicator_from(data: Mapping[str, Any]) -> IndicatorResult:
    spc = dict(data["spc"])
    spc["signals"] = tuple(Signal(**s) for s in spc["signals"])
    spc["series"] = tuple(SpcPoint(**{**p, "rules": tuple(p["rules"])}) for p in spc["series"])
    spc["recalculate_from"] = tuple(spc["recalculate_from"])
    fields = dict(data)
    fields.setdefault("plain_definition", data["definition"])  # stored before plain definitions
    fields.update(
        unit=Unit(**data["unit"]),
        previous=Comparison(**data["previous"]),
        last_year=Comparison(**data["last_year"]),
        benchmarks=tuple(Benchmark(**b) for b in data["benchmarks"]),
        spc=Spc(**spc),
        commentary=None if data["commentary"] is None else Commentary.from_contract(data["commentary"]),
    )
    return IndicatorResult(**fields)
