"""Lead officers' commentary (``indicator_commentary``): one row per entry for an indicator and
quarter, every entry kept; the latest is the one a build shows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_commentary",
        sa.Column("commentary_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("indicator_id", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=254), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("commentary_id"),
        comment="Lead officers' commentary per indicator and quarter, every entry kept; the latest is shown.",
    )
    with op.batch_alter_table("indicator_commentary", schema=None) as batch_op:
        batch_op.create_index("ix_indicator_commentary_quarter_indicator", ["quarter", "indicator_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("indicator_commentary", schema=None) as batch_op:
        batch_op.drop_index("ix_indicator_commentary_quarter_indicator")

    op.drop_table("indicator_commentary")
