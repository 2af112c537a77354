"""A file's load run by a thread of its own, so PostgreSQL stores one chunk while the next is checked.

Checking a chunk (typing, Great Expectations, pseudonyms) is Python work; storing it in
PostgreSQL is mostly the server's, in another process. Done one after the other, each waits for
the other, and most of a big load's time is the server's; here the load's thread owns
the ``ChunkedLoad`` (its connection and its one transaction, from the load record to the commit)
and takes the chunks in order from a queue holding at most ``DEPTH`` of them, so memory grows by
that many chunks at most. Nothing about what is stored changes: the same ``ChunkedLoad`` does the
same work in the same order, and commits or rolls back once, when told.

A failure in the thread (a refused row, a lost connection) is raised again, as it was raised, by
the next call made to the load here, so the caller handles it exactly as before.

SQLite is loaded in the caller's thread (``LoadHere``): its driver lets go of Python's lock only
while SQLite steps one row and must take it back for the next, so a loading thread and a checking
thread mostly wait for each other (measured: a million-row file took longer, not less).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from .loading import ChunkedLoad

DEPTH = 1  # chunks waiting for the load's thread, besides the one it is storing
_ROWS, _COMMIT, _STOP = "rows", "commit", "stop"


def load_runner(engine, open_load: Callable[[], ChunkedLoad]) -> LoadInBackground | LoadHere:
    """The way this warehouse's loads run: in a thread for PostgreSQL, here for SQLite."""
    return LoadInBackground(open_load) if engine.dialect.name == "postgresql" else LoadHere(open_load)


class LoadHere:
    """``LoadInBackground``'s interface over a ``ChunkedLoad`` run in the caller's thread."""

    def __init__(self, open_load: Callable[[], ChunkedLoad]):
        self._load = open_load()
        self.load_id = self._load.load_id

    def add(self, rows) -> None:
        self._load.add(rows)

    def commit(self, audit: dict) -> int:
        self._load.commit(audit)
        return self.load_id

    def close(self) -> None:
        self._load.close()

    def __enter__(self) -> LoadHere:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LoadInBackground:
    """``add`` and ``commit`` as ``ChunkedLoad`` has them, done by a thread that opens the load
    with ``open_load()``; ``close`` rolls back what was not committed and waits for the thread.
    ``waited`` is the time the caller spent waiting for it (the load's share of the file's time)."""

    def __init__(self, open_load: Callable[[], ChunkedLoad]):
        self._open_load = open_load
        self._queue: queue.Queue = queue.Queue(maxsize=DEPTH)
        self._error: BaseException | None = None
        self.load_id: int | None = None
        self.waited = 0.0
        self._thread = threading.Thread(target=self._run, name="intake-load", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._open_load() as load:
                self.load_id = load.load_id
                while True:
                    kind, value = self._queue.get()
                    if kind == _ROWS:
                        load.add(value)
                    elif kind == _COMMIT:
                        load.commit(value)
                        return
                    else:  # leaving the block rolls the transaction back
                        return
        except BaseException as exc:  # handed to the caller, raised there
            self._error = exc

    def add(self, rows) -> None:
        """Queue a chunk of accepted rows (waits while ``DEPTH`` chunks are already waiting)."""
        self._put((_ROWS, rows))

    def commit(self, audit: dict) -> int:
        """Finish the load as ``ChunkedLoad.commit`` does, after every chunk queued; its load_id."""
        self._put((_COMMIT, audit))
        self._join()
        self._raise()
        assert self.load_id is not None
        return self.load_id

    def close(self) -> None:
        """Stop the thread, rolling back anything not committed (a rejected file, an error)."""
        if self._thread.is_alive():
            self._put((_STOP, None), check=False)
        self._join()

    def __enter__(self) -> LoadInBackground:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _put(self, item, check: bool = True) -> None:
        if check:
            self._raise()
        started = time.perf_counter()
        try:
            while self._thread.is_alive():
                try:
                    self._queue.put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
        finally:
            self.waited += time.perf_counter() - started
        if check:
            self._raise()

    def _join(self) -> None:
        started = time.perf_counter()
        self._thread.join()
        self.waited += time.perf_counter() - started

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
