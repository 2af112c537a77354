"""Privacy and access: owner-only folders and files, the key never logged, and retention of
archived originals with the deletion recorded."""

from __future__ import annotations

import logging
import stat
from datetime import datetime, timedelta

from sqlalchemy import create_engine, select, update

from pipelines.config import load_settings
from pipelines.intake import run_intake
from pipelines.intake.pseudonym import demo_key
from pipelines.warehouse.schema import load_files
from tests.test_intake import police_rows, write_xlsx


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_folders_and_files_are_owner_only(scorecard_home, caplog):
    caplog.set_level(logging.DEBUG)
    settings = load_settings()
    settings.ensure_folders()
    write_xlsx(settings.inbox / "good.xlsx", police_rows(10))
    rows = police_rows(10, start=50)
    rows[0][1] = "31/02/2024"
    write_xlsx(settings.inbox / "some_bad.xlsx", rows)
    (settings.inbox / "bad.csv").write_bytes(b"")
    run_intake(settings)
    for folder in (
        settings.home,
        settings.archive,
        settings.rejected,
        settings.receipts,
        settings.out,
        settings.outbox,
        settings.processing,
    ):
        assert mode(folder) == 0o700, folder
    # The inbox is the partners' drop folder: its permissions are the operator's to set.
    written = [
        *settings.archive.iterdir(),
        *settings.rejected.iterdir(),
        *settings.receipts.iterdir(),
        settings.home / "warehouse.db",
    ]
    assert len(written) >= 8
    for path in written:
        assert mode(path) == 0o600, path
    assert "test-key-not-secret" not in caplog.text  # the key (set by the fixture) is never logged


def test_demo_key_file_is_owner_only(tmp_path):
    key = demo_key(tmp_path / "home" / "pseudonym.key")
    assert len(key) == 64 and mode(tmp_path / "home" / "pseudonym.key") == 0o600
    assert demo_key(tmp_path / "home" / "pseudonym.key") == key  # created once, then reused


def test_retention_deletes_old_originals_and_records_it(scorecard_home, warehouse_url, monkeypatch):
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    settings = load_settings()
    settings.ensure_folders()
    write_xlsx(settings.inbox / "old.xlsx", police_rows(5))
    (settings.inbox / "old_bad.csv").write_bytes(b"")
    write_xlsx(settings.inbox / "recent.xlsx", police_rows(5, start=10))
    run_intake(settings)
    engine = create_engine(warehouse_url)
    with engine.begin() as conn:  # two files arrived 401 days ago, one 399 days ago
        conn.execute(
            update(load_files)
            .where(load_files.c.original_name.in_(["old.xlsx", "old_bad.csv"]))
            .values(received_at=datetime.utcnow() - timedelta(days=401))
        )
        conn.execute(
            update(load_files)
            .where(load_files.c.original_name == "recent.xlsx")
            .values(received_at=datetime.utcnow() - timedelta(days=399))
        )
    run_intake(settings)  # retention runs first on every intake
    names = sorted(
        p.name.split("_", 2)[2] for folder in (settings.archive, settings.rejected) for p in folder.iterdir()
    )
    assert names == ["recent.xlsx"]
    with engine.connect() as conn:
        records = {r.original_name: r for r in conn.execute(select(load_files))}
    engine.dispose()
    assert (
        records["old.xlsx"].original_deleted_at is not None and records["old_bad.csv"].original_deleted_at is not None
    )
    assert records["recent.xlsx"].original_deleted_at is None
    assert records["old.xlsx"].rows_loaded == 5  # the record and the data stay; only the original goes
    # The same bytes dropped again after their original was deleted are still a duplicate, not a recovery.
