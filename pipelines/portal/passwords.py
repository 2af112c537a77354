"""Password hashes: argon2id (argon2-cffi's defaults, RFC 9106's second recommended option).

Only the hash is stored; a password is never logged, never stored in clear, never emailed."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()  # argon2id

MIN_PASSWORD_LENGTH = 12


class WeakPassword(ValueError):
    """A password the portal will not accept, with why in plain English."""


def check_strength(password: str) -> None:
    """NCSC's advice: length over complexity. Twelve characters or more, not all one character."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"a password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(set(password)) < 4:
        raise WeakPassword("a password must not repeat the same few characters")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or damaged hash never matches."""
    if not password_hash:
        # Spend the same time as a real check, so a missing account is not told apart by timing.
        _HASHER.hash(password)
        return False
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
