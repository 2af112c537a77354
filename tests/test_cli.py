"""The `scorecard` command: exit codes and one-line messages, run as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCORECARD = str(Path(sys.executable).parent / "scorecard")


def run(args, home: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    environment.update(SCORECARD_HOME=str(home), SCORECARD_SETTLE_SECONDS="0", **env)
    return subprocess.run(
        [SCORECARD, *args], capture_output=True, text=True, env=environment, cwd=home.parent, timeout=300
    )


def test_bad_quarter_is_a_usage_error(tmp_path):
    result = run(["build", "--quarter", "2024Q1"], tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "2024-25Q1" in result.stderr
    result = run(["build", "--quarter", "2024-26Q1"], tmp_path / "home")
    assert result.returncode == 2


def test_unknown_command_is_a_usage_error(tmp_path):
    assert run(["frobnicate"], tmp_path / "home").returncode == 2


def test_intake_without_key_refuses_with_one_line(tmp_path):
    result = run(["intake"], tmp_path / "home")
    assert result.returncode == 1
    assert "SCORECARD_PSEUDONYM_KEY" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_warehouse_exits_1_without_traceback(tmp_path):
    result = run(
        ["intake"],
        tmp_path / "home",
        SCORECARD_PSEUDONYM_KEY="k",
        SCORECARD_WAREHOUSE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none",
    )
    assert result.returncode == 1
    assert "warehouse" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_intake_of_empty_inbox_succeeds(tmp_path):
    result = run(["intake"], tmp_path / "home", SCORECARD_PSEUDONYM_KEY="k")
    assert result.returncode == 0, result.stderr
    assert "No files ready" in result.stdout


def test_generate_writes_files(tmp_path):
    result = run(
        ["generate", "--out", str(tmp_path / "gen"), "--quarters", "1", "--end-quarter", "2024-25Q1", "--scale", "0.1"],
        tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "gen").iterdir())
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".csv") for n in names)


def test_migrate_reports_the_revision(tmp_path):
    result = run(["migrate"], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "Warehouse at migration 0006" in result.stdout


def test_generate_one_big_file_of_a_source(tmp_path):
    import csv

    result = run(
        [
            "generate",
            "--out",
            str(tmp_path / "big"),
            "--source",
            "missing_episodes",
            "--rows",
            "1500",
            "--end-quarter",
            "2024-25Q1",
        ],
        tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    [path] = list((tmp_path / "big").iterdir())
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw[:3] == b"\xef\xbb\xbf" else raw.decode("cp1252")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(r)]
    assert len(rows) == 1 + 1500  # the header and exactly the rows asked for
    assert (
        run(
            ["generate", "--out", str(tmp_path / "x"), "--source", "nonsense", "--rows", "5"], tmp_path / "home"
        ).returncode
        == 2
    )


def test_revisions_reports_what_changed_and_exits_0(tmp_path):
    """Nothing published yet: nothing to revise. Then a published quarter and a corrected extract
    for it: the command prints each revised figure; a second run finds nothing."""
    from tests.test_intake import police_rows, write_xlsx

    home = tmp_path / "home"
    env = {"SCORECARD_PSEUDONYM_KEY": "k", "SCORECARD_ANALYST_EMAIL": "analyst@lscp.example"}
    result = run(["revisions"], home, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No published figure has changed (0 published quarter(s) checked)"
    (home / "inbox").mkdir(parents=True, exist_ok=True)
    write_xlsx(home / "inbox" / "police.xlsx", police_rows(100))
    assert run(["intake"], home, **env).returncode == 0
    assert run(["build", "--quarter", "2024-25Q1", "--no-email"], home, **env).returncode == 0
    write_xlsx(home / "inbox" / "police_corrected.xlsx", police_rows(120))
    assert run(["intake"], home, **env).returncode == 0
    result = run(["revisions"], home, **env)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == "2 published figure(s) revised (1 published quarter(s) checked)"
    assert "DA01 for 2024-25 Q1 was revised from 100 to 120" in lines
    notice = next(line for line in lines if line.startswith("revision notice"))
    assert notice.startswith("revision notice (2 figure(s)): ") and notice.endswith(
        ".eml"
    )  # no SMTP server: the outbox
    result = run(["revisions"], home, **env)
    assert result.stdout.strip() == "No published figure has changed (1 published quarter(s) checked)"
