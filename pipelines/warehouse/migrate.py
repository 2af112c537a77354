"""Schema migrations (Alembic): the warehouse is brought to the latest revision on start.

Upgrades keep every row. Two processes starting together (two Airflow workers, or a person
running ``scorecard intake`` during a DAG run) never race: the upgrade holds a lock (a
PostgreSQL advisory lock, or a lock file beside a SQLite warehouse). A warehouse created before
migrations existed (tables, no ``alembic_version``) is stamped at the first revision first.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
_ADVISORY_LOCK = 727_274_0001  # any constant unique to this application


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _file_lock(engine: Engine):
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the warehouse to ``revision`` (default: the latest)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    with _file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        tables = set(inspect(conn).get_table_names())
        if "load_files" in tables and "alembic_version" not in tables:
            command.stamp(_config(conn), FIRST_REVISION)
        command.upgrade(_config(conn), revision)
