"""Faults, for real: a PostgreSQL backend terminated mid-load, an SMTP server that is down or
refuses, and a process killed between steps. Each time nothing is lost or duplicated, and simply
running again finishes the job."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from pipelines.config import load_settings
from pipelines.intake import run_intake
from pipelines.warehouse import WarehouseUnavailable, connect_warehouse, init_warehouse
from pipelines.warehouse.schema import load_files, mart_indicator_quarter, table_for
from tests.smtp_server import free_port
from tests.test_intake import police_rows, write_xlsx

pytestmark = pytest.mark.slow

SCORECARD = str(Path(sys.executable).parent / "scorecard")
POLICE = table_for("police_domestic_incidents")


def counts(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(POLICE)).scalar_one()
        loads = conn.execute(select(func.count()).select_from(load_files)).scalar_one()
    engine.dispose()
    return rows, loads


def test_postgres_connection_terminated_mid_load(scorecard_home, pg_url, monkeypatch):
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", pg_url)
    settings = load_settings()
    settings.ensure_folders()
    engine = connect_warehouse(pg_url)
    init_warehouse(engine)
    with engine.begin() as conn:  # the 1,500th row makes the loading backend sleep: a window to kill it
        conn.exec_driver_sql(
            "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.incident_ref = 'INC01500' THEN PERFORM pg_sleep(30); END IF; RETURN NEW; END $$"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER slow BEFORE INSERT ON stg_police_domestic_incidents FOR EACH ROW EXECUTE FUNCTION slow()"
        )
    write_xlsx(settings.inbox / "big.xlsx", police_rows(3000))
    database = pg_url.rsplit("/", 1)[1]
    killed = []

    def killer():
        admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + 60
        with admin.connect() as conn:
            while time.monotonic() < deadline and not killed:
                pids = (
                    conn.execute(
                        text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND wait_event = 'PgSleep'"),
                        {"db": database},
                    )
                    .scalars()
                    .all()
                )
                for pid in pids:
                    killed.append(conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one())
                time.sleep(0.05)
        admin.dispose()

    watcher = threading.Thread(target=killer)
    watcher.start()
    with pytest.raises(WarehouseUnavailable, match="stays in the inbox"):
        run_intake(settings)
    watcher.join()
    assert killed == [True]
    assert (settings.inbox / "big.xlsx").exists()  # left for the next run
    assert list(settings.processing.glob("*.claim")) == []  # the claim was released
    assert counts(pg_url) == (0, 0)  # nothing half-loaded, not even the load record
    assert list(settings.archive.iterdir()) == [] and list(settings.receipts.iterdir()) == []

    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER slow ON stg_police_domestic_incidents")
    [outcome] = run_intake(settings).outcomes
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 3000)
    assert counts(pg_url) == (3000, 1)
    engine.dispose()


class Refuser:
    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 Message refused by policy"


def test_smtp_outage_queues_mail_and_a_later_run_sends_it(scorecard_home, smtp_server, monkeypatch, tmp_path):
    from aiosmtpd.controller import Controller

    from pipelines.build import build_quarter
    from pipelines.generate import generate
    from pipelines.periods import Quarter
    from tests.smtp_server import Catcher

    port = free_port()  # nothing listens here yet: the server is down
    monkeypatch.setenv("SCORECARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCORECARD_SMTP_PORT", str(port))
    settings = load_settings()
    settings.ensure_folders()
    quarter = Quarter.parse("2024-25Q1")
    generate(settings.inbox, quarters=1, seed=5, end_quarter=quarter, scale=0.05)
    files = sorted(settings.inbox.iterdir())
    run = run_intake(settings, files=files)
    assert all(o.status == "accepted" for o in run.outcomes) and len(run.outcomes) == len(files)
    result = build_quarter(settings, quarter)
    assert result.html.exists() and result.xlsx.exists()  # the scorecard is written regardless
    assert result.email.startswith("queued in ")
    queue = settings.outbox / "queued"
    assert len(list(queue.glob("*.eml"))) == len(files) + 1

    # A server that refuses: still queued, nothing lost.
    refusing = Controller(Refuser(), hostname="127.0.0.1", port=port)
    refusing.start()
    try:
        run_intake(settings)
    finally:
        refusing.stop()
    assert len(list(queue.glob("*.eml"))) == len(files) + 1

    # The server is back: the next run sends everything queued, once.
    catcher = Catcher()
    server = Controller(catcher, hostname="127.0.0.1", port=port)
    server.start()
    try:
        run_intake(settings)
    finally:
        server.stop()
    subjects = [m["Subject"] for m in catcher.messages()]
    assert len(subjects) == len(files) + 1
    assert sum(s.startswith("LSCP performance scorecard 2024-25 Q1") for s in subjects) == 1
    assert list(queue.glob("*.eml")) == []


def _scorecard(home: Path, args: list[str], **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    environment.update(
        SCORECARD_HOME=str(home), SCORECARD_PSEUDONYM_KEY="test-key-not-secret", SCORECARD_SETTLE_SECONDS="0", **env
    )
    return subprocess.run([SCORECARD, *args], capture_output=True, text=True, env=environment, timeout=300)


@pytest.mark.parametrize("point", ["after_load_committed", "after_receipt_written", "after_file_moved"])
def test_a_process_killed_between_steps_is_recovered_by_running_again(tmp_path, point):
    home = tmp_path / "home"
    settings = load_settings({"SCORECARD_HOME": str(home)})
    settings.ensure_folders()
    write_xlsx(settings.inbox / "a.xlsx", police_rows(30))
    write_xlsx(settings.inbox / "b.xlsx", police_rows(20, start=100))
    (settings.inbox / "c.xlsx").write_bytes(b"%PDF-1.4 not a workbook")

    crashed = _scorecard(home, ["intake"], SCORECARD_FAULT_KILL_AT=point)
    assert crashed.returncode == -9, crashed.stderr  # killed for real, part way through

    again = _scorecard(home, ["intake"])
    assert again.returncode == 0, again.stderr
    url = f"sqlite:///{home / 'warehouse.db'}"
    assert counts(url) == (50, 3)  # every row once, one load record per file
    engine = create_engine(url)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(load_files.c.original_name, load_files.c.status)).all()) == [
            ("a.xlsx", "accepted"),
            ("b.xlsx", "accepted"),
            ("c.xlsx", "rejected"),
        ]
    engine.dispose()
    assert list(settings.inbox.iterdir()) == []
    stored = sorted(
        p.name.split("_", 2)[2] for folder in (settings.archive, settings.rejected) for p in folder.iterdir()
    )
    assert stored == ["a.xlsx", "b.xlsx", "c.xlsx"]  # each original exactly once
    receipts = sorted(p.name.split("_", 2)[2] for p in settings.receipts.glob("*.receipt.json"))
    assert receipts == ["a.receipt.json", "b.receipt.json", "c.receipt.json"]
    assert list(settings.processing.iterdir()) == []  # no claim, snapshot or note left
    mails = [p.read_text() for p in settings.outbox.glob("*.eml")]
    assert sorted(n for m in mails for n in ("a.xlsx", "b.xlsx", "c.xlsx") if f"receipt: {n}" in m) == [
        "a.xlsx",
        "b.xlsx",
        "c.xlsx",
    ]  # one receipt email per file, however the run was interrupted


def test_a_build_killed_after_storing_is_finished_by_building_again(tmp_path):
    from pipelines.generate import generate
    from pipelines.periods import Quarter

    home = tmp_path / "home"
    settings = load_settings({"SCORECARD_HOME": str(home)})
    settings.ensure_folders()
    generate(settings.inbox, quarters=1, seed=2, end_quarter=Quarter.parse("2024-25Q1"), scale=0.05)
    assert _scorecard(home, ["intake"]).returncode == 0
    crashed = _scorecard(home, ["build", "--quarter", "2024-25Q1"], SCORECARD_FAULT_KILL_AT="after_marts_stored")
    assert crashed.returncode == -9
    assert not (settings.out / "2024-25Q1").exists()  # nothing half-published
    again = _scorecard(home, ["build", "--quarter", "2024-25Q1"])
    assert again.returncode == 0, again.stderr
    assert (settings.out / "2024-25Q1" / "scorecard.html").exists()
    engine = create_engine(f"sqlite:///{home / 'warehouse.db'}")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mart_indicator_quarter)).scalar_one() == 23
    engine.dispose()
    assert len(list(settings.outbox.glob("*lscp-performance-scorecard-2024-25-q1*.eml"))) == 1  # sent once
