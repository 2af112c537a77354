"""Process one inbox file end to end: identify, read, check, pseudonymise, load, archive, receipt.

A file's own problems are normal outcomes (``rejected``/``duplicate``), never exceptions; only a
fault outside the file (the warehouse unreachable) raises ``WarehouseUnavailable``, leaving the
file in the inbox for the next run.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from ..config import Settings
from ..faults import checkpoint
from ..sources import load_sources
from ..warehouse import WarehouseUnavailable
from .checking import Checked, check_rows
from .claims import claim
from .identify import Unidentified, identify
from .inbox import display_name, move_into, sha256_of, source_from_folder, stamped_name, text_name, unique_name
from .loading import accepted_load_with_hash, load_rows, record_load, unfinished_load
from .pseudonym import pseudonymise_all, require_key
from .reading import UnreadableFile, read_file
from .receipts import Receipt, group_reasons, receipt_email, write_receipt

log = logging.getLogger(__name__)


@dataclass
class FileOutcome:
    file: str
    status: str  # accepted | rejected | duplicate | error (left in the inbox for the next run)
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


def process_file(settings: Settings, engine: Engine, path: Path) -> FileOutcome | None:
    """Process ``path`` once; ``None`` when another run holds (and will finish) the same content."""
    require_key(settings.pseudonym_key)
    try:
        sha = sha256_of(path)
    except FileNotFoundError:  # taken and finished by another run meanwhile
        return None
    held = claim(settings.processing, sha, path, settings.claim_timeout_minutes * 60)
    if held is None:
        return None
    try:
        if not path.exists():
            return None
        with _collector_paused():
            return _process(settings, engine, path, sha)
    finally:
        held.release()


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector rescans every live container each time enough new ones
    have been made; a big file makes millions (a list per row), which doubled the time to read and
    type one (issue 8). Nothing here makes reference cycles worth collecting mid-file, so it waits
    until the file is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _process(settings: Settings, engine: Engine, path: Path, sha: str) -> FileOutcome:
    key = settings.pseudonym_key
    sources = load_sources()
    try:
        previous = unfinished_load(engine, sha, settings.archive, settings.rejected)
        duplicate = None if previous else accepted_load_with_hash(engine, sha)
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {type(exc).__name__}") from None
    # A crash after the load was recorded left this file unfinished: finish it under the same
    # record, name and time, and never load or record it twice.
    received = previous["received_at"] if previous else datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    receipt = Receipt(file=text_name(path.name), sha256=sha, received_at=received.strftime("%Y-%m-%d %H:%M:%S"), status="rejected", summary="")
    audit = {"original_name": text_name(path.name), "sha256": sha, "received_at": received}
    finish = partial(_finish, settings, engine, path, receipt, audit, previous=previous)

    if duplicate:
        receipt.status = "duplicate"
        receipt.source = duplicate["source"]
        receipt.duplicate_of = {k: str(duplicate[k]) for k in ("load_id", "original_name", "received_at")}
        receipt.summary = f"identical to {duplicate['original_name']}, already loaded; nothing loaded again"
        return finish(None)

    checked: Checked | None = None
    folder_source = source_from_folder(settings.inbox, path, sources)
    if folder_source:  # the sender said which source: their data officer gets the receipt
        receipt.source = folder_source
        receipt.source_title = sources[folder_source].title
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        sheets = read_file(path, settings.max_file_mb)
        timings["read"] = time.perf_counter() - started
        candidates = [sources[folder_source]] if folder_source else list(sources.values())
        layout = identify(sheets, candidates)
        receipt.source = layout.source.name
        receipt.source_title = layout.source.title
        receipt.sheet = layout.sheet.name
        receipt.header_row = layout.header_index + 1
        receipt.mapped = {sent: canonical for canonical, sent in layout.mapped.items()}
        receipt.ignored = layout.ignored
        checked = check_rows(layout)
        timings.update(checked.timings)
        # From here on only the typed rows, the header and each rejected row's own cells are
        # needed: let the sheet's raw rows go before loading (issue 8: peak memory).
        layout.sheet.rows = layout.sheet.rows[: layout.header_index + 1]
    except (UnreadableFile, Unidentified) as exc:
        receipt.summary = str(exc)
        return finish(None)

    receipt.rows_read = checked.data_rows
    receipt.rows_rejected = len(checked.problems)
    receipt.totals_rows = checked.totals_rows
    receipt.reasons = group_reasons(checked.problems)
    audit.update(source=layout.source.name, sheet=layout.sheet.name, rows_read=checked.data_rows)

    if checked.data_rows == 0:
        receipt.summary = "the file has a header but no data rows"
        return finish(checked)
    if checked.rejected_share > settings.reject_threshold:
        receipt.summary = (
            f"{len(checked.problems):,} of {checked.data_rows:,} rows ({checked.rejected_share:.0%}) failed checks, "
            f"more than the {settings.reject_threshold:.0%} allowed, so nothing was loaded; "
            "this usually means a systematic problem such as a shifted column or month-first dates"
        )
        receipt.rows_rejected = checked.data_rows
        return finish(checked)
    if checked.month_first:  # dates that read, but in the wrong month: refuse the whole file
        receipt.summary = checked.month_first
        receipt.rows_rejected = checked.data_rows
        return finish(checked)

    receipt.status = "accepted"
    receipt.rows_loaded = checked.accepted
    receipt.summary = f"{checked.accepted:,} rows loaded" + (
        f", {len(checked.problems):,} rows rejected (see below)" if checked.problems else ""
    )
    if previous:  # the rows were committed before the crash
        return finish(checked)
    started = time.perf_counter()
    for column in layout.source.columns:
        if column.personal:
            checked.rows[column.name] = pseudonymise_all(checked.rows[column.name].tolist(), key)
    timings["pseudonymise"] = time.perf_counter() - started
    stored = _stored_name(settings, receipt)
    audit.update(status="accepted", stored_name=stored, rows_loaded=checked.accepted,
                 rows_rejected=len(checked.problems), message=receipt.summary, receipt=_receipt_json(receipt))
    started = time.perf_counter()
    try:
        receipt.load_id = load_rows(engine, layout.source, checked.rows, audit)
        timings["load"] = time.perf_counter() - started
    except SQLAlchemyError as exc:
        if _is_connection_fault(exc):
            raise WarehouseUnavailable(
                f"the warehouse was lost while loading {path.name}; nothing from it was kept and it stays in the inbox"
            ) from None
        # The transaction was rolled back: nothing from the file is in the warehouse. Leave the
        # file where it is (no receipt yet: it has not been dealt with) for the analyst.
        reason = _database_reason(exc)
        log.error("the warehouse refused %s: %s; it stays in the inbox", path.name, reason)
        return FileOutcome(
            file=path.name, status="error", source=layout.source.name, rows_loaded=0,
            rows_rejected=len(checked.problems), receipt="", stored_as=str(path),
            message=f"the warehouse refused the rows ({reason}); nothing was loaded and the file stays in the inbox",
        )
    outcome = finish(checked, stored=stored)
    outcome.timings = timings
    return outcome


# SQLSTATE classes meaning the server or connection went away (08 connection exception,
# 53 insufficient resources, 57 operator intervention such as pg_terminate_backend, 58 system error).
_CONNECTION_SQLSTATES = ("08", "53", "57", "58")


def _is_connection_fault(exc: SQLAlchemyError) -> bool:
    """The warehouse is unreachable (stop the run; retry later), as opposed to refusing this
    file's rows (that file alone stays in the inbox)."""
    if isinstance(exc, InterfaceError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return True
    if isinstance(exc, OperationalError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return sqlstate is None or sqlstate[:2] in _CONNECTION_SQLSTATES  # SQLite's have none
    return False


def _database_reason(exc: SQLAlchemyError) -> str:
    """The driver's own first line (never the statement or its parameters)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"[:300]


def _destination(settings: Settings, status: str) -> Path:
    return settings.archive if status == "accepted" else settings.rejected


def _stored_name(settings: Settings, receipt: Receipt) -> str:
    """Timestamp + SHA-256 prefix + original name, unused in archive/ and rejected/ alike."""
    received = datetime.strptime(receipt.received_at, "%Y-%m-%d %H:%M:%S")
    name = unique_name((settings.archive, settings.rejected), stamped_name(receipt.file, receipt.sha256, received))
    receipt.stored_as = f"{_destination(settings, receipt.status).name}/{name}"
    return name


def _receipt_json(receipt: Receipt) -> str:
    return json.dumps(receipt.to_dict(), default=str)


def _finish(settings, engine, path: Path, receipt: Receipt, audit: dict, checked, *, previous=None, stored: str | None = None) -> FileOutcome:
    """Record (unless already recorded), write the receipt, send it, then move the original.

    Each step is safe to repeat, so a crash between any two is finished by the next run."""
    folder = _destination(settings, receipt.status)
    if previous:
        stored = previous["stored_name"]
        receipt.load_id = previous["load_id"]
        receipt.stored_as = f"{folder.name}/{stored}"
    elif stored is None:
        stored = _stored_name(settings, receipt)
        audit.update(status=receipt.status, stored_name=stored, rows_rejected=receipt.rows_rejected,
                     message=receipt.summary, receipt=_receipt_json(receipt))
        try:
            receipt.load_id = record_load(engine, audit)
        except SQLAlchemyError as exc:
            if _is_connection_fault(exc):
                raise WarehouseUnavailable(
                    f"the warehouse could not record the outcome of {path.name}; it stays in the inbox"
                ) from None
            raise
    checkpoint("after_load_committed")
    header = checked.layout.sheet.rows[checked.layout.header_index] if checked else None
    text_path, _ = write_receipt(receipt, settings.receipts, Path(stored).stem, header, checked.problems if checked else [])
    checkpoint("after_receipt_written")
    _send_receipt(settings, receipt, text_path)
    target = move_into(path, folder / stored)
    checkpoint("after_file_moved")
    log.info("%s: %s (%s)", receipt.status, receipt.file, receipt.summary)
    return FileOutcome(
        file=receipt.file,
        status=receipt.status,
        source=receipt.source,
        rows_loaded=receipt.rows_loaded,
        rows_rejected=receipt.rows_rejected,
        receipt=str(text_path),
        stored_as=str(target),
        message=receipt.summary + (" (finished after an interrupted run)" if previous else ""),
        load_id=receipt.load_id,
    )


def _send_receipt(settings: Settings, receipt: Receipt, text_path: Path) -> None:
    from ..mail import deliver_or_queue

    mail = settings.mail
    recipient = mail.data_officers.get(receipt.source or "", None) or mail.analyst or f"data-officer.{receipt.source or 'unknown'}@lscp.invalid"
    message = receipt_email(receipt, text_path.read_text(encoding="utf-8"), mail.sender, recipient)
    deliver_or_queue(message, mail, settings.outbox)
