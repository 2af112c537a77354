"""The partner portal: accounts (``portal_users``, ``portal_user_sources``), server-side sessions,
one-time set-password links, the audit log, the files submitted through the portal (linked to
the load intake made of each) and the late-return reminders sent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_audit",
        sa.Column("audit_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("audit_id"),
        comment="Every login, upload, submission and download through the portal: who, what, when.",
    )
    with op.batch_alter_table("portal_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_audit_at"), ["at"], unique=False)

    op.create_table(
        "portal_reminders",
        sa.Column("quarter", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("quarter", "source", "email"),
        comment="Late-return reminders sent: at most one per quarter, source and data officer.",
    )
    op.create_table(
        "portal_users",
        sa.Column("user_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("password_set_at", sa.DateTime(), nullable=True),
        sa.Column("disabled_at", sa.DateTime(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("user_id"),
        sa.UniqueConstraint("email"),
        comment="Portal accounts: who may sign in, with which role.",
    )
    op.create_table(
        "portal_sessions",
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_users.user_id"],
        ),
        sa.PrimaryKeyConstraint("session_hash"),
        comment="Server-side portal sessions, with idle and absolute expiry.",
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "portal_submissions",
        sa.Column("submission_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("original_name", sa.Text(), nullable=False),
        sa.Column("inbox_name", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("load_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["load_id"],
            ["load_files.load_id"],
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_users.user_id"],
        ),
        sa.PrimaryKeyConstraint("submission_id"),
        comment="Files data officers submitted through the portal, and the load intake made of each.",
    )
    with op.batch_alter_table("portal_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_submissions_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_portal_submissions_source"), ["source"], unique=False)
        batch_op.create_index(batch_op.f("ix_portal_submissions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "portal_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_users.user_id"],
        ),
        sa.PrimaryKeyConstraint("token_hash"),
        comment="One-time links emailed to users to set a password.",
    )
    with op.batch_alter_table("portal_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "portal_user_sources",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["portal_users.user_id"],
        ),
        sa.PrimaryKeyConstraint("user_id", "source"),
        comment="The sources a data officer submits and sees returns for.",
    )


def downgrade() -> None:
    op.drop_table("portal_user_sources")
    with op.batch_alter_table("portal_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_tokens_user_id"))

    op.drop_table("portal_tokens")
    with op.batch_alter_table("portal_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_submissions_user_id"))
        batch_op.drop_index(batch_op.f("ix_portal_submissions_source"))
        batch_op.drop_index(batch_op.f("ix_portal_submissions_sha256"))

    op.drop_table("portal_submissions")
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_user_id"))

    op.drop_table("portal_sessions")
    op.drop_table("portal_users")
    op.drop_table("portal_reminders")
    with op.batch_alter_table("portal_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_audit_at"))

    op.drop_table("portal_audit")
