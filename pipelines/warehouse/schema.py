"""Warehouse tables: the fixed ones (load records, marts) and one per source, derived from the
source definitions so a column is declared once.

The tables of sources depend on the rules folder in use (``SCORECARD_RESOURCES``): a
partnership's own rules may add a source. ``warehouse_metadata()`` is the whole schema for the
rules in use (what migrations are generated against); ``table_for`` finds a source's table in it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from ..resources import resource_root
from ..sources import Column as SourceColumn
from ..sources import Source, sources_at

# The tables every warehouse has, whatever its sources; each rules folder's schema holds copies
# of them (a table belongs to one MetaData), which name the same tables in the same database.
fixed_metadata = MetaData()

_TYPES: dict[str, Callable[[], TypeEngine]] = {
    "text": lambda: Text(),
    "int": lambda: BigInteger(),
    "number": lambda: Float(),
    "date": lambda: Date(),
    "datetime": lambda: DateTime(),
    "bool": lambda: Boolean(),
    "enum": lambda: String(40),
}

PSEUDONYM_SUFFIX = "_pseudonym"

load_files = Table(
    "load_files",
    fixed_metadata,
    Column("load_id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64)),
    Column("original_name", Text, nullable=False),
    Column("stored_name", Text),
    Column("sha256", String(64), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # accepted | rejected | duplicate
    Column("received_at", DateTime, nullable=False),
    Column("sheet", Text),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_loaded", Integer, nullable=False, default=0),
    Column("rows_rejected", Integer, nullable=False, default=0),
    Column("message", Text),
    Column("receipt", Text),  # the receipt as JSON, so a run after a crash can finish the file's steps
    Column("original_deleted_at", DateTime),  # when retention deleted the original (kept: the record)
    Column("receipt_mailed_at", DateTime),  # when the receipt was sent or queued: at most once per load
    Column("finished_at", DateTime),  # when the original was filed away: until then the load is unfinished
    comment="Every file received, accepted or not, with its counts: the intake audit trail.",
)


def warehouse_column_name(source_column: SourceColumn) -> str:
    """Personal identifiers are stored only as pseudonyms, under a name that says so."""
    if source_column.personal:
        return source_column.name.removesuffix("_id") + PSEUDONYM_SUFFIX
    return source_column.name


def _indexed(source: Source, column: SourceColumn) -> bool:
    """Every indicator filters on a date its period is found by (``period`` in the source's
    definition), so each such column has its own index unless the primary key already starts
    with it (a later key column, like attendance's ``period_end``, is no help to a range on it)."""
    if column.name in source.period_columns:
        return source.key[:1] != (column.name,)
    return column.personal and column.name not in source.key and not source.period_column


def _source_table(source: Source, schema: MetaData) -> Table:
    columns = [
        Column(
            warehouse_column_name(c),
            String(64) if c.personal else _TYPES[c.type](),
            primary_key=c.name in source.key,
            nullable=c.name not in source.key,
            index=_indexed(source, c),
        )
        for c in source.columns
    ]
    columns.append(Column("load_id", Integer, ForeignKey("load_files.load_id"), nullable=False, index=True))
    # A child's rows by date: re-referrals look up a child's earlier referrals within a year,
    # which this index answers from the index alone (the pseudonym alone would read every
    # earlier referral of the child from the table).
    indexes = [
        Index(
            f"ix_{source.table}_{warehouse_column_name(c)}_{source.period_column}",
            warehouse_column_name(c),
            source.period_column,
        )
        for c in source.columns
        if c.personal and c.name not in source.key and source.period_column
    ]
    return Table(source.table, schema, *columns, *indexes, comment=source.title)


mart_indicator_quarter = Table(
    "mart_indicator_quarter",
    fixed_metadata,
    Column("quarter", String(10), primary_key=True),
    Column("indicator_id", String(16), primary_key=True),
    Column("value", Float),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("data_status", String(16), nullable=False),
    Column("rag", String(8), nullable=False),
    Column("previous_quarter", Float),
    Column("same_quarter_last_year", Float),
    Column("direction", String(20)),
    Column("spc_variation", String(32)),
    Column("spc_assurance", String(16)),
    Column("spc_points", Integer),
    Column("spc_mean", Float),
    Column("spc_lower_limit", Float),
    Column("spc_upper_limit", Float),
    Column("disclosive", Boolean, nullable=False),
    Column("suppressed", Boolean, nullable=False),
    Column("built_at", DateTime, nullable=False),
    comment="Each indicator's value for each built quarter; a rebuild replaces the quarter's rows.",
)

mart_indicator_month = Table(
    "mart_indicator_month",
    fixed_metadata,
    Column("indicator_id", String(16), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("value", Float),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("data_status", String(16), nullable=False),
    Column("built_at", DateTime, nullable=False),
    comment="Each indicator's monthly value (the SPC series), replaced when recomputed.",
)

mart_scorecard = Table(
    "mart_scorecard",
    fixed_metadata,
    Column("quarter", String(10), primary_key=True),
    Column("generated_at", DateTime, nullable=False),
    Column("exceptions", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    comment="Each built quarter's scorecard as built (the typed model as JSON: scorecard.json and every decision its outputs show).",
)

mart_indicator_history = Table(
    "mart_indicator_history",
    fixed_metadata,
    Column("built_quarter", String(10), primary_key=True),
    Column("quarter", String(10), primary_key=True),
    Column("indicator_id", String(16), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("value", Float),
    Column("numerator", Float),
    Column("denominator", Float),
    Column("data_status", String(16), nullable=False),
    Column("suppressed", Boolean, nullable=False),
    Column("built_at", DateTime, nullable=False),
    comment="The workbook data sheet of each built quarter: every indicator for each quarter up to it, as that build computed them.",
)

indicator_revisions = Table(
    "indicator_revisions",
    fixed_metadata,
    Column("revision_id", Integer, primary_key=True, autoincrement=True),
    Column("quarter", String(10), nullable=False, index=True),
    Column("indicator_id", String(16), nullable=False),
    Column("old_value", Float),
    Column("old_data_status", String(16), nullable=False),
    Column("old_suppressed", Boolean, nullable=False),
    Column("new_value", Float),
    Column("new_data_status", String(16), nullable=False),
    Column("new_suppressed", Boolean, nullable=False),
    Column("detected_at", DateTime, nullable=False),  # UTC
    Column("notified_at", DateTime),  # when the analyst's revision notice was sent or queued (UTC)
    Column("footnoted_in", String(10), index=True),  # the quarter whose scorecard's notes carry it
    comment="Each published indicator value that later data changed: the value published and the value now.",
)

# Lead officers' commentary (pipelines/commentary.py). History is kept: each entry is a new row
# and the latest (by written_at, then entry id) for a quarter and indicator is the one shown, so
# what a published scorecard said can always be found again. Plain text only: never markup.
indicator_commentary = Table(
    "indicator_commentary",
    fixed_metadata,
    Column("commentary_id", Integer, primary_key=True, autoincrement=True),
    Column("quarter", String(10), nullable=False),
    Column("indicator_id", String(16), nullable=False),
    Column("text", Text, nullable=False),  # at most 2,000 characters (pipelines.commentary.MAX_CHARS)
    Column("author", String(254), nullable=False),  # the portal user's email, or the name given to the command
    Column("written_at", DateTime, nullable=False),  # UTC
    Index("ix_indicator_commentary_quarter_indicator", "quarter", "indicator_id"),
    comment="Lead officers' commentary per indicator and quarter, every entry kept; the latest is shown.",
)


# The partner portal (pipelines/portal): accounts, sessions, one-time links, the audit log, the
# files submitted through it and the reminders sent. Passwords, session ids and link tokens are
# kept only as hashes (argon2id for passwords, SHA-256 for random tokens).
portal_users = Table(
    "portal_users",
    fixed_metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # data_officer | analyst | board
    Column("password_hash", Text),  # argon2id; null until the user sets a password
    Column("created_at", DateTime, nullable=False),  # UTC, as every portal time
    Column("password_set_at", DateTime),
    Column("disabled_at", DateTime),
    Column("failed_logins", Integer, nullable=False, default=0),  # wrong passwords since the last good one
    Column("locked_at", DateTime),  # locked after repeated failures, until the analyst resets it
    comment="Portal accounts: who may sign in, with which role.",
)

portal_user_sources = Table(
    "portal_user_sources",
    fixed_metadata,
    Column("user_id", Integer, ForeignKey("portal_users.user_id"), primary_key=True),
    Column("source", String(64), primary_key=True),
    comment="The sources a data officer submits and sees returns for.",
)

portal_sessions = Table(
    "portal_sessions",
    fixed_metadata,
    Column("session_hash", String(64), primary_key=True),  # SHA-256 of the cookie's random token
    Column("user_id", Integer, ForeignKey("portal_users.user_id"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("last_seen_at", DateTime, nullable=False),
    Column("ended_at", DateTime),  # logout, expiry noticed, or the user disabled
    comment="Server-side portal sessions, with idle and absolute expiry.",
)

portal_tokens = Table(
    "portal_tokens",
    fixed_metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the emailed token
    Column("user_id", Integer, ForeignKey("portal_users.user_id"), nullable=False, index=True),
    Column("purpose", String(16), nullable=False),  # set_password
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("used_at", DateTime),
    comment="One-time links emailed to users to set a password.",
)

portal_audit = Table(
    "portal_audit",
    fixed_metadata,
    Column("audit_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False, index=True),
    Column("user_id", Integer),
    Column("email", String(254)),  # as typed at a failed login: never a password
    Column("action", String(32), nullable=False),  # login, login_failed, upload, submit, download, ...
    Column("detail", Text),  # what was acted on (a submission id, a file name): no partner cell content
    Column("remote", String(64)),
    comment="Every login, upload, submission and download through the portal: who, what, when.",
)

portal_submissions = Table(
    "portal_submissions",
    fixed_metadata,
    Column("submission_id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("portal_users.user_id"), nullable=False, index=True),
    Column("source", String(64), nullable=False, index=True),
    Column("original_name", Text, nullable=False),
    Column("inbox_name", Text, nullable=False),  # the name it was given in inbox/<source>/
    Column("sha256", String(64), nullable=False, index=True),
    Column("size_bytes", BigInteger, nullable=False),
    Column("submitted_at", DateTime, nullable=False),
    Column("load_id", Integer, ForeignKey("load_files.load_id")),  # set once intake has taken it in
    comment="Files data officers submitted through the portal, and the load intake made of each.",
)

portal_reminders = Table(
    "portal_reminders",
    fixed_metadata,
    Column("quarter", String(10), primary_key=True),
    Column("source", String(64), primary_key=True),
    Column("email", String(254), primary_key=True),
    Column("sent_at", DateTime, nullable=False),
    comment="Late-return reminders sent: at most one per quarter, source and data officer.",
)


@cache
def schema_at(root: Path) -> MetaData:
    """Every warehouse table for the rules folder ``root``: the fixed ones and each source's."""
    schema = MetaData()
    for table in fixed_metadata.tables.values():
        table.to_metadata(schema)
    for source in sources_at(root).values():
        _source_table(source, schema)
    return schema


def warehouse_metadata() -> MetaData:
    """The whole warehouse schema for the rules in use: what the migrations must build."""
    return schema_at(resource_root())


def source_tables() -> dict[str, Table]:
    """Each source's table for the rules in use, by source name, in the source order."""
    root = resource_root()
    schema = schema_at(root)
    return {name: schema.tables[source.table] for name, source in sources_at(root).items()}


def table_for(source_name: str) -> Table:
    """The table of a source of the rules in use (``stg_<source>`` or ``ref_<source>``)."""
    root = resource_root()
    return schema_at(root).tables[sources_at(root)[source_name].table]
