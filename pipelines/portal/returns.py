"""Each source's return for each quarter, as the portal shows it: received (on time), late
(received after its due date, or not received and past it: ``late_kind`` says which) or missing
(not received, not yet due). The one place that decides a return's state; pages only show it.

What was received is what ``scorecard status`` and a build count (``pipelines.scorecard.
quarter_returns``: rows of the source whose event dates fall in the quarter). When it was received
is the earliest load that still holds rows of the quarter (``load_files.received_at``): a later
resubmission that replaces every row of a quarter moves that date to the resubmission's. A
quarter's return is due ``Source.due_days`` days after the quarter ends.

Working the states out reads every row of the quarters shown, so the answer is kept in memory
per process, keyed by what can change it: the load records (``status.warehouse_state``: rows
enter or change only through a load), the sources asked for, the number of quarters and the day. The first request after a load works it out again (see
benchmarks/RESULTS.md, "portal pages")."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, func, select

from ..periods import Quarter
from ..scorecard import quarter_returns
from ..sources import load_sources
from ..status import warehouse_state
from ..warehouse.schema import load_files, table_for

QUARTERS_SHOWN = 6  # the latest complete quarters on the dashboard and /returns

RECEIVED, LATE, MISSING = "received", "late", "missing"
RECEIVED_LATE, OVERDUE = "received late", "overdue"


@dataclass(frozen=True)
class ReturnState:
    source: str
    title: str
    quarter: str  # 2024-25Q1
    quarter_label: str
    due: date
    state: str  # received | late | missing
    late_kind: str | None  # "received late" | "overdue" (late only)
    received_at: datetime | None
    rows: int
    explanation: str  # one plain sentence: what, when, against which due date

    @property
    def label(self) -> str:
        if self.state == LATE:
            return "Late: received after the due date" if self.late_kind == RECEIVED_LATE else "Late: not received"
        return "Received" if self.state == RECEIVED else "Not received yet"


@dataclass(frozen=True)
class QuarterRow:
    quarter: str
    label: str
    returns: tuple[ReturnState, ...]


def due_date(quarter: Quarter, due_days: int) -> date:
    return quarter.end + timedelta(days=due_days)


def decide(*, rows: int, received_at: datetime | None, due: date, today: date) -> tuple[str, str | None, str]:
    """(state, late_kind, explanation) of one return."""
    due_text = due.isoformat()
    if rows > 0:
        when = received_at.date() if received_at else None
        if when is None:
            return RECEIVED, None, f"Received ({rows:,} rows); due {due_text}"
        if when > due:
            days = (when - due).days
            return (
                LATE,
                RECEIVED_LATE,
                f"Received {when.isoformat()}, {days} day{'s' * (days != 1)} after it was due ({due_text}); {rows:,} rows",
            )
        return RECEIVED, None, f"Received {when.isoformat()} (due {due_text}); {rows:,} rows"
    if today > due:
        days = (today - due).days
        return LATE, OVERDUE, f"Not received: {days} day{'s' * (days != 1)} overdue (it was due {due_text})"
    days = (due - today).days
    return MISSING, None, f"Not received yet: due {due_text} ({'today' if days == 0 else f'in {days} days'})"


def _first_received(engine: Engine, source: str, quarter: Quarter) -> datetime | None:
    """The earliest load still holding rows of ``source`` in ``quarter``."""
    found = load_sources()[source]
    table = table_for(source)
    column = table.c[found.period_column] if found.period_column else None
    if column is None:
        return None
    query = (
        select(func.min(load_files.c.received_at))
        .select_from(table.join(load_files, load_files.c.load_id == table.c.load_id))
        .where(column >= quarter.start, column < quarter.end_exclusive)
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none()


_KEPT = 64  # answers kept per process (each a few kilobytes)
_answers: OrderedDict[tuple, list[QuarterRow]] = OrderedDict()
_answers_lock = threading.Lock()


def returns_by_quarter(
    engine: Engine, sources: list[str], *, today: date | None = None, quarters: int = QUARTERS_SHOWN
) -> list[QuarterRow]:
    """The returns of ``sources`` (partner sources only) for the latest complete quarters,
    newest first (worked out again only when the load records or the day have changed)."""
    today = today or datetime.now(UTC).date()
    key = (warehouse_state(engine), tuple(sources), today, quarters)
    with _answers_lock:
        if key in _answers:
            _answers.move_to_end(key)
            return _answers[key]
    answer = _work_out(engine, sources, today, quarters)
    with _answers_lock:
        _answers[key] = answer
        while len(_answers) > _KEPT:
            _answers.popitem(last=False)
    return answer


def _work_out(engine: Engine, sources: list[str], today: date, quarters: int) -> list[QuarterRow]:
    defined = load_sources()
    wanted = [s for s in sources if s in defined and defined[s].kind == "partner"]
    last = Quarter.latest_complete(today)
    out = []
    for quarter in (last.shift(-i) for i in range(quarters)):
        with engine.connect() as conn:
            counted = {r.source: r for r in quarter_returns(conn, quarter)}
        states = []
        for name in wanted:
            source = defined[name]
            counted_return = counted.get(name)
            rows = counted_return.rows if counted_return else 0
            received_at = _first_received(engine, name, quarter) if rows else None
            due = due_date(quarter, source.due_days)
            state, kind, explanation = decide(rows=rows, received_at=received_at, due=due, today=today)
            states.append(
                ReturnState(
                    source=name,
                    title=source.title,
                    quarter=quarter.code,
                    quarter_label=quarter.label,
                    due=due,
                    state=state,
                    late_kind=kind,
                    received_at=received_at,
                    rows=rows,
                    explanation=explanation,
                )
            )
        out.append(QuarterRow(quarter.code, quarter.label, tuple(states)))
    return out
