"""The initial warehouse: load_files, stg_/ref_ tables for every source, and the marts.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "load_files",
        sa.Column("load_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("original_name", sa.Text(), nullable=False),
        sa.Column("stored_name", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("sheet", sa.Text(), nullable=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("load_id"),
        comment="Every file received, accepted or not, with its counts: the intake audit trail.",
    )
    with op.batch_alter_table("load_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_load_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "mart_indicator_month",
        sa.Column("indicator_id", sa.String(length=16), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("data_status", sa.String(length=16), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("indicator_id", "month"),
        comment="Each indicator's monthly value (the SPC series), replaced when recomputed.",
    )
    op.create_table(
        "mart_indicator_quarter",
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("indicator_id", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("data_status", sa.String(length=16), nullable=False),
        sa.Column("rag", sa.String(length=8), nullable=False),
        sa.Column("previous_quarter", sa.Float(), nullable=True),
        sa.Column("same_quarter_last_year", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(length=20), nullable=True),
        sa.Column("spc_variation", sa.String(length=32), nullable=True),
        sa.Column("spc_assurance", sa.String(length=16), nullable=True),
        sa.Column("spc_points", sa.Integer(), nullable=True),
        sa.Column("spc_mean", sa.Float(), nullable=True),
        sa.Column("spc_lower_limit", sa.Float(), nullable=True),
        sa.Column("spc_upper_limit", sa.Float(), nullable=True),
        sa.Column("disclosive", sa.Boolean(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("built_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("quarter", "indicator_id"),
        comment="Each indicator's value for each built quarter; a rebuild replaces the quarter's rows.",
    )
    op.create_table(
        "mart_scorecard",
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("generated_at", sa.DateTime(), nullable=False),
        sa.Column("exceptions", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("quarter"),
        comment="The scorecard.json of each built quarter, as built.",
    )
    op.create_table(
        "ref_benchmarks",
        sa.Column("indicator_id", sa.Text(), nullable=False),
        sa.Column("comparator", sa.String(length=40), nullable=False),
        sa.Column("period", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.PrimaryKeyConstraint("indicator_id", "comparator", "period"),
        comment="Indicator benchmarks",
    )
    with op.batch_alter_table("ref_benchmarks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ref_benchmarks_load_id"), ["load_id"], unique=False)

    op.create_table(
        "ref_population",
        sa.Column("year", sa.BigInteger(), nullable=False),
        sa.Column("population_0_17", sa.BigInteger(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.PrimaryKeyConstraint("year"),
        comment="Mid-year population estimates",
    )
    with op.batch_alter_table("ref_population", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ref_population_load_id"), ["load_id"], unique=False)

    op.create_table(
        "stg_csws_referrals",
        sa.Column("referral_id", sa.Text(), nullable=False),
        sa.Column("child_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("referral_date", sa.Date(), nullable=True),
        sa.Column("referral_source", sa.String(length=40), nullable=True),
        sa.Column("domestic_abuse", sa.Boolean(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.PrimaryKeyConstraint("referral_id"),
        comment="Children's social work referrals",
    )
    with op.batch_alter_table("stg_csws_referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stg_csws_referrals_child_pseudonym"), ["child_pseudonym"], unique=False)
        batch_op.create_index(batch_op.f("ix_stg_csws_referrals_load_id"), ["load_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stg_csws_referrals_referral_date"), ["referral_date"], unique=False)

    op.create_table(
        "stg_missing_episodes",
        sa.Column("episode_id", sa.Text(), nullable=False),
        sa.Column("child_pseudonym", sa.String(length=64), nullable=True),
        sa.Column("missing_from", sa.DateTime(), nullable=True),
        sa.Column("returned_at", sa.DateTime(), nullable=True),
        sa.Column("looked_after", sa.Boolean(), nullable=True),
        sa.Column("cse_risk", sa.Boolean(), nullable=True),
        sa.Column("sex", sa.String(length=40), nullable=True),
        sa.Column("return_interview_offered", sa.Boolean(), nullable=True),
        sa.Column("return_interview_completed_at", sa.DateTime(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.PrimaryKeyConstraint("episode_id"),
        comment="Missing from home or care episodes",
    )
    with op.batch_alter_table("stg_missing_episodes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stg_missing_episodes_child_pseudonym"), ["child_pseudonym"], unique=False)
        batch_op.create_index(batch_op.f("ix_stg_missing_episodes_load_id"), ["load_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stg_missing_episodes_missing_from"), ["missing_from"], unique=False)

    op.create_table(
        "stg_police_domestic_incidents",
        sa.Column("incident_ref", sa.Text(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("children_present", sa.Boolean(), nullable=True),
        sa.Column("children_count", sa.BigInteger(), nullable=True),
        sa.Column("repeat_victim", sa.Boolean(), nullable=True),
        sa.Column("risk_level", sa.String(length=40), nullable=True),
        sa.Column("school_notified_at", sa.DateTime(), nullable=True),
        sa.Column("district", sa.Text(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.PrimaryKeyConstraint("incident_ref"),
        comment="Police domestic incidents",
    )
    with op.batch_alter_table("stg_police_domestic_incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stg_police_domestic_incidents_load_id"), ["load_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_stg_police_domestic_incidents_reported_at"), ["reported_at"], unique=False)

    op.create_table(
        "stg_school_attendance",
        sa.Column("school_urn", sa.BigInteger(), nullable=False),
        sa.Column("school_name", sa.Text(), nullable=True),
        sa.Column("phase", sa.String(length=40), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("enrolments", sa.BigInteger(), nullable=True),
        sa.Column("sessions_possible", sa.BigInteger(), nullable=True),
        sa.Column("sessions_absent", sa.BigInteger(), nullable=True),
        sa.Column("sessions_unauthorised", sa.BigInteger(), nullable=True),
        sa.Column("persistent_absentees", sa.BigInteger(), nullable=True),
        sa.Column("severe_absentees", sa.BigInteger(), nullable=True),
        sa.Column("suspensions", sa.BigInteger(), nullable=True),
        sa.Column("load_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.PrimaryKeyConstraint("school_urn", "period_start", "period_end"),
        comment="School attendance",
    )
    with op.batch_alter_table("stg_school_attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stg_school_attendance_load_id"), ["load_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stg_school_attendance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stg_school_attendance_load_id"))

    op.drop_table("stg_school_attendance")
    with op.batch_alter_table("stg_police_domestic_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stg_police_domestic_incidents_reported_at"))
        batch_op.drop_index(batch_op.f("ix_stg_police_domestic_incidents_load_id"))

    op.drop_table("stg_police_domestic_incidents")
    with op.batch_alter_table("stg_missing_episodes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stg_missing_episodes_missing_from"))
        batch_op.drop_index(batch_op.f("ix_stg_missing_episodes_load_id"))
        batch_op.drop_index(batch_op.f("ix_stg_missing_episodes_child_pseudonym"))

    op.drop_table("stg_missing_episodes")
    with op.batch_alter_table("stg_csws_referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stg_csws_referrals_referral_date"))
        batch_op.drop_index(batch_op.f("ix_stg_csws_referrals_load_id"))
        batch_op.drop_index(batch_op.f("ix_stg_csws_referrals_child_pseudonym"))

    op.drop_table("stg_csws_referrals")
    with op.batch_alter_table("ref_population", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ref_population_load_id"))

    op.drop_table("ref_population")
    with op.batch_alter_table("ref_benchmarks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ref_benchmarks_load_id"))

    op.drop_table("ref_benchmarks")
    op.drop_table("mart_scorecard")
    op.drop_table("mart_indicator_quarter")
    op.drop_table("mart_indicator_month")
    with op.batch_alter_table("load_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_load_files_sha256"))

    op.drop_table("load_files")
