"""Retention: archived and rejected originals are deleted after ``SCORECARD_RETENTION_DAYS``
(default 400), and each deletion is recorded on its load record (``original_deleted_at``).

The warehouse rows, load records and receipts stay: only the partner's original file, which may
hold names and raw identifiers, goes.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from ..warehouse.schema import load_files

log = logging.getLogger(__name__)


def apply_retention(engine: Engine, archive: Path, rejected: Path, days: int, now: datetime | None = None) -> int:
    """Delete originals received more than ``days`` ago; returns how many were deleted."""
    if days <= 0:
        return 0
    now = now or datetime.now(UTC).replace(tzinfo=None)
    cutoff = now - timedelta(days=days)
    with engine.connect() as conn:
        due = conn.execute(
            select(load_files.c.load_id, load_files.c.status, load_files.c.stored_name).where(
                load_files.c.received_at < cutoff,
                load_files.c.original_deleted_at.is_(None),
                load_files.c.stored_name.is_not(None),
            )
        ).all()
    deleted = 0
    for load_id, status, stored_name in due:
        path = (archive if status == "accepted" else rejected) / str(stored_name)
        path.unlink(missing_ok=True)
        with engine.begin() as conn:
            conn.execute(update(load_files).where(load_files.c.load_id == load_id).values(original_deleted_at=now))
        deleted += 1
    if deleted:
        log.info("retention: deleted %d original file(s) received before %s", deleted, cutoff.date())
    return deleted
