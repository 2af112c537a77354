"""Intake a chunk of rows at a time (issue 20): the same warehouse rows, receipts and rejects as
intake of the whole file in one chunk, on both engines; and memory bounded by the chunk, not the
file.

The chunk size is ``pipelines.intake.streaming.CHUNK_ROWS``; here it is set to 7 for the
chunked side (the file's child process inherits it) and to a billion for the whole-file side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, select, text

from pipelines.config import load_settings
from pipelines.intake import run_intake, streaming
from pipelines.warehouse.schema import load_files, table_for
from tests.conftest import PG_ADMIN_URL
from tests.test_intake_rules import MISSING, POLICE, good, write_source

REPO = Path(__file__).resolve().parent.parent
WHOLE, SMALL = 10**9, 7


@pytest.fixture(params=["sqlite", "postgresql"])
def sides(request, scorecard_home, tmp_path, monkeypatch):
    """Two intakes on one engine, each with its own home and an empty warehouse: one takes files
    whole, the other in chunks of 7 rows."""
    made = []
    out = {}
    for label in ("whole", "chunked"):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'{label}.db'}"
        else:
            name = f"scorecard_test_{uuid.uuid4().hex[:12]}"
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            made.append(name)
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        monkeypatch.setenv("SCORECARD_HOME", str(tmp_path / label))
        monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", url)
        settings = load_settings()
        settings.ensure_folders()
        out[label] = settings
    yield out
    if made:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def police_records(n: int, start: int = 1, risk: str = "standard") -> list[dict]:
    records = []
    for i in range(start, start + n):
        record = good(POLICE, i)
        record["reported_at"] = f"{i % 28 + 1:02d}/04/2024 10:00"
        record["risk_level"] = risk
        records.append(record)
    return records


def missing_records(n: int, start: int = 1) -> list[dict]:
    records = []
    for i in range(start, start + n):
        record = good(MISSING, i)
        record["missing_from"] = f"{i % 28 + 1:02d}/03/2024 18:00"
        record["returned_at"] = f"{i % 28 + 1:02d}/03/2024 23:00"
        record["return_interview_completed_at"] = ""
        record["return_interview_offered"] = "N"
        records.append(record)
    return records


def first_batch(inbox: Path) -> None:
    """Three files: a police workbook with title rows, a blank row, a totals row, bad rows and
    a key repeated chunks apart; a missing-episodes csv whose bad rows pass the 10% threshold only
    in its last chunk; and a good csv with a key sent three times in three chunks."""
    police = police_records(60)
    police[5]["reported_at"] = "31/02/2024 10:00"  # impossible date (sheet row 9: the header is on row 3)
    police[33]["risk_level"] = "purple"  # not a risk level (sheet row 38, after the blank row)
    police[50]["incident_ref"] = police[2]["incident_ref"]  # sheet row 55 repeats row 6, chunks apart
    police.insert(20, {})  # a blank row
    police.append({"incident_ref": "", "reported_at": "Total: 60"})  # a totals row
    write_source(inbox / "police.xlsx", POLICE, police, title_rows=[["West Yorkshire Police extract"], []])

    late = missing_records(70)
    for i in (3, 11, 19):  # 3 of the first 63 rows bad: under 10% until the last chunk
        late[i]["missing_from"] = "31/02/2024 18:00"
    for i in range(65, 70):  # 5 more in the last 7 rows: 8 of 70, over 10%
        late[i]["missing_from"] = "31/02/2024 18:00"
    write_source(inbox / "missing_episodes" / "late.csv", MISSING, late)

    fine = missing_records(40, start=101)
    fine[12]["episode_id"] = fine[0]["episode_id"]  # row 14 repeats row 2's key
    fine[30]["episode_id"] = fine[0]["episode_id"]  # ...and so does row 32
    fine[25]["looked_after"] = "maybe"  # not yes or no
    write_source(inbox / "fine.csv", MISSING, fine)


def second_batch(inbox: Path, first_fine: bytes) -> None:
    """A corrected resubmission (some keys again with a new risk level, some new) and the good csv
    sent again byte for byte (a duplicate)."""
    write_source(
        inbox / "police_corrected.xlsx", POLICE, police_records(12, start=55, risk="high"), title_rows=[["Resent"]]
    )
    (inbox / "fine_again.csv").write_bytes(first_fine)


def outcome_of(settings, outcomes) -> dict:
    """Everything intake left: the load records, the warehouse rows, the receipts and the rejects
    workbooks, with what must differ between two runs (times, stored names, load ids as numbers)
    taken out; load ids become their load's place in order."""
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            loads = [dict(r) for r in conn.execute(select(load_files).order_by(load_files.c.load_id)).mappings()]
            rank = {load["load_id"]: place for place, load in enumerate(loads, 1)}
            tables = {}
            for source in (POLICE, MISSING):
                table = table_for(source)
                rows = [dict(r) for r in conn.execute(select(table)).mappings()]
                for row in rows:
                    row["load_id"] = rank[row["load_id"]]
                tables[source] = sorted(rows, key=lambda r: json.dumps(r, default=str, sort_keys=True))
    finally:
        engine.dispose()
    kept = ("source", "original_name", "status", "sheet", "rows_read", "rows_loaded", "rows_rejected", "message")
    receipts, rejects = [], []
    for outcome in outcomes:
        receipt = json.loads(Path(outcome.receipt).with_suffix(".json").read_text())
        if receipt.get("rejects_file"):
            sheet = openpyxl.load_workbook(receipt["rejects_file"]).active
            rejects.append((receipt["file"], [list(r) for r in sheet.iter_rows(values_only=True)]))
        receipt["load_id"] = rank.get(receipt["load_id"])
        if receipt["duplicate_of"]:
            receipt["duplicate_of"] = {"load": rank[int(receipt["duplicate_of"]["load_id"])]}
        for varies in ("received_at", "stored_as", "rejects_file", "sha256"):  # a workbook holds its save time
            receipt[varies] = bool(receipt[varies])
        receipts.append(receipt)
    return {
        "outcomes": sorted((o.file, o.status, o.rows_loaded, o.rows_rejected) for o in outcomes),
        "loads": [{k: load[k] for k in kept} for load in loads],
        "tables": tables,
        "receipts": sorted(receipts, key=lambda r: (r["file"], r["load_id"] or 0)),
        "rejects": sorted(rejects),
    }


def intake_in(settings, monkeypatch, chunk: int) -> dict:
    monkeypatch.setattr(streaming, "CHUNK_ROWS", chunk)
    first_batch(settings.inbox)
    fine = (settings.inbox / "fine.csv").read_bytes()
    outcomes = list(run_intake(settings).outcomes)
    second_batch(settings.inbox, fine)
    outcomes += run_intake(settings).outcomes
    return outcome_of(settings, outcomes)


def test_chunked_and_whole_file_intake_leave_the_same_rows_receipts_and_rejects(sides, monkeypatch):
    whole = intake_in(sides["whole"], monkeypatch, WHOLE)
    chunked = intake_in(sides["chunked"], monkeypatch, SMALL)
    assert chunked == whole

    # ...and what they agree on is right.
    assert chunked["outcomes"] == [
        ("fine.csv", "accepted", 37, 3),
        ("fine_again.csv", "duplicate", 0, 0),
        ("late.csv", "rejected", 0, 70),
        ("police.xlsx", "accepted", 57, 3),
        ("police_corrected.xlsx", "accepted", 12, 0),
    ]
    receipts = {r["file"]: r for r in chunked["receipts"]}
    assert "8 of 70 rows (11%) failed checks" in receipts["late.csv"]["summary"]
    reasons = {g["reason"]: g for g in receipts["police.xlsx"]["reasons"]}
    duplicate = "duplicate key: the same Incident Ref as row 6 (the first is kept)"
    assert reasons[duplicate]["examples"] == [{"row": 55, "detail": duplicate}]
    assert receipts["police.xlsx"]["header_row"] == 3 and receipts["police.xlsx"]["totals_rows"] == 1
    fine_reasons = {g["reason"]: g for g in receipts["fine.csv"]["reasons"]}
    twice = "duplicate key: the same Episode ID as row 2 (the first is kept)"
    assert [e["row"] for e in fine_reasons[twice]["examples"]] == [14, 32]
    assert [r[0] for r in dict(chunked["rejects"])["fine.csv"][1:]] == [14, 27, 32]
    rejects = dict(chunked["rejects"])
    assert [r[0] for r in rejects["police.xlsx"][1:]] == [9, 38, 55]  # sheet row numbers
    assert [r[0] for r in rejects["late.csv"][1:]] == [5, 13, 21, 67, 68, 69, 70, 71]
    police = {r["incident_ref"]: r for r in chunked["tables"][POLICE]}
    assert len(police) == 57 + 6  # 55..60 were sent before (updated), 61..66 are new
    corrected = [i for i, load in enumerate(chunked["loads"], 1) if load["original_name"] == "police_corrected.xlsx"]
    assert police["INC0056"]["risk_level"] == "high" and [police["INC0056"]["load_id"]] == corrected
    assert police["INC0054"]["risk_level"] == "standard"
    assert len(chunked["tables"][MISSING]) == 37  # nothing of late.csv: its rows were rolled back
    assert {load["original_name"]: load["status"] for load in chunked["loads"]}["late.csv"] == "rejected"


def test_a_file_of_many_chunks_reports_its_progress(settings, monkeypatch):
    """Each chunk says how far through the file intake is: to the progress bar (through the
    child's pipe) and to the log."""
    from pipelines import progress

    monkeypatch.setattr(streaming, "CHUNK_ROWS", 10)
    write_source(settings.inbox / "missing_episodes" / "m.csv", MISSING, missing_records(35))
    heard = []
    with progress.listening(lambda name, rows, of: heard.append((name, rows, of))):
        [outcome] = run_intake(settings).outcomes
    assert outcome.status == "accepted" and outcome.rows_loaded == 35
    within = [(rows, of) for name, rows, of in heard if of is not None]
    assert [rows for rows, _ in within] == [10, 20, 30, 35]
    assert all(of >= rows for rows, of in within) and within[-1] == (35, 35)
    assert heard[0][0] == "reading"


def _generate_missing_csv(path: Path, rows: int) -> None:
    header = ",".join(
        ["Episode ID", "Child ID", "Date Missing", "Date Found", "Looked After", "CSE Risk", "Sex", "RHI Offered"]
    )
    with path.open("w", encoding="utf-8") as handle:
        handle.write(header + "\n")
        block = []
        for i in range(rows):
            day = i % 28 + 1
            block.append(
                f"E{i:08d},CHILD{i % 400_000:07d},{day:02d}/03/2024 18:00,{day:02d}/03/2024 23:00,"
                f"{'Y' if i % 3 else 'N'},N,{'F' if i % 2 else 'M'},N\n"
            )
            if len(block) == 50_000:
                handle.write("".join(block))
                block.clear()
        handle.write("".join(block))


@pytest.mark.slow
def test_intake_of_a_two_million_row_csv_stays_under_500_mb(scorecard_home, tmp_path):
    """The file's child process (and the intake process) peak under 500 MB for a 2,000,000-row
    csv (about 190 MB): memory follows the chunk, not the file."""
    rows = 2_000_000
    home = scorecard_home
    csv_path = home / "inbox" / "missing_episodes" / "big.csv"
    csv_path.parent.mkdir(parents=True)
    _generate_missing_csv(csv_path, rows)
    script = textwrap.dedent(
        """
        import json, resource
        from pipelines.config import load_settings
        from pipelines.intake import run_intake
        settings = load_settings()
        settings.ensure_folders()
        [outcome] = run_intake(settings).outcomes
        # This process's own peak is VmHWM (its memory since exec): ru_maxrss of RUSAGE_SELF keeps
        # the peak of the process it was forked from (a pytest of the whole suite, 800 MB).
        hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        print(json.dumps({
            "status": outcome.status, "loaded": outcome.rows_loaded,
            "child_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "self_mb": int(hwm.split()[1]) / 1024,
        }))
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SCORECARD_WAREHOUSE_URL": f"sqlite:///{tmp_path / 'big.db'}",
        "SCORECARD_MAX_FILE_MB": "400",
        "SCORECARD_FILE_SECONDS": "3000",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=3600, check=False
        )
    finally:
        csv_path.unlink(missing_ok=True)
        for stored in (home / "archive").glob("*"):
            stored.unlink()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "accepted" and result["loaded"] == rows, result
    assert result["child_mb"] < 500, result
    assert result["self_mb"] < 500, result


def whole_file_findings(inbox: Path) -> None:
    """Two files rejected only by what the whole file shows: a workbook whose date cells all fall
    on the 1st to the 12th while its text dates fall after the 12th (month-first: the survey
    reads the file a second time for its text dates), and a csv whose last line has 600 columns
    (unreadable only at its end, after its first rows were loaded)."""
    from datetime import datetime

    records = police_records(40)
    for n, record in enumerate(records):
        day = n % 10 + 1 if n % 8 else 20 + n % 5
        when = datetime(2024, 4, day, 10, 0)
        record["reported_at"] = when if n % 8 else when.strftime("%d/%m/%Y %H:%M")
    write_source(inbox / "us.xlsx", POLICE, records)
    write_source(inbox / "missing_episodes" / "cut.csv", MISSING, missing_records(30))
    with (inbox / "missing_episodes" / "cut.csv").open("a", encoding="utf-8") as handle:
        handle.write(",".join(["x"] * 600) + "\n")


def test_what_only_the_whole_file_shows_rejects_it_chunked_or_not(sides, monkeypatch):
    found = {}
    for label, chunk in (("whole", WHOLE), ("chunked", SMALL)):
        monkeypatch.setattr(streaming, "CHUNK_ROWS", chunk)
        whole_file_findings(sides[label].inbox)
        found[label] = outcome_of(sides[label], run_intake(sides[label]).outcomes)
    assert found["chunked"] == found["whole"]
    receipts = {r["file"]: r for r in found["chunked"]["receipts"]}
    assert receipts["us.xlsx"]["status"] == "rejected"
    assert receipts["us.xlsx"]["summary"].startswith("dates look month-first (US style)")
    assert receipts["cut.csv"]["status"] == "rejected" and receipts["cut.csv"]["source"] == MISSING
    assert receipts["cut.csv"]["summary"].startswith("row 32 of the file has 600 columns")
    assert found["chunked"]["tables"] == {POLICE: [], MISSING: []}
