"""Alembic environment for the warehouse. Run through ``pipelines.warehouse.migrate``, which
hands over an open connection; the URL is never read from a config file here."""

from __future__ import annotations

from alembic import context

from pipelines.warehouse.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through pipelines.warehouse.migrate (scorecard migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite rebuilds the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
