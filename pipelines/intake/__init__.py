"""Partner file intake: every file identified, validated, receipted and loaded or rejected."""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..warehouse import open_warehouse
from .inbox import pending_files
from .process import FileOutcome, process_file, recover
from .pseudonym import MissingKey, require_key
from .retention import apply_retention

__all__ = [
    "FileOutcome",
    "IntakeRun",
    "MissingKey",
    "housekeeping",
    "in_part",
    "pending_files",
    "process_file",
    "run_intake",
]


@dataclass
class IntakeRun:
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def accepted(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "accepted"]


def in_part(inbox: Path, path: Path, part: tuple[int, int]) -> bool:
    """Whether ``path`` falls in the k-th of n shares of the inbox (the same share every run)."""
    k, n = part
    return n <= 1 or zlib.crc32(os.fsencode(os.path.relpath(path, inbox))) % n == k


def housekeeping(settings: Settings, engine) -> list[FileOutcome]:
    """Before each intake run: finish the files a run that died left half done (returning their
    outcomes), sweep its claims, send mail queued during an outage, delete originals past
    retention."""
    from ..mail import flush_queue
    from .claims import sweep_stale

    outcomes = recover(settings, engine)
    sweep_stale(settings.processing, settings.claim_timeout_minutes * 60)
    flush_queue(settings.mail, settings.outbox)
    apply_retention(engine, settings.archive, settings.rejected, settings.retention_days)
    return outcomes


def run_intake(
    settings: Settings,
    files: list[Path] | None = None,
    progress=None,
    *,
    part: tuple[int, int] = (0, 1),
    with_housekeeping: bool = True,
    starting=None,
) -> IntakeRun:
    """Process every ready file in the inbox once (or just ``files``).

    Stops before touching any file when a folder it files things into cannot be written; first
    does the housekeeping (unless told another process does it); a file another run is working on
    at the same time is left to that run. ``part`` (k, n): only the k-th of n shares of the inbox,
    split by a stable hash of each file's path, so n processes can share the work.
    ``progress(i, n, outcome)`` hears each file's outcome, ``starting(i, n, path)`` each file
    about to be looked at (for a progress display)."""
    require_key(settings.pseudonym_key)
    settings.ensure_folders()
    settings.check_writable()
    with open_warehouse(settings.warehouse_url) as engine:
        run = IntakeRun()
        recovered = housekeeping(settings, engine) if with_housekeeping else []
        todo = files if files is not None else pending_files(settings.inbox, settings.settle_seconds)
        todo = [path for path in todo if in_part(settings.inbox, path, part)]
        total = len(recovered) + len(todo)
        for index, outcome in enumerate(recovered, start=1):
            run.outcomes.append(outcome)
            if progress:
                progress(index, total, outcome)
        for index, path in enumerate(todo, start=len(recovered) + 1):
            if starting:
                starting(index, total, path)
            done = process_file(settings, engine, path)
            if done is None:
                continue
            run.outcomes.append(done)
            if progress:
                progress(index, total, done)
        return run
