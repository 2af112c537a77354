"""Alembic environment for the warehouse. Run through ``pipelines.warehouse.migrate``, which
hands over an open connection; the URL is never read from a config file here. The target schema
is the one the rules in use describe (``warehouse_metadata``), so a migration generated for a
partnership's own rules folder covers its added sources."""

from __future__ import annotations

from alembic import context

from pipelines.warehouse.schema import warehouse_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through pipelines.warehouse.migrate (scorecard migrate)")


def _skip_empty(migration_context, revision, directives) -> None:
    """``scorecard migration new`` writes nothing when the definitions changed nothing."""
    if config.attributes.get("skip_empty") and directives and directives[0].upgrade_ops.is_empty():
        directives[:] = []


context.configure(
    connection=connection,
    target_metadata=warehouse_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite rebuilds the table
    compare_type=True,
    process_revision_directives=_skip_empty,
)
with context.begin_transaction():
    context.run_migrations()
