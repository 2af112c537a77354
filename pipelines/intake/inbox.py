"""The inbox folder: which files are ready, which source a subfolder names, and where files go.

Office lock files (``~$…``), hidden files and files still being written (changed within the
last few seconds) are left for the next run. Processed files leave the inbox for ``archive/`` or
``rejected/`` under a new name (UTC timestamp + first 12 hex digits of SHA-256) so nothing is
ever overwritten. Names from partners are shown with their control characters made visible.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_DOTS = re.compile(r"\.{2,}")
SAFE_NAME_LENGTH = 120
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # controls, formatting (RTL override), undecodable
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def changed_at(mtime: float, ctime: float, now: float) -> float:
    """When an entry last changed, for deciding whether it has settled: its modification time, as
    the writing program left it, unless that is in the future (the sending computer's clock is
    wrong), when the change time is used instead, which the kernel sets from this machine's own
    clock (otherwise the file would never settle)."""
    return mtime if mtime <= now else ctime


def pending_files(inbox: Path, settle_seconds: float = 5.0, now: float | None = None) -> list[Path]:
    """Entries ready to process, oldest first, at any depth below the inbox.

    Folders are walked without following links; every other entry is listed (a link or a pipe
    too, so that it is refused with a receipt rather than ignored in silence), except names
    starting with ``.`` or ``~$`` and entries changed within the last ``settle_seconds``."""
    if not inbox.is_dir():
        return []
    now = time.time() if now is None else now
    ready: list[tuple[float, str, Path]] = []
    folders = [inbox]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.name.startswith((".", "~$")):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                    continue
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # taken by another run meanwhile
                continue
            changed = changed_at(info.st_mtime, info.st_ctime, now)
            if now - changed < settle_seconds:
                continue
            ready.append((changed, entry.path, Path(entry.path)))
    return [p for _, _, p in sorted(ready)]


def clock_skew_note(mtime_ns: int, now: float, settle_seconds: float) -> str | None:
    """A receipt note for a file whose modification time is in the future by this server's clock."""
    ahead = mtime_ns / 1e9 - now
    if ahead <= max(settle_seconds, 60):
        return None
    hours = ahead / 3600
    how_far = f"{hours:,.0f} hours" if hours >= 2 else f"{ahead / 60:,.0f} minutes"
    return (
        f"The file's modification time was {how_far} in the future by this server's clock: the clock of the "
        "computer that saved it may be wrong. It was taken once it had stayed unchanged for the settle time."
    )


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
        name = name[: 2 * limit] + name[-2 * limit :]
    shown = visible(name)
    if len(shown) > limit:
        tail = (limit - 1) // 3
        shown = shown[: limit - 1 - tail] + "\u2026" + shown[len(shown) - tail :]
    return shown


def stamped_name(original: str, sha256: str, when: datetime | None = None) -> str:
    when = when or datetime.now(UTC)
    return f"{when.strftime('%Y%m%dT%H%M%SZ')}_{sha256[:12]}_{safe_name(original)}"


def unique_name(folders, name: str) -> str:
    """``name``, or ``name-1``, ``name-2``...: one not used in any of ``folders``."""
    stem, suffix = Path(name).stem, Path(name).suffix
    candidate, counter = name, 1
    while any((folder / candidate).exists() for folder in folders):
        candidate, counter = f"{stem}-{counter}{suffix}", counter + 1
    return candidate
