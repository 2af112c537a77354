"""Indexes for the quarterly build: attendance by period_end, missing episodes by returned_at,
and each child's rows by date.

Every indicator filters its source on the event date; attendance's ``period_end`` is the last
column of its primary key, which no range on it can use, and MI05 takes episodes by
``returned_at``, which had no index. Re-referrals (CS03) look up a child's
earlier referrals, so the pseudonym index becomes (pseudonym, event date): it answers the same
lookups by pseudonym and also the date condition, from the index alone.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHILD_BY_DATE = (("stg_csws_referrals", "referral_date"), ("stg_missing_episodes", "missing_from"))


def upgrade() -> None:
    for table, period in CHILD_BY_DATE:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_child_pseudonym")
            batch.create_index(f"ix_{table}_child_pseudonym_{period}", ["child_pseudonym", period], unique=False)
    with op.batch_alter_table("stg_school_attendance") as batch:
        batch.create_index("ix_stg_school_attendance_period_end", ["period_end"], unique=False)
    with op.batch_alter_table("stg_missing_episodes") as batch:
        batch.create_index("ix_stg_missing_episodes_returned_at", ["returned_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stg_missing_episodes") as batch:
        batch.drop_index("ix_stg_missing_episodes_returned_at")
    with op.batch_alter_table("stg_school_attendance") as batch:
        batch.drop_index("ix_stg_school_attendance_period_end")
    for table, period in CHILD_BY_DATE:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_child_pseudonym_{period}")
            batch.create_index(f"ix_{table}_child_pseudonym", ["child_pseudonym"], unique=False)
