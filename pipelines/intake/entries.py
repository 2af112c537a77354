"""Inbox entries opened once, safely: never through a link, never anything but a plain file.

Anyone who can write to the inbox may put anything there, or swap a file for something else
between the moment intake lists the inbox and the moment it opens the file. So each entry is
opened exactly once, relative to the inbox folder, with every path component opened without
following links (``O_NOFOLLOW``), and what was opened is checked from the open handle
(``fstat``): a regular file, with one link (a hard link would make a file elsewhere on the server
look like a partner's), on the inbox's own filesystem. Everything intake then does with the file
(hash, read, archive) works from that handle, never from the path again.

Entries that are not plain files (a symbolic link, a named pipe, a device, a hard link) are
never read; ``remove_link`` takes such a name out of the inbox without touching what it points to.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class NotAFile(Exception):
    """The entry is not a plain file of the inbox's own; ``str()`` says what it is, for the receipt."""

    def __init__(self, what: str, identity: tuple[int, int] | None):
        super().__init__(what)
        self.identity = identity  # (st_dev, st_ino) of the name itself, to remove it safely


@dataclass(frozen=True)
class Identity:
    """What an inbox file was when it was opened: the same file, unchanged, has the same identity."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, info: os.stat_result) -> Identity:
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Opened:
    """An inbox file opened for reading, and the folder it was found in (both as handles)."""

    inbox: Path
    relative: PurePosixPath
    fd: int
    folder_fd: int
    identity: Identity

    @property
    def name(self) -> str:
        return self.relative.name

    def close(self) -> None:
        for fd in (self.fd, self.folder_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def relative_to_inbox(inbox: Path, path: Path) -> PurePosixPath:
    """``path`` as a path inside the inbox (refused if it is not below it)."""
    relative = PurePosixPath(os.path.relpath(os.path.abspath(path), os.path.abspath(inbox)))
    if relative.is_absolute() or not relative.parts or relative.parts[0] == ".." or ".." in relative.parts:
        raise ValueError(f"{path} is not inside the inbox {inbox}")
    return relative


def open_folder(inbox: Path, relative: PurePosixPath) -> tuple[int, int] | None:
    """(inbox fd's device, fd of the folder holding ``relative``), walking down from the inbox
    without following links; ``None`` when a folder on the way is gone, is a link, or is on
    another filesystem (such an entry is dealt with when the listing meets it as an entry itself)."""
    folder = os.open(inbox, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    device = os.fstat(folder).st_dev
    for part in relative.parts[:-1]:
        try:
            inner = os.open(part, _FOLDER_FLAGS, dir_fd=folder)
        except OSError:
            os.close(folder)
            return None
        os.close(folder)
        folder = inner
        if os.fstat(folder).st_dev != device:
            os.close(folder)
            return None
    return device, folder


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link (a shortcut to another file), not a file"
    if stat.S_ISFIFO(mode):
        return "a named pipe, not a file"
    if stat.S_ISSOCK(mode):
        return "a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device, not a file"
    return "not a plain file"


def open_entry(inbox: Path, relative: PurePosixPath, *, inbox_rules: bool = True) -> Opened | None:
    """Open an inbox entry once, safely. ``None`` when it is gone (taken by another run) or has
    become a folder; ``NotAFile`` when it is anything but a plain file of the inbox's own.
    ``inbox_rules=False`` (``scorecard check`` of a file elsewhere, whose copy put into the inbox
    will be a file of its own): other names (hard links) and another filesystem are allowed."""
    found = open_folder(inbox, relative)
    if found is None:
        return None
    device, folder = found
    name = relative.name
    try:
        try:
            fd = os.open(name, _FILE_FLAGS, dir_fd=folder)
        except FileNotFoundError:
            os.close(folder)
            return None
        except OSError as exc:
            info = _lstat(folder, name)
            if info is None:
                os.close(folder)
                return None
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP) or not stat.S_ISREG(info.st_mode):
                raise NotAFile(
                    f"the entry is {_kind(info.st_mode)}; it was not read", (info.st_dev, info.st_ino)
                ) from None
            raise
        info = os.fstat(fd)
        problem = None
        if stat.S_ISDIR(info.st_mode):
            os.close(fd)
            os.close(folder)
            return None
        if not stat.S_ISREG(info.st_mode):
            problem = f"the entry is {_kind(info.st_mode)}; it was not read"
        elif not inbox_rules:
            pass
        elif info.st_nlink != 1:
            problem = (
                "the file also has another name elsewhere on the server (a hard link), so it may not be the "
                "sender's own; it was not read. Please copy the file itself into the inbox"
            )
        elif info.st_dev != device:
            problem = "the file is on another filesystem mounted inside the inbox; it was not read"
        if problem:
            os.close(fd)
            raise NotAFile(problem, (info.st_dev, info.st_ino))
        return Opened(inbox=inbox, relative=relative, fd=fd, folder_fd=folder, identity=Identity.of(info))
    except NotAFile:
        os.close(folder)
        raise


def _lstat(folder_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def still_there(folder_fd: int, name: str, identity: Identity) -> bool:
    """The inbox entry is still the file that was opened, unchanged since (same inode, size,
    modification and change times): it may be removed from the inbox."""
    info = _lstat(folder_fd, name)
    return info is not None and stat.S_ISREG(info.st_mode) and Identity.of(info) == identity


def remove_if_unchanged(folder_fd: int, name: str, identity: Identity) -> bool:
    """Take a processed file out of the inbox, unless it changed after it was read (appended to,
    replaced): then it stays for the next run, which reads it afresh. True if removed."""
    if not still_there(folder_fd, name, identity):
        return False
    try:
        os.unlink(name, dir_fd=folder_fd)
    except FileNotFoundError:
        return False
    return True


def remove_link(inbox: Path, relative: PurePosixPath, identity: tuple[int, int] | None) -> bool:
    """Remove a refused entry (a link, a pipe, a device, a hard link) from the inbox: only the
    name goes, never what it points to. A hard link is removed only while the file still has
    another name, so its content is never lost."""
    found = open_folder(inbox, relative)
    if found is None:
        return False
    _, folder = found
    try:
        info = _lstat(folder, relative.name)
        if info is None or (identity is not None and (info.st_dev, info.st_ino) != identity):
            return False
        if stat.S_ISREG(info.st_mode) and info.st_nlink < 2:
            return False  # now the file's only name: it is processed like any file next time
        os.unlink(relative.name, dir_fd=folder)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(folder)
