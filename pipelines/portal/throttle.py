"""Sign-in throttling, beyond the lock: guessing passwords is made slow.

The failures are the audit log's own (``login_failed`` and ``account_locked`` rows, each with the
email as typed and the remote address), so the count survives a restart and is shared by every
process serving the portal; nothing else is stored.

- Per remote address: up to ``ADDRESS_FREE`` (10) failed sign-ins in ``WINDOW`` (15 minutes)
  go through at once, whatever the accounts tried (guessing one password across many accounts
  is slowed, not only many passwords for one).
- Per account (the email typed, whether or not an account has it): up to ``ACCOUNT_FREE`` (10)
  failures in the window, from any number of addresses. An account is locked at its sixth wrong
  password before that (``signin.py``, until the analyst resets it; with ``lock_after`` set
  higher, this slows the guessing first); past it, attempts at the same email are slowed too, so a
  locked account or an email with no account cannot be hammered (each attempt costs an argon2
  hash). A successful sign-in, a password set by link, or a reset starts the account's count again.

Past the free attempts, the next one must wait ``2 ** (failures - free)`` seconds after the latest
failure (1 s, 2 s, 4 s, ... at most ``MAX_WAIT``, 15 minutes); an attempt sooner is answered
``429 Too Many Requests`` with ``Retry-After``, its password not even checked, and audited as
``login_throttled`` (which does not count as a failure). Failures older than the window no
longer count. Behind a proxy, the remote address is the client's only when uvicorn trusts the
proxy's ``X-Forwarded-For`` (``FORWARDED_ALLOW_IPS``, README "The portal: accounts and security")."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from ..warehouse.schema import portal_audit
from .accounts import utcnow

WINDOW = timedelta(minutes=15)
ADDRESS_FREE = 10
ACCOUNT_FREE = 10
MAX_WAIT = 15 * 60  # seconds
FAILURES = ("login_failed", "account_locked")
FRESH_START = ("login", "password_set", "user_reset")  # an account's count starts again after these


def wait_after(failures: int, free: int) -> float:
    """Seconds the next attempt must wait after the latest of ``failures`` (0 while within ``free``)."""
    if failures < free:
        return 0.0
    return float(min(2 ** min(failures - free, 20), MAX_WAIT))


def _failures(engine: Engine, where, since: datetime) -> tuple[int, datetime | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.max(portal_audit.c.at)).where(
                portal_audit.c.action.in_(FAILURES), portal_audit.c.at > since, where
            )
        ).one()
    count: int = row[0] or 0
    latest: datetime | None = row[1]
    return count, latest


def seconds_to_wait(engine: Engine, email: str, remote: str | None, *, now: datetime | None = None) -> int:
    """How long this address or this email must wait before its next attempt (0: go ahead)."""
    now = now or utcnow()
    since = now - WINDOW
    waits = [0.0]
    if remote:
        count, latest = _failures(engine, portal_audit.c.remote == remote[:64], since)
        if latest is not None:
            waits.append(wait_after(count, ADDRESS_FREE) - (now - latest).total_seconds())
    email = email.strip().lower()[:254]
    if email:
        with engine.connect() as conn:
            fresh = conn.execute(
                select(func.max(portal_audit.c.at)).where(
                    portal_audit.c.action.in_(FRESH_START), portal_audit.c.at > since, portal_audit.c.email == email
                )
            ).scalar()
        count, latest = _failures(engine, portal_audit.c.email == email, max(since, fresh or since))
        if latest is not None:
            waits.append(wait_after(count, ACCOUNT_FREE) - (now - latest).total_seconds())
    return math.ceil(max(waits))


def wait_in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def message(seconds: int) -> str:
    return (
        f"Too many sign-in attempts from here or for this account. Wait {wait_in_words(seconds)}, then try again. "
        "If your account is locked, ask the partnership's analyst to reset it."
    )
