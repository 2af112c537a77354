"""Portal accounts: who may sign in, with which role, and for which sources.

Roles: ``data_officer`` (the sources named for them, and commentary on their indicators),
``analyst`` (everything) and ``board`` (the scorecards only). What each role may do is decided here (``PortalUser.can_*``) and only
here: pages and downloads ask, they never compare role names themselves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select, update

from ..warehouse.schema import portal_user_sources, portal_users

DATA_OFFICER, ANALYST, BOARD = "data_officer", "analyst", "board"
ROLES = (DATA_OFFICER, ANALYST, BOARD)


class AccountError(ValueError):
    """A request about accounts that cannot be done, with why in plain English."""


def utcnow() -> datetime:
    """Naive UTC, as every portal time is stored."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class PortalUser:
    user_id: int
    email: str
    role: str
    sources: frozenset[str]
    disabled: bool = False
    locked: bool = False
    has_password: bool = False

    @property
    def is_analyst(self) -> bool:
        return self.role == ANALYST

    def can_see_source(self, source: str | None) -> bool:
        """Returns, submissions, receipts and rejects of ``source``: the analyst sees every
        source, a data officer only their own, the board none."""
        if self.role == ANALYST:
            return True
        return self.role == DATA_OFFICER and source is not None and source in self.sources

    @property
    def can_submit(self) -> bool:
        return self.role in (DATA_OFFICER, ANALYST)

    @property
    def can_comment(self) -> bool:
        """Enter commentary on some indicators (``can_comment_on`` says which)."""
        return self.role in (DATA_OFFICER, ANALYST)

    def can_comment_on(self, source: str | None) -> bool:
        """Commentary on an indicator whose catalogue ``source`` is this: the analyst on any
        indicator, a data officer on their own sources' indicators, the board on none."""
        return self.can_comment and self.can_see_source(source)

    @property
    def can_read_scorecards(self) -> bool:
        return self.role in (BOARD, ANALYST)

    def visible_sources(self, all_sources: Iterable[str]) -> list[str]:
        return [s for s in all_sources if self.can_see_source(s)]

    @property
    def state(self) -> str:
        """What ``scorecard users list`` and the accounts page show: ``disabled``, ``locked``,
        ``no password yet`` or ``active`` (the first that applies)."""
        if self.disabled:
            return "disabled"
        if self.locked:
            return "locked"
        if not self.has_password:
            return "no password yet"
        return "active"


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@") or any(c.isspace() for c in email):
        raise AccountError(f"{email!r} is not an email address")
    return email


def _user(engine: Engine, where) -> PortalUser | None:
    with engine.connect() as conn:
        row = conn.execute(select(portal_users).where(where)).mappings().first()
        if row is None:
            return None
        sources: list[str] = list(
            conn.execute(
                select(portal_user_sources.c.source).where(portal_user_sources.c.user_id == row["user_id"])
            ).scalars()
        )
        return PortalUser(
            user_id=row["user_id"],
            email=row["email"],
            role=row["role"],
            sources=frozenset(sources),
            disabled=row["disabled_at"] is not None,
            locked=row["locked_at"] is not None,
            has_password=row["password_hash"] is not None,
        )


def get_user(engine: Engine, user_id: int) -> PortalUser | None:
    return _user(engine, portal_users.c.user_id == user_id)


def find_user(engine: Engine, email: str) -> PortalUser | None:
    return _user(engine, portal_users.c.email == email.strip().lower())


def password_hash_of(engine: Engine, user_id: int) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(portal_users.c.password_hash).where(portal_users.c.user_id == user_id)).scalar()


def add_user(
    engine: Engine,
    email: str,
    role: str,
    sources: Iterable[str] = (),
    *,
    known_sources: Iterable[str] | None = None,
    password_hash: str | None = None,
) -> PortalUser:
    """Create an account. A data officer needs at least one source; other roles take none."""
    email = normalise_email(email)
    sources = sorted(set(sources))
    if role not in ROLES:
        raise AccountError(f"no role {role!r}: the roles are {', '.join(ROLES)}")
    if role == DATA_OFFICER and not sources:
        raise AccountError("a data officer needs at least one --source")
    if role != DATA_OFFICER and sources:
        raise AccountError(f"only a data officer has sources: an {role} sees what the role allows")
    if known_sources is not None:
        unknown = [s for s in sources if s not in set(known_sources)]
        if unknown:
            raise AccountError(f"no source {', '.join(unknown)}: the sources are {', '.join(known_sources)}")
    now = utcnow()
    with engine.begin() as conn:
        if conn.execute(select(func.count()).where(portal_users.c.email == email)).scalar():
            raise AccountError(f"{email} already has an account")
        user_id: int = conn.execute(
            insert(portal_users).values(
                email=email,
                role=role,
                password_hash=password_hash,
                created_at=now,
                password_set_at=now if password_hash else None,
                failed_logins=0,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        if sources:
            conn.execute(insert(portal_user_sources), [{"user_id": user_id, "source": s} for s in sources])
    user = get_user(engine, user_id)
    assert user is not None
    return user


def set_password_hash(engine: Engine, user_id: int, password_hash: str) -> None:
    """A new password: it also unlocks the account and clears the failure count."""
    with engine.begin() as conn:
        conn.execute(
            update(portal_users)
            .where(portal_users.c.user_id == user_id)
            .values(password_hash=password_hash, password_set_at=utcnow(), failed_logins=0, locked_at=None)
        )


def existing_user(engine: Engine, email: str) -> PortalUser:
    """The account of ``email``, or ``AccountError`` saying there is none."""
    user = find_user(engine, email)
    if user is None:
        raise AccountError(f"no account {email.strip().lower()}: scorecard users list shows the accounts")
    return user


def disable_user(engine: Engine, user_id: int) -> None:
    """No more sign-ins; the caller ends the user's sessions (``sessions.end_sessions_of``), and
    every session is checked against ``disabled_at`` on each request anyway."""
    with engine.begin() as conn:
        conn.execute(
            update(portal_users)
            .where(portal_users.c.user_id == user_id, portal_users.c.disabled_at.is_(None))
            .values(disabled_at=utcnow())
        )


def enable_user(engine: Engine, user_id: int) -> None:
    """Undo ``disable_user``: the user signs in again with the password they had (or by a link)."""
    with engine.begin() as conn:
        conn.execute(update(portal_users).where(portal_users.c.user_id == user_id).values(disabled_at=None))


def clear_password(engine: Engine, user_id: int) -> None:
    """A reset: no password (until the user sets one by the emailed link), unlocked, no failures."""
    with engine.begin() as conn:
        conn.execute(
            update(portal_users)
            .where(portal_users.c.user_id == user_id)
            .values(password_hash=None, password_set_at=None, failed_logins=0, locked_at=None)
        )


def list_users(engine: Engine) -> list[PortalUser]:
    with engine.connect() as conn:
        ids: list[int] = list(conn.execute(select(portal_users.c.user_id).order_by(portal_users.c.email)).scalars())
    return [u for u in (get_user(engine, i) for i in ids) if u is not None]
