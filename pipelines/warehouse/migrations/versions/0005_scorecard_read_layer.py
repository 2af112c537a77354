"""The marts as the read layer: each build's history sheet gets its own table, and
``mart_scorecard.payload`` now holds the typed scorecard (scorecard.json plus the decisions
its outputs show), so ``scorecard render`` re-renders a quarter from the marts alone.

``mart_indicator_history`` keeps, per built quarter, every indicator's value for each quarter
of its history sheet as that build computed them (``position`` is the sheet's row order).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SCORECARD_COMMENT = (
    "Each built quarter's scorecard as built (the typed model as JSON: scorecard.json and every "
    "decision its outputs show)."
)
OLD_SCORECARD_COMMENT = "The scorecard.json of each built quarter, as built."


def upgrade() -> None:
    op.create_table(
        "mart_indicator_history",
        sa.Column("built_quarter", sa.String(length=10), nullable=False),
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("indicator_id", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("data_status", sa.String(length=16), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("built_quarter", "quarter", "indicator_id"),
        comment=(
            "The workbook data sheet of each built quarter: every indicator for each quarter up to it, "
            "as that build computed them."
        ),
    )
    if op.get_bind().dialect.supports_comments:
        op.create_table_comment("mart_scorecard", SCORECARD_COMMENT, existing_comment=OLD_SCORECARD_COMMENT)


def downgrade() -> None:
    if op.get_bind().dialect.supports_comments:
        op.create_table_comment("mart_scorecard", OLD_SCORECARD_COMMENT, existing_comment=SCORECARD_COMMENT)
    op.drop_table("mart_indicator_history")
