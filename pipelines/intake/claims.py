"""Claims: one process at a time works on a file's content.

Two intake runs may overlap (two Airflow workers, or a person running ``scorecard intake``
while the DAG runs). Before processing, a run claims the file's SHA-256 by creating
``processing/<sha256>.claim`` exclusively (its snapshot and a note of where it came from lie
beside it: ``snapshot.py``). The partner's file stays in the inbox until it is finished, so a
failure or crash at any point leaves it there for the next run. A claim whose owner died (same host, process gone) or that is older than the
timeout is stale and is broken.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Claim:
    path: Path

    def release(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass


def _owner_alive(info: dict) -> bool:
    if info.get("host") != socket.gethostname():
        return True  # another machine's process: only the timeout can tell
    try:
        os.kill(int(info.get("pid", 0)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def _is_stale(path: Path, timeout_seconds: float) -> bool:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        age = time.time() - path.stat().st_mtime
    except (FileNotFoundError, ValueError):
        return True
    return age > timeout_seconds or not _owner_alive(info)


def _create(path: Path, about: dict) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(), "about": about}, handle)
    return True


def claim(folder: Path, sha256: str, about: dict, timeout_seconds: float) -> Claim | None:
    """Claim ``sha256`` for this process, or ``None`` if a live process holds it. ``about`` says
    what the claim is for, for a person looking at ``processing/``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.claim"
    if _create(path, about):
        return Claim(path)
    with _breaking(folder):  # one breaker at a time, so a fresh claim is never taken for the stale one
        if path.exists() and not _is_stale(path, timeout_seconds):
            return None
        _break(path)
        return Claim(path) if _create(path, about) else None


@contextlib.contextmanager
def _breaking(folder: Path):
    """An exclusive lock on the folder itself (no lock file to leave behind)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def held(folder: Path, sha256: str, timeout_seconds: float) -> bool:
    """A live process holds this content's claim."""
    path = folder / f"{sha256}.claim"
    return path.exists() and not _is_stale(path, timeout_seconds)


def _break(path: Path) -> None:
    """Remove a stale claim: only one breaker wins the rename, so two never both proceed."""
    broken = path.with_name(f".stale-{path.stem[:12]}-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(broken)
    except FileNotFoundError:
        return
    broken.unlink(missing_ok=True)


def sweep_stale(folder: Path, timeout_seconds: float) -> int:
    """Remove claims left by runs that died (their file may already be finished)."""
    swept = 0
    for path in folder.glob("*.claim") if folder.is_dir() else ():
        with _breaking(folder):
            if path.exists() and _is_stale(path, timeout_seconds):
                _break(path)
                swept += 1
    return swept
