"""Two intake runs at once over the same inbox (two Airflow workers, or a person running
`scorecard intake` while the DAG runs) load each file exactly once; two builds of one quarter
at once never leave duplicate rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from pipelines.config import load_settings
from pipelines.warehouse.schema import load_files, mart_indicator_month, mart_indicator_quarter, table_for
from tests.test_intake import police_rows, write_xlsx

pytestmark = pytest.mark.slow

SCORECARD = str(Path(sys.executable).parent / "scorecard")


def _start(home: Path, url: str, args: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    env.update(
        SCORECARD_HOME=str(home),
        SCORECARD_WAREHOUSE_URL=url,
        SCORECARD_PSEUDONYM_KEY="test-key-not-secret",
        SCORECARD_SETTLE_SECONDS="0",
    )
    return subprocess.Popen([SCORECARD, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_two_intakes_in_parallel_load_each_file_exactly_once(tmp_path, warehouse_url):
    home = tmp_path / "home"
    settings = load_settings({"SCORECARD_HOME": str(home)})
    settings.ensure_folders()
    files = 24
    for i in range(files):
        write_xlsx(settings.inbox / f"police_{i:02d}.xlsx", police_rows(40, start=1 + i * 40))
    # the same content twice under two names: one load, one duplicate, never two loads
    (settings.inbox / "police_00_again.xlsx").write_bytes((settings.inbox / "police_00.xlsx").read_bytes())

    runs = [_start(home, warehouse_url, ["intake"]) for _ in range(2)]
    results = [r.communicate(timeout=600) for r in runs]
    assert [r.returncode for r in runs] == [0, 0], results
    lines = [line for out, _ in results for line in out.splitlines() if line.startswith("[")]
    assert len(lines) == files + 1  # every file reported once, by one of the two runs
    assert all(out.strip() for out, _ in results)  # both runs did some of the work

    engine = create_engine(warehouse_url)
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(table_for("police_domestic_incidents"))).scalar_one()
            == files * 40
        )
        statuses = conn.execute(select(load_files.c.status, func.count()).group_by(load_files.c.status)).all()
        per_hash = conn.execute(
            select(func.count())
            .select_from(load_files)
            .where(load_files.c.status == "accepted")
            .group_by(load_files.c.sha256)
            .having(func.count() > 1)
        ).all()
    engine.dispose()
    assert dict(statuses) == {"accepted": files, "duplicate": 1}
    assert per_hash == []
    assert list(settings.inbox.iterdir()) == []
    assert len(list(settings.archive.iterdir())) == files and len(list(settings.rejected.iterdir())) == 1
    assert len(list(settings.receipts.glob("*.receipt.json"))) == files + 1


def test_two_builds_of_one_quarter_at_once_never_duplicate(tmp_path, warehouse_url):
    from pipelines.generate import generate
    from pipelines.intake import run_intake
    from pipelines.periods import Quarter

    home = tmp_path / "home"
    settings = load_settings(
        {
            "SCORECARD_HOME": str(home),
            "SCORECARD_WAREHOUSE_URL": warehouse_url,
            "SCORECARD_PSEUDONYM_KEY": "test-key-not-secret",
            "SCORECARD_SETTLE_SECONDS": "0",
        }
    )
    settings.ensure_folders()
    generate(settings.inbox, quarters=2, seed=4, end_quarter=Quarter.parse("2024-25Q2"), scale=0.05)
    run_intake(settings)
    builds = [
        _start(home, warehouse_url, ["build", "--quarter", q, "--no-email"])
        for q in ("2024-25Q2", "2024-25Q2", "2024-25Q1")
    ]
    results = [b.communicate(timeout=600) for b in builds]
    assert [b.returncode for b in builds] == [0, 0, 0], results
    engine = create_engine(warehouse_url)
    with engine.connect() as conn:
        per_quarter = dict(
            conn.execute(
                select(mart_indicator_quarter.c.quarter, func.count()).group_by(mart_indicator_quarter.c.quarter)
            ).all()
        )
        duplicates = conn.execute(
            select(mart_indicator_month.c.indicator_id, mart_indicator_month.c.month)
            .group_by(mart_indicator_month.c.indicator_id, mart_indicator_month.c.month)
            .having(func.count() > 1)
        ).all()
    engine.dispose()
    assert per_quarter == {"2024-25Q1": 23, "2024-25Q2": 23}
    assert duplicates == []
    assert sorted(p.name for p in settings.out.iterdir() if not p.name.startswith(".")) == [
        "2024-25Q1",
        "2024-25Q2",
        "index.html",
        "outbox",
    ]
    assert (settings.out / "2024-25Q2" / "scorecard.html").exists()
