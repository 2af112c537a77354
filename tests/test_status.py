"""`scorecard status [--json]` on a demo home (run once for the module), as a real subprocess:
every section with the right values, the JSON checked against schemas/status.schema.json, and
the inbox's waiting entries each with its reason."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from sqlalchemy import create_engine, func, select

from pipelines.status import status_schema_path
from pipelines.warehouse.schema import load_files, table_for
from tests.test_cli import SCORECARD


def run(args, home: Path, **env) -> subprocess.CompletedProcess:
    """As ``tests.test_cli.run``, with any setting (the settle time too) given in ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    environment.update({"SCORECARD_HOME": str(home), "SCORECARD_SETTLE_SECONDS": "0", **env})
    return subprocess.run(
        [SCORECARD, *args], capture_output=True, text=True, env=environment, cwd=home.parent, timeout=300
    )


pytestmark = pytest.mark.slow

SCHEMA = json.loads(status_schema_path().read_text(encoding="utf-8"))
PARTNER_SOURCES = ["police_domestic_incidents", "csws_referrals", "school_attendance", "missing_episodes"]


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("status") / "home"
    result = run(["demo"], home)
    assert result.returncode == 0, result.stderr
    return home


def status_json(home: Path, *args: str, **env) -> dict:
    result = run(["status", "--json", *args], home, **env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    errors = [e.message for e in Draft202012Validator(SCHEMA).iter_errors(document)]
    assert not errors, errors
    return document


def test_status_of_the_demo(demo_home):
    document = status_json(demo_home)
    [built] = [p for p in (demo_home / "out").iterdir() if p.name[:4].isdigit()]
    published = json.loads((built / "scorecard.json").read_text(encoding="utf-8"))

    # Sources: as the warehouse holds them.
    engine = create_engine(f"sqlite:///{demo_home / 'warehouse.db'}")
    with engine.connect() as conn:
        for source in document["sources"]:
            table = table_for(source["source"])
            assert source["rows_held"] == conn.execute(select(func.count()).select_from(table)).scalar_one()
            where = load_files.c.source == source["source"]
            assert (
                source["files_received"]
                == conn.execute(select(func.count()).select_from(load_files).where(where)).scalar_one()
            )
            last = conn.execute(
                select(load_files).where(where).order_by(load_files.c.received_at.desc(), load_files.c.load_id.desc())
            ).first()
            assert source["last_load"]["load_id"] == last.load_id
            assert (source["last_load"]["rows_loaded"], source["last_load"]["rows_rejected"]) == (
                last.rows_loaded,
                last.rows_rejected,
            )
            assert source["last_load"]["finished"] is True
    engine.dispose()
    assert [s["source"] for s in document["sources"]] == PARTNER_SOURCES
    assert all(s["rows_held"] > 0 and s["last_accepted_at"] for s in document["sources"])

    # Returns: four quarters, newest first; the built one as its scorecard published them.
    quarters = document["returns"]
    assert len(quarters) == 4 and quarters[0]["quarter"] == published["quarter"]
    assert quarters[0]["published_at"] is not None and all(q["published_at"] is None for q in quarters[1:])
    assert {(r["source"], r["status"], r["rows"]) for r in quarters[0]["returns"]} == {
        (r["source"], r["status"], r["rows"]) for r in published["returns"]
    }
    assert all(r["status"] == "received" for q in quarters for r in q["returns"])

    # Quarters built, and nothing waiting.
    assert [(b["quarter"], b["exceptions"], b["awaiting_commentary"]) for b in document["quarters_built"]] == [
        (published["quarter"], len(published["exceptions"]), published["exceptions"])  # no commentary yet
    ]
    assert document["inbox"] == [] and document["claimed"] == [] and document["queued_mail"] == []

    text = run(["status"], demo_home)
    assert text.returncode == 0, text.stderr
    for heading in ("Sources:", "Returns:", "Inbox:", "Claimed by a run:", "Mail queued:", "Quarters built:"):
        assert heading in text.stdout
    assert f"RECEIVED Police domestic incidents ({quarters[0]['returns'][0]['rows']:,} rows)" in text.stdout


def test_status_shows_what_waits_and_why(demo_home):
    from pipelines.intake.claims import claim
    from pipelines.mail import QUEUE_FOLDER, write_eml

    inbox, processing = demo_home / "inbox", demo_home / "processing"
    queue = demo_home / "out" / "outbox" / QUEUE_FOLDER
    old = time.time() - 3600
    try:
        (inbox / "police").mkdir()
        (inbox / "police" / "new.csv").write_text("a,b\n1,2\n")  # just written: settling
        (inbox / ".hidden.csv").write_text("a,b\n")
        os.utime(inbox / ".hidden.csv", (old, old))
        (inbox / "ready.csv").write_text("a,b\n1,2\n")
        os.utime(inbox / "ready.csv", (old, old))
        (inbox / "shortcut.xlsx").symlink_to("/etc/hostname")
        os.utime(inbox / "shortcut.xlsx", (old, old), follow_symlinks=False)
        held = claim(processing, "ab" * 32, {"name": "claimed.xlsx"}, 3600)
        assert held is not None
        message = EmailMessage()
        message["Subject"], message["To"], message["From"] = "Scorecard intake receipt: x.csv: accepted", "do@x", "s@x"
        message.set_content("text")
        write_eml(message, queue)

        document = status_json(demo_home, SCORECARD_SETTLE_SECONDS="60")
        reasons = {w["file"]: w["reason"] for w in document["inbox"]}
        assert reasons == {
            ".hidden.csv": "hidden name",
            "police/new.csv": "settling",
            "ready.csv": "ready",
            "shortcut.xlsx": "link",
        }
        [claimed] = document["claimed"]
        assert claimed["file"] == "claimed.xlsx" and claimed["live"] is True  # this test's own process
        [mail] = document["queued_mail"]
        assert mail["subject"] == "Scorecard intake receipt: x.csv: accepted" and mail["to"] == "do@x"

        text = run(["status"], demo_home, SCORECARD_SETTLE_SECONDS="60").stdout
        assert "SETTLING    police/new.csv" in text and "LINK        shortcut.xlsx" in text
        assert "HIDDEN NAME .hidden.csv" in text and "claimed.xlsx" in text and "in progress" in text
        assert "/etc/hostname" not in text
        held.release()
    finally:
        for path in list(inbox.iterdir()):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        shutil.rmtree(queue, ignore_errors=True)
        for path in processing.glob("*.claim"):
            path.unlink()


def test_a_return_received_after_its_quarter_was_published_is_late(tmp_path):
    """Police alone, built; the other sources' files for that quarter arrive after: late."""
    home, gen = tmp_path / "home", tmp_path / "gen"
    env = {"SCORECARD_PSEUDONYM_KEY": "a-test-key-long-enough-for-any-rule"}
    args = ["generate", "--out", str(gen), "--quarters", "1", "--end-quarter", "2024-25Q1", "--scale", "0.05"]
    assert run(args, home).returncode == 0
    (home / "inbox").mkdir(parents=True)
    files = sorted(p for p in gen.rglob("*") if p.is_file())
    police = [p for p in files if "Domestic" in p.name]
    assert police and len(police) < len(files)
    for path in police:
        shutil.copy(path, home / "inbox" / path.name)
    assert run(["intake"], home, **env).returncode == 0
    assert run(["build", "--quarter", "2024-25Q1", "--no-email"], home, **env).returncode == 0
    for path in files:
        if path not in police:
            shutil.copy(path, home / "inbox" / path.name)
    assert run(["intake"], home, **env).returncode == 0
    document = status_json(home, "--quarter", "2024-25Q1")
    first = document["returns"][0]
    assert first["quarter"] == "2024-25Q1" and first["published_at"] is not None
    statuses = {r["source"]: r["status"] for r in first["returns"]}
    assert statuses == {
        "police_domestic_incidents": "received",
        "csws_referrals": "late",
        "school_attendance": "late",
        "missing_episodes": "late",
    }
    assert [q["quarter"] for q in document["returns"]] == ["2024-25Q1", "2023-24Q4", "2023-24Q3", "2023-24Q2"]
    assert run(["status", "--quarter", "2024Q1"], home).returncode == 2


def test_status_of_a_new_warehouse(tmp_path, warehouse_url):
    """Nothing received yet, on each engine: every section there, empty or missing."""
    home = tmp_path / "home"
    document = status_json(home, "--quarter", "2024-25Q1", SCORECARD_WAREHOUSE_URL=warehouse_url)
    assert [s["source"] for s in document["sources"]] == PARTNER_SOURCES
    assert all(s["rows_held"] == 0 and s["last_load"] is None for s in document["sources"])
    assert all(r["status"] == "missing" and r["rows"] == 0 for q in document["returns"] for r in q["returns"])
    assert document["inbox"] == document["claimed"] == document["queued_mail"] == document["quarters_built"] == []
    text = run(["status"], home, SCORECARD_WAREHOUSE_URL=warehouse_url).stdout
    assert "no file received yet" in text and "MISSING  Police domestic incidents (no rows)" in text
