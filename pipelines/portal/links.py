"""One-time links to set a password: ``{portal.url}/set-password?token=...``, emailed to a new
user (``scorecard users add`` without ``--password-stdin``) and after ``scorecard users reset``.

The token is 32 random bytes; the warehouse keeps only its SHA-256 (``portal_tokens``), so a
copy of the warehouse opens no account. A link works once, for ``link_hours`` (72 by default);
issuing a new link for a user retires any earlier one still unused, so only the newest works.
The email names the portal and the link, nothing else: no role, no source, no identifier."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import quote

from sqlalchemy import Engine, insert, select, update

from ..config import Settings
from ..warehouse.schema import portal_tokens
from .accounts import PortalUser, get_user, utcnow
from .sessions import token_hash

SET_PASSWORD = "set_password"

EXPIRED = "This link has expired. Ask the partnership's analyst for a new one (they run a reset, and you are emailed a fresh link)."
USED = "This link has already been used, or a newer link has replaced it. Sign in with your password, or ask the partnership's analyst for a new link."
UNKNOWN = (
    "This link is not one the portal sent, or it was copied only in part. Open the link from the email again, whole."
)
DISABLED = "This account is disabled. Ask the partnership's analyst if you need it."


@dataclass(frozen=True)
class Link:
    """A link that works now, and whose it is."""

    user: PortalUser
    expires_at: datetime


class LinkRefused(ValueError):
    """A link that does not work (expired, used, unknown, or its account disabled): the message
    says so in plain English."""


def issue_link(engine: Engine, user_id: int, hours: float, *, now: datetime | None = None) -> str:
    """A new one-time token for ``user_id`` (returned once, for the email; only its hash is kept)."""
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            update(portal_tokens)
            .where(
                portal_tokens.c.user_id == user_id,
                portal_tokens.c.purpose == SET_PASSWORD,
                portal_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)  # only the newest link works
        )
        conn.execute(
            insert(portal_tokens).values(
                token_hash=token_hash(token),
                user_id=user_id,
                purpose=SET_PASSWORD,
                created_at=now,
                expires_at=now + timedelta(hours=hours),
            )
        )
    return token


def live_link(engine: Engine, token: str | None, *, now: datetime | None = None) -> Link:
    """The link of ``token`` if it works now; else ``LinkRefused`` saying why."""
    if not token or len(token) > 200:
        raise LinkRefused(UNKNOWN)
    now = now or utcnow()
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(portal_tokens).where(
                    portal_tokens.c.token_hash == token_hash(token), portal_tokens.c.purpose == SET_PASSWORD
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise LinkRefused(UNKNOWN)
    if row["used_at"] is not None:
        raise LinkRefused(USED)
    if now >= row["expires_at"]:
        raise LinkRefused(EXPIRED)
    user = get_user(engine, row["user_id"])
    if user is None:
        raise LinkRefused(UNKNOWN)
    if user.disabled:
        raise LinkRefused(DISABLED)
    return Link(user=user, expires_at=row["expires_at"])


def use_link(engine: Engine, token: str, *, now: datetime | None = None) -> bool:
    """Mark the link used; False when another request used it first (so it works only once)."""
    with engine.begin() as conn:
        return (
            conn.execute(
                update(portal_tokens)
                .where(portal_tokens.c.token_hash == token_hash(token), portal_tokens.c.used_at.is_(None))
                .values(used_at=now or utcnow())
            ).rowcount
            == 1
        )


def link_url(portal_url: str, token: str) -> str:
    return f"{portal_url.rstrip('/')}/set-password?token={quote(token, safe='')}"


def link_email(settings: Settings, user: PortalUser, token: str, *, reset: bool) -> EmailMessage:
    """The email carrying the link: where to go, how long it works, what to do if unexpected."""
    hours = settings.portal.link_hours
    lasts = f"{hours:g} hours" if hours != 1 else "1 hour"
    why = (
        "The partnership's analyst has reset your account for the safeguarding scorecard portal."
        if reset
        else "The partnership's analyst has given you an account on the safeguarding scorecard portal."
    )
    message = EmailMessage()
    message["Subject"] = "Set your password for the safeguarding scorecard portal"
    message["From"] = settings.mail.sender
    message["To"] = user.email
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="lscp-scorecard")
    message.set_content(
        f"{why}\n\n"
        "Open this link to choose your password (at least 12 characters; a few words you will "
        "remember make a good one):\n\n"
        f"{link_url(settings.portal.url, token)}\n\n"
        f"The link works once, for {lasts}. If it has expired, ask the analyst for a new one.\n\n"
        "If you did not expect this email, do not open the link: tell the partnership's analyst.\n"
    )
    return message


def send_link(settings: Settings, user: PortalUser, token: str, *, reset: bool = False) -> str:
    """Email the link like every other mail of the system (queued if the server is down, into the
    outbox folder when no server is configured); says where it went."""
    from ..mail import deliver_or_queue

    return deliver_or_queue(link_email(settings, user, token, reset=reset), settings.mail, settings.outbox)
