"""Signing in: a password checked against its argon2id hash, failures counted, the account
locked at ``lock_after`` wrong passwords in a row (the sixth, by default) until the analyst
resets it. The answer to a failed sign-in never says whether the account exists."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from ..config import PortalSettings
from ..warehouse.schema import portal_users
from .accounts import PortalUser, find_user, utcnow
from .passwords import verify_password
from .sessions import end_sessions_of

FAILED = "That email address and password do not match an account that can sign in."
LOCKED = (
    "This account is locked after too many wrong passwords. Ask the partnership's analyst to reset it; "
    "you will be emailed a link to set a new password."
)


@dataclass(frozen=True)
class SignIn:
    user: PortalUser | None
    message: str | None  # why not, in plain English
    just_locked: bool = False


def sign_in(engine: Engine, email: str, password: str, portal: PortalSettings) -> SignIn:
    user = find_user(engine, email)
    with engine.connect() as conn:
        stored = (
            conn.execute(select(portal_users.c.password_hash).where(portal_users.c.user_id == user.user_id)).scalar()
            if user
            else None
        )
    matches = verify_password(stored, password)  # always hashes, so timing tells nothing
    if user is None or user.disabled:
        return SignIn(None, FAILED)
    if user.locked:
        return SignIn(None, LOCKED)
    if matches:
        with engine.begin() as conn:
            conn.execute(update(portal_users).where(portal_users.c.user_id == user.user_id).values(failed_logins=0))
        return SignIn(user, None)
    with engine.begin() as conn:
        conn.execute(
            update(portal_users)
            .where(portal_users.c.user_id == user.user_id)
            .values(failed_logins=portal_users.c.failed_logins + 1)
        )
        failures: int = conn.execute(
            select(portal_users.c.failed_logins).where(portal_users.c.user_id == user.user_id)
        ).scalar_one()
        if failures >= portal.lock_after:
            conn.execute(update(portal_users).where(portal_users.c.user_id == user.user_id).values(locked_at=utcnow()))
    if failures >= portal.lock_after:
        end_sessions_of(engine, user.user_id)
        return SignIn(None, LOCKED, just_locked=True)
    return SignIn(None, FAILED)
