"""Run one file's work in a child process with a memory limit and a deadline.

A partner's file can make a reader allocate gigabytes, or spin or deadlock inside a native
library (calamine), and no exception is ever raised for it. So the work on each file runs in a
forked child: its new memory is capped by the kernel (``RLIMIT_AS``: what it has at the fork plus
the limit), and the parent kills it when its time is up. Either way only that file fails; the
parent goes on with the next. The child inherits every module already imported (Great
Expectations takes seconds to import), so starting one costs milliseconds.

Only the result crosses back, pickled through a pipe; an exception in the child comes back as
its type and message, re-raised in the parent.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import resource
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import progress

MB = 1 << 20


class LimitExceeded(Exception):
    """The work went over its memory or time limit (``kind`` is ``memory`` or ``time``), or its
    process died of something else (``crash``), and was stopped."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


class ChildError(Exception):
    """An exception raised in the child that could not be sent back as itself."""


@dataclass(frozen=True)
class Limits:
    memory_mb: float
    seconds: float


def _virtual_size() -> int:
    """This process's address space now, in bytes (the child starts with the same)."""
    with open("/proc/self/statm", "rb") as handle:
        pages = int(handle.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _die_with(parent: int) -> None:
    """Have the kernel kill this child if its parent dies (a killed intake must not leave a child
    that commits a load behind the next run's back)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(71)


def _child(work: Callable[[], Any], limits: Limits, pipe: int, parent: int, said: int | None) -> None:
    """In the child: cap memory, do the work, send the result, and leave without running any of
    the parent's exit handlers (its connections and files stay the parent's). Stages the work
    reports go through ``said`` to the parent's listener."""
    status = 0
    try:
        progress.send_to(said)
        _die_with(parent)
        faulthandler.disable()  # a reader that aborts is reported by the parent, not by a stack dump on stderr
        cap = _virtual_size() + int(limits.memory_mb * MB)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        try:
            payload = pickle.dumps(("ok", work()), protocol=pickle.HIGHEST_PROTOCOL)
        except MemoryError:
            payload = pickle.dumps(("memory", ""))
        except BaseException as exc:  # sent back to the parent, which decides
            payload = _pickled_error(exc)
        view = memoryview(payload)
        os.write(pipe, len(payload).to_bytes(8, "big"))
        while view:
            view = view[os.write(pipe, view) :]
    except BaseException:
        status = 70
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(status)


def _pickled_error(exc: BaseException) -> bytes:
    try:
        return pickle.dumps(("error", exc))
    except Exception:
        where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        place = f" at {where[0].filename}:{where[0].lineno}" if where else ""
        return pickle.dumps(("error", ChildError(f"{type(exc).__name__}{place}")))


def run_limited(work: Callable[[], Any], limits: Limits) -> Any:
    """``work()`` in a forked child under ``limits``; its result, or its exception re-raised, or
    ``LimitExceeded`` when the child went over a limit or died."""
    read_end, write_end = os.pipe()
    heard, said = os.pipe() if progress.listener() is not None else (None, None)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        if heard is not None:
            os.close(heard)
        _child(work, limits, write_end, parent, said)
    os.close(write_end)
    if said is not None:
        os.close(said)
    deadline = time.monotonic() + limits.seconds
    data = bytearray()
    lines = bytearray()
    expected = None
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_end] + ([heard] if heard is not None else []), [], [], min(left, 1.0))
            if heard is not None and heard in ready:
                news = os.read(heard, 1 << 16)
                if news:
                    progress.relay(lines, news)
                else:  # the child is done reporting
                    os.close(heard)
                    heard = None
            if read_end not in ready:
                continue
            block = os.read(read_end, 1 << 20)
            if not block:
                break
            data += block
            if expected is None and len(data) >= 8:
                expected = int.from_bytes(data[:8], "big")
            if expected is not None and len(data) >= 8 + expected:
                break
    finally:
        os.close(read_end)
        if heard is not None:
            os.close(heard)
        if timed_out:
            _kill(pid)
        _, status = os.waitpid(pid, 0)
    if timed_out:
        raise LimitExceeded("time", f"more than {limits.seconds:g} seconds")
    if expected is None or len(data) < 8 + expected:
        raise LimitExceeded(*_death(status, limits))
    kind, value = pickle.loads(bytes(data[8 : 8 + expected]))
    if kind == "ok":
        return value
    if kind == "memory":
        raise LimitExceeded("memory", f"more than {limits.memory_mb:,.0f} MB")
    raise value


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _death(status: int, limits: Limits) -> tuple[str, str]:
    """Why a child ended without a result. A native library that cannot allocate aborts (SIGABRT)
    or is killed by the kernel; Python itself reports ``MemoryError``, handled in the child."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number in (signal.SIGABRT, signal.SIGKILL):  # an allocation refused, or the kernel's OOM killer
            return "memory", f"more than {limits.memory_mb:,.0f} MB"
        return "crash", signal.Signals(number).name
    return "crash", f"exit status {os.WEXITSTATUS(status)}"
