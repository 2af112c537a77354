"""Late data: figures of published scorecards that later loads changed.

A quarter is **published** once its scorecard is in the marts (``mart_scorecard``): every build
stores it there and writes its files to ``out/<quarter>/`` and the archive index, whether or not
the sub group was emailed (a backfill with ``--no-email`` publishes its files too). A figure is
what the scorecard showed for an indicator's value: rounded to its decimals, ``c`` when
suppressed, or why there was none (a missing return, no data).

``check_revisions`` (the ``late_data`` DAG after each load, ``scorecard revisions`` by hand):

1. **Compare.** Every published quarter's figures are computed afresh from the warehouse as it now
   stands (one statement per indicator for all the quarters) and compared with the published
   ones. Recomputing rather than tracing the loaded rows holds for every formula (rolling years,
   re-referrals, population) and is idempotent: once a quarter is republished, its figures equal
   the warehouse's and a second run finds nothing.
2. **Republish.** A quarter with a changed figure is computed again in full (with the suppression
   threshold it was published with, and the notes it already had) and stored in the marts in the
   same transaction as its ``indicator_revisions`` rows (old and new), under the marts' lock, the
   change judged again there: two checks at once record it once, and a crash records nothing.
3. **Render.** The files of each quarter with revisions the analyst has not been told of are
   written again from the marts. The sub group is not emailed.
4. **Notify.** One email to the analyst lists those revisions (old and new, as the scorecard
   formats them; no child-level data, no partner cell content), then they are marked notified
   (``notified_at``), so a retry sends nothing twice.

The next scorecard built for a later quarter carries each revision in its notes
(``footnotes_for``, called by ``build.compute_quarter``): "DA01 for 2024-25 Q1 was revised from
5,460 to 5,512". The revision row records which quarter's scorecard that was (``footnoted_in``),
so a rebuild of that scorecard shows it again and no later one repeats it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from .catalogue import Indicator, load_catalogue, load_units
from .config import Settings
from .disclosure import suppressed
from .model import Figure, PayloadError, Revision, Scorecard
from .periods import Quarter
from .rag import round_half_away
from .warehouse import open_warehouse
from .warehouse.schema import indicator_revisions, mart_indicator_quarter, mart_scorecard

log = logging.getLogger(__name__)


@dataclass
class RevisionRun:
    """What one check did."""

    checked: list[str] = field(default_factory=list)  # published quarters compared
    revised: list[Revision] = field(default_factory=list)  # recorded by this check
    rebuilt: list[str] = field(default_factory=list)  # quarters republished (marts) by this check
    rendered: list[str] = field(default_factory=list)  # quarters whose files were written again
    notified: list[Revision] = field(default_factory=list)  # listed in the notice sent
    notice: str | None = None  # where the notice went

    def lines(self) -> list[str]:
        from .render.sentences import revision_sentence

        if not self.revised and not self.notified:
            return [f"No published figure has changed ({len(self.checked)} published quarter(s) checked)"]
        lines = [f"{len(self.revised)} published figure(s) revised ({len(self.checked)} published quarter(s) checked)"]
        lines += [f"  {revision_sentence(r)}" for r in self.revised]
        earlier = [r for r in self.notified if r not in self.revised]  # found by a check that stopped before telling
        lines += [f"  {revision_sentence(r)} (found earlier)" for r in earlier]
        if self.rendered:
            lines.append(f"  files written again (not emailed to the sub group): {', '.join(self.rendered)}")
        if self.notified:
            lines.append(f"  revision notice ({len(self.notified)} figure(s)): {self.notice}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        from .render.sentences import revision_sentence

        return {
            "checked": self.checked,
            "revised": [revision_sentence(r) for r in self.revised],
            "rebuilt": self.rebuilt,
            "rendered": self.rendered,
            "notified": [revision_sentence(r) for r in self.notified],
            "notice": self.notice,
        }


def check_revisions(settings: Settings) -> RevisionRun:
    """Compare, republish, render and notify (see the module's docstring)."""
    settings.ensure_folders()
    with _one_check_at_a_time(settings):
        return _check(settings)


@contextlib.contextmanager
def _one_check_at_a_time(settings: Settings) -> Iterator[None]:
    """Checks take turns (the DAG's runs, and ``scorecard revisions`` by hand, share the output
    folder), so two never tell the analyst of the same revisions."""
    with open(settings.out / ".revisions.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check(settings: Settings) -> RevisionRun:
    from .build import BUILD_WORKERS, render_quarter

    run = RevisionRun()
    with open_warehouse(settings.warehouse_url) as engine:
        published = _published(engine)
        run.checked = [q.code for q, _ in published]
        changed = changed_quarters(engine, published, workers=BUILD_WORKERS)
        for quarter, scorecard in published:
            if quarter.code in changed:
                recorded = republish(engine, settings, quarter, scorecard)
                if recorded:
                    run.rebuilt.append(quarter.code)
                    run.revised += recorded
        pending = _pending(engine)
    # Files before the notice, so the notice never points at files not yet written.
    for code in sorted({r.quarter for _, r in pending}):
        render_quarter(settings, Quarter.parse(code))
        run.rendered.append(code)
    if pending:
        run.notice = _notify(settings, [r for _, r in pending])
        with open_warehouse(settings.warehouse_url, migrate=False) as engine, engine.begin() as conn:
            conn.execute(
                update(indicator_revisions)
                .where(indicator_revisions.c.revision_id.in_([i for i, _ in pending]))
                .values(notified_at=_utc_now())
            )
        run.notified = [r for _, r in pending]
    return run


def _published(engine: Engine) -> list[tuple[Quarter, Scorecard]]:
    """Every published quarter with its scorecard as published, oldest first (a scorecard stored
    by an earlier version of the model cannot be compared and is left out, with a warning)."""
    from .marts import load_scorecard

    with engine.connect() as conn:
        codes: list[str] = sorted(conn.execute(select(mart_scorecard.c.quarter)).scalars())
    published = []
    for code in codes:
        quarter = Quarter.parse(code)
        try:
            published.append((quarter, load_scorecard(engine, quarter)))
        except PayloadError as exc:
            log.warning("%s not checked for revisions: %s", quarter.label, exc)
    return published


def _shown(figure: Figure, decimals: int) -> tuple:
    """What people saw: the value rounded as shown, ``c``, or why there was none."""
    if figure.value is None:
        return ("none", figure.data_status)
    if figure.suppressed:
        return ("c",)
    return ("value", round_half_away(figure.value, decimals))


def revised(old: Figure, new: Figure, decimals: int) -> bool:
    """Whether a figure as shown differs (a change below the shown decimals is no revision)."""
    return _shown(old, decimals) != _shown(new, decimals)


def changed_quarters(engine: Engine, published: Sequence[tuple[Quarter, Scorecard]], *, workers: int = 1) -> set[str]:
    """The published quarters some of whose figures the warehouse now gives differently: each
    quarter's headline values only, computed for all of them at once."""
    from .indicators import compute_all

    if not published:
        return set()
    catalogue = load_catalogue()
    quarters = [q for q, _ in published]
    values = compute_all(engine, [(ind, list(quarters)) for ind in catalogue], workers=workers)
    changed = set()
    for quarter, scorecard in published:
        shown = {i.id: i for i in scorecard.indicators}
        for ind in catalogue:
            if ind.id not in shown:
                continue  # an indicator added since: there is no published figure to revise
            now = values[(ind.id, quarter.code)]
            new = Figure(
                now.value, now.data_status, suppressed(ind.disclosive, now.numerator, scorecard.suppression_threshold)
            )
            if revised(_figure(shown[ind.id]), new, ind.decimals):
                changed.add(quarter.code)
                break
    return changed


def _figure(indicator: Any) -> Figure:
    return Figure(indicator.value, indicator.data_status, bool(indicator.suppressed))


def republish(engine: Engine, settings: Settings, quarter: Quarter, published: Scorecard) -> list[Revision]:
    """Compute the quarter again and, if figures it published changed, store it in the marts with
    the revision rows, in one transaction; returns the revisions recorded (none when another
    check got there first). Its files are written by the caller; nobody is emailed."""
    from .build import NoReturns, computed_scorecard
    from .contract import check_contract
    from .marts import lock_marts, write_scorecard

    same_rules = replace(settings, suppression_threshold=published.suppression_threshold)
    try:
        rebuilt = computed_scorecard(engine, same_rules, quarter)
    except NoReturns:  # intake never deletes rows, so this is a warehouse emptied by hand
        log.warning("%s has no partner rows now: its published scorecard is left as it is", quarter.label)
        return []
    rebuilt = replace(rebuilt, revisions=footnotes_for(engine, quarter, claim=False))
    check_contract(rebuilt.contract())
    catalogue = {ind.id: ind for ind in load_catalogue()}
    detected = _utc_now()
    with engine.begin() as conn:
        lock_marts(conn)
        # Judged again under the lock, against the marts as they are now.
        before = _stored_figures(conn, quarter)
        changes = [
            (catalogue[i.id], before[i.id], _figure(i))
            for i in rebuilt.indicators
            if i.id in before and i.id in catalogue and revised(before[i.id], _figure(i), i.decimals)
        ]
        if not changes:
            return []
        write_scorecard(conn, rebuilt)
        conn.execute(
            insert(indicator_revisions),
            [
                {
                    "quarter": quarter.code,
                    "indicator_id": ind.id,
                    "old_value": old.value,
                    "old_data_status": old.data_status,
                    "old_suppressed": old.suppressed,
                    "new_value": new.value,
                    "new_data_status": new.data_status,
                    "new_suppressed": new.suppressed,
                    "detected_at": detected,
                }
                for ind, old, new in changes
            ],
        )
    units = load_units()
    return [_revision(ind, units, quarter.code, old, new) for ind, old, new in changes]


def _stored_figures(conn: Connection, quarter: Quarter) -> dict[str, Figure]:
    from .marts import _plain

    rows = conn.execute(
        select(
            mart_indicator_quarter.c.indicator_id,
            mart_indicator_quarter.c.value,
            mart_indicator_quarter.c.data_status,
            mart_indicator_quarter.c.suppressed,
        ).where(mart_indicator_quarter.c.quarter == quarter.code)
    ).all()
    return {r.indicator_id: Figure(_plain(r.value), r.data_status, bool(r.suppressed)) for r in rows}


def _revision(ind: Indicator, units: dict, quarter: str, old: Figure, new: Figure) -> Revision:
    return Revision(
        indicator_id=ind.id,
        name=ind.name,
        quarter=quarter,
        label=Quarter.parse(quarter).label,
        unit=units[ind.unit],
        decimals=ind.decimals,
        old=old,
        new=new,
    )


def _rows_as_revisions(rows: Sequence[Any]) -> list[tuple[int, Revision]]:
    """Revision rows as (id, ``Revision``), worded from the catalogue in use; rows of an
    indicator no longer in the catalogue are left out."""
    from .marts import _plain

    catalogue = {ind.id: ind for ind in load_catalogue()}
    units = load_units()
    out = []
    for r in rows:
        ind = catalogue.get(r.indicator_id)
        if ind is None:
            continue
        old = Figure(_plain(r.old_value), r.old_data_status, bool(r.old_suppressed))
        new = Figure(_plain(r.new_value), r.new_data_status, bool(r.new_suppressed))
        out.append((r.revision_id, _revision(ind, units, r.quarter, old, new)))
    return out


def _pending(engine: Engine) -> list[tuple[int, Revision]]:
    """Revisions the analyst has not been told of, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(indicator_revisions)
            .where(indicator_revisions.c.notified_at.is_(None))
            .order_by(indicator_revisions.c.revision_id)
        ).all()
    return _rows_as_revisions(rows)


def footnotes_for(engine: Engine, quarter: Quarter, *, claim: bool = True) -> tuple[Revision, ...]:
    """The revisions a scorecard of ``quarter`` lists in its notes: those of earlier quarters
    that no scorecard has carried yet (claimed for this one when ``claim``), and those it
    carried already. Two revisions of one figure read as one, from the first old value to the
    last new one (and not at all if they cancel out). In quarter order, then catalogue order."""
    with engine.begin() as conn:
        if claim:
            conn.execute(
                update(indicator_revisions)
                .where(indicator_revisions.c.footnoted_in.is_(None), indicator_revisions.c.quarter < quarter.code)
                .values(footnoted_in=quarter.code)
            )
        rows = conn.execute(
            select(indicator_revisions)
            .where(indicator_revisions.c.footnoted_in == quarter.code)
            .order_by(indicator_revisions.c.revision_id)
        ).all()
    merged: dict[tuple[str, str], Revision] = {}
    for _, rev in _rows_as_revisions(rows):
        key = (rev.quarter, rev.indicator_id)
        merged[key] = replace(rev, old=merged[key].old) if key in merged else rev
    order = {ind.id: n for n, ind in enumerate(load_catalogue())}
    return tuple(
        rev
        for _, rev in sorted(merged.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], len(order))))
        if revised(rev.old, rev.new, rev.decimals)
    )


def _notify(settings: Settings, revisions: list[Revision]) -> str:
    """One email to the analyst listing ``revisions``; where it went."""
    from .mail import deliver_or_queue, flush_queue
    from .render.email import build_revision_notice

    if not settings.mail.analyst:
        log.warning("%d published figure(s) revised, but no analyst address is configured to tell", len(revisions))
        return "not sent: no analyst address is configured (SCORECARD_ANALYST_EMAIL)"
    message = build_revision_notice(
        revisions,
        sender=settings.mail.sender,
        recipient=settings.mail.analyst,
        folders={r.quarter: settings.out / r.quarter for r in revisions},
    )
    flush_queue(settings.mail, settings.outbox)
    return deliver_or_queue(message, settings.mail, settings.outbox)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
