"""Pseudonymisation of personal identifiers with HMAC-SHA256.

The same child gets the same pseudonym in every file and year (so re-referrals link), and the
raw identifier cannot be recovered from the warehouse without the secret key. "The same child"
means the same identifier however the file was saved: a spreadsheet program stores an all-digit
identifier as a number and drops its leading zeros (`003003650` comes back as `3003650`), so
identifiers are normalised before hashing (``normalise_identifier``).
"""

from __future__ import annotations

import hashlib
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
    """A stable 64-hex-digit pseudonym of ``normalise_identifier(value)``: its HMAC-SHA256."""
    return Hasher(key)(value)


class Hasher:
    """HMAC-SHA256 under one key, for many values: the key's inner and outer SHA-256 states are
    worked out once (RFC 2104) and copied for each value, which is three times faster than
    ``hmac.new`` per value (setting up an HMAC is most of its cost for a short identifier).
    ``tests/test_pseudonym.py`` checks it against the standard library's ``hmac`` for keys of
    every length."""

    def __init__(self, key: bytes):
        block = hashlib.sha256(key).digest() if len(key) > 64 else key
        block = block.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(normalise_identifier(value).encode("utf-8"))
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def pseudonymise_all(values, key: bytes) -> list:
    """``pseudonymise`` for a column (a list or array): each distinct identifier is hashed once
    (found by ``pandas.factorize``, in C); blanks (None, NaN) stay None."""
    import numpy as np
    import pandas as pd

    hasher = Hasher(key)
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    hashed = np.empty(len(uniques) + 1, dtype=object)  # the last: None, for code -1 (a blank)
    hashed[:-1] = [hasher(str(value)) for value in uniques]
    return hashed[codes].tolist()


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
