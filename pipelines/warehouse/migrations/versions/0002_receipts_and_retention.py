"""Keep each file's receipt with its load record, and when retention deleted its original.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("load_files") as batch:
        batch.add_column(sa.Column("receipt", sa.Text(), nullable=True))
        batch.add_column(sa.Column("original_deleted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("load_files") as batch:
        batch.drop_column("original_deleted_at")
        batch.drop_column("receipt")
