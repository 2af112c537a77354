"""Warehouse tables, derived from the source definitions so a column is declared once."""

from __future__ import annotations

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

from ..sources import Source, load_sources

metadata = MetaData()

_TYPES = {
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
    metadata,
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


def warehouse_column_name(source_column) -> str:
    """Personal identifiers are stored only as pseudonyms, under a name that says so."""
    if source_column.personal:
        return source_column.name.removesuffix("_id") + PSEUDONYM_SUFFIX
    return source_column.name


# Other date columns an indicator selects its period by (MI05 takes episodes by the date the
# child returned), indexed like the period column.
PERIOD_ALSO_BY = {"missing_episodes": ("returned_at",)}


def _indexed(source: Source, column) -> bool:
    """Every indicator filters on the event date, so the period column has its own index
    unless the primary key already starts with it (a later key column, like attendance's
    ``period_end``, is no help to a range on it)."""
    if column.name == source.period_column or column.name in PERIOD_ALSO_BY.get(source.name, ()):
        return source.key[:1] != (column.name,)
    return column.personal and column.name not in source.key and not source.period_column


def _source_table(source: Source) -> Table:
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
        Index(f"ix_{source.table}_{warehouse_column_name(c)}_{source.period_column}",
              warehouse_column_name(c), source.period_column)
        for c in source.columns
        if c.personal and c.name not in source.key and source.period_column
    ]
    return Table(source.table, metadata, *columns, *indexes, comment=source.title)


SOURCE_TABLES: dict[str, Table] = {name: _source_table(s) for name, s in load_sources().items()}

mart_indicator_quarter = Table(
    "mart_indicator_quarter",
    metadata,
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
    metadata,
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
    metadata,
    Column("quarter", String(10), primary_key=True),
    Column("generated_at", DateTime, nullable=False),
    Column("exceptions", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    comment="Each built quarter's scorecard as built (the typed model as JSON: scorecard.json and every decision its outputs show).",
)

mart_indicator_history = Table(
    "mart_indicator_history",
    metadata,
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


def table_for(source_name: str) -> Table:
    return SOURCE_TABLES[source_name]
