"""Submissions: a checked upload put into ``inbox/<source>/`` for intake, and what became of it.

**Submit** copies the upload under a temporary dot-name in ``inbox/<source>/`` (intake never
takes a name starting with ``.``), then renames it into place in one step, under a name no other
file has (``<safe stem>-portal-<random>.<ext>``; the name as sent is kept only as text), and
records it in ``portal_submissions``. Intake knows nothing of the portal but this: when it finishes
a file whose inbox name and SHA-256 are a submission's, it sets the submission's ``load_id``
(``link_load``) and the receipt email links to the submission's page. The portal looks the load up
the same way if intake has not yet said (``refresh_load``).

Receipts and rejects workbooks are found from the load record (``receipts/<stored stem>...``),
never from anything a request says."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sqlalchemy import Engine, insert, select, update

from ..config import Settings
from ..intake.inbox import safe_name
from ..intake.receipts import Receipt
from ..warehouse.schema import load_files, portal_submissions, portal_users
from .accounts import PortalUser, utcnow

if TYPE_CHECKING:
    from .uploads import Upload

PAGE_SIZE = 200


class SubmitRefused(Exception):
    """The upload cannot be submitted: why, in plain English."""


@dataclass(frozen=True)
class Load:
    load_id: int
    status: str
    received_at: datetime
    stored_name: str | None
    finished: bool
    receipt: Receipt | None


@dataclass(frozen=True)
class Submission:
    submission_id: int
    user_id: int
    email: str | None
    source: str
    original_name: str
    inbox_name: str
    sha256: str
    size_bytes: int
    submitted_at: datetime
    load_id: int | None
    load: Load | None = None

    @property
    def waiting(self) -> bool:
        """Still waiting for intake (no finished load yet)."""
        return self.load is None or not self.load.finished


def _inbox_name(original: str, suffix: str, token: str) -> str:
    stem = safe_name(os.path.splitext(original)[0] or "return")[:60].rstrip(" .") or "return"
    return f"{stem}-portal-{token}{suffix}"


def submit_upload(settings: Settings, engine: Engine, upload: Upload, user: PortalUser) -> int:
    """Put a checked upload into ``inbox/<source>/`` and record it; returns the submission id."""
    source = upload.source
    if not upload.submittable or source is None:
        raise SubmitRefused("Only a file the check would accept can be submitted: fix it, then check it again.")
    if not user.can_see_source(source):
        raise SubmitRefused("You cannot submit returns for this source.")
    folder = settings.inbox / source
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(6)
    temporary = folder / f".portal-{token}.part"
    digest = hashlib.sha256()
    final: Path | None = None
    try:
        with open(upload.path, "rb") as src, open(temporary, "xb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if digest.hexdigest() != upload.sha256:
            raise SubmitRefused("The uploaded file changed after it was checked: upload it again.")
        temporary.chmod(0o640)
        name = _inbox_name(upload.original_name, upload.path.suffix, token)
        while (folder / name).exists():
            token = secrets.token_hex(6)
            name = _inbox_name(upload.original_name, upload.path.suffix, token)
        with engine.begin() as conn:
            submission_id: int = conn.execute(
                insert(portal_submissions).values(
                    user_id=user.user_id,
                    source=source,
                    original_name=upload.original_name,
                    inbox_name=name,
                    sha256=upload.sha256,
                    size_bytes=upload.size,
                    submitted_at=utcnow(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            # Into place in one step (same folder), inside the transaction: a failed rename
            # records nothing; a failed commit takes the file back out below.
            os.rename(temporary, folder / name)
            final = folder / name
    except BaseException:
        temporary.unlink(missing_ok=True)
        if final is not None:
            final.unlink(missing_ok=True)
        raise
    return submission_id


# ------------------------------------------------------------------ intake's side


def link_load(engine: Engine, relative: str, sha256: str, load_id: int) -> int | None:
    """Called by intake as it finishes a file: the submission that put ``relative`` (its path in
    the inbox) with these bytes there gets ``load_id``; returns that submission's id, or None
    when the file did not come through the portal."""
    parts = PurePosixPath(relative).parts
    if len(parts) != 2 or not sha256:
        return None
    source, name = parts
    with engine.begin() as conn:
        row = conn.execute(
            select(portal_submissions.c.submission_id, portal_submissions.c.load_id).where(
                portal_submissions.c.source == source,
                portal_submissions.c.inbox_name == name,
                portal_submissions.c.sha256 == sha256,
            )
        ).first()
        if row is None:
            return None
        if row.load_id is None:
            conn.execute(
                update(portal_submissions)
                .where(portal_submissions.c.submission_id == row.submission_id)
                .values(load_id=load_id)
            )
        return int(row.submission_id)


# ------------------------------------------------------------------ the portal's side


def _load(conn, load_id: int) -> Load | None:
    row = conn.execute(select(load_files).where(load_files.c.load_id == load_id)).mappings().first()
    if row is None:
        return None
    receipt = None
    if row["receipt"]:
        try:
            receipt = Receipt.from_dict(json.loads(row["receipt"]))
        except (ValueError, TypeError):
            receipt = None
    return Load(
        load_id=row["load_id"],
        status=row["status"],
        received_at=row["received_at"],
        stored_name=row["stored_name"],
        finished=row["finished_at"] is not None,
        receipt=receipt,
    )


def _submission(conn, row) -> Submission:
    load = _load(conn, row["load_id"]) if row["load_id"] is not None else None
    return Submission(
        submission_id=row["submission_id"],
        user_id=row["user_id"],
        email=row["email"],
        source=row["source"],
        original_name=row["original_name"],
        inbox_name=row["inbox_name"],
        sha256=row["sha256"],
        size_bytes=row["size_bytes"],
        submitted_at=row["submitted_at"],
        load_id=row["load_id"],
        load=load,
    )


def _query():
    return select(portal_submissions, portal_users.c.email).join(
        portal_users, portal_users.c.user_id == portal_submissions.c.user_id
    )


def refresh_load(engine: Engine, submission_id: int) -> None:
    """Set a submission's ``load_id`` if intake has taken the file in but not said so: the load
    of the same bytes under the exact inbox name, received after the submission."""
    with engine.begin() as conn:
        sub = conn.execute(
            select(portal_submissions).where(
                portal_submissions.c.submission_id == submission_id, portal_submissions.c.load_id.is_(None)
            )
        ).first()
        if sub is None:
            return
        load_id = conn.execute(
            select(load_files.c.load_id)
            .where(
                load_files.c.sha256 == sub.sha256,
                load_files.c.original_name == sub.inbox_name,
                load_files.c.received_at >= sub.submitted_at.replace(microsecond=0),
            )
            .order_by(load_files.c.load_id)
            .limit(1)
        ).scalar()
        if load_id is not None:
            conn.execute(
                update(portal_submissions)
                .where(portal_submissions.c.submission_id == submission_id)
                .values(load_id=load_id)
            )


def get_submission(engine: Engine, submission_id: int) -> Submission | None:
    refresh_load(engine, submission_id)
    with engine.connect() as conn:
        row = conn.execute(_query().where(portal_submissions.c.submission_id == submission_id)).mappings().first()
        return _submission(conn, row) if row else None


def list_submissions(engine: Engine, sources: list[str] | None, limit: int = PAGE_SIZE) -> list[Submission]:
    """The latest submissions of ``sources`` (every source: None), newest first."""
    query = _query().order_by(portal_submissions.c.submission_id.desc()).limit(limit)
    if sources is not None:
        query = query.where(portal_submissions.c.source.in_(sources))
    with engine.connect() as conn:
        ids = [r["submission_id"] for r in conn.execute(query).mappings() if r["load_id"] is None]
    for submission_id in ids:
        refresh_load(engine, submission_id)
    with engine.connect() as conn:
        return [_submission(conn, row) for row in conn.execute(query).mappings().all()]


def receipt_files(settings: Settings, submission: Submission) -> tuple[Path | None, Path | None]:
    """(readable receipt, rejects workbook) of a submission's load, when intake has written them
    and they are still kept; found from the load record only."""
    load = submission.load
    if load is None or not load.finished or not load.stored_name:
        return None, None
    stem = Path(PurePosixPath(load.stored_name).name).stem
    folder = settings.receipts
    text, rejects = folder / f"{stem}.receipt.txt", folder / f"{stem}.rejects.xlsx"
    return (text if text.is_file() else None), (rejects if rejects.is_file() else None)
