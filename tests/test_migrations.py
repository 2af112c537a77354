"""Warehouse migrations on SQLite and PostgreSQL: upgrades keep every row, and the migrations
describe exactly the schema the code expects."""

from __future__ import annotations

from datetime import date, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select

from pipelines.warehouse import connect_warehouse, init_warehouse
from pipelines.warehouse.migrate import current_revision, head_revision, upgrade
from pipelines.warehouse.schema import load_files, table_for, warehouse_metadata


def test_upgrade_from_the_first_migration_keeps_every_row(warehouse_url):
    engine = connect_warehouse(warehouse_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert "receipt" not in {c["name"] for c in inspect(engine).get_columns("load_files")}
    with engine.begin() as conn:
        conn.execute(load_files_v1_insert())
        conn.execute(
            insert(table_for("csws_referrals")).values(
                [
                    {
                        "referral_id": "R1",
                        "child_pseudonym": "p" * 64,
                        "referral_date": date(2024, 5, 1),
                        "domestic_abuse": True,
                        "load_id": 1,
                    },
                    {
                        "referral_id": "R2",
                        "child_pseudonym": "q" * 64,
                        "referral_date": date(2024, 6, 1),
                        "domestic_abuse": None,
                        "load_id": 1,
                    },
                ]
            )
        )
    init_warehouse(engine)  # what every command does on start
    assert current_revision(engine) == head_revision() == "0008"
    with engine.connect() as conn:
        loads = conn.execute(select(load_files)).mappings().all()
        referrals = conn.execute(select(table_for("csws_referrals")).order_by("referral_id")).mappings().all()
    assert [
        (r["load_id"], r["original_name"], r["rows_loaded"], r["receipt"], r["original_deleted_at"]) for r in loads
    ] == [(1, "q1.xlsx", 2, None, None)]
    assert [(r["referral_id"], r["referral_date"], r["domestic_abuse"]) for r in referrals] == [
        ("R1", date(2024, 5, 1), True),
        ("R2", date(2024, 6, 1), None),
    ]
    engine.dispose()


def load_files_v1_insert():
    """A load record with only the columns the first migration has."""
    from sqlalchemy import column, table

    v1 = table(
        "load_files",
        column("load_id"),
        column("source"),
        column("original_name"),
        column("sha256"),
        column("status"),
        column("received_at"),
        column("rows_read"),
        column("rows_loaded"),
        column("rows_rejected"),
    )
    return insert(v1).values(
        load_id=1,
        source="csws_referrals",
        original_name="q1.xlsx",
        sha256="a" * 64,
        status="accepted",
        received_at=datetime(2024, 7, 1, 9, 0),
        rows_read=2,
        rows_loaded=2,
        rows_rejected=0,
    )


def test_migrations_match_the_schema_in_code(warehouse):
    with warehouse.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), warehouse_metadata()
        )
    assert differences == []


def test_a_warehouse_made_before_migrations_is_adopted(tmp_path):
    """Tables created without Alembic (the first releases) are stamped, then upgraded, rows kept."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = connect_warehouse(url)
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(load_files_v1_insert())
        conn.exec_driver_sql("DROP TABLE alembic_version")
    init_warehouse(engine)
    assert current_revision(engine) == "0008"
    with engine.connect() as conn:
        assert conn.execute(select(load_files.c.original_name)).scalars().all() == ["q1.xlsx"]
    engine.dispose()


def test_revisions_table_upgrades_and_downgrades(warehouse_url):
    """0006 adds indicator_revisions; its downgrade removes it and nothing else."""
    from pipelines.warehouse.migrate import downgrade

    engine = connect_warehouse(warehouse_url)
    upgrade(engine, "0005")
    assert "indicator_revisions" not in inspect(engine).get_table_names()
    init_warehouse(engine)
    assert current_revision(engine) == "0008"
    columns = {c["name"] for c in inspect(engine).get_columns("indicator_revisions")}
    assert {
        "quarter",
        "indicator_id",
        "old_value",
        "new_value",
        "detected_at",
        "notified_at",
        "footnoted_in",
    } <= columns
    downgrade(engine, "0005")
    assert current_revision(engine) == "0005"
    tables = set(inspect(engine).get_table_names())
    assert "indicator_revisions" not in tables and "mart_indicator_history" in tables
    engine.dispose()


def test_portal_tables_upgrade_and_downgrade(warehouse_url):
    """0007 adds the portal's tables; its downgrade removes them and nothing else."""
    from pipelines.warehouse.migrate import downgrade

    portal = {
        "portal_users",
        "portal_user_sources",
        "portal_sessions",
        "portal_tokens",
        "portal_audit",
        "portal_submissions",
        "portal_reminders",
    }
    engine = connect_warehouse(warehouse_url)
    upgrade(engine, "0006")
    assert not portal & set(inspect(engine).get_table_names())
    init_warehouse(engine)
    assert portal <= set(inspect(engine).get_table_names())
    downgrade(engine, "0006")
    tables = set(inspect(engine).get_table_names())
    assert not portal & tables and {"indicator_revisions", "load_files"} <= tables
    engine.dispose()


def test_commentary_table_upgrades_and_downgrades(warehouse_url):
    """0008 adds indicator_commentary, keeping the rows already there; its downgrade removes it
    and nothing else."""
    from pipelines.warehouse.migrate import downgrade
    from pipelines.warehouse.schema import portal_users

    engine = connect_warehouse(warehouse_url)
    upgrade(engine, "0007")
    assert "indicator_commentary" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(
            insert(portal_users).values(
                email="a@lscp.example", role="analyst", created_at=datetime(2025, 1, 1), failed_logins=0
            )
        )
    init_warehouse(engine)
    assert current_revision(engine) == "0008"
    columns = {c["name"] for c in inspect(engine).get_columns("indicator_commentary")}
    assert columns == {"commentary_id", "quarter", "indicator_id", "text", "author", "written_at"}
    indexes = {i["name"]: i["column_names"] for i in inspect(engine).get_indexes("indicator_commentary")}
    assert indexes == {"ix_indicator_commentary_quarter_indicator": ["quarter", "indicator_id"]}
    with engine.connect() as conn:
        assert conn.execute(select(portal_users.c.email)).scalars().all() == ["a@lscp.example"]
    downgrade(engine, "0007")
    assert current_revision(engine) == "0007"
    tables = set(inspect(engine).get_table_names())
    assert "indicator_commentary" not in tables and {"portal_users", "indicator_revisions"} <= tables
    engine.dispose()
