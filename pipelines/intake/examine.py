"""The work on one file's content: read, identify, check, write the rejects workbook, and load
the accepted rows. It runs in a child process with memory and time limits (``isolation.py``), so
everything that touches the partner's cells happens here, and only a receipt crosses back.

The file is read a chunk of rows at a time (``streaming.py``): each chunk is typed, checked (its
Great Expectations suite run over the chunk), pseudonymised and loaded before the next is read,
so memory follows the chunk size, not the file. The load is still one transaction, opened with the
load record at the first accepted rows: once the whole file is seen, it is committed (the file is
accepted) or rolled back (over the reject threshold, month-first dates, or unreadable part way
through), so a file loads all its accepted rows or none. A file that loads nothing is recorded by
the caller. Either way the warehouse's load record is the truth about what happened: if this
process dies after its commit, the caller finds the record.
"""

from __future__ import annotations

import contextlib
import gc
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
from .background_load import LoadHere, LoadInBackground, load_runner
from .checking import FileChecks, check_chunk, date_cells
from .identify import Layout, Unidentified, identify
from .inbox import display_name
from .loading import ChunkedLoad, database_reason, is_connection_fault
from .pseudonym import pseudonymise_all, require_key
from .reading import CSV_SUFFIXES, UnreadableFile, read_file
from .receipts import Receipt, RejectsWriter
from .snapshot import Snapshot
from .streaming import FileRows, SheetRows, chunk_rows, open_file

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
    """Read, identify and check the snapshot a chunk of rows at a time, loading each chunk's
    accepted rows as it goes inside one transaction with the load record; at the end, commit it
    (the file is accepted) or roll it all back (rejected: over the threshold, month-first dates,
    no data rows, or unreadable part way through). Memory is bounded by the chunk size
    (``streaming.CHUNK_ROWS``), not the file."""
    timings: dict[str, float] = {}
    stage("reading")
    started = time.perf_counter()
    try:
        opened = open_file(snapshot.path, settings.max_file_mb, suffix=Path(snapshot.name).suffix)
    except UnreadableFile as exc:
        return Examined(receipt.replace(summary=str(exc)).filed(settings.rejected.name, stored_name).to_dict())
    finally:
        _spent(timings, "read", started)
    try:
        return _examine_opened(settings, opened, receipt, received_at, stored_name, folder_source, timings)
    finally:
        opened.close()


def _spent(timings: dict[str, float], name: str, started: float) -> float:
    now = time.perf_counter()
    timings[name] = timings.get(name, 0.0) + now - started
    return now


def identify_streamed(opened: FileRows, folder_source: str | None) -> tuple[Layout, SheetRows, int]:
    """The source and header row, from the first rows of each visible sheet in turn (a subfolder
    named after a source decides the source): the layout, the chosen sheet, and its place among
    the visible sheets. A csv whose header is not found is still read to its end first, so that
    a file unreadable further on is called unreadable, as when it was read whole."""
    sources = load_sources()
    current: list[tuple[int, SheetRows]] = []

    def heads():
        for ordinal, sheet_rows in enumerate(opened.sheets()):
            current[:] = [(ordinal, sheet_rows)]
            yield sheet_rows.sheet()

    try:
        layout = identify(heads(), [sources[folder_source]] if folder_source else list(sources.values()))
    except Unidentified:
        if opened.suffix in CSV_SUFFIXES and current:
            for _ in current[0][1].chunks_after(-1, 1 << 16):
                pass
        raise
    ordinal, sheet_rows = current[0]
    return layout, sheet_rows, ordinal


def _examine_opened(
    settings: Settings,
    opened: FileRows,
    receipt: Receipt,
    received_at: datetime,
    stored_name: str,
    folder_source: str | None,
    timings: dict[str, float],
) -> Examined:
    unread = receipt  # an unreadable file's receipt: nothing identified
    started = time.perf_counter()
    try:
        layout, sheet_rows, ordinal = identify_streamed(opened, folder_source)
    except (UnreadableFile, Unidentified) as exc:
        return Examined(
            receipt.replace(summary=str(exc)).filed(settings.rejected.name, stored_name).to_dict(), timings=timings
        )
    finally:
        _spent(timings, "read", started)
    receipt = receipt.of_layout(layout)
    source = layout.source
    state = FileChecks(layout, datetime.now())
    rejects = RejectsWriter(settings.receipts, Path(stored_name).stem, layout.sheet.rows[layout.header_index])
    record = load_record(receipt, received_at, stored_name)
    stage("checking")
    with contextlib.ExitStack() as held:
        loading: LoadInBackground | LoadHere | None = None

        def start_load() -> LoadInBackground | LoadHere:
            from ..warehouse import open_warehouse

            engine = held.enter_context(open_warehouse(settings.warehouse_url, migrate=False))
            expected = _expected_rows(opened, sheet_rows, state)
            runner = load_runner(engine, lambda: ChunkedLoad(engine, source, record, expected))
            held.callback(runner.close)
            return runner

        try:
            chunks = sheet_rows.chunks_after(layout.header_index, chunk_rows())
            while True:
                started = time.perf_counter()
                found = next(chunks, None)
                started = _spent(timings, "read", started)
                if found is None:
                    break
                start, body = found
                accepted, problems = check_chunk(state, body, start)
                rejects.add(problems)
                del found, body, problems
                started = time.perf_counter()
                if len(accepted):
                    accepted = pseudonymised(accepted, source, settings.pseudonym_key)
                    started = _spent(timings, "pseudonymise", started)
                    loading = loading or start_load()
                    loading.add(accepted)  # PostgreSQL: stored by the load's thread while the next chunk is checked
                    _spent(timings, "load", started)
                del accepted
                _report(opened, sheet_rows, state, stored_name)
                gc.collect(0)  # a chunk's reference cycles (Great Expectations makes many): without this, 900 MB
            started = time.perf_counter()
            opened.finish()
            if state.survey.needs_texts():
                _survey_again(settings, opened, layout, ordinal, state)
            _spent(timings, "read", started)
        except UnreadableFile as exc:
            rejects.discard()
            return Examined(
                unread.replace(summary=str(exc)).filed(settings.rejected.name, stored_name).to_dict(), timings=timings
            )
        except SQLAlchemyError as exc:
            rejects.discard()
            if is_connection_fault(exc):
                return Examined(receipt.to_dict(), timings=timings, connection_lost=True)
            return Examined(receipt.to_dict(), timings=timings, refused=database_reason(exc))
        except BaseException:
            rejects.discard()
            raise
        timings.update(state.timings)
        state.month_first = state.survey.verdict()
        decision = decide(state, settings.reject_threshold)
        folder = settings.archive if decision.status == "accepted" else settings.rejected
        receipt = receipt.decided(decision, rejects.close()).filed(folder.name, stored_name)
        if decision.status != "accepted":
            return Examined(receipt.to_dict(), timings=timings)  # leaving the block rolls back what was loaded
        started = time.perf_counter()
        try:
            loading = loading or start_load()
            loading.commit(load_record(receipt, received_at, stored_name))
        except SQLAlchemyError as exc:
            if is_connection_fault(exc):
                return Examined(receipt.to_dict(), timings=timings, connection_lost=True)
            return Examined(receipt.to_dict(), timings=timings, refused=database_reason(exc))
        _spent(timings, "load", started)
        return Examined(receipt.to_dict(), load_id=loading.load_id, timings=timings)


def _expected_rows(opened: FileRows, sheet_rows: SheetRows, state: FileChecks) -> int:
    """About how many rows the file holds, from what is read so far (for the load's choice of
    rebuilding the table's indexes, and for progress)."""
    if sheet_rows.expected_rows:
        return sheet_rows.expected_rows
    seen = state.data_rows + state.totals_rows
    if opened.bytes_read <= 0 or seen <= 0:
        return seen
    return max(seen, round(seen * opened.size / opened.bytes_read))


def _report(opened: FileRows, sheet_rows: SheetRows, state: FileChecks, name: str) -> None:
    """How far through the file: to the progress bar, and to the log for a file of many chunks."""
    done = state.data_rows
    expected = max(done, _expected_rows(opened, sheet_rows, state))
    stage("loading", rows=done, of=expected)
    if expected > chunk_rows():
        log.info(
            "%s: %s of about %s rows checked and loaded so far (%s rejected)",
            display_name(name),
            f"{done:,}",
            f"{expected:,}",
            f"{state.rejected:,}",
        )


def _survey_again(settings: Settings, opened: FileRows, layout: Layout, ordinal: int, state: FileChecks) -> None:
    """Read the chosen sheet's date columns again for the month-first survey's text dates (only
    when the first reading says a fingerprint needs them)."""
    again = open_file(opened.path, settings.max_file_mb, suffix=opened.suffix)
    try:
        for number, sheet_rows in enumerate(again.sheets()):
            if number == ordinal:
                for _, body in sheet_rows.chunks_after(layout.header_index, chunk_rows()):
                    state.survey.add_texts(date_cells(layout, body))
                return
    finally:
        again.close()


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


def decide(checked: FileChecks, threshold: float) -> Decision:
    """Accepted, or rejected as a whole: no data rows; month-first dates (the most specific reason,
    so first); more bad rows than the threshold allows."""
    bad, rows = checked.rejected, checked.data_rows
    reasons = tuple(checked.reasons())

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
    return rows.assign(**{name: pseudonymise_all(rows[name].to_numpy(dtype=object), key) for name in personal})
