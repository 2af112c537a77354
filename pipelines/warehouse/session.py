"""One way to open the warehouse for a piece of work: connect, bring the schema up to date, and
always let the connections go afterwards. The command line, the DAGs and the benchmarks all use it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine

from .engine import connect_warehouse, init_warehouse


@contextlib.contextmanager
def open_warehouse(url: str, *, migrate: bool = True) -> Iterator[Engine]:
    """An engine on ``url`` for the ``with`` block, the schema migrated first (unless ``migrate``
    is False: a child process whose parent already did it), disposed of afterwards."""
    engine = connect_warehouse(url)
    try:
        if migrate:
            init_warehouse(engine)
        yield engine
    finally:
        engine.dispose()
