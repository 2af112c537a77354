"""Pseudonymisation of personal identifiers with HMAC-SHA256.

The same child gets the same pseudonym in every file and year (so re-referrals link), and the
raw identifier cannot be recovered from the warehouse without the secret key. "The same child"
means the same identifier however the file was saved: a spreadsheet program stores an all-digit
identifier as a number and drops its leading zeros (`003003650` comes back as `3003650`), so
identifiers are normalised before hashing (``normalise_identifier``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path


class MissingKey(RuntimeError):
    pass


MISSING_KEY_MESSAGE = (
    "SCORECARD_PSEUDONYM_KEY is not set: intake will not load partner data without the secret "
    "key used to pseudonymise child identifiers. Set it in the environment (or .env), or write it to "
    "$SCORECARD_HOME/pseudonym.key (where `scorecard demo` keeps its own), keeping the same value for "
    "the life of the warehouse."
)


_ALL_DIGITS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes "²" and "٣"


def normalise_identifier(value: str) -> str:
    """The identifier as compared: trimmed, upper-cased and, when it is all digits, without its
    leading zeros (``003003650`` and ``3003650`` are one child; ``0`` stays ``0``; ``MOS00123``
    is unchanged, as no spreadsheet program turns it into a number)."""
    text = value.strip().upper()
    if _ALL_DIGITS.fullmatch(text):
        return text.lstrip("0") or "0"
    return text


def pseudonymise(value: str, key: bytes) -> str:
    """A stable 64-hex-digit pseudonym of ``normalise_identifier(value)``."""
    return hmac.new(key, normalise_identifier(value).encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonymise_all(values: list, key: bytes) -> list:
    """``pseudonymise`` for a column: each distinct identifier is hashed once; blanks stay None."""
    done: dict = {}
    out: list[str | None] = []
    for value in values:
        if value is None or value != value:  # None, or NaN from a typed column
            out.append(None)
            continue
        pseudonym = done.get(value)
        if pseudonym is None:
            pseudonym = done[value] = pseudonymise(str(value), key)
        out.append(pseudonym)
    return out


def require_key(key: bytes | None) -> bytes:
    if not key:
        raise MissingKey(MISSING_KEY_MESSAGE)
    return key


def demo_key(path: Path) -> bytes:
    """The demo's own key: created once, owner-only (0600), reused afterwards."""
    if path.is_file():
        return path.read_text(encoding="utf-8").strip().encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value.encode("utf-8")
