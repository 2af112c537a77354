"""Schema migrations (Alembic): the warehouse is brought to the latest revisions on start.

Upgrades keep every row. Two processes starting together (two Airflow workers, or a person
running ``scorecard intake`` during a DAG run) never race: the upgrade holds a lock (a
PostgreSQL advisory lock, or a lock file beside a SQLite warehouse). A warehouse created before
migrations existed (tables, no ``alembic_version``) is stamped at the first revision first.

Migrations live in two places: the project's own (``migrations/versions`` beside this file) and,
when ``SCORECARD_RESOURCES`` names a partnership's own rules folder, that folder's
``migrations/`` (its added sources and columns), read after the project's. The two lines of
revisions may each grow, so the warehouse is brought to every head (``heads``), and a new
revision follows all of them. ``new_migration`` writes one (``scorecard migration new``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from ..logs import quiet_third_party
from ..resources import own_rules_folder

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PROJECT_VERSIONS = MIGRATIONS / "versions"
RULES_VERSIONS = "migrations"  # a partnership's own migrations: <rules folder>/migrations/
FIRST_REVISION = "0001"
LOCAL_PREFIX = "local_"  # revisions in a rules folder: local_0001, ... (never a project number)
_ADVISORY_LOCK = 727_274_0001  # any constant unique to this application


def version_locations() -> list[Path]:
    """Where revisions are read from: the project's, then the rules folder's own (if any)."""
    rules = own_rules_folder()
    if rules is None:
        return [PROJECT_VERSIONS]
    return [PROJECT_VERSIONS, rules / RULES_VERSIONS]


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(str(p).replace("%", "%%") for p in version_locations()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory.from_config(_config()).get_heads()))


def head_revision() -> str:
    """The latest revision (several joined by ``+`` when the rules folder has its own line)."""
    return "+".join(head_revisions())


def current_revision(engine: Engine) -> str | None:
    """The warehouse's revision (several joined by ``+``), None when it has none."""
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    return "+".join(sorted(heads)) if heads else None


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


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Bring the warehouse to ``revision`` (default: every latest revision)."""
    quiet_third_party()
    if revision in ("head", "heads") and current_revision(engine) == head_revision():
        return
    with _file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        tables = set(inspect(conn).get_table_names())
        if "load_files" in tables and "alembic_version" not in tables:
            command.stamp(_config(conn), FIRST_REVISION)
        command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the warehouse back to ``revision`` (each later migration's ``downgrade``). For
    testing a migration and for rolling a release back; every command upgrades again on start."""
    quiet_third_party()
    with _file_lock(engine), engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})
        command.downgrade(_config(conn), revision)


class NothingToMigrate(Exception):
    """The definitions describe the schema the migrations already build."""


def new_migration(message: str) -> Path:
    """Write the migration that takes the warehouse from its latest revisions to the schema the
    definitions in use describe (Alembic autogenerate), and return its file.

    It is compared on a scratch SQLite warehouse brought to the latest revisions, never on the
    real one; the file it writes uses portable types and runs on SQLite and PostgreSQL. It goes
    into the rules folder's ``migrations/`` for a partnership's own rules, else into the
    project's. Raises ``NothingToMigrate`` when there is no difference."""
    from .engine import connect_warehouse

    if not message.strip():
        raise ValueError("a migration needs a message saying what it does")
    target = version_locations()[-1]
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="scorecard-migration-") as scratch:
        engine = connect_warehouse(f"sqlite:///{Path(scratch) / 'warehouse.db'}")
        try:
            upgrade(engine)
            before = set(target.glob("*.py"))
            with engine.begin() as conn:
                config = _config(conn)
                config.attributes["skip_empty"] = True
                command.revision(
                    config,
                    message=message,
                    autogenerate=True,
                    head="heads",
                    version_path=str(target),
                    rev_id=_next_id(target),
                )
        finally:
            engine.dispose()
    written = sorted(set(target.glob("*.py")) - before)
    if not written:
        raise NothingToMigrate("the warehouse schema already matches the definitions: no migration written")
    return written[0]


def _next_id(folder: Path) -> str:
    """The next revision id in ``folder``: 0005 after 0004 in the project's, local_0001 in a rules folder's."""
    prefix = "" if folder == PROJECT_VERSIONS else LOCAL_PREFIX
    numbers = [int(m.group(1)) for p in folder.glob("*.py") if (m := re.match(rf"{prefix}(\d{{4}})_", p.name))]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"
