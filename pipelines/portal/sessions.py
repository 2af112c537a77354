"""Server-side sessions: the cookie holds a random token, the warehouse only its SHA-256.

A session ends on logout, after ``idle_minutes`` unused, ``session_hours`` after sign-in however
busy, and at once when its user is disabled or locked (checked on every request). Each session
has its own CSRF token, which every form of a signed-in page carries."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update

from ..config import PortalSettings
from ..warehouse.schema import portal_sessions, portal_users
from .accounts import PortalUser, get_user, utcnow

# Within this long of the last recorded use, a request does not write last_seen_at again.
TOUCH_SECONDS = 30


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Session:
    user: PortalUser
    csrf_token: str
    session_hash: str


def start_session(engine: Engine, user_id: int) -> str:
    """A new session for ``user_id``; returns the token for the cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            portal_sessions.insert().values(
                session_hash=token_hash(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                last_seen_at=now,
            )
        )
    return token


def current_session(
    engine: Engine, token: str | None, portal: PortalSettings, now: datetime | None = None
) -> Session | None:
    """The live session of ``token``, or None (ending it when it has just expired)."""
    if not token:
        return None
    digest = token_hash(token)
    now = now or utcnow()
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(portal_sessions, portal_users.c.disabled_at, portal_users.c.locked_at)
                .join(portal_users, portal_users.c.user_id == portal_sessions.c.user_id)
                .where(portal_sessions.c.session_hash == digest, portal_sessions.c.ended_at.is_(None))
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    expired = (
        now - row["last_seen_at"] > timedelta(minutes=portal.idle_minutes)
        or now - row["created_at"] > timedelta(hours=portal.session_hours)
        or row["disabled_at"] is not None
        or row["locked_at"] is not None
    )
    if expired:
        end_session(engine, token)
        return None
    user = get_user(engine, row["user_id"])
    if user is None:
        return None
    if (now - row["last_seen_at"]).total_seconds() > TOUCH_SECONDS:
        with engine.begin() as conn:
            conn.execute(
                update(portal_sessions).where(portal_sessions.c.session_hash == digest).values(last_seen_at=now)
            )
    return Session(user=user, csrf_token=row["csrf_token"], session_hash=digest)


def end_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(portal_sessions)
            .where(portal_sessions.c.session_hash == token_hash(token), portal_sessions.c.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def end_sessions_of(engine: Engine, user_id: int) -> int:
    """End every live session of a user (disabled, locked, or their password reset)."""
    with engine.begin() as conn:
        return conn.execute(
            update(portal_sessions)
            .where(portal_sessions.c.user_id == user_id, portal_sessions.c.ended_at.is_(None))
            .values(ended_at=utcnow())
        ).rowcount
