"""A corpus of good and bad files dropped together: every file ends exactly once in archive/ or
rejected/ with a receipt, no bad file stops the others, every rejection says what is wrong in
plain English, and no raw child identifier reaches the warehouse, logs, receipts or email."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import zipfile
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from pipelines.config import load_settings
from pipelines.intake import run_intake
from pipelines.warehouse import connect_warehouse, init_warehouse
from pipelines.warehouse.schema import load_files, table_for
from tests.test_intake import police_rows, write_xlsx

pytestmark = pytest.mark.slow  # a corpus of 14 files on each engine

RAW = "RAWCHILD"  # every planted child identifier starts with this


def missing_csv(path: Path, n: int, *, bad: int = 0, start: int = 0) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Episode ID", "Child ID", "Date Missing", "Date Found", "Looked After", "CSE Risk"])
        for i in range(start, start + n):
            missing, found = "03/05/2024 18:00", "04/05/2024 09:00"
            if i - start < bad:
                found = "02/05/2024 09:00"  # returned before going missing
            writer.writerow([f"EP{i:05d}", f"{RAW}{i:05d}", missing, found, "Y" if i % 3 else "N", "N"])
    return path


def encrypted_xlsx(path: Path, tmp_path: Path) -> Path:
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = write_xlsx(tmp_path / "plain-for-encryption.xlsx", police_rows(5))
    with plain.open("rb") as source, path.open("wb") as target:
        OOXMLFile(source).encrypt("Password1", target)
    return path


def corrupt_xlsx(path: Path, tmp_path: Path) -> Path:
    whole = write_xlsx(tmp_path / "whole.xlsx", police_rows(50)).read_bytes()
    path.write_bytes(whole[: len(whole) // 2])  # a download cut off half way
    return path


def unrelated_xlsx(path: Path) -> Path:
    wb = openpyxl.Workbook()
    wb.active.append(["Budget line", "2024-25", "2025-26"])
    wb.active.append(["Training", 12000, 12500])
    wb.save(path)
    return path


def header_only_xlsx(path: Path) -> Path:
    return write_xlsx(path, [], totals=False)


def zip_not_workbook(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return path


# name -> (builder, expected status, words the reason must contain)
def corpus(inbox: Path, tmp_path: Path) -> dict[str, tuple[str, list[str]]]:
    write_xlsx(inbox / "police_good.xlsx", police_rows(60))
    shutil_copy = inbox / "police_good_again.xlsx"
    shutil_copy.write_bytes((inbox / "police_good.xlsx").read_bytes())
    rows = police_rows(500, start=1000)
    for i in (7, 70, 300):
        rows[i][1] = "31/02/2024 10:00"
    write_xlsx(inbox / "police_three_bad_of_500.xlsx", rows)
    rows = police_rows(100, start=5000)
    for row in rows[:20]:
        row[1] = "12/25/2023 10:00"
    write_xlsx(inbox / "police_twenty_percent_us_dates.xlsx", rows)
    missing_csv(inbox / "missing_good.csv", 40, bad=2)
    encrypted_xlsx(inbox / "password.xlsx", tmp_path)
    corrupt_xlsx(inbox / "corrupt.xlsx", tmp_path)
    (inbox / "empty.xlsx").write_bytes(b"")
    (inbox / "scan.xlsx").write_bytes(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n")
    unrelated_xlsx(inbox / "budget.xlsx")
    header_only_xlsx(inbox / "header_only.xlsx")
    (inbox / "junk.csv").write_bytes(bytes(range(256)) * 20)
    zip_not_workbook(inbox / "archive.xlsx")
    (inbox / "minutes.docx").write_bytes(b"PK\x03\x04 word document")
    return {
        "police_good.xlsx": ("accepted", []),
        "police_good_again.xlsx": ("duplicate", ["identical to police_good.xlsx"]),
        "police_three_bad_of_500.xlsx": ("accepted", []),
        "police_twenty_percent_us_dates.xlsx": ("rejected", ["20 of 100 rows", "more than the 10% allowed"]),
        "missing_good.csv": ("accepted", []),
        "password.xlsx": ("rejected", ["password-protected"]),
        "corrupt.xlsx": ("rejected", ["damaged"]),
        "empty.xlsx": ("rejected", ["empty"]),
        "scan.xlsx": ("rejected", ["PDF"]),
        "budget.xlsx": ("rejected", ["no recognised header", "Budget line"]),
        "header_only.xlsx": ("rejected", ["no data rows"]),
        "junk.csv": ("rejected", ["binary"]),
        "archive.xlsx": ("rejected", ["damaged"]),
        "minutes.docx": ("rejected", ["'.docx' are not accepted"]),
    }


@pytest.fixture
def settings(scorecard_home, warehouse_url, monkeypatch):
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SCORECARD_DATA_OFFICER_MISSING_EPISODES", "ris@partner.example")
    s = load_settings()
    s.ensure_folders()
    return s


def assert_outcomes(run, expected: dict[str, tuple[str, list[str]]]) -> dict:
    """Every file has an outcome, with the expected status and words in its plain-English message."""
    outcomes = {o.file: o for o in run.outcomes}
    assert set(outcomes) == set(expected)
    for name, (status, words) in expected.items():
        outcome = outcomes[name]
        assert outcome.status == status, (name, outcome.message)
        for word in words:
            assert word in outcome.message, (name, outcome.message)
    return outcomes


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_file_ends_once_with_a_receipt_and_bad_files_stop_nothing(settings, tmp_path, caplog):
    expected = corpus(settings.inbox, tmp_path)
    hashes = {p.name: _sha(p) for p in settings.inbox.iterdir()}
    caplog.set_level(logging.DEBUG)
    run = run_intake(settings, files=sorted(settings.inbox.iterdir()))

    outcomes = assert_outcomes(run, expected)
    assert (
        outcomes["police_three_bad_of_500.xlsx"].rows_loaded,
        outcomes["police_three_bad_of_500.xlsx"].rows_rejected,
    ) == (497, 3)
    assert (outcomes["missing_good.csv"].rows_loaded, outcomes["missing_good.csv"].rows_rejected) == (38, 2)

    assert list(settings.inbox.iterdir()) == []
    kept = list(settings.archive.iterdir()) + list(settings.rejected.iterdir())
    assert len(kept) == len(expected)
    for name, sha in hashes.items():
        copies = [p for p in kept if p.name.endswith("_" + name) and sha[:12] in p.name]
        assert len(copies) == 1, name
        assert _sha(copies[0]) == sha
        folder = settings.archive if expected[name][0] == "accepted" else settings.rejected
        assert copies[0].parent == folder, name
        receipt = json.loads(Path(outcomes[name].receipt).with_suffix(".json").read_text())
        assert receipt["sha256"] == sha and receipt["status"] == expected[name][0]
        assert Path(outcomes[name].receipt).read_text().startswith(f"Receipt for {name}")

    engine = create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(table_for("police_domestic_incidents"))).scalar_one()
            == 60 + 497
        )
        assert conn.execute(select(func.count()).select_from(table_for("missing_episodes"))).scalar_one() == 38
        assert conn.execute(select(func.count()).select_from(load_files)).scalar_one() == len(expected)
    engine.dispose()

    # No raw child identifier anywhere but the rejects workbook that goes back to the sender.
    assert RAW not in caplog.text
    assert_no_raw_ids_in_warehouse(settings.warehouse_url)
    for folder in (settings.receipts, settings.outbox):
        for file in folder.rglob("*"):
            if file.is_file() and not file.name.endswith(".rejects.xlsx"):
                assert RAW.encode() not in file.read_bytes(), file
    rejects = next(settings.receipts.glob("*missing_good.rejects.xlsx"))
    sheet = openpyxl.load_workbook(rejects).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [2, 3]
    officer_mail = [p.read_text() for p in settings.outbox.glob("*.eml") if "missing_good.csv" in p.read_text()]
    assert len(officer_mail) == 1 and "To: ris@partner.example" in officer_mail[0]


def assert_no_raw_ids_in_warehouse(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                assert all(RAW not in str(value) for value in row), table
    engine.dispose()


def _fail_on_key_trigger(engine, key: str) -> None:
    """A real database fault for one row: the insert of ``key`` raises inside the transaction."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON stg_police_domestic_incidents "
                f"WHEN NEW.incident_ref = '{key}' BEGIN SELECT RAISE(ABORT, 'disk quota exceeded'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.incident_ref = '{key}' THEN RAISE EXCEPTION 'disk quota exceeded'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER boom BEFORE INSERT ON stg_police_domestic_incidents FOR EACH ROW EXECUTE FUNCTION boom()"
            )


def _drop_trigger(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "DROP TRIGGER boom"
            if engine.dialect.name == "sqlite"
            else "DROP TRIGGER boom ON stg_police_domestic_incidents"
        )


def test_a_load_failing_part_way_leaves_warehouse_unchanged_and_file_in_inbox(settings):
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    write_xlsx(settings.inbox / "first.xlsx", police_rows(10))
    run_intake(settings)
    _fail_on_key_trigger(engine, "INC06000")  # the 1,000th row of the next file
    write_xlsx(settings.inbox / "big.xlsx", police_rows(2000, start=5001))
    missing_csv(settings.inbox / "other.csv", 5)

    def snapshot():
        with engine.connect() as conn:
            return (
                conn.execute(select(func.count()).select_from(table_for("police_domestic_incidents"))).scalar_one(),
                conn.execute(select(func.count()).select_from(load_files)).scalar_one(),
            )

    before = snapshot()
    outcomes = {o.file: o for o in run_intake(settings, files=sorted(settings.inbox.iterdir())).outcomes}
    assert outcomes["big.xlsx"].status == "error" and "disk quota exceeded" in outcomes["big.xlsx"].message
    assert outcomes["other.csv"].status == "accepted"  # the fault did not stop the other file
    assert (settings.inbox / "big.xlsx").exists()
    police_after, loads_after = snapshot()
    assert police_after == before[0] and loads_after == before[1] + 1  # only other.csv's load

    _drop_trigger(engine)
    [again] = run_intake(settings).outcomes
    assert (again.file, again.status, again.rows_loaded) == ("big.xlsx", "accepted", 2000)
    assert snapshot()[0] == before[0] + 2000
    engine.dispose()
