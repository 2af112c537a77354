"""Process one inbox entry end to end, in stages that each leave the file in a known place:

1. **open** the entry once, safely (``entries.py``): a link, a pipe, a device or a hard link is
   refused unread and its name removed from the inbox;
2. **snapshot** it from that handle into ``processing/`` (``snapshot.py``), hashing as it is
   copied; a file that changed meanwhile waits for the next run;
3. **claim** the content's SHA-256 (``claims.py``), so no other run works on the same bytes;
4. **examine** the snapshot in a child process with memory and time limits (``examine.py``):
   read, identify, check, write the rejects workbook, and load the accepted rows with their load
   record in one transaction, a chunk of rows at a time (``streaming.py``: memory follows the
   chunk, not the file);
5. **record** a file that loaded nothing; the load record is the truth from here on;
6. **receipt** files written, and the receipt emailed at most once per load;
7. **file away** the snapshot into ``archive/`` or ``rejected/``, then take the partner's file
   out of the inbox (unless it changed after it was read), and mark the record finished.

A file's own problems are normal outcomes (``rejected``/``duplicate``), never exceptions; only a
fault outside the file (the warehouse unreachable) raises ``WarehouseUnavailable``, leaving the
file in the inbox for the next run. A run that dies at any point is finished by the next one,
under the same load record (``recover``).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..faults import checkpoint
from ..sources import load_sources
from ..warehouse import WarehouseUnavailable
from . import claims
from .entries import (
    Identity,
    NotAFile,
    Opened,
    open_entry,
    open_folder,
    relative_to_inbox,
    remove_if_unchanged,
    remove_link,
    still_there,
)
from .examine import Examined, examine, load_record
from .inbox import (
    changed_at,
    clock_skew_note,
    display_name,
    safe_name,
    stamped_name,
    text_name,
    unique_name,
)
from .isolation import ChildError, LimitExceeded, Limits, run_limited
from .loading import (
    accepted_load_with_hash,
    is_connection_fault,
    mark,
    record_load,
    unfinished_loads,
)
from .pseudonym import require_key
from .reading import MB, too_large
from .receipts import Receipt, receipt_email, write_receipt
from .snapshot import (
    SUFFIX,
    FileChanged,
    Snapshot,
    TooLarge,
    copy_from,
    file_away,
    file_unread,
    forget,
    hash_unread,
    keep,
)

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    file: str
    status: str  # accepted | rejected | duplicate | waiting (changed while read) | error (left in the inbox)
    source: str | None
    rows_loaded: int
    rows_rejected: int
    receipt: str
    stored_as: str
    message: str
    load_id: int | None = None
    timings: dict[str, float] | None = None  # seconds per stage: read, map_type, validate, pseudonymise, load

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One line for the terminal: outcome, file, source, counts (or why), receipt."""
        source = self.source or "unknown source"
        if self.status == "accepted":
            what = f"{self.rows_loaded:,} rows loaded, {self.rows_rejected:,} rejected"
        else:
            what = self.message
        where = f"(receipt: {self.receipt})" if self.receipt else "(no receipt: still in the inbox)"
        return f"{self.status.upper():9} {display_name(self.file)} [{source}]: {what} {where}"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def _settled(identity: Identity, settle_seconds: float, now: float) -> bool:
    """Settled by what the open handle says (the listing may be minutes old under Airflow)."""
    return now - changed_at(identity.mtime_ns / 1e9, identity.ctime_ns / 1e9, now) >= settle_seconds


# ------------------------------------------------------------------ 1-3: open, snapshot, claim


def process_file(settings: Settings, engine: Engine, path: Path) -> FileOutcome | None:
    """Process the inbox entry at ``path`` once; ``None`` when there is nothing to do (it is gone,
    still being written, or another run holds the same content and will finish it)."""
    require_key(settings.pseudonym_key)
    relative = relative_to_inbox(settings.inbox, path)
    try:
        opened = open_entry(settings.inbox, relative)
    except NotAFile as refused:
        return _refuse_entry(settings, engine, relative, refused)
    if opened is None:
        return None
    try:
        return process_opened(settings, engine, opened)
    finally:
        opened.close()


def process_opened(settings: Settings, engine: Engine, opened: Opened) -> FileOutcome | None:
    """Process an entry already opened (the caller closes it). Between the listing, the open and
    the copy another run may finish the same file: then there is nothing to say about it."""
    now = time.time()
    if not _settled(opened.identity, settings.settle_seconds, now):
        return None
    skew = clock_skew_note(opened.identity.mtime_ns, now, settings.settle_seconds)
    notes = [skew] if skew else []
    try:
        copy, sha, size = copy_from(opened, settings.processing, int(settings.max_file_mb * MB))
    except TooLarge as big:
        try:
            return _file_too_large(settings, engine, opened, big.size, notes)
        except FileChanged:
            return _changed(opened)
    except FileChanged:
        return _changed(opened)
    snapshot = Snapshot(
        path=copy,
        sha256=sha,
        size=size,
        name=text_name(opened.name),
        relative=str(opened.relative),
        identity=opened.identity,
    )
    try:
        held = claims.claim(settings.processing, sha, snapshot.to_dict(), _claim_timeout(settings))
        if held is None:
            return None
        try:
            if not still_there(opened.folder_fd, opened.name, opened.identity):
                return None  # finished by another run meanwhile, or changed since the copy: next run
            kept = keep(copy, snapshot, settings.processing)
            with _collector_paused():
                return _process_snapshot(settings, engine, kept, opened, notes)
        finally:
            held.release()
    finally:
        copy.unlink(missing_ok=True)


def _claim_timeout(settings: Settings) -> float:
    return settings.claim_timeout_minutes * 60


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector rescans every live container each time enough new ones
    have been made; a big file makes millions (a list per row), which doubled the time to read and
    type one (issue 8). Nothing here makes reference cycles worth collecting mid-file, so it waits
    until the file is done (the child that examines the file inherits the setting)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _changed(opened: Opened) -> FileOutcome | None:
    """The file changed while it was copied: still being written (it waits, and says so), or
    taken out of the inbox by another run that finished it first (nothing to report: that run
    reports it, and a "waiting" line would list the same file twice)."""
    return None if _taken_away(opened) else _waiting(opened)


def _taken_away(opened: Opened) -> bool:
    if os.fstat(opened.fd).st_nlink == 0:
        return True
    try:
        info = os.stat(opened.name, dir_fd=opened.folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return True
    return (info.st_dev, info.st_ino) != (opened.identity.device, opened.identity.inode)


def _waiting(opened: Opened) -> FileOutcome:
    log.info("%s changed while it was being read; it stays in the inbox for the next run", display_name(opened.name))
    return FileOutcome(
        file=text_name(opened.name),
        status="waiting",
        source=None,
        rows_loaded=0,
        rows_rejected=0,
        receipt="",
        stored_as=text_name(str(opened.inbox / opened.relative)),
        message="the file changed while it was being read (still being written?); it stays in the inbox for the next run",
    )


# ------------------------------------------------------------------ 4-5: examine, record


def _process_snapshot(
    settings: Settings, engine: Engine, snapshot: Snapshot, opened: Opened | None, notes: list[str]
) -> FileOutcome:
    """Examine a claimed snapshot (unless a run that died already recorded it) and finish it."""
    sources = load_sources()
    try:
        previous = unfinished_loads(engine, snapshot.sha256)
        duplicate = None if previous else accepted_load_with_hash(engine, snapshot.sha256)
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {type(exc).__name__}") from None
    if previous:  # a run died after recording this content: finish it under the same record
        return _finish(settings, engine, snapshot, previous[0], opened, resumed=True)

    received = _now()
    receipt = Receipt(
        file=snapshot.name,
        sha256=snapshot.sha256,
        received_at=received.strftime("%Y-%m-%d %H:%M:%S"),
        status="rejected",
        summary="",
        notes=list(notes),
    )
    folder_source = folder_source_of(snapshot.relative, sources)
    if folder_source:  # the sender said which source: their data officer gets the receipt
        receipt = receipt.of_source(sources[folder_source])
    stored = unique_name((settings.archive, settings.rejected), stamped_name(snapshot.name, snapshot.sha256, received))

    if duplicate:
        receipt = duplicate_receipt(receipt, duplicate, sources).filed(settings.rejected.name, stored)
        return _finish(settings, engine, snapshot, _record(engine, receipt, snapshot, received, stored), opened)

    examined = _examine(settings, snapshot, receipt, received, stored, folder_source)
    # What the warehouse holds decides, not what the child said: a child that died just after
    # committing its load left the record, and the file is finished under it.
    try:
        committed = unfinished_loads(engine, snapshot.sha256)
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {type(exc).__name__}") from None
    if committed:
        record = committed[0]
    elif isinstance(examined, Examined) and examined.connection_lost:
        raise WarehouseUnavailable(
            f"the warehouse was lost while loading {display_name(snapshot.name)}; nothing from it was kept and it stays in the inbox"
        )
    elif isinstance(examined, Examined) and examined.refused:
        return _left_in_inbox(snapshot, examined, f"the warehouse refused the rows ({examined.refused})")
    elif isinstance(examined, str):  # not this file's fault (the server's disk, say): try again later
        return _left_in_inbox(snapshot, None, examined)
    else:
        outcome_receipt = Receipt.from_dict(examined.receipt) if isinstance(examined, Examined) else receipt
        if outcome_receipt.status == "accepted":  # accepted, yet nothing was committed
            return _left_in_inbox(snapshot, examined, "the load was not committed")
        record = _record(engine, outcome_receipt, snapshot, received, stored)
    checkpoint("after_load_committed")
    outcome = _finish(settings, engine, snapshot, record, opened)
    if isinstance(examined, Examined):
        outcome.timings = examined.timings
    return outcome


def duplicate_receipt(receipt: Receipt, duplicate: dict, sources) -> Receipt:
    """The receipt of a file whose bytes were already loaded (``duplicate``: that load's record)."""
    if duplicate["source"] in sources:
        receipt = receipt.of_source(sources[duplicate["source"]])
    return receipt.replace(
        status="duplicate",
        duplicate_of={k: str(duplicate[k]) for k in ("load_id", "original_name", "received_at")},
        summary=f"identical to {duplicate['original_name']}, already loaded; nothing loaded again",
    )


def folder_source_of(relative: str, sources) -> str | None:
    """A file in ``inbox/<source>/`` belongs to that source."""
    parts = PurePosixPath(relative).parts
    return parts[0] if len(parts) > 1 and parts[0] in sources else None


def _examine(
    settings: Settings, snapshot: Snapshot, receipt: Receipt, received: datetime, stored: str, folder_source: str | None
) -> Examined | str:
    """``examine`` in a child process with the file limits. A file that breaks a limit or crashes
    the reader becomes a rejection (``Examined`` with that receipt); a fault of the machine rather
    than the file comes back as a message (the file stays in the inbox)."""
    from .expectations import prepare

    prepare()
    limits = Limits(memory_mb=settings.file_memory_mb, seconds=settings.file_seconds)
    work = partial(examine, settings, snapshot, receipt, received, stored, folder_source)
    try:
        return run_limited(work, limits)
    except LimitExceeded as exc:
        summary = limit_message(exc, settings)
        log.warning("%s: stopped: %s", display_name(snapshot.name), exc.kind)
    except OSError as exc:
        log.error("could not process %s: %s", display_name(snapshot.name), exc.strerror or type(exc).__name__)
        return f"the file could not be processed ({exc.strerror or type(exc).__name__}); it stays in the inbox"
    except (ChildError, Exception) as exc:  # a fault in this program, met on this file
        log.error(
            "intake failed on %s: %s (an internal error; the file is rejected and kept)",
            display_name(snapshot.name),
            str(exc) if isinstance(exc, ChildError) else type(exc).__name__,
        )
        summary = (
            "the file could not be processed because of an internal error in the intake program; nothing "
            "was loaded. The file is kept, and the partnership's analyst can load it once this is fixed"
        )
    return Examined(receipt.replace(summary=summary).filed(settings.rejected.name, stored).to_dict())


def limit_message(exc: LimitExceeded, settings: Settings) -> str:
    if exc.kind == "memory":
        return (
            f"reading and checking the file needed more than the {settings.file_memory_mb:,.0f} MB of memory allowed "
            "for one file, so it was stopped and nothing was loaded; the file may be damaged, or far larger inside "
            "than any extract (the limit is set by SCORECARD_FILE_MEMORY_MB)"
        )
    if exc.kind == "time":
        minutes, seconds = settings.file_seconds / 60, settings.file_seconds
        allowed = (
            f"{minutes:g} minute{'s' * (minutes != 1)}" if minutes >= 1 else f"{seconds:g} second{'s' * (seconds != 1)}"
        )
        return (
            f"reading and checking the file took longer than the {allowed} allowed for one file, so it was stopped "
            "and nothing was loaded; the file may be damaged (the limit is set by SCORECARD_FILE_SECONDS)"
        )
    return (
        "the program reading the file stopped unexpectedly, so nothing was loaded; the file may be damaged: "
        "please open it, save it again and resend it"
    )


def _left_in_inbox(snapshot: Snapshot, examined: Examined | None, why: str) -> FileOutcome:
    """Nothing was loaded or recorded: the partner's file stays in the inbox for the analyst and
    the next run (no receipt yet: it has not been dealt with); the snapshot is discarded."""
    forget(snapshot.path.parent, snapshot.sha256)
    log.error("%s stays in the inbox: %s", display_name(snapshot.name), why)
    receipt = Receipt.from_dict(examined.receipt) if examined else None
    return FileOutcome(
        file=snapshot.name,
        status="error",
        source=receipt.source if receipt else None,
        rows_loaded=0,
        rows_rejected=receipt.rows_rejected if receipt else 0,
        receipt="",
        stored_as=text_name(snapshot.relative),
        message=f"{why}; nothing was loaded and the file stays in the inbox",
    )


def _record(engine: Engine, receipt: Receipt, snapshot: Snapshot, received: datetime, stored: str | None) -> dict:
    """Record a file that loaded nothing; the record (unfinished) is what every later step reads."""
    audit = load_record(receipt, received, stored)
    try:
        load_id = record_load(engine, audit)
    except SQLAlchemyError as exc:
        if is_connection_fault(exc):
            raise WarehouseUnavailable(
                f"the warehouse could not record the outcome of {display_name(snapshot.name)}; it stays in the inbox"
            ) from None
        raise
    return {**audit, "load_id": load_id, "receipt_mailed_at": None, "finished_at": None}


# ------------------------------------------------------------------ 6-7: receipt, file away


def _finish(
    settings: Settings,
    engine: Engine,
    snapshot: Snapshot,
    record: dict,
    opened: Opened | None,
    *,
    resumed: bool = False,
) -> FileOutcome:
    """Receipt, mail (once), file away, take out of the inbox, mark finished: each step safe to
    repeat, so a run that dies between any two is finished by the next."""
    stored = record["stored_name"]
    folder = settings.archive if record["status"] == "accepted" else settings.rejected
    receipt = Receipt.from_dict(json.loads(record["receipt"])).filed(folder.name, stored, record["load_id"])
    text_path, _ = write_receipt(receipt, settings.receipts, Path(stored).stem)
    checkpoint("after_receipt_written")
    _mail_once(settings, engine, receipt, record, text_path, _portal_link(settings, engine, snapshot, record))
    target = file_away(snapshot, folder / stored)
    checkpoint("after_file_moved")
    left = not _take_out_of_inbox(settings, snapshot, opened)
    mark(engine, record["load_id"], finished_at=_now())
    forget(settings.processing, snapshot.sha256)
    log.info("%s: %s (%s)", receipt.status, display_name(receipt.file), receipt.summary)
    message = receipt.summary + (" (finished after an interrupted run)" if resumed else "")
    if left:
        message += "; the file in the inbox changed after it was read, so that version waits for the next run"
    return FileOutcome(
        file=receipt.file,
        status=receipt.status,
        source=receipt.source,
        rows_loaded=receipt.rows_loaded,
        rows_rejected=receipt.rows_rejected,
        receipt=str(text_path),
        stored_as=str(target),
        message=message,
        load_id=receipt.load_id,
    )


def _take_out_of_inbox(settings: Settings, snapshot: Snapshot, opened: Opened | None) -> bool:
    """Remove the partner's file from the inbox if it is still what was snapshotted (True), or
    if it is gone already; a file changed since stays for the next run (False)."""
    if snapshot.identity is None:
        return True
    if opened is not None:
        if remove_if_unchanged(opened.folder_fd, opened.name, snapshot.identity):
            return True
        return not _exists(opened)
    found = open_folder(settings.inbox, PurePosixPath(snapshot.relative))
    if found is None:
        return True
    _, folder = found
    try:
        name = PurePosixPath(snapshot.relative).name
        return remove_if_unchanged(folder, name, snapshot.identity) or not _lexists(folder, name)
    finally:
        os.close(folder)


def _exists(opened: Opened) -> bool:
    return _lexists(opened.folder_fd, opened.name)


def _lexists(folder_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _portal_link(settings: Settings, engine: Engine, snapshot: Snapshot, record: dict) -> str:
    """Where the receipt email sends its reader in the portal: the submission's page when the
    file came through the portal (which also learns its load here), else the returns page."""
    from ..portal.submissions import link_load

    base = settings.portal.url.rstrip("/")
    try:
        submission_id = link_load(engine, snapshot.relative, snapshot.sha256, record["load_id"])
    except SQLAlchemyError as exc:
        log.warning("could not link load %s to a portal submission: %s", record["load_id"], type(exc).__name__)
        submission_id = None
    return f"{base}/submissions/{submission_id}" if submission_id is not None else f"{base}/returns"


def _mail_once(
    settings: Settings, engine: Engine, receipt: Receipt, record: dict, text_path: Path, link: str | None = None
) -> None:
    """Send (or queue) the receipt unless this load's receipt already went: however often a run
    is retried, a partner gets one receipt per load."""
    if record.get("receipt_mailed_at") is not None:
        return
    _send_receipt(settings, receipt, text_path, link)
    mark(engine, record["load_id"], receipt_mailed_at=_now())


def _send_receipt(settings: Settings, receipt: Receipt, text_path: Path, link: str | None = None) -> None:
    from ..mail import deliver_or_queue

    mail = settings.mail
    recipient = (
        mail.data_officers.get(receipt.source or "", None)
        or mail.analyst
        or f"data-officer.{receipt.source or 'unknown'}@lscp.invalid"
    )
    message = receipt_email(receipt, text_path.read_text(encoding="utf-8"), mail.sender, recipient, link=link)
    deliver_or_queue(message, mail, settings.outbox)


# ------------------------------------------------------------------ entries that are never read


def _unread_receipt(
    settings: Settings, name: str, relative: PurePosixPath, summary: str, notes: list[str]
) -> tuple[Receipt, datetime]:
    received = _now()
    receipt = Receipt(
        file=text_name(name),
        sha256="",
        received_at=received.strftime("%Y-%m-%d %H:%M:%S"),
        status="rejected",
        summary=summary,
        notes=notes,
    )
    sources = load_sources()
    folder_source = folder_source_of(str(relative), sources)
    if folder_source:
        receipt = receipt.of_source(sources[folder_source])
    return receipt, received


def _unread_record(engine: Engine, receipt: Receipt, received: datetime, stored: str | None) -> dict:
    audit = load_record(receipt, received, stored)
    try:
        load_id = record_load(engine, audit)
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {type(exc).__name__}") from None
    return {**audit, "load_id": load_id, "receipt_mailed_at": None}


def _refuse_entry(settings: Settings, engine: Engine, relative: PurePosixPath, refused: NotAFile) -> FileOutcome:
    """A link, a pipe, a device or a hard link in the inbox: never read or followed. Its name is
    taken out of the inbox (what it points to is untouched) and the sender gets a receipt."""
    receipt, received = _unread_receipt(settings, relative.name, relative, str(refused), [])
    stamp = received.strftime("%Y%m%dT%H%M%SZ")
    stem = Path(f"{stamp}_not-read-{uuid.uuid4().hex[:6]}_{safe_name(relative.name)}").stem
    log.warning("refused %s: %s", display_name(relative.name), refused)

    def dispose() -> None:
        remove_link(settings.inbox, relative, refused.identity)

    return _finish_unread(settings, engine, receipt, received, None, stem, dispose)


def _file_too_large(
    settings: Settings, engine: Engine, opened: Opened, size: int, notes: list[str]
) -> FileOutcome | None:
    """A file over the size limit: hashed but not read, filed into ``rejected/`` as it is."""
    sha = hash_unread(opened)
    held = claims.claim(settings.processing, sha, {"name": text_name(opened.name)}, _claim_timeout(settings))
    if held is None:
        return None
    try:
        summary = too_large(size, settings.max_file_mb)
        receipt, received = _unread_receipt(settings, opened.name, opened.relative, summary, notes)
        stored = unique_name((settings.archive, settings.rejected), stamped_name(receipt.file, sha, received))
        receipt = receipt.replace(sha256=sha).filed(settings.rejected.name, stored)

        def dispose() -> Path | None:
            try:
                return file_unread(opened, settings.rejected / stored)
            except FileChanged:  # replaced meanwhile: the record stands, the new file is read next run
                return None

        return _finish_unread(settings, engine, receipt, received, stored, Path(stored).stem, dispose)
    finally:
        held.release()


def _finish_unread(
    settings: Settings,
    engine: Engine,
    receipt: Receipt,
    received: datetime,
    stored: str | None,
    stem: str,
    dispose: Callable[[], Path | None],
) -> FileOutcome:
    """For an entry that was never read: record it, write and mail (once) its receipt, ``dispose``
    of it (file it away, or take its name out of the inbox), and finish the record."""
    record = _unread_record(engine, receipt, received, stored)
    receipt = receipt.replace(load_id=record["load_id"])
    text_path, _ = write_receipt(receipt, settings.receipts, stem)
    _mail_once(settings, engine, receipt, record, text_path, f"{settings.portal.url.rstrip('/')}/returns")
    target = dispose()
    mark(engine, record["load_id"], finished_at=_now())
    return FileOutcome(
        file=receipt.file,
        status="rejected",
        source=receipt.source,
        rows_loaded=0,
        rows_rejected=0,
        receipt=str(text_path),
        stored_as=str(target or ""),
        message=receipt.summary,
        load_id=record["load_id"],
    )


# ------------------------------------------------------------------ recovery after a run died


def recover(settings: Settings, engine: Engine) -> list[FileOutcome]:
    """Finish what runs that died left behind: every snapshot in ``processing/`` that no live run
    holds is processed (under its load record, if it has one), and every unfinished load record
    whose original was already filed away is marked finished."""
    outcomes = []
    timeout = _claim_timeout(settings)
    for path in sorted(settings.processing.glob(f"*{SUFFIX}")):
        sha = path.name.removesuffix(SUFFIX)
        held = claims.claim(settings.processing, sha, {"recovering": True}, timeout)
        if held is None:  # a live run is working on it
            continue
        try:
            if path.exists():
                with _collector_paused():
                    outcomes.append(
                        _process_snapshot(settings, engine, Snapshot.found(settings.processing, sha), None, [])
                    )
        finally:
            held.release()
    for record in unfinished_loads(engine):
        sha = record["sha256"]
        if sha and claims.held(settings.processing, sha, timeout):
            continue
        folder = settings.archive if record["status"] == "accepted" else settings.rejected
        if record["stored_name"] and (folder / record["stored_name"]).exists():
            # Filed away before the run died; its inbox file, if still there unchanged, goes too
            # (else it would come back as a "duplicate" of itself).
            if sha:
                _take_out_of_inbox(settings, Snapshot.found(settings.processing, sha), None)
            mark(engine, record["load_id"], finished_at=_now())
            if sha:
                forget(settings.processing, sha)
    _sweep_partial_copies(settings.processing, timeout)
    return outcomes


def _sweep_partial_copies(folder: Path, older_than: float) -> None:
    """Remove half-made copies left by runs that died while copying."""
    cutoff = time.time() - older_than
    for path in folder.glob(".copy-*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:
            pass
