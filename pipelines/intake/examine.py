"""The work on one file's content: read, identify, check, write the rejects workbook, and load
the accepted rows. It runs in a child process with memory and time limits (``isolation.py``), so
everything that touches the partner's cells happens here, and only a receipt crosses back.

An accepted file's rows and its load record are committed here in one transaction; a file that
loads nothing is recorded by the caller. Either way the warehouse's load record is the truth
about what happened: if this process dies after its commit, the caller finds the record.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..sources import load_sources
from .checking import Checked, check_rows
from .identify import Unidentified, identify
from .loading import database_reason, is_connection_fault, load_rows
from .pseudonym import pseudonymise_all
from .reading import UnreadableFile, read_file
from .receipts import Receipt, group_reasons, write_rejects
from .snapshot import Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Examined:
    """What the child sends back: the receipt (as a dict), and for an accepted file its load."""

    receipt: dict
    load_id: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    refused: str | None = None  # the warehouse refused the rows (nothing loaded; the file stays)
    connection_lost: bool = False  # the warehouse went away (stop the run)


def load_record(receipt: Receipt, received_at: datetime, stored_name: str | None) -> dict:
    """The ``load_files`` row for a receipt: one place says what a load record holds."""
    return {
        "source": receipt.source,
        "original_name": receipt.file,
        "stored_name": stored_name,
        "sha256": receipt.sha256,
        "status": receipt.status,
        "received_at": received_at,
        "sheet": receipt.sheet,
        "rows_read": receipt.rows_read,
        "rows_loaded": receipt.rows_loaded,
        "rows_rejected": receipt.rows_rejected,
        "message": receipt.summary,
        "receipt": receipt.to_json(),
    }


def examine(settings: Settings, snapshot: Snapshot, receipt: Receipt, received_at: datetime, stored_name: str,
            folder_source: str | None) -> Examined:
    """Read, identify and check the snapshot; reject it, or load its accepted rows."""
    sources = load_sources()
    timings: dict[str, float] = {}
    started = time.perf_counter()
    try:
        sheets = read_file(snapshot.path, settings.max_file_mb, suffix=Path(snapshot.name).suffix)
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
    except (UnreadableFile, Unidentified) as exc:
        receipt.summary = str(exc)
        receipt.stored_as = f"{settings.rejected.name}/{stored_name}"
        return Examined(receipt.to_dict(), timings=timings)

    _decide(receipt, checked, settings.reject_threshold)
    rejects = write_rejects(settings.receipts, Path(stored_name).stem,
                            layout.sheet.rows[layout.header_index], checked.problems)
    receipt.rejects_file = str(rejects) if rejects else None
    folder = settings.archive if receipt.status == "accepted" else settings.rejected
    receipt.stored_as = f"{folder.name}/{stored_name}"
    if receipt.status != "accepted":
        return Examined(receipt.to_dict(), timings=timings)

    # Only the typed rows are needed now: let the sheet's raw rows go before loading (memory).
    layout.sheet.rows = []
    started = time.perf_counter()
    for column in layout.source.columns:
        if column.personal:
            checked.rows[column.name] = pseudonymise_all(checked.rows[column.name].tolist(), settings.pseudonym_key)
    timings["pseudonymise"] = time.perf_counter() - started
    return _load(settings, layout.source, checked, receipt, load_record(receipt, received_at, stored_name), timings)


def _decide(receipt: Receipt, checked: Checked, threshold: float) -> None:
    """Accepted, or rejected as a whole (no data rows; month-first dates; too many bad rows)."""
    receipt.rows_read = checked.data_rows
    receipt.rows_rejected = len(checked.problems)
    receipt.totals_rows = checked.totals_rows
    receipt.reasons = group_reasons(checked.problems)
    if checked.data_rows == 0:
        receipt.summary = "the file has a header but no data rows"
        return
    if checked.month_first:  # dates that read, but in the wrong month: the most specific reason first
        receipt.summary = checked.month_first
        receipt.rows_rejected = checked.data_rows
        return
    if checked.rejected_share > threshold:
        receipt.summary = (
            f"{len(checked.problems):,} of {checked.data_rows:,} rows ({checked.rejected_share:.0%}) failed checks, "
            f"more than the {threshold:.0%} allowed, so nothing was loaded; "
            "this usually means a systematic problem such as a shifted column or month-first dates"
        )
        receipt.rows_rejected = checked.data_rows
        return
    receipt.status = "accepted"
    receipt.rows_loaded = checked.accepted
    receipt.summary = f"{checked.accepted:,} rows loaded" + (
        f", {len(checked.problems):,} rows rejected (see below)" if checked.problems else ""
    )


def _load(settings: Settings, source, checked: Checked, receipt: Receipt, record: dict, timings: dict) -> Examined:
    """Upsert the rows with their load record, in one transaction, on this process's own engine."""
    from ..warehouse import open_warehouse

    started = time.perf_counter()
    try:
        with open_warehouse(settings.warehouse_url, migrate=False) as engine:
            load_id = load_rows(engine, source, checked.rows, record)
    except SQLAlchemyError as exc:
        if is_connection_fault(exc):
            return Examined(receipt.to_dict(), timings=timings, connection_lost=True)
        return Examined(receipt.to_dict(), timings=timings, refused=database_reason(exc))
    timings["load"] = time.perf_counter() - started
    return Examined(receipt.to_dict(), load_id=load_id, timings=timings)
