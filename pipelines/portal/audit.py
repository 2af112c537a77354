"""The audit log: every login (and failed one), upload, submission and download, with who,
what and when. ``detail`` names what was acted on (a submission id, a file name as sent, a
quarter); never a password and never the content of a partner's cells."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select

from ..warehouse.schema import portal_audit
from .accounts import utcnow


@dataclass(frozen=True)
class AuditEntry:
    audit_id: int
    at: datetime
    user_id: int | None
    email: str | None
    action: str
    detail: str | None
    remote: str | None


def record(
    engine: Engine,
    action: str,
    *,
    user_id: int | None = None,
    email: str | None = None,
    detail: str | None = None,
    remote: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(portal_audit).values(
                at=utcnow(),
                user_id=user_id,
                email=(email or "")[:254] or None,
                action=action,
                detail=detail,
                remote=(remote or "")[:64] or None,
            )
        )


def recent(engine: Engine, limit: int = 200, *, action: str | None = None) -> list[AuditEntry]:
    query = select(portal_audit).order_by(portal_audit.c.audit_id.desc()).limit(limit)
    if action:
        query = query.where(portal_audit.c.action == action)
    with engine.connect() as conn:
        return [AuditEntry(**row) for row in conn.execute(query).mappings()]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    page: int
    has_next: bool


def search(
    engine: Engine, *, action: str | None = None, email: str | None = None, page: int = 1, per_page: int = 50
) -> AuditPage:
    """One page of the log, newest first, of one action and/or one user's email (exact, any case)."""
    page = max(page, 1)
    query = select(portal_audit).order_by(portal_audit.c.at.desc(), portal_audit.c.audit_id.desc())
    if action:
        query = query.where(portal_audit.c.action == action)
    if email:
        query = query.where(portal_audit.c.email == email.strip().lower())
    query = query.offset((page - 1) * per_page).limit(per_page + 1)
    with engine.connect() as conn:
        rows = [AuditEntry(**row) for row in conn.execute(query).mappings()]
    return AuditPage(entries=rows[:per_page], page=page, has_next=len(rows) > per_page)


def actions(engine: Engine) -> list[str]:
    """Every action the log holds, for the filter."""
    with engine.connect() as conn:
        return list(conn.execute(select(portal_audit.c.action).distinct().order_by(portal_audit.c.action)).scalars())
