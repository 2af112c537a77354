"""The inbox folder: which files are ready, which source a subfolder names, and where files go.

Office lock files (``~$…``), hidden files and files still being written (changed within the
last few seconds) are left for the next run. Processed files leave the inbox for ``archive/`` or
``rejected/`` under a new name (UTC timestamp + first 12 hex digits of SHA-256) so nothing is
ever overwritten.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pending_files(inbox: Path, settle_seconds: float = 5.0) -> list[Path]:
    """Files ready to process, oldest first, at any depth below the inbox."""
    if not inbox.is_dir():
        return []
    now = time.time()
    ready = []
    for path in inbox.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(inbox)
        if any(part.startswith(".") or part.startswith("~$") for part in relative.parts):
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:  # taken by another run meanwhile
            continue
        if now - stat.st_mtime < settle_seconds:
            continue
        ready.append((stat.st_mtime, str(path), path))
    return [p for _, _, p in sorted(ready)]


def source_from_folder(inbox: Path, path: Path, source_names) -> str | None:
    """A file in ``inbox/<source>/`` belongs to that source."""
    relative = path.relative_to(inbox)
    if len(relative.parts) > 1 and relative.parts[0] in source_names:
        return relative.parts[0]
    return None


def safe_name(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip(" .") or "file"
    return cleaned[:120]


def stamped_name(original: str, sha256: str, when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}_{sha256[:12]}_{safe_name(original)}"


def move_to(path: Path, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    counter = 1
    while target.exists():
        target = folder / f"{Path(name).stem}-{counter}{Path(name).suffix}"
        counter += 1
    shutil.move(str(path), str(target))
    return target
