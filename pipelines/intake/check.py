"""Check a file without taking it in: everything intake would decide about it, nothing done.

``check_file`` runs intake's own stages on a file (open once without following links, copy and
hash, read and identify, check the rows, decide, pseudonymise) and then stops: it loads nothing,
records nothing, writes no receipt, moves nothing and claims nothing. Instead it asks the
warehouse, read-only, whether the same bytes were already loaded (a duplicate) and how many of
the accepted rows' keys are already there (the rows a resubmission would update). The file may
be anywhere (the inbox or not); its bytes and times are left as they were. The ``scorecard
check`` command and the web portal both show its ``CheckResult``.

Reading and checking run in a child process under the same memory and time limits as intake
(``isolation.py``). Nothing from the partner's cells is logged or shown: the receipt describes
rows by number, column and rule; the rejected rows as sent go only into the rejects workbook,
and only when the caller names a folder for it (``out``).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path, PurePosixPath

import pandas as pd
from sqlalchemy import Engine, func, inspect, select, tuple_
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..sources import Source, load_sources
from ..warehouse import WarehouseUnavailable
from ..warehouse.engine import connect_warehouse
from ..warehouse.schema import table_for, warehouse_column_name
from .checking import check_rows
from .columns import DATE_KINDS
from .entries import NotAFile, Opened, open_entry, relative_to_inbox
from .examine import decide, pseudonymised, read_and_identify
from .identify import Unidentified
from .inbox import safe_name, text_name
from .isolation import ChildError, LimitExceeded, Limits, run_limited
from .loading import accepted_load_with_hash, stored_values
from .process import duplicate_receipt, folder_source_of, limit_message
from .pseudonym import require_key
from .reading import MB, UnreadableFile, too_large
from .receipts import Receipt, render_text, write_rejects
from .snapshot import FileChanged, Snapshot, TooLarge, copy_from, hash_unread

KEYS_PER_QUERY = 500  # keys asked about in one statement (well under both engines' bind limits)


class CheckError(Exception):
    """The file could not be checked (not found, a folder, changing while read): one line."""


@dataclass(frozen=True)
class CheckResult:
    """What intake would decide about a file: its would-be receipt, and for an accepted file how
    many of its rows would update rows already in the warehouse (a resubmission) and how many
    would be new."""

    path: str
    receipt: Receipt
    would_update: int = 0
    would_insert: int = 0

    @property
    def accepted(self) -> bool:
        return self.receipt.status == "accepted"

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "would_be": self.receipt.status,
            "would_update": self.would_update,
            "would_insert": self.would_insert,
            "receipt": self.receipt.to_dict(),
        }

    def text(self) -> str:
        """The receipt as the sender would get it, under a line saying nothing was done."""
        status = self.receipt.status
        verdict = "a DUPLICATE (nothing would be loaded)" if status == "duplicate" else status.upper()
        lines = [f"CHECK ONLY (nothing was loaded, recorded or moved): this file would be {verdict}"]
        if self.accepted:
            if self.would_update:
                lines.append(
                    f"Resubmission: {self.would_update:,} of its {self.would_update + self.would_insert:,} accepted "
                    f"rows would replace rows already in the warehouse (sent before); {self.would_insert:,} would be new"
                )
            else:
                lines.append(f"All {self.would_insert:,} accepted rows would be new to the warehouse")
        lines.append("")
        lines.append(render_text(self.receipt).rstrip("\n"))
        if self.receipt.rows_rejected and not self.receipt.rejects_file:
            lines.append("")
            lines.append("(The rejected rows as sent were not written: give --out DIR to write them.)")
        return "\n".join(lines) + "\n"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def check_file(settings: Settings, path: Path, out: Path | None = None, *, source: str | None = None) -> CheckResult:
    """Everything intake would decide about the file at ``path``, without loading, recording or
    moving anything; the rejected rows as sent go into ``out`` (when given) as a rejects
    workbook. ``source``: the source the file is said to be of, as if it were in
    ``inbox/<source>/`` (the portal: the data officer's choice). ``CheckError`` when there is no
    file to check; ``WarehouseUnavailable`` when the warehouse cannot be asked."""
    require_key(settings.pseudonym_key)
    path = Path(path)
    sources = load_sources()
    received = _now()
    receipt = Receipt(
        file=text_name(path.name),
        sha256="",
        received_at=received.strftime("%Y-%m-%d %H:%M:%S"),
        status="rejected",
        summary="",
    )
    if source is not None and source not in sources:
        raise CheckError(f"no source {source!r}")
    folder_source = source or _in_inbox_folder(settings, path, sources)
    if folder_source:
        receipt = receipt.of_source(sources[folder_source])
    if path.name.startswith((".", "~$")):
        receipt = receipt.replace(
            notes=[
                "A file whose name starts with '.' or '~$' (hidden, or an Office lock file) is not picked up from "
                "the inbox: rename it before sending"
            ]
        )
    try:
        opened = _open(settings, path)
    except NotAFile as refused:
        return CheckResult(str(path), receipt.replace(summary=str(refused)))
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except OSError as exc:
        return CheckResult(
            str(path), receipt.replace(summary=f"the file could not be opened ({exc.strerror or type(exc).__name__})")
        )
    if opened is None:
        raise CheckError(f"{path}: no such file (or it is a folder)")
    workdir = Path(tempfile.mkdtemp(prefix="scorecard-check-"))  # owner-only
    try:
        try:
            copy, sha, size = copy_from(opened, workdir, int(settings.max_file_mb * MB))
        except TooLarge as big:
            try:
                sha = hash_unread(opened)
            except FileChanged:
                raise CheckError(f"{path}: the file changed while it was read; check it again when complete") from None
            return CheckResult(
                str(path), receipt.replace(sha256=sha, summary=too_large(big.size, settings.max_file_mb))
            )
        except FileChanged:
            raise CheckError(f"{path}: the file changed while it was read; check it again when complete") from None
        finally:
            opened.close()
        receipt = receipt.replace(sha256=sha)
        duplicate = _already_loaded(settings.warehouse_url, sha)
        if duplicate:
            return CheckResult(str(path), duplicate_receipt(receipt, duplicate, sources))
        snapshot = Snapshot(
            path=copy, sha256=sha, size=size, name=text_name(path.name), relative=text_name(path.name), identity=None
        )
        return _examined(settings, snapshot, receipt, folder_source, out, str(path))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _open(settings: Settings, path: Path) -> Opened | None:
    """The file opened once, as intake opens an inbox entry (``open_entry``: never through a
    link, a plain file only). A file in the inbox is held to every rule intake holds it to; one
    elsewhere may also have other names (hard links) or live on another filesystem, as the copy
    put into the inbox will not."""
    try:
        relative_to_inbox(settings.inbox, path)
        in_inbox = True
    except ValueError:
        in_inbox = False
    return open_entry(path.parent, PurePosixPath(path.name), inbox_rules=in_inbox)


def _in_inbox_folder(settings: Settings, path: Path, sources) -> str | None:
    """The source a file in ``inbox/<source>/`` is said to be of (as intake decides it)."""
    try:
        relative = relative_to_inbox(settings.inbox, path)
    except ValueError:
        return None
    return folder_source_of(str(relative), sources)


def _examined(
    settings: Settings, snapshot: Snapshot, receipt: Receipt, folder_source: str | None, out: Path | None, shown: str
) -> CheckResult:
    from .expectations import prepare

    prepare()
    limits = Limits(memory_mb=settings.file_memory_mb, seconds=settings.file_seconds)
    stem = Path(safe_name(snapshot.name)).stem
    work = partial(_examine_only, settings, snapshot, receipt, folder_source, out, stem)
    try:
        result = run_limited(work, limits)
    except LimitExceeded as exc:
        return CheckResult(shown, receipt.replace(summary=limit_message(exc, settings)))
    except (SQLAlchemyError, WarehouseUnavailable) as exc:
        raise WarehouseUnavailable(f"the warehouse could not be asked about {shown}: {type(exc).__name__}") from None
    except ChildError as exc:
        raise CheckError(f"{shown}: the check failed with an internal error ({exc})") from None
    return CheckResult(
        shown,
        Receipt.from_dict(result["receipt"]),
        would_update=result.get("would_update", 0),
        would_insert=result.get("would_insert", 0),
    )


def _examine_only(
    settings: Settings, snapshot: Snapshot, receipt: Receipt, folder_source: str | None, out: Path | None, stem: str
) -> dict:
    """In the child: intake's examine up to the load, and instead of loading, count the keys."""
    try:
        layout = read_and_identify(settings, snapshot, folder_source, {})
        receipt = receipt.of_layout(layout)
        checked = check_rows(layout)
    except (UnreadableFile, Unidentified) as exc:
        return {"receipt": receipt.replace(summary=str(exc)).to_dict()}
    decision = decide(checked.checks, settings.reject_threshold)
    rejects = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        rejects = write_rejects(out, stem, layout.sheet.rows[layout.header_index], checked.problems)
    receipt = receipt.decided(decision, rejects)
    if decision.status != "accepted":
        return {"receipt": receipt.to_dict()}
    rows = pseudonymised(checked.rows, layout.source, settings.pseudonym_key)
    present = existing_rows(settings.warehouse_url, layout.source, rows)
    return {"receipt": receipt.to_dict(), "would_update": present, "would_insert": len(rows) - present}


def _reader(url: str) -> Engine | None:
    """An engine to read the warehouse with, or ``None`` when there is none yet (a SQLite file
    not yet made: it is not created by looking)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).is_file():
            return None
    return connect_warehouse(url)


def _already_loaded(url: str, sha256: str) -> dict | None:
    engine = _reader(url)
    if engine is None:
        return None
    try:
        if not inspect(engine).has_table("load_files"):
            return None
        return accepted_load_with_hash(engine, sha256)
    except SQLAlchemyError as exc:
        raise WarehouseUnavailable(f"the warehouse could not be reached: {type(exc).__name__}") from None
    finally:
        engine.dispose()


def _key_values(series: pd.Series, kind: str) -> list:
    """A key column's values as the warehouse's column type binds them."""
    if kind == "date":
        return [None if pd.isna(v) else pd.Timestamp(v).date() for v in series]
    if kind in DATE_KINDS:
        return [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in series]
    return stored_values(series, kind)


def existing_rows(url: str, source: Source, rows: pd.DataFrame) -> int:
    """How many of ``rows`` (typed and pseudonymised) have a key already in the source's table:
    the rows a load would update rather than insert. Read-only."""
    engine = _reader(url)
    if engine is None or rows.empty:
        return 0
    try:
        table = table_for(source.name)
        if not inspect(engine).has_table(table.name):
            return 0
        columns = {c.name: c for c in source.columns}
        key_columns = [table.c[warehouse_column_name(columns[name])] for name in source.key]
        values = [_key_values(rows[name], columns[name].type) for name in source.key]
        keys = list(zip(*values))
        found = 0
        with engine.connect() as conn:
            for start in range(0, len(keys), KEYS_PER_QUERY):
                chunk = keys[start : start + KEYS_PER_QUERY]
                if len(key_columns) == 1:
                    condition = key_columns[0].in_([k[0] for k in chunk])
                else:
                    condition = tuple_(*key_columns).in_(chunk)
                found += conn.execute(select(func.count()).select_from(table).where(condition)).scalar_one()
        return int(found)
    finally:
        engine.dispose()
