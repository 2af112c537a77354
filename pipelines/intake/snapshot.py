"""A private copy of each inbox file, taken once from its open handle: what is hashed is what is
read is what is archived.

The partner's file stays in the inbox until it has been dealt with; intake works only on its
snapshot in ``processing/`` (owner-only), which nobody else can change. A file that changed while
it was copied (still being written, appended to) is not snapshotted: it waits for the next run.
When intake is done, the snapshot itself is what moves into ``archive/`` or ``rejected/``.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from .entries import Identity, Opened

BLOCK = 1 << 20
SUFFIX = ".original"
ABOUT = ".about.json"


class FileChanged(Exception):
    """The file changed while it was being copied; it stays in the inbox for the next run."""


class TooLarge(Exception):
    """The file is larger than the limit: it is not copied or read."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class Snapshot:
    """A claimed private copy of one inbox file."""

    path: Path  # processing/<sha256>.original
    sha256: str
    size: int
    name: str  # the file's name as sent, as text any database or email can hold (``text_name``)
    relative: str  # where it was in the inbox (a/b/name.xlsx), exactly (undecodable bytes kept)
    identity: Identity | None  # the inbox file it came from, to remove it once filed away

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "relative": self.relative,
            "sha256": self.sha256,
            "size": self.size,
            "identity": self.identity.to_dict() if self.identity else None,
        }

    def at(self, path: Path) -> Snapshot:
        return replace(self, path=path)

    @classmethod
    def found(cls, folder: Path, sha256: str) -> Snapshot:
        """A snapshot left in ``folder`` by a run that died, with what its note says (the file
        itself may already be filed away)."""
        path = snapshot_path(folder, sha256)
        try:
            about = json.loads((folder / f"{sha256}{ABOUT}").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            about = {}
        identity = about.get("identity")
        return cls(
            path=path,
            sha256=sha256,
            size=path.stat().st_size if path.exists() else 0,
            name=str(about.get("name") or path.name),
            relative=str(about.get("relative") or about.get("name") or path.name),
            identity=Identity(**identity) if isinstance(identity, dict) else None,
        )


def snapshot_path(folder: Path, sha256: str) -> Path:
    return folder / f"{sha256}{SUFFIX}"


def keep(copy: Path, snapshot: Snapshot, folder: Path) -> Snapshot:
    """Put a claimed copy in its place, ``processing/<sha256>.original``, with a note of where it
    came from (``<sha256>.about.json``): whoever finishes the work after a crash needs both."""
    note = folder / f"{snapshot.sha256}{ABOUT}"
    partial = note.with_name(f".{note.name}.part")
    partial.write_text(json.dumps(snapshot.to_dict()), encoding="utf-8")
    os.replace(partial, note)
    final = snapshot_path(folder, snapshot.sha256)
    os.replace(copy, final)
    return snapshot.at(final)


def forget(folder: Path, sha256: str) -> None:
    """Remove the snapshot and its note once the work is finished (or abandoned)."""
    for path in (snapshot_path(folder, sha256), folder / f"{sha256}{ABOUT}"):
        path.unlink(missing_ok=True)


def copy_from(opened: Opened, folder: Path, max_bytes: int) -> tuple[Path, str, int]:
    """Copy the open file into ``folder`` under a temporary name, hashing as it goes; returns
    (temporary path, SHA-256, size). Raises ``TooLarge`` before reading a file over the limit and
    ``FileChanged`` when the file is not the same after the copy as before it."""
    before = os.fstat(opened.fd)
    if before.st_size > max_bytes:
        raise TooLarge(before.st_size)
    temporary = folder / f".copy-{uuid.uuid4().hex}.part"
    digest = hashlib.sha256()
    copied = 0
    out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.lseek(opened.fd, 0, os.SEEK_SET)
        while block := os.read(opened.fd, BLOCK):
            copied += len(block)
            if copied > max_bytes:
                raise FileChanged()  # it grew past the limit while being read
            digest.update(block)
            view = memoryview(block)
            while view:
                view = view[os.write(out, view) :]
        after = os.fstat(opened.fd)
        if (
            copied != before.st_size
            or Identity.of(after) != Identity.of(before)
            or Identity.of(after) != opened.identity
        ):
            raise FileChanged()
    except BaseException:
        os.close(out)
        temporary.unlink(missing_ok=True)
        raise
    os.close(out)
    return temporary, digest.hexdigest(), copied


def file_away(snapshot: Snapshot, target: Path) -> Path:
    """Move the snapshot to ``target`` (in ``archive/`` or ``rejected/``), synced to disk first so
    the partner's file can then safely leave the inbox. Safe to repeat: if the snapshot is
    already there (an interrupted run got this far), nothing is done."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if not snapshot.path.exists() and target.exists():
        return target
    fd = os.open(snapshot.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _move(snapshot.path, target)
    return target


def _move(source: Path, target: Path) -> None:
    """Rename; across volumes, copy to a temporary name, sync, rename, then remove the source, so
    a crash never leaves half a file under the real name."""
    try:
        os.rename(source, target)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = target.with_name(f".{target.name}.part")
    shutil.copyfile(source, partial, follow_symlinks=False)
    os.chmod(partial, 0o600)
    fd = os.open(partial, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, target)
    source.unlink()


def hash_unread(opened: Opened) -> str:
    """The SHA-256 of a file too large to read, from its open handle, a block at a time (its
    receipt still says exactly which bytes arrived); ``FileChanged`` if it changes meanwhile."""
    digest = hashlib.sha256()
    left = opened.identity.size
    os.lseek(opened.fd, 0, os.SEEK_SET)
    while left and (block := os.read(opened.fd, min(BLOCK, left))):
        digest.update(block)
        left -= len(block)
    if left or Identity.of(os.fstat(opened.fd)) != opened.identity:
        raise FileChanged()
    return digest.hexdigest()


def file_unread(opened: Opened, target: Path) -> Path:
    """File a partner's file that was not read (too large) into ``target`` as it is: renamed when
    the inbox and ``target`` share a volume (nothing is copied), else copied from the open handle.
    Only the file that was opened is ever moved or changed (its mode through the handle)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    from .entries import still_there

    if not still_there(opened.folder_fd, opened.name, opened.identity):
        raise FileChanged()
    try:
        os.rename(opened.name, target, src_dir_fd=opened.folder_fd)
        os.fchmod(opened.fd, 0o600)
        return target
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    partial = target.with_name(f".{target.name}.part")
    out = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.lseek(opened.fd, 0, os.SEEK_SET)
        while block := os.read(opened.fd, BLOCK):
            view = memoryview(block)
            while view:
                view = view[os.write(out, view) :]
        os.fsync(out)
    finally:
        os.close(out)
    os.replace(partial, target)
    from .entries import remove_if_unchanged

    remove_if_unchanged(opened.folder_fd, opened.name, opened.identity)
    return target
