"""`scorecard check FILE...`: what intake would decide, with nothing loaded, recorded or moved
(run as a real subprocess, on both warehouse engines)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, func, inspect, select

from pipelines.warehouse.schema import load_files, table_for
from tests.test_cli import run
from tests.test_intake import police_rows, write_xlsx

pytestmark = pytest.mark.slow

POLICE = table_for("police_domestic_incidents")


def _state(home: Path, url: str) -> dict:
    """Everything a check must leave alone: the warehouse's rows, the inbox's files (bytes and
    times) and the folders intake files things into."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            rows = {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in (("load_files", load_files), ("police", POLICE))
                if table.name in tables
            }
            loads = [tuple(r) for r in conn.execute(select(load_files).order_by(load_files.c.load_id))]
    finally:
        engine.dispose()
    inbox = {
        str(p.relative_to(home)): (p.read_bytes(), os.stat(p, follow_symlinks=False).st_mtime_ns)
        for p in sorted((home / "inbox").rglob("*"))
        if p.is_file()
    }
    folders = {
        name: sorted(p.name for p in (home / name).iterdir()) if (home / name).is_dir() else []
        for name in ("archive", "rejected", "receipts", "processing")
    }
    return {"rows": rows, "loads": loads, "inbox": inbox, "folders": folders}


def test_check_says_what_intake_would_do_and_changes_nothing(tmp_path, warehouse_url):
    home = tmp_path / "home"
    env = {"SCORECARD_PSEUDONYM_KEY": "a-test-key-long-enough-for-any-rule", "SCORECARD_WAREHOUSE_URL": warehouse_url}
    inbox = home / "inbox"
    inbox.mkdir(parents=True)
    first = write_xlsx(tmp_path / "police_april.xlsx", police_rows(100))
    (inbox / "police_april.xlsx").write_bytes(first.read_bytes())
    assert run(["intake"], home, **env).returncode == 0

    # A good new file (20 rows resent, 30 new), a partly bad one, the same bytes again, garbage.
    write_xlsx(inbox / "good.xlsx", police_rows(50, start=81))
    bad_rows = police_rows(40, start=201)
    bad_rows[3][1] = "31/02/2024"  # not a real date
    bad_rows[7][5] = "purple"  # not a risk level
    write_xlsx(inbox / "partly_bad.xlsx", bad_rows)
    (inbox / "again.xlsx").write_bytes(first.read_bytes())
    (inbox / "broken.xlsx").write_bytes(b"this is not a workbook")
    before = _state(home, warehouse_url)
    assert before["rows"] == {"load_files": 1, "police": 100}

    good = run(["check", str(inbox / "good.xlsx")], home, **env)
    assert good.returncode == 0, good.stderr
    assert "this file would be ACCEPTED" in good.stdout
    assert "Resubmission: 20 of its 50 accepted rows would replace rows already in the warehouse" in good.stdout
    assert "30 would be new" in good.stdout
    assert "Identified as: Police domestic incidents (police_domestic_incidents)" in good.stdout
    assert "header on row 4" in good.stdout

    out = tmp_path / "out"
    partly = run(["check", str(inbox / "partly_bad.xlsx"), "--out", str(out)], home, **env)
    assert partly.returncode == 0, partly.stderr
    assert "38 loaded, 2 rejected" in partly.stdout
    assert "Date Reported is not a real date" in partly.stdout and "e.g. row 8" in partly.stdout
    assert "All 38 accepted rows would be new to the warehouse" in partly.stdout
    assert "31/02/2024" not in partly.stdout + partly.stderr and "purple" not in partly.stdout + partly.stderr
    [rejects] = list(out.iterdir())
    assert rejects.name == "partly_bad.rejects.xlsx"
    rows = list(openpyxl.load_workbook(rejects).active.iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in rows] == [8, 12] and "purple" in rows[1]

    duplicate = run(["check", str(inbox / "again.xlsx")], home, **env)
    assert duplicate.returncode == 1
    assert "this file would be a DUPLICATE" in duplicate.stdout and "police_april.xlsx" in duplicate.stdout

    broken = run(["check", str(inbox / "broken.xlsx"), "--json"], home, **env)
    assert broken.returncode == 1
    [result] = json.loads(broken.stdout)
    assert result["would_be"] == "rejected"
    assert "not a real Excel workbook" in result["receipt"]["summary"]

    several = run(["check", str(inbox / "good.xlsx"), str(inbox / "broken.xlsx")], home, **env)
    assert several.returncode == 1 and several.stdout.count("CHECK ONLY") == 2

    assert _state(home, warehouse_url) == before


def test_check_outside_the_inbox_with_no_warehouse_yet(tmp_path):
    """A file anywhere, before anything was ever loaded: nothing is created, not even the warehouse."""
    home = tmp_path / "home"
    path = write_xlsx(tmp_path / "police.xlsx", police_rows(10))
    result = run(["check", str(path)], home, SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule")
    assert result.returncode == 0, result.stderr
    assert "All 10 accepted rows would be new" in result.stdout
    assert not home.exists()


def test_check_refuses_a_link_and_usage_errors(tmp_path):
    home = tmp_path / "home"
    target = write_xlsx(tmp_path / "police.xlsx", police_rows(10))
    link = tmp_path / "shortcut.xlsx"
    link.symlink_to(target)
    result = run(["check", str(link)], home, SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule")
    assert result.returncode == 1
    assert "symbolic link" in result.stdout and "would be REJECTED" in result.stdout
    hard = tmp_path / "second_name.xlsx"
    os.link(target, hard)  # outside the inbox another name is fine: the copy sent will have one
    result = run(["check", str(hard)], home, SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule")
    assert result.returncode == 0 and "would be ACCEPTED" in result.stdout
    (home / "inbox").mkdir(parents=True)
    os.link(target, home / "inbox" / "linked.xlsx")  # in the inbox, intake refuses it
    result = run(
        ["check", str(home / "inbox" / "linked.xlsx")],
        home,
        SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule",
    )
    assert result.returncode == 1 and "hard link" in result.stdout
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    result = run(["check", str(pipe)], home, SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule")
    assert result.returncode == 1 and "named pipe" in result.stdout
    missing = run(
        ["check", str(tmp_path / "nowhere.csv")], home, SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule"
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert run(["check"], home, SCORECARD_PSEUDONYM_KEY="a-test-key-long-enough-for-any-rule").returncode == 2
