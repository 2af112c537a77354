"""Where long work says how far it has got, for whoever shows it (a progress bar on a terminal).

The work calls ``stage("checking", rows=200_000)`` at each step; a listener set with
``listening(callback)`` hears it. A file's intake runs in a forked child (``intake/isolation.py``):
there ``stage`` writes a short line to a pipe the parent reads beside the result, and the parent
calls its listener, so the bar moves while a big file is read, checked and loaded. Nothing is said
unless someone listens, and what is said is a stage name and a count, never a file's content.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator

Listener = Callable[[str, int | None, int | None], None]

# The steps of one file's intake, in order (a bar per file counts them).
FILE_STAGES = ("reading", "checking", "pseudonymising", "loading")

_listener: Listener | None = None
_channel: int | None = None  # in a file's child process: the pipe to the parent


@contextlib.contextmanager
def listening(callback: Listener) -> Iterator[None]:
    """Call ``callback(stage, rows, of)`` for every stage reported while the block runs."""
    global _listener
    before, _listener = _listener, callback
    try:
        yield
    finally:
        _listener = before


def listener() -> Listener | None:
    return _listener


def stage(name: str, rows: int | None = None, of: int | None = None) -> None:
    """Report that the work has reached ``name`` (with ``rows`` rows, when known), or how far it
    has got through a big file: ``rows`` done ``of`` about so many (a file read in chunks says
    this after each chunk)."""
    if _channel is not None:
        line = json.dumps({"stage": name, "rows": rows, "of": of}).encode() + b"\n"
        with contextlib.suppress(OSError):  # the parent stopped listening: the work goes on
            os.write(_channel, line)
    elif _listener is not None:
        _listener(name, rows, of)


def send_to(fd: int | None) -> None:
    """In a child: report through ``fd`` (the parent's listener hears it), or not at all."""
    global _channel, _listener
    _channel, _listener = fd, None


def relay(buffer: bytearray, block: bytes) -> None:
    """In the parent: pass each whole line read from a child's pipe to the listener."""
    buffer += block
    while b"\n" in buffer:
        line, _, rest = bytes(buffer).partition(b"\n")
        buffer[:] = rest
        try:
            said = json.loads(line)
        except ValueError:
            continue
        if _listener is not None and isinstance(said, dict):
            rows, of = said.get("rows"), said.get("of")
            _listener(
                str(said.get("stage")), rows if isinstance(rows, int) else None, of if isinstance(of, int) else None
            )
