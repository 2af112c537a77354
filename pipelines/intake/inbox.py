"""The inbox folder: which files are ready, which source a subfolder names, and where files go.

Office lock files (``~$…``), hidden files and files still being written (changed within the
last few seconds) are left for the next run. Processed files leave the inbox for ``archive/`` or
``rejected/`` under a new name (UTC timestamp + first 12 hex digits of SHA-256) so nothing is
ever overwritten.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_DOTS = re.compile(r"\.{2,}")
SAFE_NAME_LENGTH = 120
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, formatting (RTL override), undecodable
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


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
    """A partner's file name as one harmless path component: ASCII letters, digits, ``_ - .`` and
    spaces only (no separator, ``..``, control character or leading dot), at most 120
    characters, keeping its extension."""
    cleaned = _DOTS.sub(".", _UNSAFE.sub("_", name)).strip(" .") or "file"
    if len(cleaned) <= SAFE_NAME_LENGTH:
        return cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    if not dot or len(suffix) > 10:
        stem, suffix = cleaned, ""
    stem = stem[: SAFE_NAME_LENGTH - len(suffix) - bool(suffix)].rstrip(" .") or "file"
    return f"{stem}.{suffix}" if suffix else stem


def visible(text: str) -> str:
    """``text`` with control, formatting and undecodable characters written as escapes (a newline
    as ``\\n``, ESC as ``\\x1b``, a right-to-left override as ``\\u202e``), so text from a
    partner can neither forge lines or colours on a terminal nor disguise a file's extension."""
    if text.isprintable():
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _INVISIBLE else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte of a name that was not valid UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text_name(name: str) -> str:
    """A file name as text any database, JSON file or email can hold: bytes of the name that were
    not UTF-8 (which Python keeps as lone surrogates, and which a UTF-8 encoder refuses) written
    as ``\\xNN``; any other name unchanged."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def display_name(name: str, limit: int = 120) -> str:
    """A file (or sheet, or header) name fit to show a person in a terminal line, receipt or
    email subject: ``visible``, and at most ``limit`` characters, keeping the start and the end
    (where the extension is)."""
    if len(name) > 4 * limit:
        name = name[: 2 * limit] + name[-2 * limit:]
    shown = visible(name)
    if len(shown) > limit:
        tail = (limit - 1) // 3
        shown = shown[: limit - 1 - tail] + "\u2026" + shown[len(shown) - tail:]
    return shown


def stamped_name(original: str, sha256: str, when: datetime | None = None) -> str:
    when = when or datetime.now(timezone.utc)
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}_{sha256[:12]}_{safe_name(original)}"


def unique_name(folders, name: str) -> str:
    """``name``, or ``name-1``, ``name-2``...: one not used in any of ``folders``."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, counter = name, 1
    while any((folder / candidate).exists() for folder in folders):
        candidate, counter = f"{stem}-{counter}{suffix}", counter + 1
    return candidate


def move_into(path: Path, target: Path) -> Path:
    """Move a file to ``target`` (owner-only); across volumes, copy to a temporary name, sync,
    rename, then remove the original, so a crash never leaves half a file under the real name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.rename(path, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        partial_copy = target.with_name(f".{target.name}.part")
        shutil.copyfile(path, partial_copy)
        with partial_copy.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(partial_copy, target)
        path.unlink()
    target.chmod(0o600)
    return target
