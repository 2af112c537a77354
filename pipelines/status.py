"""What the system holds and what waits, without SQL: ``scorecard status`` (and the portal).

``system_status`` only reads: the warehouse (the last load of each source, the quarters built),
the quarters' returns (counted by ``pipelines.scorecard``, exactly as a build counts them), the
inbox (each entry's reason for waiting, from its own metadata: nothing is opened but to see it
can be), the claims in ``processing/`` and the mail queue. Nothing from a partner's cells is
read or shown; file names are shown as ``display_name`` makes them safe for a terminal.

A return is ``received`` when the warehouse holds rows of the source for the quarter, ``missing``
when not, and ``late`` when it is received now but the quarter's published scorecard showed it
missing (it came after the scorecard was built).

The warehouse's part (counting every source's rows) is kept in memory per process, keyed by what
can change it (``warehouse_state``: the load records and the scorecards built), so the portal's
``/status`` page counts again only after a load or a build; the folders are read every time.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from .config import Settings
from .intake.inbox import changed_at, display_name, text_name
from .intake.reading import MB
from .periods import Quarter

RETURN_QUARTERS = 4


@dataclass(frozen=True)
class LastLoad:
    load_id: int
    file: str
    status: str  # accepted | rejected | duplicate
    received_at: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    finished: bool


@dataclass(frozen=True)
class SourceStatus:
    source: str
    title: str
    agency: str
    rows_held: int
    files_received: int
    last_load: LastLoad | None
    last_accepted_at: str | None


@dataclass(frozen=True)
class ReturnStatus:
    source: str
    title: str
    status: str  # received | missing | late
    rows: int


@dataclass(frozen=True)
class QuarterReturns:
    quarter: str
    label: str
    published_at: str | None
    returns: tuple[ReturnStatus, ...]


@dataclass(frozen=True)
class WaitingFile:
    file: str  # its path inside the inbox, shown safely
    reason: str  # ready | settling | hidden name | link | not a file | hard link | too large | unreadable
    detail: str
    size: int
    modified_at: str


@dataclass(frozen=True)
class ClaimedFile:
    sha256: str
    file: str
    since: str | None
    live: bool  # False: its run died; the next run takes it over


@dataclass(frozen=True)
class QueuedMail:
    file: str
    subject: str
    to: str
    queued_at: str


@dataclass(frozen=True)
class BuiltQuarter:
    quarter: str
    label: str
    built_at: str
    exceptions: int
    awaiting_commentary: list[str]  # its build's exceptions with no commentary in the warehouse now


@dataclass(frozen=True)
class Status:
    generated_at: str
    home: str
    warehouse: str
    sources: tuple[SourceStatus, ...]
    returns: tuple[QuarterReturns, ...]
    inbox: tuple[WaitingFile, ...]
    claimed: tuple[ClaimedFile, ...]
    queued_mail: tuple[QueuedMail, ...]
    quarters_built: tuple[BuiltQuarter, ...]

    def to_dict(self) -> dict:
        return asdict(self)

    def text(self) -> str:
        return render_status(self)


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat(sep=" ")


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=0, tzinfo=None).isoformat(sep=" ")


def system_status(
    settings: Settings,
    *,
    last_quarter: Quarter | None = None,
    now: float | None = None,
    engine: Engine | None = None,
) -> Status:
    """The whole status, read-only. ``last_quarter``: the newest of the quarters whose returns are
    shown (default the latest complete one). ``engine``: an engine already open on the warehouse
    (the portal's); without one, the warehouse is opened (and migrated) for the call."""
    from .warehouse import open_warehouse

    now = time.time() if now is None else now
    last = last_quarter or Quarter.latest_complete(datetime.fromtimestamp(now, UTC).date())
    quarters = [last.shift(-i) for i in range(RETURN_QUARTERS)]
    if engine is None:
        with open_warehouse(settings.warehouse_url) as opened:
            sources, built, returns = _warehouse_part(opened, quarters)
    else:
        sources, built, returns = _warehouse_part(engine, quarters)
    url = make_url(settings.warehouse_url).render_as_string(hide_password=True)
    return Status(
        generated_at=_stamp(now),
        home=str(settings.home),
        warehouse=url,
        sources=sources,
        returns=returns,
        inbox=tuple(inbox_entries(settings, now)),
        claimed=tuple(_claimed(settings)),
        queued_mail=tuple(_queued(settings)),
        quarters_built=tuple(built),
    )


# ------------------------------------------------------------------ the warehouse

_KEPT = 16
_kept: OrderedDict[tuple, tuple] = OrderedDict()
_kept_lock = threading.Lock()


def warehouse_state(engine: Engine) -> tuple:
    """What the warehouse's loads and builds are now: rows enter or change only through a load,
    and published statuses only through a build, so an answer worked out from the warehouse
    holds while this is unchanged."""
    from .warehouse.schema import load_files, mart_scorecard

    with engine.connect() as conn:
        loads = conn.execute(
            select(
                func.count(),
                func.max(load_files.c.load_id),
                func.max(load_files.c.finished_at),
                func.max(load_files.c.received_at),
            )
        ).one()
        builds = conn.execute(select(func.count(), func.max(mart_scorecard.c.generated_at))).one()
    return (engine.url.render_as_string(hide_password=True), *loads, *builds)


def _warehouse_part(engine: Engine, quarters: list[Quarter]) -> tuple:
    key = (warehouse_state(engine), tuple(q.code for q in quarters))
    with _kept_lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
    sources = tuple(_sources(engine))
    built, published = _built(engine)
    part = (sources, tuple(built), tuple(_returns(engine, quarters, published)))
    with _kept_lock:
        _kept[key] = part
        while len(_kept) > _KEPT:
            _kept.popitem(last=False)
    return part


def _sources(engine: Engine) -> list[SourceStatus]:
    from .sources import partner_sources
    from .warehouse.schema import load_files, table_for

    out = []
    with engine.connect() as conn:
        for source in partner_sources():
            table = table_for(source.name)
            held = conn.execute(select(func.count()).select_from(table)).scalar_one()
            received = conn.execute(
                select(func.count()).select_from(load_files).where(load_files.c.source == source.name)
            ).scalar_one()
            row = (
                conn.execute(
                    select(load_files)
                    .where(load_files.c.source == source.name)
                    .order_by(load_files.c.received_at.desc(), load_files.c.load_id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            accepted: datetime | None = conn.execute(
                select(func.max(load_files.c.received_at)).where(
                    load_files.c.source == source.name, load_files.c.status == "accepted"
                )
            ).scalar_one()
            last = None
            if row is not None:
                last = LastLoad(
                    load_id=int(row["load_id"]),
                    file=display_name(row["original_name"]),
                    status=row["status"],
                    received_at=_iso(row["received_at"]) or "",
                    rows_read=int(row["rows_read"] or 0),
                    rows_loaded=int(row["rows_loaded"] or 0),
                    rows_rejected=int(row["rows_rejected"] or 0),
                    finished=row["finished_at"] is not None,
                )
            out.append(
                SourceStatus(
                    source=source.name,
                    title=source.title,
                    agency=source.agency,
                    rows_held=int(held),
                    files_received=int(received),
                    last_load=last,
                    last_accepted_at=_iso(accepted),
                )
            )
    return out


def _built(engine: Engine) -> tuple[list[BuiltQuarter], dict[str, tuple[str, dict[str, str]]]]:
    """The quarters built (newest first), and for each its build time and the returns' status
    as it published them."""
    from .commentary import awaiting_commentary
    from .warehouse.schema import mart_scorecard

    built, published = [], {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                mart_scorecard.c.quarter,
                mart_scorecard.c.generated_at,
                mart_scorecard.c.exceptions,
                mart_scorecard.c.payload,
            ).order_by(mart_scorecard.c.quarter.desc())
        )
        found = [(row.quarter, _iso(row.generated_at) or "", int(row.exceptions), row.payload) for row in rows]
    for code, at, exceptions, payload in found:
        quarter = Quarter.parse(code)
        awaiting = awaiting_commentary(engine, quarter).awaiting
        built.append(BuiltQuarter(code, quarter.label, at, exceptions, awaiting))
        published[code] = (at, {r["source"]: r["status"] for r in json.loads(payload).get("returns", [])})
    return built, published


def _returns(
    engine: Engine, quarters: list[Quarter], published: dict[str, tuple[str, dict[str, str]]]
) -> list[QuarterReturns]:
    from .scorecard import quarter_returns

    out = []
    with engine.connect() as conn:
        for quarter in quarters:
            at, shown = published.get(quarter.code, (None, {}))
            returns = tuple(
                ReturnStatus(
                    source=r.source,
                    title=r.title,
                    status="late" if r.status == "received" and shown.get(r.source) == "missing" else r.status,
                    rows=r.rows,
                )
                for r in quarter_returns(conn, quarter)
            )
            out.append(QuarterReturns(quarter.code, quarter.label, at, returns))
    return out


# ------------------------------------------------------------------ the folders


def inbox_entries(settings: Settings, now: float | None = None) -> list[WaitingFile]:
    """Every entry in the inbox and why it is there: ``ready`` (the next run takes it),
    ``settling`` (changed within the settle time), ``hidden name`` (never taken: ``.`` or ``~$``),
    or what the next run will refuse it as (``link``, ``not a file``, ``hard link``, ``too large``)
    or cannot open (``unreadable``). Links are never followed."""
    now = time.time() if now is None else now
    inbox = settings.inbox
    if not inbox.is_dir():
        return []
    found: list[WaitingFile] = []
    folders = [inbox]
    while folders:
        folder = folders.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            shown = display_name(text_name(os.path.relpath(entry.path, inbox)))
            hidden = entry.name.startswith((".", "~$"))
            if stat.S_ISDIR(info.st_mode) and not hidden:
                folders.append(Path(entry.path))
                continue
            reason, detail = _why(entry.path, entry.name, info, settings, now)
            found.append(WaitingFile(shown, reason, detail, int(info.st_size), _stamp(info.st_mtime)))
    return sorted(found, key=lambda w: w.file)


def _why(path: str, name: str, info: os.stat_result, settings: Settings, now: float) -> tuple[str, str]:
    if name.startswith((".", "~$")):
        return "hidden name", "a name starting with '.' or '~$' is never taken from the inbox: rename it"
    left = settings.settle_seconds - (now - changed_at(info.st_mtime, info.st_ctime, now))
    if left > 0:
        return "settling", f"changed moments ago (still being written?): taken once unchanged for {left:.0f}s more"
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "link", "a symbolic link: the next run refuses it unread and removes the link (never what it points to)"
    if not stat.S_ISREG(mode):
        return "not a file", "not a plain file (a folder, pipe or device): the next run refuses it unread"
    if info.st_nlink != 1:
        return "hard link", "the file has another name elsewhere on the server: the next run refuses it unread"
    if info.st_size > settings.max_file_mb * MB:
        return "too large", f"over the {settings.max_file_mb:g} MB limit: the next run rejects it unread"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return "ready", "taken by a run meanwhile"
        return "unreadable", f"cannot be opened ({exc.strerror or type(exc).__name__}): fix its permissions"
    return "ready", "the next intake run takes it"


def _claimed(settings: Settings) -> list[ClaimedFile]:
    from .intake.claims import held

    folder = settings.processing
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.claim")):
        sha = path.name.removesuffix(".claim")
        try:
            info = json.loads(path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            info = {}
        about = info.get("about") if isinstance(info.get("about"), dict) else {}
        since = info.get("since")
        out.append(
            ClaimedFile(
                sha256=sha,
                file=display_name(str(about.get("name") or about.get("relative") or "")),
                since=_stamp(float(since)) if isinstance(since, int | float) else None,
                live=held(folder, sha, settings.claim_timeout_minutes * 60),
            )
        )
    return out


def _queued(settings: Settings) -> list[QueuedMail]:
    from .mail import QUEUE_FOLDER

    queue = settings.outbox / QUEUE_FOLDER
    if not queue.is_dir():
        return []
    out = []
    for path in sorted(queue.glob("*.eml")):
        try:
            with path.open("rb") as handle:
                headers = BytesHeaderParser().parse(handle)
            queued_at = path.stat().st_mtime
        except OSError:
            continue
        out.append(
            QueuedMail(
                file=path.name,
                subject=display_name(str(headers.get("Subject", ""))),
                to=display_name(str(headers.get("To", ""))),
                queued_at=_stamp(queued_at),
            )
        )
    return out


# ------------------------------------------------------------------ the terminal


def render_status(status: Status) -> str:
    lines = [f"Status at {status.generated_at} UTC: {status.home} (warehouse {status.warehouse})", "", "Sources:"]
    for s in status.sources:
        lines.append(f"  {s.title} ({s.source}): {s.rows_held:,} rows held, {s.files_received:,} file(s) received")
        if s.last_load is None:
            lines.append("    no file received yet")
        else:
            last = s.last_load
            lines.append(
                f"    last file: {last.file}, {last.status} on {last.received_at}: {last.rows_read:,} rows read, "
                f"{last.rows_loaded:,} loaded, {last.rows_rejected:,} rejected (load {last.load_id}"
                + ("" if last.finished else ", unfinished")
                + ")"
            )
            if s.last_accepted_at and last.status != "accepted":
                lines.append(f"    last accepted file: {s.last_accepted_at}")
    lines += ["", "Returns:"]
    for q in status.returns:
        built = f"published {q.published_at}" if q.published_at else "not built"
        lines.append(f"  {q.label} ({built}):")
        for r in q.returns:
            rows = f"{r.rows:,} rows" if r.rows else "no rows"
            lines.append(f"    {r.status.upper():8} {r.title} ({rows})")
    lines += ["", "Inbox:"]
    if not status.inbox:
        lines.append("  empty")
    for w in status.inbox:
        lines.append(f"  {w.reason.upper():11} {w.file} ({w.size:,} bytes, changed {w.modified_at}): {w.detail}")
    lines += ["", "Claimed by a run:"]
    if not status.claimed:
        lines.append("  none")
    for c in status.claimed:
        state = "in progress" if c.live else "its run stopped: the next run takes it over"
        lines.append(f"  {c.file or c.sha256[:12]} (since {c.since or 'unknown'}): {state}")
    lines += ["", "Mail queued:"]
    if not status.queued_mail:
        lines.append("  none")
    for m in status.queued_mail:
        lines.append(f"  {m.queued_at} to {m.to}: {m.subject} ({m.file})")
    lines += ["", "Quarters built:"]
    if not status.quarters_built:
        lines.append("  none")
    for b in status.quarters_built:
        awaiting = f" ({', '.join(b.awaiting_commentary)})" if b.awaiting_commentary else ""
        lines.append(
            f"  {b.label} ({b.quarter}): built {b.built_at}, {b.exceptions} exception(s), "
            f"{len(b.awaiting_commentary)} awaiting commentary{awaiting}"
        )
    return "\n".join(lines) + "\n"


def status_schema_path() -> Path:
    """``schemas/status.schema.json``, found like the scorecard's contract."""
    from .resources import resource_root

    for root in (resource_root(), Path(__file__).resolve().parent.parent):
        candidate = root / "schemas" / "status.schema.json"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("schemas/status.schema.json is not installed")
