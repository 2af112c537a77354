"""A load record says when its receipt was mailed and when its file was filed away; the SQL
helper functions are created here, once, under the migration lock.

``finished_at`` is set only once the original is in ``archive/`` or ``rejected/``: a record
without it belongs to a run that was interrupted, and the next run finishes it under the same
record. A record made before this revision was finished by construction (its file was moved
before the next run could see it again), so it takes its ``received_at``. ``receipt_mailed_at``
makes the receipt email go out at most once per load, however often a run is retried.

On PostgreSQL, ``hours_between`` and ``days_between`` (``sql/functions/postgresql.sql``) used to be
created on every start: eight intake processes starting together failed with "tuple concurrently
updated". Creating them in a migration runs them once, under the migration's advisory lock.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pipelines.resources import sql_dir

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("load_files") as batch:
        batch.add_column(sa.Column("receipt_mailed_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("finished_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE load_files SET finished_at = received_at, receipt_mailed_at = received_at")
    if op.get_bind().dialect.name == "postgresql":
        op.get_bind().exec_driver_sql((sql_dir() / "functions" / "postgresql.sql").read_text(encoding="utf-8"))


def downgrade() -> None:
    with op.batch_alter_table("load_files") as batch:
        batch.drop_column("finished_at")
        batch.drop_column("receipt_mailed_at")
