"""Process one inbox file end to end: identify, read, check, pseudonymise, load, archive, receipt.

A file's own problems are normal outcomes (``rejected``/``duplicate``), never exceptions; only a
fault outside the file (the warehouse unreachable) raises ``WarehouseUnavailable``, leaving the
file in the inbox for the next run.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from ..config import Settings
from ..sources import load_sources
from ..warehouse import WarehouseUnavailable
from .checking import Checked, check_rows
from .identify import Unidentified, identify
from .inbox import move_to, sha256_of, source_from_folder, stamped_name
from .loading import accepted_load_with_hash, load_rows, record_load
from .pseudonym import pseudonymise, require_key
from .reading import UnreadableFile, read_file
from .receipts import Receipt, group_reasons, receipt_email, render_text, write_receipt

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
        return f"{self.status.upper():9} {self.file} [{source}]: {what} {where}"


def process_file(settings: Settings, engine: Engine, path: Path) -> FileOutcome:
    key = require_key(settings.pseudonym_key)
    sources = load_sources()
    received = datetime.now(timezone.utc).replace(microsecond=0)
    sha = sha256_of(path)
    receipt = Receipt(file=path.name, sha256=sha, received_at=received.strftime("%Y-%m-%d %H:%M:%S"), status="rejected", summary="")
    audit = {"original_name": path.name, "sha256": sha, "received_at": received.replace(tzinfo=None)}

    try:
        duplicate = accepted_load_with_hash(engine, sha)
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {type(exc).__name__}") from None
    if duplicate:
        receipt.status = "duplicate"
        receipt.source = duplicate["source"]
        receipt.duplicate_of = {k: str(duplicate[k]) for k in ("load_id", "original_name", "received_at")}
        receipt.summary = f"identical to {duplicate['original_name']}, already loaded; nothing loaded again"
        return _finish(settings, engine, path, receipt, audit, None, settings.rejected)

    checked: Checked | None = None
    folder_source = source_from_folder(settings.inbox, path, sources)
    if folder_source:  # the sender said which source: their data officer gets the receipt
        receipt.source = folder_source
        receipt.source_title = sources[folder_source].title
    try:
        sheets = read_file(path)
        candidates = [sources[folder_source]] if folder_source else list(sources.values())
        layout = identify(sheets, candidates)
        receipt.source = layout.source.name
        receipt.source_title = layout.source.title
        receipt.sheet = layout.sheet.name
        receipt.header_row = layout.header_index + 1
        receipt.mapped = {sent: canonical for canonical, sent in layout.mapped.items()}
        receipt.ignored = layout.ignored
        checked = check_rows(layout)
    except (UnreadableFile, Unidentified) as exc:
        receipt.summary = str(exc)
        return _finish(settings, engine, path, receipt, audit, None, settings.rejected)

    receipt.rows_read = checked.data_rows
    receipt.rows_rejected = len(checked.problems)
    receipt.totals_rows = checked.totals_rows
    receipt.reasons = group_reasons(checked.problems)
    audit.update(source=layout.source.name, sheet=layout.sheet.name, rows_read=checked.data_rows)

    if checked.data_rows == 0:
        receipt.summary = "the file has a header but no data rows"
        return _finish(settings, engine, path, receipt, audit, checked, settings.rejected)
    if checked.rejected_share > settings.reject_threshold:
        receipt.summary = (
            f"{len(checked.problems):,} of {checked.data_rows:,} rows ({checked.rejected_share:.0%}) failed checks, "
            f"more than the {settings.reject_threshold:.0%} allowed, so nothing was loaded; "
            "this usually means a systematic problem such as a shifted column or month-first dates"
        )
        receipt.rows_rejected = checked.data_rows
        return _finish(settings, engine, path, receipt, audit, checked, settings.rejected)

    personal = [c.name for c in layout.source.columns if c.personal]
    for record in checked.records:
        for name in personal:
            if record.get(name) is not None:
                record[name] = pseudonymise(str(record[name]), key)
    receipt.status = "accepted"
    receipt.rows_loaded = len(checked.records)
    receipt.summary = f"{len(checked.records):,} rows loaded" + (
        f", {len(checked.problems):,} rows rejected (see below)" if checked.problems else ""
    )
    stored = stamped_name(path.name, sha, received)
    audit.update(status="accepted", stored_name=stored, rows_loaded=len(checked.records), rows_rejected=len(checked.problems), message=receipt.summary)
    try:
        receipt.load_id = load_rows(engine, layout.source, checked.records, audit)
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
    return _finish(settings, engine, path, receipt, audit, checked, settings.archive, recorded=True)


def _is_connection_fault(exc: SQLAlchemyError) -> bool:
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _database_reason(exc: SQLAlchemyError) -> str:
    """The driver's own first line (never the statement or its parameters)."""
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}"[:300]


def _finish(settings, engine, path, receipt: Receipt, audit, checked, folder: Path, recorded: bool = False) -> FileOutcome:
    stored = move_to(path, folder, stamped_name(path.name, receipt.sha256, datetime.strptime(receipt.received_at, "%Y-%m-%d %H:%M:%S")))
    stem = stored.stem  # unique, as the stored name is: receipts never overwrite each other
    receipt.stored_as = str(stored.relative_to(settings.home)) if stored.is_relative_to(settings.home) else str(stored)
    if not recorded:
        audit.update(status=receipt.status, stored_name=stored.name, rows_rejected=receipt.rows_rejected, message=receipt.summary)
        try:
            receipt.load_id = record_load(engine, audit)
        except SQLAlchemyError:
            log.warning("could not record the %s outcome of a file in the load audit", receipt.status)
    header = checked.layout.sheet.rows[checked.layout.header_index] if checked else None
    text_path, _ = write_receipt(receipt, settings.receipts, stem, header, checked.problems if checked else [])
    _send_receipt(settings, receipt, text_path)
    log.info("%s: %s (%s)", receipt.status, receipt.file, receipt.summary)
    return FileOutcome(
        file=receipt.file,
        status=receipt.status,
        source=receipt.source,
        rows_loaded=receipt.rows_loaded,
        rows_rejected=receipt.rows_rejected,
        receipt=str(text_path),
        stored_as=str(stored),
        message=receipt.summary,
        load_id=receipt.load_id,
    )


def _send_receipt(settings: Settings, receipt: Receipt, text_path: Path) -> None:
    from ..mail import MailError, deliver

    mail = settings.mail
    recipient = mail.data_officers.get(receipt.source or "", None) or mail.analyst or f"data-officer.{receipt.source or 'unknown'}@lscp.invalid"
    message = receipt_email(receipt, text_path.read_text(encoding="utf-8"), mail.sender, recipient)
    try:
        deliver(message, mail, settings.outbox)
    except MailError as exc:
        log.warning("receipt for %s not sent: %s", receipt.file, exc)
