"""Intake end to end on real files, on both warehouse engines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, func, select

from pipelines.config import load_settings
from pipelines.intake import MissingKey, run_intake
from pipelines.warehouse.schema import load_files, table_for

HEADER = [
    "Occurrence Number",
    "Date Reported",
    "Child(ren) Present",
    "No. of Children",
    "Repeat",
    "DASH Risk",
    "Encompass Notified",
    "Ward",
    "Officer Name",
]


def police_rows(n: int, start: int = 1) -> list[list]:
    return [
        [
            f"INC{i:05d}",
            f"{i % 28 + 1:02d}/04/2024 10:00",
            "Y" if i % 4 == 0 else "N",
            1 if i % 4 == 0 else 0,
            "No",
            "standard",
            f"{i % 28 + 1:02d}/04/2024 15:00" if i % 4 == 0 else None,
            "Armley",
            "PC Example",
        ]
        for i in range(start, start + n)
    ]


def write_xlsx(path: Path, rows: list[list], title_rows: int = 2, totals: bool = True) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    for i in range(title_rows):
        ws.append([f"West Yorkshire Police extract line {i + 1}"])
    ws.append([])
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    if totals:
        ws.append([None, f"Total: {len(rows)}"])
    wb.save(path)
    return path


def count(url: str, table) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


def test_good_file_with_titles_totals_and_bad_rows(settings):
    rows = police_rows(500)
    rows[10][1] = "31/02/2024"  # impossible date
    rows[20][2] = "maybe"  # not a boolean
    rows[30][5] = "purple"  # not a risk level
    write_xlsx(settings.inbox / "police.xlsx", rows)
    run = run_intake(settings)
    [outcome] = run.outcomes
    assert outcome.status == "accepted"
    assert (outcome.rows_loaded, outcome.rows_rejected) == (497, 3)
    assert count(settings.warehouse_url, table_for("police_domestic_incidents")) == 497
    assert not any(settings.inbox.iterdir())
    [archived] = list(settings.archive.iterdir())
    assert archived.name.endswith("_police.xlsx") and len(archived.name.split("_")[1]) == 12
    receipt = json.loads(Path(outcome.receipt).with_suffix(".json").read_text())
    assert receipt["header_row"] == 4 and receipt["totals_rows"] == 1
    assert receipt["ignored"] == ["Officer Name"]
    rejects = openpyxl.load_workbook(receipt["rejects_file"]).active
    assert [r[0] for r in rejects.iter_rows(min_row=2, values_only=True)] == [15, 25, 35]  # sheet rows


def test_file_over_threshold_loads_nothing(settings):
    rows = police_rows(100)
    for row in rows[:20]:
        row[1] = "12/25/2023 10:00"  # US month-first dates
    write_xlsx(settings.inbox / "police_us.xlsx", rows)
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "rejected"
    assert "20 of 100 rows (20%)" in outcome.message
    assert count(settings.warehouse_url, table_for("police_domestic_incidents")) == 0
    assert len(list(settings.rejected.iterdir())) == 1


def test_same_file_twice_is_a_duplicate(settings, tmp_path):
    original = write_xlsx(tmp_path / "a.xlsx", police_rows(20))
    (settings.inbox / "a.xlsx").write_bytes(original.read_bytes())
    assert run_intake(settings).outcomes[0].status == "accepted"
    (settings.inbox / "a.xlsx").write_bytes(original.read_bytes())
    [outcome] = run_intake(settings).outcomes
    assert outcome.status == "duplicate"
    assert "already loaded" in outcome.message
    text = Path(outcome.receipt).read_text()
    assert "Identified as: Police domestic incidents (police_domestic_incidents)" in text and "None" not in text
    assert count(settings.warehouse_url, table_for("police_domestic_incidents")) == 20
    with create_engine(settings.warehouse_url).connect() as conn:
        statuses = sorted(conn.execute(select(load_files.c.status)).scalars())
    assert statuses == ["accepted", "duplicate"]


def test_corrected_resubmission_updates_rows(settings):
    write_xlsx(settings.inbox / "first.xlsx", police_rows(10))
    run_intake(settings)
    corrected = police_rows(3)
    for row in corrected:
        row[5] = "high"
    write_xlsx(settings.inbox / "second.xlsx", corrected, title_rows=1)
    assert run_intake(settings).outcomes[0].rows_loaded == 3
    engine = create_engine(settings.warehouse_url)
    table = table_for("police_domestic_incidents")
    with engine.connect() as conn:
        levels = dict(conn.execute(select(table.c.incident_ref, table.c.risk_level)).all())
    engine.dispose()
    assert len(levels) == 10
    assert [levels[f"INC{i:05d}"] for i in range(1, 5)] == ["high", "high", "high", "standard"]


def test_unrelated_and_unreadable_files_are_rejected_and_others_still_load(settings):
    wb = openpyxl.Workbook()
    wb.active.append(["Name", "Shift", "Hours"])
    wb.active.append(["A. Person", "Early", 7.5])
    wb.save(settings.inbox / "rota.xlsx")
    (settings.inbox / "report.xlsx").write_bytes(b"%PDF-1.4 not a spreadsheet")
    (settings.inbox / "empty.csv").write_bytes(b"")
    (settings.inbox / "notes.txt").write_text("hello")
    write_xlsx(settings.inbox / "good.xlsx", police_rows(5))
    outcomes = {o.file: o for o in run_intake(settings).outcomes}
    assert outcomes["good.xlsx"].status == "accepted"
    assert (
        "no recognised header" in outcomes["rota.xlsx"].message
        and "Name, Shift, Hours" in outcomes["rota.xlsx"].message
    )
    assert "PDF" in outcomes["report.xlsx"].message
    assert "empty" in outcomes["empty.csv"].message
    assert "not accepted" in outcomes["notes.txt"].message
    assert len(list(settings.rejected.iterdir())) == 4 and len(list(settings.archive.iterdir())) == 1


def test_child_ids_are_pseudonymised_everywhere_but_the_rejects_workbook(settings):
    path = settings.inbox / "missing.csv"
    with path.open("w", newline="", encoding="cp1252") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["MFH Ref", "CHILD", "MIS_START", "MIS_END", "CLA", "Location"])
        for i in range(30):
            writer.writerow([f"M{i}", f"RAWCHILD{i:04d}", "03/05/2024 18:00", "04/05/2024 09:00", "Y", "Café £"])
        writer.writerow(
            ["M99", "RAWCHILD9999", "04/05/2024 09:00", "03/05/2024 18:00", "N", ""]
        )  # returned before missing
    [outcome] = run_intake(settings).outcomes
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 30, 1)
    engine = create_engine(settings.warehouse_url)
    table = table_for("missing_episodes")
    with engine.connect() as conn:
        stored = conn.execute(select(table)).mappings().all()
    engine.dispose()
    assert len({r["child_pseudonym"] for r in stored}) == 30
    assert all("RAWCHILD" not in str(v) for r in stored for v in r.values())
    for folder in (settings.receipts, settings.outbox):
        for file in folder.rglob("*"):
            if file.is_file() and not file.name.endswith(".rejects.xlsx"):
                assert b"RAWCHILD" not in file.read_bytes(), file


def test_intake_refuses_to_start_without_a_key(settings, monkeypatch):
    monkeypatch.delenv("SCORECARD_PSEUDONYM_KEY")
    write_xlsx(settings.inbox / "x.xlsx", police_rows(3))
    with pytest.raises(MissingKey, match="SCORECARD_PSEUDONYM_KEY"):
        run_intake(load_settings())
    assert (settings.inbox / "x.xlsx").exists()
