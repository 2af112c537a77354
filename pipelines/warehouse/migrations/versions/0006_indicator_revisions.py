"""Revisions of published figures: ``indicator_revisions`` keeps each indicator value a published
scorecard showed that later data changed (late or corrected partner returns), with the value now,
when it was noticed, when the analyst was told and which later scorecard's notes carry it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "indicator_revisions",
        sa.Column("revision_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("indicator_id", sa.String(length=16), nullable=False),
        sa.Column("old_value", sa.Float(), nullable=True),
        sa.Column("old_data_status", sa.String(length=16), nullable=False),
        sa.Column("old_suppressed", sa.Boolean(), nullable=False),
        sa.Column("new_value", sa.Float(), nullable=True),
        sa.Column("new_data_status", sa.String(length=16), nullable=False),
        sa.Column("new_suppressed", sa.Boolean(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.Column("footnoted_in", sa.String(length=10), nullable=True),
        sa.PrimaryKeyConstraint("revision_id"),
        comment="Each published indicator value that later data changed: the value published and the value now.",
    )
    op.create_index("ix_indicator_revisions_quarter", "indicator_revisions", ["quarter"])
    op.create_index("ix_indicator_revisions_footnoted_in", "indicator_revisions", ["footnoted_in"])


def downgrade() -> None:
    op.drop_index("ix_indicator_revisions_footnoted_in", table_name="indicator_revisions")
    op.drop_index("ix_indicator_revisions_quarter", table_name="indicator_revisions")
    op.drop_table("indicator_revisions")
