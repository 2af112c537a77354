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

import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..progress import stage
from ..sources import Source, load_sources
from .checking import Checked, check_rows
from .identify import Layout, Unidentified, identify
from .loading import database_reason, is_connection_fault, load_rows
from .pseudonym import pseudonymise_all, require_key
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


def examine(
    settings: Settings,
    snapshot: Snapshot,
    receipt: Receipt,
    received_at: datetime,
    stored_name: str,
    folder_source: str | None,
) -> Examined:
    """Read, identify and check the snapshot; reject it, or load its accepted rows. Each stage is
    a function of the last one's result; the receipt grows by ``Receipt`` builders."""
    timings: dict[str, float] = {}
    try:
        stage("reading")
        layout = read_and_identify(settings, snapshot, folder_source, timings)
        receipt = receipt.of_layout(layout)
        stage("checking")
        checked = check_rows(layout)
        timings.update(checked.timings)
    except (UnreadableFile, Unidentified) as exc:
        return Examined(
            receipt.replace(summary=str(exc)).filed(settings.rejected.name, stored_name).to_dict(), timings=timings
        )

    decision = decide(checked, settings.reject_threshold)
    rejects = write_rejects(
        settings.receipts, Path(stored_name).stem, layout.sheet.rows[layout.header_index], checked.problems
    )
    folder = settings.archive if decision.status == "accepted" else settings.rejected
    receipt = receipt.decided(decision, rejects).filed(folder.name, stored_name)
    if decision.status != "accepted":
        return Examined(receipt.to_dict(), timings=timings)

    source, rows = layout.source, checked.rows
    assert rows is not None  # an accepted file has its typed rows
    del layout, checked  # the sheet's raw cells go now, before loading (memory)
    started = time.perf_counter()
    stage("pseudonymising", rows=len(rows))
    rows = pseudonymised(rows, source, settings.pseudonym_key)
    timings["pseudonymise"] = time.perf_counter() - started
    stage("loading", rows=len(rows))
    return load(settings, source, rows, receipt, load_record(receipt, received_at, stored_name), timings)


def read_and_identify(settings: Settings, snapshot: Snapshot, folder_source: str | None, timings: dict) -> Layout:
    """The file's sheets, and which source and header row they hold (a subfolder named after a
    source decides the source)."""
    sources = load_sources()
    started = time.perf_counter()
    sheets = read_file(snapshot.path, settings.max_file_mb, suffix=Path(snapshot.name).suffix)
    timings["read"] = time.perf_counter() - started
    return identify(sheets, [sources[folder_source]] if folder_source else list(sources.values()))


@dataclass(frozen=True)
class Decision:
    """What a file's checks decided: accepted (its good rows load) or rejected as a whole."""

    status: str  # accepted | rejected
    summary: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    totals_rows: int
    reasons: tuple[dict, ...]


def decide(checked: Checked, threshold: float) -> Decision:
    """Accepted, or rejected as a whole: no data rows; month-first dates (the most specific reason,
    so first); more bad rows than the threshold allows."""
    bad, rows = len(checked.problems), checked.data_rows
    reasons = tuple(group_reasons(checked.problems))

    def rejected(summary: str, rows_rejected: int) -> Decision:
        return Decision("rejected", summary, rows, 0, rows_rejected, checked.totals_rows, reasons)

    if rows == 0:
        return rejected("the file has a header but no data rows", bad)
    if checked.month_first:
        return rejected(checked.month_first, rows)
    if checked.rejected_share > threshold:
        return rejected(
            f"{bad:,} of {rows:,} rows ({checked.rejected_share:.0%}) failed checks, more than the {threshold:.0%} "
            "allowed, so nothing was loaded; this usually means a systematic problem such as a shifted column or "
            "month-first dates",
            rows,
        )
    summary = f"{checked.accepted:,} rows loaded" + (f", {bad:,} rows rejected (see below)" if bad else "")
    return Decision("accepted", summary, rows, checked.accepted, bad, checked.totals_rows, reasons)


def pseudonymised(rows: pd.DataFrame, source: Source, key: bytes | None) -> pd.DataFrame:
    """The rows with every personal identifier replaced by its pseudonym (a new frame)."""
    key = require_key(key)
    personal = [column.name for column in source.columns if column.personal]
    if not personal:
        return rows
    return rows.assign(**{name: pseudonymise_all(rows[name].tolist(), key) for name in personal})


def load(
    settings: Settings, source: Source, rows: pd.DataFrame, receipt: Receipt, record: dict, timings: dict
) -> Examined:
    """Upsert the rows with their load record, in one transaction, on this process's own engine."""
    from ..warehouse import open_warehouse

    started = time.perf_counter()
    try:
        with open_warehouse(settings.warehouse_url, migrate=False) as engine:
            load_id = load_rows(engine, source, rows, record)
    except SQLAlchemyError as exc:
        if is_connection_fault(exc):
            return Examined(receipt.to_dict(), timings=timings, connection_lost=True)
        return Examined(receipt.to_dict(), timings=timings, refused=database_reason(exc))
    timings["load"] = time.perf_counter() - started
    return Examined(receipt.to_dict(), load_id=load_id, timings=timings)
