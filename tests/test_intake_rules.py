"""Every intake rule in sources.md, on real .xlsx/.xlsm/.csv files through the real intake.

Each test builds partner files with openpyxl or the csv module, drops them in the inbox, runs
``run_intake`` and asserts what a data officer and the analyst would see: the status, the rows
loaded and rejected, the exact reasons in the receipt, and what reached the warehouse.
Tests where the engine matters (loading, upsert, stored types) run on SQLite and PostgreSQL;
pure rule tests run once, on SQLite, to keep the file fast.
"""

from __future__ import annotations

import csv
import email
import hashlib
import json
import os
import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import create_engine, inspect, select

from pipelines.config import load_settings
from pipelines.intake import loading, run_intake
from pipelines.intake.pseudonym import pseudonymise
from pipelines.warehouse.schema import load_files, table_for

KEY = b"test-key-not-secret"  # conftest's SCORECARD_PSEUDONYM_KEY

# --------------------------------------------------------------------------------------------
# The header aliases, copied from sources.md (the contract), not from the YAML definitions, so a
# definition that drops or misspells an alias fails here.
# --------------------------------------------------------------------------------------------
SPEC_ALIASES: dict[str, dict[str, list[str]]] = {
    "police_domestic_incidents": {
        "incident_ref": ["Incident Ref", "Incident Number", "Occurrence Number", "Occurrence Ref", "Ref"],
        "reported_at": ["Reported Date", "Date Reported", "Reported", "Occurrence Date", "Incident Date"],
        "children_present": ["Child Present", "Children Present", "Child(ren) Present", "Children Present (Y/N)"],
        "children_count": ["Number of Children", "No. of Children", "Children Count"],
        "repeat_victim": ["Repeat", "Repeat Victim", "Repeat Incident"],
        "risk_level": ["DASH Risk", "DASH Risk Level", "Risk", "Risk Level"],
        "school_notified_at": [
            "Encompass Notification",
            "Encompass Notified",
            "School Notified",
            "Operation Encompass Notification Date",
        ],
        "district": ["District", "Ward", "Area"],
    },
    "csws_referrals": {
        "referral_id": ["Referral ID", "Referral Number", "Referral Ref"],
        "child_id": ["Child ID", "Person ID", "Child Ref", "LCS ID", "Mosaic ID", "CHILD"],
        "referral_date": ["Referral Date", "Date of Referral", "REFERRAL_DATE"],
        "referral_source": ["Source", "Referral Source", "Source of Referral"],
        "domestic_abuse": ["Domestic Abuse", "DA Factor", "Domestic Abuse Factor", "Domestic Violence"],
        "outcome": ["Outcome", "Referral Outcome", "Next Step"],
    },
    "school_attendance": {
        "school_urn": ["URN", "School URN", "school_urn"],
        "school_name": ["School", "School Name", "school_name"],
        "phase": ["Phase", "School Phase", "education_phase", "school_type"],
        "period_start": ["Period Start", "From", "Start Date"],
        "period_end": ["Period End", "To", "End Date"],
        "enrolments": ["Enrolments", "Number on Roll", "NOR", "Pupils"],
        "sessions_possible": ["Possible Sessions", "Sessions Possible", "sess_possible"],
        "sessions_absent": ["Overall Absence Sessions", "Sessions Absent", "Absence Sessions", "sess_overall"],
        "sessions_unauthorised": ["Unauthorised Absence Sessions", "sess_unauthorised"],
        "persistent_absentees": ["Persistent Absentees", "PA Pupils", "enrolments_pa_10_exact"],
        "severe_absentees": ["Severe Absentees", "SA Pupils", "enrolments_pa_50_exact"],
        "suspensions": ["Suspensions", "Fixed Period Exclusions", "FTE"],
    },
    "missing_episodes": {
        "episode_id": ["Episode ID", "MFH Ref", "Missing Ref", "Occurrence Number"],
        "child_id": ["Child ID", "Person ID", "Child Ref", "CHILD"],
        "missing_from": ["Date Missing", "Reported Missing", "Missing From", "Missing Start", "MIS_START"],
        "returned_at": ["Date Found", "Returned", "Return Date", "Missing End", "MIS_END"],
        "looked_after": ["Looked After", "CLA", "Child in Care", "LAC"],
        "cse_risk": ["CSE Risk", "At Risk of CSE", "CSE"],
        "sex": ["Sex", "Gender"],
        "return_interview_offered": ["RHI Offered", "Return Interview Offered"],
        "return_interview_completed_at": ["RHI Completed", "Return Interview Date", "Return Interview Completed"],
    },
    "population": {
        "year": ["Year", "Mid-year", "Mid Year"],
        "population_0_17": ["Population 0-17", "Children 0-17", "Population Aged 0 to 17"],
    },
    "benchmarks": {
        "indicator_id": ["Indicator", "Indicator ID"],
        "comparator": ["Comparator", "Benchmark"],
        "period": ["Period", "Year"],
        "value": ["Value"],
    },
}

POLICE, REFERRALS, ATTENDANCE, MISSING, POPULATION, BENCHMARKS = SPEC_ALIASES

# Headers used when a test does not care which alias: the first one listed in sources.md.
HEADERS = {
    source: {column: aliases[0] for column, aliases in columns.items()} for source, columns in SPEC_ALIASES.items()
}


def good(source: str, i: int) -> dict:
    """A valid row of ``source`` as a partner would type it (canonical column -> cell)."""
    if source == POLICE:
        return {
            "incident_ref": f"INC{i:04d}",
            "reported_at": "01/05/2024 10:00",
            "children_present": "N",
            "children_count": "0",
            "repeat_victim": "N",
            "risk_level": "standard",
            "school_notified_at": "",
            "district": "Armley",
        }
    if source == REFERRALS:
        return {
            "referral_id": f"R{i:04d}",
            "child_id": f"CHILD{i:04d}",
            "referral_date": "01/05/2024",
            "referral_source": "police",
            "domestic_abuse": "Y",
            "outcome": "nfa",
        }
    if source == ATTENDANCE:
        return {
            "school_urn": str(100000 + i),
            "school_name": f"School {i}",
            "phase": "primary",
            "period_start": "01/04/2024",
            "period_end": "30/04/2024",
            "enrolments": "200",
            "sessions_possible": "4000",
            "sessions_absent": "200",
            "sessions_unauthorised": "50",
            "persistent_absentees": "20",
            "severe_absentees": "2",
            "suspensions": "1",
        }
    if source == MISSING:
        return {
            "episode_id": f"E{i:04d}",
            "child_id": f"RAWCHILD{i:04d}",
            "missing_from": "01/05/2024 18:00",
            "returned_at": "02/05/2024 09:00",
            "looked_after": "Y",
            "cse_risk": "N",
            "sex": "F",
            "return_interview_offered": "Y",
            "return_interview_completed_at": "03/05/2024 10:00",
        }
    if source == POPULATION:
        return {"year": str(2000 + i), "population_0_17": "170,000"}
    if source == BENCHMARKS:
        return {"indicator_id": f"IND{i:02d}", "comparator": "england", "period": "2023-24", "value": "12.5"}
    raise KeyError(source)


def stored_good(source: str, i: int) -> dict:
    """What the warehouse should hold for ``good(source, i)`` (warehouse column -> value)."""
    if source == POLICE:
        return {
            "incident_ref": f"INC{i:04d}",
            "reported_at": datetime(2024, 5, 1, 10, 0),
            "children_present": False,
            "children_count": 0,
            "repeat_victim": False,
            "risk_level": "standard",
            "school_notified_at": None,
            "district": "Armley",
        }
    if source == REFERRALS:
        return {
            "referral_id": f"R{i:04d}",
            "child_pseudonym": pseudonymise(f"CHILD{i:04d}", KEY),
            "referral_date": date(2024, 5, 1),
            "referral_source": "police",
            "domestic_abuse": True,
            "outcome": "nfa",
        }
    if source == ATTENDANCE:
        return {
            "school_urn": 100000 + i,
            "school_name": f"School {i}",
            "phase": "primary",
            "period_start": date(2024, 4, 1),
            "period_end": date(2024, 4, 30),
            "enrolments": 200,
            "sessions_possible": 4000,
            "sessions_absent": 200,
            "sessions_unauthorised": 50,
            "persistent_absentees": 20,
            "severe_absentees": 2,
            "suspensions": 1,
        }
    if source == MISSING:
        return {
            "episode_id": f"E{i:04d}",
            "child_pseudonym": pseudonymise(f"RAWCHILD{i:04d}", KEY),
            "missing_from": datetime(2024, 5, 1, 18, 0),
            "returned_at": datetime(2024, 5, 2, 9, 0),
            "looked_after": True,
            "cse_risk": False,
            "sex": "female",
            "return_interview_offered": True,
            "return_interview_completed_at": datetime(2024, 5, 3, 10, 0),
        }
    if source == POPULATION:
        return {"year": 2000 + i, "population_0_17": 170000}
    if source == BENCHMARKS:
        return {"indicator_id": f"IND{i:02d}", "comparator": "england", "period": "2023-24", "value": 12.5}
    raise KeyError(source)


def table_rows(
    source: str,
    records: list[dict],
    columns: list[str] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, list] | None = None,
) -> tuple[list, list[list]]:
    """(header, rows) for ``records``; ``extra`` adds unmatched columns (header -> one value per row)."""
    columns = columns or list(SPEC_ALIASES[source])
    names = {**HEADERS[source], **(headers or {})}
    header = [names[c] for c in columns] + list(extra or {})
    rows = [
        [r.get(c, "") for c in columns] + [values[n] for values in (extra or {}).values()]
        for n, r in enumerate(records)
    ]
    return header, rows


# --------------------------------------------------------------------------------------------
# File builders
# --------------------------------------------------------------------------------------------
def make_xlsx(
    path: Path,
    header: list,
    rows: list[list],
    *,
    title_rows: list[list] = (),
    sheet: str = "Data",
    before: list[tuple[str, list[list], bool]] = (),
) -> Path:
    """A workbook whose sheet ``sheet`` holds ``title_rows``, the header and ``rows``.

    ``before`` adds worksheets ahead of it: (name, rows, hidden).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, cells, hidden in before:
        ws = wb.create_sheet(name)
        for r, row in enumerate(cells, start=1):
            for c, value in enumerate(row, start=1):
                ws.cell(r, c, value)
        if hidden:
            ws.sheet_state = hidden if isinstance(hidden, str) else "hidden"
    ws = wb.create_sheet(sheet)
    for r, row in enumerate([*title_rows, header, *rows], start=1):
        for c, value in enumerate(row, start=1):
            if value not in (None, ""):
                ws.cell(r, c, value)
    wb.save(path)
    return path


def make_csv(
    path: Path,
    header: list,
    rows: list[list],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    bom: bool = False,
    quote_all: bool = False,
    title_rows: list[list] = (),
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8-sig" if bom else encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
        for row in [*title_rows, header, *rows]:
            writer.writerow(["" if v is None else v for v in row])
    return path


def write_source(path: Path, source: str, records: list[dict], **kwargs) -> Path:
    columns = kwargs.pop("columns", None)
    headers = kwargs.pop("headers", None)
    extra = kwargs.pop("extra", None)
    header, rows = table_rows(source, records, columns, headers, extra)
    if path.suffix == ".csv":
        return make_csv(path, header, rows, **kwargs)
    return make_xlsx(path, header, rows, **kwargs)


# --------------------------------------------------------------------------------------------
# Settings, running, and reading results
# --------------------------------------------------------------------------------------------


@pytest.fixture
def lite(scorecard_home, tmp_path, monkeypatch):
    """Settings on SQLite only, for rules that do not depend on the engine."""
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'lite.db'}")
    s = load_settings()
    s.ensure_folders()
    return s


@pytest.fixture
def rules(lite, monkeypatch):
    """SQLite settings with the file-level threshold out of the way, so row rules show on their own."""
    monkeypatch.setenv("SCORECARD_REJECT_THRESHOLD", "1")
    return load_settings()


def run(settings) -> dict:
    """Run intake once; outcomes by file name (names are unique within each test's run)."""
    outcomes = run_intake(settings).outcomes
    by_name = {o.file: o for o in outcomes}
    assert len(by_name) == len(outcomes)
    return by_name


def run_one(settings):
    [outcome] = run_intake(settings).outcomes
    return outcome


def receipt_of(outcome) -> dict:
    return json.loads(Path(outcome.receipt).with_suffix(".json").read_text(encoding="utf-8"))


def reasons_by_row(outcome) -> dict[int, set[str]]:
    """Sheet row -> the set of its reasons, from the receipt JSON's grouped examples."""
    rows: dict[int, set[str]] = {}
    for group in receipt_of(outcome)["reasons"]:
        assert group["rows"] == len(group["examples"]), "too many rows for the examples; use fewer"
        for example in group["examples"]:
            rows.setdefault(example["row"], set()).add(example["detail"])
    return rows


def rejected_cells(outcome, header: str) -> dict[int, object]:
    """Sheet row -> the cell under ``header`` as sent, from the rejects workbook: the only place a
    rejected value is shown (receipts name the row, column and rule, never the value)."""
    rejects = openpyxl.load_workbook(receipt_of(outcome)["rejects_file"]).active
    rows = list(rejects.iter_rows(values_only=True))
    column = list(rows[0]).index(header)
    return {r[0]: r[column] for r in rows[1:]}


def stored(settings, source: str) -> list[dict]:
    table = table_for(source)
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings().all()
    finally:
        engine.dispose()
    return [dict(r) for r in rows]


def stored_by_key(settings, source: str) -> dict:
    table = table_for(source)
    keys = [c.name for c in table.primary_key.columns]
    return {(r[keys[0]] if len(keys) == 1 else tuple(r[k] for k in keys)): r for r in stored(settings, source)}


def without_load(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != "load_id"}


def audit_rows(settings) -> list[dict]:
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(load_files).order_by(load_files.c.load_id)).mappings()]
    finally:
        engine.dispose()


STAMPED = re.compile(r"^(\d{8}T\d{6}Z)_([0-9a-f]{12})_(.+)$")


# ============================================================================================
# Identification
# ============================================================================================
def test_header_found_on_row_20_below_titles_and_notes(rules):
    titles = [
        ["West Yorkshire Police: domestic incidents extract"],
        ["Run by: MI team"],
        [],
        ["Notes: children present means seen at the address"],
    ]
    titles += [[f"note {i}"] for i in range(15)]  # the header lands on row 20, the last row searched
    write_source(rules.inbox / "police.xlsx", POLICE, [good(POLICE, 1), good(POLICE, 2)], title_rows=titles)
    outcome = run_one(rules)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.source, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", POLICE, 2, 0)
    assert receipt["header_row"] == 20 and receipt["sheet"] == "Data"
    assert sorted(stored_by_key(rules, POLICE)) == ["INC0001", "INC0002"]


def test_header_on_row_21_is_not_found(rules):
    titles = [[f"title line {i}"] for i in range(20)]
    write_source(rules.inbox / "police.xlsx", POLICE, [good(POLICE, 1)], title_rows=titles)
    outcome = run_one(rules)
    assert outcome.status == "rejected" and outcome.source is None
    assert outcome.message.startswith("no recognised header")
    assert stored(rules, POLICE) == []


def test_header_row_in_csv_below_title_rows(rules):
    write_source(
        rules.inbox / "police.csv",
        POLICE,
        [good(POLICE, 1)],
        title_rows=[["Domestic incidents April 2024"], ["Produced 02/05/2024"], []],
    )
    outcome = run_one(rules)
    assert outcome.status == "accepted" and receipt_of(outcome)["header_row"] == 4


def test_data_on_second_sheet_after_a_cover_note(rules):
    cover = [["About this extract"], ["Incidents reported to West Yorkshire Police, April 2024"], ["Contact: MI team"]]
    write_source(
        rules.inbox / "police.xlsx",
        POLICE,
        [good(POLICE, 1), good(POLICE, 2)],
        sheet="Incidents",
        before=[("Cover", cover, False)],
    )
    outcome = run_one(rules)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 2)
    assert receipt["sheet"] == "Incidents" and receipt["header_row"] == 1
    assert "sheet 'Incidents', header on row 1" in Path(outcome.receipt).read_text()


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_hidden_first_sheet_with_a_valid_header_is_skipped(rules, state):
    hidden_header, hidden_rows = table_rows(POLICE, [dict(good(POLICE, 1), incident_ref="HIDDEN1")])
    write_source(
        rules.inbox / "police.xlsx",
        POLICE,
        [dict(good(POLICE, 2), incident_ref="VISIBLE2")],
        sheet="Visible",
        before=[("Old lookup", [hidden_header, *hidden_rows], state)],
    )
    outcome = run_one(rules)
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 1)
    assert receipt_of(outcome)["sheet"] == "Visible"
    assert list(stored_by_key(rules, POLICE)) == ["VISIBLE2"]


def test_first_identifiable_visible_sheet_is_read_and_later_ones_are_not(rules):
    april_header, april_rows = table_rows(POLICE, [dict(good(POLICE, 1), incident_ref="APRIL1")])
    write_source(
        rules.inbox / "police.xlsx",
        POLICE,
        [dict(good(POLICE, 2), incident_ref="MAY2")],
        sheet="May",
        before=[("Cover", [["Notes only"]], False), ("April", [april_header, *april_rows], False)],
    )
    outcome = run_one(rules)
    assert (outcome.status, receipt_of(outcome)["sheet"]) == ("accepted", "April")
    assert list(stored_by_key(rules, POLICE)) == ["APRIL1"]


# A header holding every required column of both police and missing episodes.
AMBIGUOUS_HEADER = [
    "Occurrence Number",
    "Date Reported",
    "Children Present",
    "Child ID",
    "Date Missing",
    "Looked After",
]
AMBIGUOUS_ROW = ["OCC1", "01/05/2024 10:00", "N", "RAWCHILD1", "01/05/2024 18:00", "Y"]


def test_header_matching_two_sources_is_not_identified(rules):
    make_csv(rules.inbox / "both.csv", AMBIGUOUS_HEADER, [AMBIGUOUS_ROW])
    outcome = run_one(rules)
    assert outcome.status == "rejected" and outcome.source is None
    assert outcome.message.startswith("no recognised header")
    assert stored(rules, POLICE) == [] and stored(rules, MISSING) == []


def test_subfolder_named_after_a_source_decides_the_source(rules):
    make_csv(rules.inbox / "missing_episodes" / "x.csv", AMBIGUOUS_HEADER, [AMBIGUOUS_ROW])
    outcome = run_one(rules)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.source, outcome.rows_loaded) == ("accepted", MISSING, 1)
    assert receipt["mapped"] == {
        "Occurrence Number": "episode_id",
        "Child ID": "child_id",
        "Date Missing": "missing_from",
        "Looked After": "looked_after",
    }
    assert receipt["ignored"] == ["Date Reported", "Children Present"]
    assert list(stored_by_key(rules, MISSING)) == ["OCC1"] and stored(rules, POLICE) == []


def test_subfolder_named_after_a_source_refuses_another_sources_file(rules):
    write_source(rules.inbox / "missing_episodes" / "police.csv", POLICE, [good(POLICE, 1)])
    outcome = run_one(rules)
    assert outcome.status == "rejected" and outcome.message.startswith("no recognised header")
    assert stored(rules, POLICE) == []


def test_other_subfolders_at_any_depth_are_read_like_the_top_level(rules):
    write_source(rules.inbox / "2024" / "may" / "x.xlsx", POLICE, [good(POLICE, 1)])
    write_source(rules.inbox / "from partners" / "y.csv", MISSING, [good(MISSING, 1)])
    outcomes = run(rules)
    assert (outcomes["x.xlsx"].status, outcomes["x.xlsx"].source) == ("accepted", POLICE)
    assert (outcomes["y.csv"].status, outcomes["y.csv"].source) == ("accepted", MISSING)
    assert [p for p in rules.inbox.rglob("*") if p.is_file()] == []


def test_occurrence_number_identifies_police_or_missing_by_the_whole_header(rules):
    write_source(rules.inbox / "police.csv", POLICE, [good(POLICE, 1)], headers={"incident_ref": "Occurrence Number"})
    write_source(rules.inbox / "missing.csv", MISSING, [good(MISSING, 1)], headers={"episode_id": "Occurrence Number"})
    outcomes = run(rules)
    assert (outcomes["police.csv"].status, outcomes["police.csv"].source) == ("accepted", POLICE)
    assert (outcomes["missing.csv"].status, outcomes["missing.csv"].source) == ("accepted", MISSING)
    assert receipt_of(outcomes["police.csv"])["mapped"]["Occurrence Number"] == "incident_ref"
    assert receipt_of(outcomes["missing.csv"])["mapped"]["Occurrence Number"] == "episode_id"
    assert list(stored_by_key(rules, POLICE)) == ["INC0001"] and list(stored_by_key(rules, MISSING)) == ["E0001"]


def test_unrelated_spreadsheet_lists_headers_found_and_closest_sources_missing_columns(rules):
    make_xlsx(
        rules.inbox / "caseload.xlsx",
        ["Referral ID", "Child ID", "Worker", "Team"],
        [["R1", "RAWCHILD1", "A Worker", "North"]],
        title_rows=[["Caseload report"]],
    )
    outcome = run_one(rules)
    receipt = receipt_of(outcome)
    assert outcome.status == "rejected" and receipt["source"] is None
    assert receipt["summary"] == (
        "no recognised header: no row in the first 20 of any visible sheet holds every required column of one source. "
        "Headers found: Referral ID, Child ID, Worker, Team. "
        "Closest source: csws_referrals, which also needs: referral_date, domestic_abuse."
    )
    assert "RAWCHILD1" not in Path(outcome.receipt).read_text()


# ============================================================================================
# Header variants: every alias of every column of every source, in real files
# ============================================================================================
@pytest.mark.parametrize("source", list(SPEC_ALIASES))
def test_every_alias_is_recognised_and_loaded(lite, source):
    columns = SPEC_ALIASES[source]
    files = max(len(a) for a in columns.values())
    expected: dict[str, dict] = {}
    for k in range(files):
        headers = {c: aliases[k % len(aliases)] for c, aliases in columns.items()}
        i = k + 1
        suffix = ".xlsx" if k % 2 else ".csv"
        write_source(lite.inbox / f"{source}_{k}{suffix}", source, [good(source, i)], headers=headers)
        expected[f"{source}_{k}{suffix}"] = (headers, stored_good(source, i))
    outcomes = run(lite)
    held = stored(lite, source)
    for name, (headers, row) in expected.items():
        outcome = outcomes[name]
        assert (outcome.status, outcome.source, outcome.rows_loaded) == ("accepted", source, 1), (name, outcome.message)
        assert receipt_of(outcome)["mapped"] == {alias: column for column, alias in headers.items()}, name
        assert receipt_of(outcome)["ignored"] == []
        assert row in [without_load(r) for r in held], (name, row)
    used = {(c, a) for headers, _ in expected.values() for c, a in headers.items()}
    assert used == {(c, a) for c, aliases in columns.items() for a in aliases}  # every alias was tried


def test_headers_match_ignoring_case_space_and_punctuation_and_unmatched_columns_are_ignored(lite):
    headers = {
        "incident_ref": "  incident_REF  ",
        "reported_at": "DATE-REPORTED",
        "children_present": "children.present?",
        "children_count": "(Number of Children)",
        "repeat_victim": "repeat/victim",
        "risk_level": "Risk:Level",
        "school_notified_at": "#School Notified",
        "district": "\tDis_trict ",
    }
    extra = {"Officer Name": ["PC Secret Name"], "Victim Address": ["1 Secret Street"], "": ["unlabelled"]}
    write_source(lite.inbox / "police.xlsx", POLICE, [good(POLICE, 1)], headers=headers, extra=extra)
    outcome = run_one(lite)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 1)
    assert receipt["mapped"] == {h.strip(): c for c, h in headers.items()}
    assert receipt["ignored"] == ["Officer Name", "Victim Address"]
    assert "Columns ignored (not loaded): Officer Name; Victim Address" in Path(outcome.receipt).read_text()
    [row] = stored(lite, POLICE)
    assert without_load(row) == stored_good(POLICE, 1)  # exactly the canonical columns, nothing else
    assert not any("Secret" in str(v) or "unlabelled" in str(v) for v in row.values())


def test_a_column_sent_twice_loads_the_first_and_lists_the_second_as_ignored(lite):
    header, rows = table_rows(POLICE, [good(POLICE, 1)])
    make_csv(lite.inbox / "police.csv", header + ["Ward"], [rows[0] + ["Headingley"]])
    outcome = run_one(lite)
    assert receipt_of(outcome)["ignored"] == ["Ward"]
    assert stored(lite, POLICE)[0]["district"] == "Armley"


# ============================================================================================
# Rows after the header: blank rows, totals rows, missing keys
# ============================================================================================
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_blank_rows_and_totals_rows_are_ignored_and_other_blank_key_rows_rejected(rules, suffix):
    header, rows = table_rows(POLICE, [good(POLICE, i) for i in range(1, 4)])
    width = len(header)
    blank = [""] * width
    body = [
        rows[0],  # row 2
        blank,  # row 3: entirely blank
        rows[1],  # row 4
        ["", "TOTAL", "", "", "", "", "", ""],  # row 5: totals (blank key, "TOTAL")
        ["", "", "Totals:", "3", "", "", "", ""],  # row 6: totals
        ["", "01/05/2024 10:00", "N", "0", "", "", "", "Armley"],  # row 7: blank key, not totals
        ["  ", "", "", "", "", "", "", "Grand total"],  # row 8: first non-blank cell is not "total..."
        rows[2],  # row 9
        blank,
        blank,  # rows 10-11
        [None, "total incidents", "", "", "", "", "", ""],  # row 12: totals, any case
    ]
    path = rules.inbox / f"police{suffix}"
    (make_csv if suffix == ".csv" else make_xlsx)(path, header, body)
    outcome = run_one(rules)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 3, 2)
    assert (receipt["rows_read"], receipt["totals_rows"]) == (5, 3)
    assert reasons_by_row(outcome) == {
        7: {"missing key: Incident Ref is blank"},
        8: {"missing key: Incident Ref is blank"},
    }
    assert sorted(stored_by_key(rules, POLICE)) == ["INC0001", "INC0002", "INC0003"]


# ============================================================================================
# Types in files
# ============================================================================================
def test_booleans_in_every_spelling_blank_unknown_and_others_rejected(rules):
    spellings = {
        "Y": True,
        "y": True,
        "Yes": True,
        "YES": True,
        "True": True,
        "true": True,
        "T": True,
        "t": True,
        "1": True,
        "N": False,
        "n": False,
        "No": False,
        "NO": False,
        "False": False,
        "FALSE": False,
        "F": False,
        "f": False,
        "0": False,
        "": None,
        "  ": None,
    }
    records = [dict(good(POLICE, i), children_present=s, repeat_victim=s) for i, s in enumerate(spellings, start=1)]
    bad = ["maybe", "2", "Yess", "Unknown", "-1"]
    records += [dict(good(POLICE, 100 + i), children_present=b) for i, b in enumerate(bad)]
    write_source(
        rules.inbox / "police.csv",
        POLICE,
        records,
        columns=["incident_ref", "reported_at", "children_present", "repeat_victim"],
    )
    outcome = run_one(rules)
    assert (outcome.rows_loaded, outcome.rows_rejected) == (len(spellings), len(bad))
    held = stored_by_key(rules, POLICE)
    for i, expected in enumerate(spellings.values(), start=1):
        assert held[f"INC{i:04d}"]["children_present"] is expected, list(spellings)[i - 1]
        assert held[f"INC{i:04d}"]["repeat_victim"] is expected
    first_bad = len(spellings) + 2
    assert reasons_by_row(outcome) == {
        first_bad + n: {"Child Present is not yes or no (use Y/N, Yes/No, True/False or 1/0)"} for n in range(len(bad))
    }
    # (the workbook's formula guard writes text starting with "-" after an apostrophe)
    assert rejected_cells(outcome, "Child Present") == {
        first_bad + n: ("'" + b if b.startswith("-") else b) for n, b in enumerate(bad)
    }


def test_excel_boolean_and_number_cells_are_booleans(rules):
    header, _ = table_rows(POLICE, [], columns=["incident_ref", "reported_at", "children_present", "children_count"])
    make_xlsx(
        rules.inbox / "police.xlsx",
        header,
        [
            ["A", "01/05/2024", True, 2],
            ["B", "01/05/2024", False, 0],
            ["C", "01/05/2024", 1, 1],
            ["D", "01/05/2024", 0, 0],
            ["E", "01/05/2024", None, None],
        ],
    )
    outcome = run_one(rules)
    assert (outcome.rows_loaded, outcome.rows_rejected) == (5, 0)
    held = stored_by_key(rules, POLICE)
    assert [held[k]["children_present"] for k in "ABCDE"] == [True, False, True, False, None]
    assert [held[k]["children_count"] for k in "ABCDE"] == [2, 0, 1, 0, None]


def test_blank_required_bool_is_allowed_and_stored_null(rules):
    write_source(rules.inbox / "missing.csv", MISSING, [dict(good(MISSING, 1), looked_after="")])
    write_source(rules.inbox / "referrals.csv", REFERRALS, [dict(good(REFERRALS, 1), domestic_abuse=" ")])
    outcomes = run(rules)
    assert outcomes["missing.csv"].rows_loaded == 1 and outcomes["referrals.csv"].rows_loaded == 1
    assert stored(rules, MISSING)[0]["looked_after"] is None
    assert stored(rules, REFERRALS)[0]["domestic_abuse"] is None


def test_whole_numbers_with_thousands_separators_load_and_decimals_are_rejected(rules):
    header, _ = table_rows(ATTENDANCE, [])
    base = table_rows(ATTENDANCE, [good(ATTENDANCE, 1)])[1][0]
    col = header.index("Enrolments")
    poss = header.index("Possible Sessions")

    def row(i, enrolments, possible="4,000"):
        r = list(base)
        r[0], r[col], r[poss] = 100000 + i, enrolments, possible
        return r

    make_xlsx(
        rules.inbox / "attendance.xlsx",
        header,
        [
            row(1, "1,234", "12,345"),  # text with separators
            row(2, 1234),  # a number cell
            row(3, 1234.0),  # a whole float cell
            row(4, "1,234,567", "1,234,567"),
            row(5, "12.5"),
            row(6, 2.5),
            row(7, "1,23"),
            row(8, "twelve"),
        ],
    )
    outcome = run_one(rules)
    held = stored_by_key(rules, ATTENDANCE)
    keys = {k[0]: v for k, v in held.items()}
    assert {u: (keys[u]["enrolments"], keys[u]["sessions_possible"]) for u in keys} == {
        100001: (1234, 12345),
        100002: (1234, 4000),
        100003: (1234, 4000),
        100004: (1234567, 1234567),
    }
    assert reasons_by_row(outcome) == {
        6: {"Enrolments is not a whole number"},
        7: {"Enrolments is not a whole number"},
        8: {"Enrolments is not a whole number"},
        9: {"Enrolments is not a whole number"},
    }
    assert rejected_cells(outcome, "Enrolments") == {6: "12.5", 7: 2.5, 8: "1,23", 9: "twelve"}


DATE_FORMATS = [
    ("2024-05-01", datetime(2024, 5, 1)),
    ("2024-05-01 13:45", datetime(2024, 5, 1, 13, 45)),
    ("2024-05-01T13:45", datetime(2024, 5, 1, 13, 45)),
    ("2024-05-01T13:45:10", datetime(2024, 5, 1, 13, 45, 10)),
    ("2024-05-01 13:45:10", datetime(2024, 5, 1, 13, 45, 10)),
    ("01/05/2024", datetime(2024, 5, 1)),
    ("1/5/2024", datetime(2024, 5, 1)),
    ("01-05-2024", datetime(2024, 5, 1)),
    ("01/05/2024 13:45", datetime(2024, 5, 1, 13, 45)),
    ("01/05/2024 13:45:00", datetime(2024, 5, 1, 13, 45)),
    ("1/5/2024 09:05", datetime(2024, 5, 1, 9, 5)),
    ("01-05-2024 13:45", datetime(2024, 5, 1, 13, 45)),
    ("01-05-2024 13:45:30", datetime(2024, 5, 1, 13, 45, 30)),
    ("1 May 2024", datetime(2024, 5, 1)),
    ("01-May-2024", datetime(2024, 5, 1)),
    ("1 May 24", datetime(2024, 5, 1)),
    ("1 MAY 2024 13:45", datetime(2024, 5, 1, 13, 45)),
    ("01-may-24", datetime(2024, 5, 1)),
    ("3 Sep 2023", datetime(2023, 9, 3)),
    ("3 September 2023", datetime(2023, 9, 3)),
    ("14 february 2024", datetime(2024, 2, 14)),
    ("2 Jan 2024", datetime(2024, 1, 2)),
    ("05/01/2024", datetime(2024, 1, 5)),  # day first: 5 January
    ("12/11/2023 08:00", datetime(2023, 11, 12, 8, 0)),  # 12 November, not 11 December
    ("05/01/24", datetime(2024, 1, 5)),  # two-digit year is 20YY
    ("5-1-24 07:30", datetime(2024, 1, 5, 7, 30)),
    ("29/02/2024", datetime(2024, 2, 29)),
    (datetime(2024, 5, 1, 13, 45), datetime(2024, 5, 1, 13, 45)),  # Excel datetime cell
    (datetime(2024, 3, 7), datetime(2024, 3, 7)),  # Excel date cell
    (date(2024, 3, 8), datetime(2024, 3, 8)),
]


def test_every_date_format_is_read_day_first_and_stored_right(settings):
    """Datetime (police reported_at) and date (attendance period_end) columns, xlsx and csv."""
    police = [dict(good(POLICE, i), reported_at=raw) for i, (raw, _) in enumerate(DATE_FORMATS, start=1)]
    write_source(settings.inbox / "police.xlsx", POLICE, police)
    text_only = [(raw, want) for raw, want in DATE_FORMATS if isinstance(raw, str)]
    police_csv = [dict(good(POLICE, 100 + i), reported_at=raw) for i, (raw, _) in enumerate(text_only)]
    write_source(settings.inbox / "police.csv", POLICE, police_csv)
    attendance = [
        dict(good(ATTENDANCE, i), period_start="01/01/2023", period_end=raw)
        for i, (raw, _) in enumerate(DATE_FORMATS, start=1)
    ]
    write_source(settings.inbox / "attendance.xlsx", ATTENDANCE, attendance)
    outcomes = run(settings)
    for name, count in (
        ("police.xlsx", len(DATE_FORMATS)),
        ("police.csv", len(text_only)),
        ("attendance.xlsx", len(DATE_FORMATS)),
    ):
        assert (outcomes[name].status, outcomes[name].rows_loaded, outcomes[name].rows_rejected) == (
            "accepted",
            count,
            0,
        ), (name, receipt_of(outcomes[name])["reasons"])
    held = stored_by_key(settings, POLICE)
    assert {
        raw if isinstance(raw, str) else repr(raw): held[f"INC{i:04d}"]["reported_at"]
        for i, (raw, _) in enumerate(DATE_FORMATS, start=1)
    } == {raw if isinstance(raw, str) else repr(raw): want for raw, want in DATE_FORMATS}
    assert [held[f"INC{100 + i:04d}"]["reported_at"] for i in range(len(text_only))] == [want for _, want in text_only]
    ends = {k[0]: v["period_end"] for k, v in stored_by_key(settings, ATTENDANCE).items()}
    assert [ends[100000 + i] for i in range(1, len(DATE_FORMATS) + 1)] == [want.date() for _, want in DATE_FORMATS]


def test_us_month_first_and_unknown_dates_are_rejected_naming_the_column(rules):
    bad = [
        "12/25/2023",
        "12/25/2023 10:00",
        "31/02/2024",
        "2024/05/01",
        "May 1 2024",
        "1 Mai 2024",
        "yesterday",
        "45000",
    ]
    records = [good(POLICE, 1)] + [dict(good(POLICE, 10 + i), reported_at=b) for i, b in enumerate(bad)]
    write_source(rules.inbox / "police.csv", POLICE, records, headers={"reported_at": "Date Reported"})
    outcome = run_one(rules)
    assert (outcome.rows_loaded, outcome.rows_rejected) == (1, len(bad))
    reasons = reasons_by_row(outcome)
    assert sorted(reasons) == list(range(3, 3 + len(bad)))
    for n, b in enumerate(bad):
        [reason] = reasons[3 + n]
        assert reason.startswith("Date Reported "), reason
        assert b not in reason  # the value is never quoted: it is in the rejects workbook
    assert rejected_cells(outcome, "Date Reported") == {3 + n: b for n, b in enumerate(bad)}
    assert reasons[3] == {"Date Reported is not a real date (dates are read day first, as 31/01/2024)"}
    assert reasons[8] == {"Date Reported has a month name we do not recognise"}


def test_enum_synonyms_map_to_canonical_values_and_unknowns_are_rejected(rules):
    outcomes_in = {
        "Child and Family Assessment": "assessment",
        "Single Assessment": "assessment",
        "C&F Assessment": "assessment",
        "assessment": "assessment",
        "No Further Action": "nfa",
        "NFA": "nfa",
        "nfa": "nfa",
        "Early Help": "early_help",
        "EARLY-HELP": "early_help",
        "Other": "other",
    }
    sources_in = {
        "LA": "local_authority",
        "Local Authority": "local_authority",
        "local authority": "local_authority",
        "Police": "police",
        "SCHOOL": "school",
        "health": "health",
        "Individual": "individual",
        "other": "other",
        "la": "local_authority",
        "local_authority": "local_authority",
    }
    referrals = [
        dict(good(REFERRALS, i), outcome=o, referral_source=s)
        for i, (o, s) in enumerate(zip(outcomes_in, sources_in), start=1)
    ]
    referrals += [
        dict(good(REFERRALS, 50), outcome="Strategy Discussion"),
        dict(good(REFERRALS, 51), referral_source="GP"),
    ]
    write_source(rules.inbox / "referrals.csv", REFERRALS, referrals)

    phases = {
        "State-funded primary": "primary",
        "State-funded secondary": "secondary",
        "Special": "special",
        "State-funded special": "special",
        "All-through": "other",
        "Alternative provision": "other",
        "PRU": "other",
        "Primary": "primary",
        "SECONDARY": "secondary",
        "other": "other",
    }
    attendance = [dict(good(ATTENDANCE, i), phase=p) for i, p in enumerate(phases, start=1)]
    attendance.append(dict(good(ATTENDANCE, 50), phase="Nursery"))
    write_source(rules.inbox / "attendance.xlsx", ATTENDANCE, attendance)

    sexes = {
        "F": "female",
        "M": "male",
        "f": "female",
        "m": "male",
        "Female": "female",
        "MALE": "male",
        "Other": "other",
    }
    missing = [dict(good(MISSING, i), sex=s) for i, s in enumerate(sexes, start=1)]
    missing.append(dict(good(MISSING, 50), sex="X"))
    write_source(rules.inbox / "missing.csv", MISSING, missing, headers={"sex": "Gender"})

    risks = {"Standard": "standard", "MEDIUM": "medium", "high": "high", " High ": "high"}
    police = [dict(good(POLICE, i), risk_level=r) for i, r in enumerate(risks, start=1)]
    police.append(dict(good(POLICE, 50), risk_level="very high"))
    write_source(rules.inbox / "police.csv", POLICE, police)

    comparators = {
        "England": "england",
        "Statistical Neighbours": "statistical_neighbours",
        "statistical_neighbours": "statistical_neighbours",
        "Core Cities": "core_cities",
        "REGION": "region",
    }
    benchmarks = [dict(good(BENCHMARKS, i), comparator=c) for i, c in enumerate(comparators, start=1)]
    benchmarks.append(dict(good(BENCHMARKS, 50), comparator="County"))
    write_source(rules.inbox / "benchmarks.csv", BENCHMARKS, benchmarks)

    outcomes = run(rules)
    held = stored_by_key(rules, REFERRALS)
    assert [held[f"R{i:04d}"]["outcome"] for i in range(1, 11)] == list(outcomes_in.values())
    assert [held[f"R{i:04d}"]["referral_source"] for i in range(1, 11)] == list(sources_in.values())
    assert reasons_by_row(outcomes["referrals.csv"]) == {
        12: {"Outcome is not one of the listed values (assessment, nfa, early_help, other)"},
        13: {"Source is not one of the listed values (police, school, health, local_authority, individual, other)"},
    }
    held = {k[0]: v for k, v in stored_by_key(rules, ATTENDANCE).items()}
    assert [held[100000 + i]["phase"] for i in range(1, 11)] == list(phases.values())
    assert reasons_by_row(outcomes["attendance.xlsx"]) == {
        12: {"Phase is not one of the listed values (primary, secondary, special, other)"}
    }
    held = stored_by_key(rules, MISSING)
    assert [held[f"E{i:04d}"]["sex"] for i in range(1, 8)] == list(sexes.values())
    assert reasons_by_row(outcomes["missing.csv"]) == {
        9: {"Gender is not one of the listed values (female, male, other)"}
    }
    held = stored_by_key(rules, POLICE)
    assert [held[f"INC{i:04d}"]["risk_level"] for i in range(1, 5)] == list(risks.values())
    assert reasons_by_row(outcomes["police.csv"]) == {
        6: {"DASH Risk is not one of the listed values (standard, medium, high)"}
    }
    held = stored_by_key(rules, BENCHMARKS)
    assert [
        held[(f"IND{i:02d}", c, "2023-24")]["comparator"] for i, c in enumerate(comparators.values(), start=1)
    ] == list(comparators.values())
    assert reasons_by_row(outcomes["benchmarks.csv"]) == {
        7: {"Comparator is not one of the listed values (england, statistical_neighbours, core_cities, region)"}
    }


# ============================================================================================
# Row rules, per source
# ============================================================================================
def test_police_row_rules(rules):
    g = lambda i, **kw: dict(good(POLICE, i), **kw)  # noqa: E731
    records = [
        g(1, school_notified_at="01/05/2024 09:59"),  # row 2: notified before reported
        g(2, school_notified_at="01/05/2024 10:00"),  # row 3: same time: fine
        g(3, school_notified_at="02/05/2024 08:00", children_present="Y", children_count="2"),  # row 4: fine
        g(4, children_present="N", children_count="2"),  # row 5: count with no children
        g(5, children_present="N", children_count="0"),  # row 6: fine
        g(6, children_present="N", children_count=""),  # row 7: fine (count unknown)
        g(7, children_present="", children_count="3"),  # row 8: fine (presence unknown)
        g(8, children_present="Y", children_count="-1"),  # row 9: negative
        g(9, school_notified_at="30/04/2024 10:00", children_present="No", children_count="1"),  # row 10: both rules
    ]
    write_source(rules.inbox / "police.csv", POLICE, records)
    outcome = run_one(rules)
    assert reasons_by_row(outcome) == {
        2: {"Encompass Notification is before Reported Date"},
        5: {"Number of Children is more than 0 but Child Present says no"},
        9: {"Number of Children is negative"},
        10: {
            "Encompass Notification is before Reported Date",
            "Number of Children is more than 0 but Child Present says no",
        },
    }
    assert sorted(stored_by_key(rules, POLICE)) == ["INC0002", "INC0003", "INC0005", "INC0006", "INC0007"]


def test_attendance_row_rules(rules):
    g = lambda i, **kw: dict(good(ATTENDANCE, i), **kw)  # noqa: E731
    records = [
        g(1, period_start="30/04/2024", period_end="01/04/2024"),  # row 2
        g(2, period_start="15/04/2024", period_end="15/04/2024"),  # row 3: a one-day period is fine
        g(3, sessions_absent="4001"),  # row 4
        g(4, sessions_absent="4000", sessions_unauthorised="4000"),  # row 5: equal is fine
        g(5, sessions_unauthorised="4001"),  # row 6
        g(6, persistent_absentees="201"),  # row 7
        g(7, persistent_absentees="200", severe_absentees="200"),  # row 8: fine
        g(8, severe_absentees="21"),  # row 9
        g(9, school_urn="12345"),  # row 10: 5 digits
        g(10, school_urn="1234567"),  # row 11: 7 digits
        g(11, school_urn="999999"),  # row 12: fine
        g(12, enrolments="-5", persistent_absentees="0", severe_absentees="0"),  # row 13
        g(13, suspensions="-1"),  # row 14
        g(14, sessions_absent="-1"),  # row 15
        g(15, sessions_unauthorised="-2"),  # row 16
        g(16, severe_absentees="-3"),  # row 17
        g(17, sessions_possible="-4", sessions_absent="0", sessions_unauthorised=""),  # row 18
        g(18, persistent_absentees="-5", severe_absentees=""),  # row 19
        g(19, school_urn="", period_start="", period_end=""),  # row 20: the whole key blank
    ]
    write_source(rules.inbox / "attendance.csv", ATTENDANCE, records)
    outcome = run_one(rules)
    assert reasons_by_row(outcome) == {
        2: {"Period End is before Period Start"},
        4: {"Overall Absence Sessions is more than Possible Sessions"},
        6: {"Unauthorised Absence Sessions is more than Possible Sessions"},
        7: {"Persistent Absentees is more than Enrolments"},
        9: {"Severe Absentees is more than Persistent Absentees"},
        10: {"URN is not a 6-digit URN"},
        11: {"URN is not a 6-digit URN"},
        13: {"Enrolments is negative", "Persistent Absentees is more than Enrolments"},
        14: {"Suspensions is negative"},
        15: {"Overall Absence Sessions is negative"},
        16: {"Unauthorised Absence Sessions is negative"},
        17: {"Severe Absentees is negative"},
        18: {"Possible Sessions is negative", "Overall Absence Sessions is more than Possible Sessions"},
        19: {"Persistent Absentees is negative"},
        20: {"missing key: URN, Period Start, Period End is blank"},
    }
    held = {k[0] for k in stored_by_key(rules, ATTENDANCE)}
    assert held == {100002, 100004, 100007, 999999}


def test_missing_episode_row_rules(rules):
    g = lambda i, **kw: dict(good(MISSING, i), **kw)  # noqa: E731
    records = [
        g(1, returned_at="01/05/2024 17:00", return_interview_completed_at=""),  # row 2: back before missing
        g(2, returned_at="01/05/2024 18:00", return_interview_completed_at="01/05/2024 18:00"),  # row 3: fine
        g(3, return_interview_completed_at="02/05/2024 08:00"),  # row 4: interview before return
        g(4, returned_at="", return_interview_completed_at="03/05/2024 10:00"),  # row 5: interview, no return
        g(5, returned_at="", return_interview_completed_at=""),  # row 6: still missing: fine
        g(6, returned_at="", return_interview_completed_at="", return_interview_offered=""),  # row 7: fine
    ]
    write_source(rules.inbox / "missing.csv", MISSING, records)
    outcome = run_one(rules)
    assert reasons_by_row(outcome) == {
        2: {"Date Found is before Date Missing"},
        4: {"RHI Completed is before Date Found"},
        5: {"RHI Completed is given but Date Found is blank"},
    }
    assert sorted(stored_by_key(rules, MISSING)) == ["E0002", "E0005", "E0006"]
    assert stored_by_key(rules, MISSING)["E0005"]["returned_at"] is None


def test_interview_completed_without_a_returned_column_is_rejected_not_a_crash(rules):
    """A file with an interview date column but no return column: every completed row breaks the rule."""
    columns = ["episode_id", "child_id", "missing_from", "looked_after", "return_interview_completed_at"]
    write_source(
        rules.inbox / "missing.csv",
        MISSING,
        [good(MISSING, 1), dict(good(MISSING, 2), return_interview_completed_at="")],
        columns=columns,
    )
    outcome = run_one(rules)
    assert outcome.status == "accepted"
    assert (outcome.rows_loaded, outcome.rows_rejected) == (1, 1)
    [(row, reasons)] = reasons_by_row(outcome).items()
    assert row == 2 and len(reasons) == 1 and next(iter(reasons)).startswith("RHI Completed is given but")
    assert list(stored_by_key(rules, MISSING)) == ["E0002"]


X = object()  # stands for the date under test
# For each source, rows putting one date column (or a pair that must move together) under test,
# the other dates kept consistent so only the rule under test can fail.
DATE_CASES = {
    POLICE: [{"reported_at": X, "school_notified_at": ""}, {"reported_at": "01/05/2024", "school_notified_at": X}],
    REFERRALS: [{"referral_date": X}],
    ATTENDANCE: [{"period_start": X, "period_end": X}],
    MISSING: [
        {"missing_from": X, "returned_at": "", "return_interview_completed_at": ""},
        {"missing_from": "01/05/2024", "returned_at": X, "return_interview_completed_at": ""},
        {"missing_from": "01/05/2024", "returned_at": "02/05/2024", "return_interview_completed_at": X},
    ],
}
# Pair rules an early date under test also breaks: (column under test, column it may not precede).
PAIRS = {
    (POLICE, "school_notified_at"): "reported_at",
    (MISSING, "returned_at"): "missing_from",
    (MISSING, "return_interview_completed_at"): "returned_at",
}


@pytest.mark.parametrize("source", list(DATE_CASES))
def test_dates_in_the_future_or_before_2000_are_rejected(rules, source):
    tomorrow = (datetime.now() + timedelta(days=1)).strftime("%d/%m/%Y %H:%M")
    header = HEADERS[source]
    records, expected = [], {}
    for case in DATE_CASES[source]:
        for raw in ("31/12/1999 23:59", tomorrow):
            records.append(dict(good(source, len(records) + 1), **{c: raw if v is X else v for c, v in case.items()}))
            reasons = {f"{header[c]} is before 1 January 2000 or in the future" for c, v in case.items() if v is X}
            for c, v in case.items():
                if v is X and (source, c) in PAIRS and raw.startswith("31/12/1999"):
                    reasons.add(f"{header[c]} is before {header[PAIRS[(source, c)]]}")
            expected[len(records) + 1] = reasons
    # the first and the last acceptable moments: 1 January 2000, and the start of today
    for edge in ("01/01/2000 00:00", datetime.now().strftime("%d/%m/%Y 00:00")):
        records.append(dict(good(source, len(records) + 1), **{c: edge for c in _date_columns(source)}))
    write_source(rules.inbox / f"{source}.csv", source, records)
    outcome = run_one(rules)
    assert reasons_by_row(outcome) == expected
    assert outcome.rows_loaded == 2


def _date_columns(source: str) -> list[str]:
    return [c for case in DATE_CASES[source] for c, v in case.items() if v is X]


REQUIRED_NOT_BOOL = {
    POLICE: ["reported_at"],
    REFERRALS: ["child_id", "referral_date"],
    ATTENDANCE: [
        "school_urn",
        "phase",
        "period_start",
        "period_end",
        "enrolments",
        "sessions_possible",
        "sessions_absent",
        "persistent_absentees",
    ],
    MISSING: ["child_id", "missing_from"],
    POPULATION: ["population_0_17"],
    BENCHMARKS: ["indicator_id", "comparator", "period", "value"],
}


@pytest.mark.parametrize("source", list(REQUIRED_NOT_BOOL))
def test_required_values_missing_are_rejected(rules, source):
    columns = REQUIRED_NOT_BOOL[source]
    records = [good(source, 1)] + [dict(good(source, 2 + n), **{c: ""}) for n, c in enumerate(columns)]
    write_source(rules.inbox / f"{source}.csv", source, records)
    outcome = run_one(rules)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 1, len(columns))
    assert reasons_by_row(outcome) == {
        3 + n: {f"{HEADERS[source][c]} is blank but required"} for n, c in enumerate(columns)
    }


@pytest.mark.parametrize("source", list(SPEC_ALIASES))
def test_required_column_missing_from_the_header_means_not_recognised(rules, source):
    required = {
        POLICE: "reported_at",
        REFERRALS: "referral_date",
        ATTENDANCE: "persistent_absentees",
        MISSING: "missing_from",
        POPULATION: "population_0_17",
        BENCHMARKS: "value",
    }[source]
    columns = [c for c in SPEC_ALIASES[source] if c != required]
    write_source(rules.inbox / f"{source}.csv", source, [good(source, 1)], columns=columns)
    outcome = run_one(rules)
    assert outcome.status == "rejected" and outcome.message.startswith("no recognised header")
    assert f"Closest source: {source}, which also needs: {required}." in outcome.message


def test_a_row_with_several_problems_is_rejected_with_every_reason(rules):
    police = [
        good(POLICE, 1),
        dict(
            good(POLICE, 2),
            reported_at="31/02/2024",
            children_present="maybe",
            risk_level="purple",
            children_count="2.5",
            school_notified_at="02/05/2024",
        ),
    ]
    write_source(rules.inbox / "police.csv", POLICE, police)
    attendance = [
        good(ATTENDANCE, 1),
        dict(
            good(ATTENDANCE, 2),
            period_start="01/05/2024",
            period_end="01/04/2024",
            sessions_absent="5000",
            severe_absentees="30",
            phase="Nursery",
        ),
    ]
    write_source(rules.inbox / "attendance.xlsx", ATTENDANCE, attendance)
    outcomes = run(rules)
    assert reasons_by_row(outcomes["police.csv"]) == {
        3: {
            "Reported Date is not a real date (dates are read day first, as 31/01/2024)",
            "Child Present is not yes or no (use Y/N, Yes/No, True/False or 1/0)",
            "Number of Children is not a whole number",
            "DASH Risk is not one of the listed values (standard, medium, high)",
        }
    }
    assert reasons_by_row(outcomes["attendance.xlsx"]) == {
        3: {
            "Period End is before Period Start",
            "Overall Absence Sessions is more than Possible Sessions",
            "Severe Absentees is more than Persistent Absentees",
            "Phase is not one of the listed values (primary, secondary, special, other)",
        }
    }
    rejects = openpyxl.load_workbook(receipt_of(outcomes["police.csv"])["rejects_file"]).active
    [row] = list(rejects.iter_rows(min_row=2, values_only=True))
    assert row[0] == 3 and len(row[1].split("; ")) == 4


def test_duplicate_keys_keep_the_first_and_reject_the_later_ones(rules):
    police = [
        good(POLICE, 1),
        good(POLICE, 2),
        dict(good(POLICE, 1), district="Later"),
        dict(good(POLICE, 3)),
        dict(good(POLICE, 1), district="Latest"),
    ]
    write_source(rules.inbox / "police.csv", POLICE, police)
    same = dict(good(ATTENDANCE, 1), school_name="Second copy")
    other_period = dict(good(ATTENDANCE, 1), period_start="01/05/2024", period_end="31/05/2024")
    write_source(rules.inbox / "attendance.csv", ATTENDANCE, [good(ATTENDANCE, 1), other_period, same])
    population = [good(POPULATION, 20), dict(good(POPULATION, 20), population_0_17="1")]
    write_source(rules.inbox / "population.csv", POPULATION, population)
    outcomes = run(rules)
    assert reasons_by_row(outcomes["police.csv"]) == {
        4: {"duplicate key: the same Incident Ref as row 2 (the first is kept)"},
        6: {"duplicate key: the same Incident Ref as row 2 (the first is kept)"},
    }
    assert stored_by_key(rules, POLICE)["INC0001"]["district"] == "Armley"
    assert reasons_by_row(outcomes["attendance.csv"]) == {
        4: {"duplicate key: the same URN and Period Start and Period End as row 2 (the first is kept)"}
    }
    assert {k: v["school_name"] for k, v in stored_by_key(rules, ATTENDANCE).items()} == {
        (100001, date(2024, 4, 1), date(2024, 4, 30)): "School 1",
        (100001, date(2024, 5, 1), date(2024, 5, 31)): "School 1",
    }
    assert reasons_by_row(outcomes["population.csv"]) == {
        3: {"duplicate key: the same Year as row 2 (the first is kept)"}
    }
    assert stored_by_key(rules, POPULATION)[2020]["population_0_17"] == 170000


def test_population_must_be_more_than_zero(rules):
    rows = [
        good(POPULATION, 21),
        dict(good(POPULATION, 22), population_0_17="0"),
        dict(good(POPULATION, 23), population_0_17="-5"),
        dict(good(POPULATION, 24), population_0_17="1"),
    ]
    write_source(rules.inbox / "population.xlsx", POPULATION, rows)
    outcome = run_one(rules)
    assert reasons_by_row(outcome) == {
        3: {"Population 0-17 must be more than 0"},
        4: {"Population 0-17 must be more than 0"},
    }
    assert {k: v["population_0_17"] for k, v in stored_by_key(rules, POPULATION).items()} == {2021: 170000, 2024: 1}


def test_benchmark_values_are_numbers(rules):
    rows = [
        good(BENCHMARKS, 1),
        dict(good(BENCHMARKS, 2), value="1,234.5"),
        dict(good(BENCHMARKS, 3), value="n/a"),
        dict(good(BENCHMARKS, 4), value="7"),
    ]
    write_source(rules.inbox / "benchmarks.csv", BENCHMARKS, rows)
    outcome = run_one(rules)
    assert reasons_by_row(outcome) == {4: {"Value is not a number"}}
    held = {k[0]: v["value"] for k, v in stored_by_key(rules, BENCHMARKS).items()}
    assert held == {"IND01": 12.5, "IND02": 1234.5, "IND04": 7.0}


# ============================================================================================
# File-level rules
# ============================================================================================
def _police_with_bad(n: int, bad: int) -> list[dict]:
    return [
        dict(good(POLICE, i), reported_at="12/25/2023 10:00") if i <= bad else good(POLICE, i) for i in range(1, n + 1)
    ]


def test_exactly_ten_percent_bad_rows_loads_the_good_rows(lite):
    write_source(lite.inbox / "police.csv", POLICE, _police_with_bad(100, 10))
    outcome = run_one(lite)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 90, 10)
    assert len(stored(lite, POLICE)) == 90


def test_just_over_ten_percent_bad_rows_rejects_the_whole_file(lite):
    write_source(lite.inbox / "police.csv", POLICE, _police_with_bad(99, 10))
    outcome = run_one(lite)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("rejected", 0, 99)
    assert stored(lite, POLICE) == []
    assert outcome.message.startswith(
        "10 of 99 rows (10%) failed checks, more than the 10% allowed, so nothing was loaded"
    )
    # the receipt still lists every row problem
    [group] = receipt["reasons"]
    assert group["rows"] == 10 and [e["row"] for e in group["examples"]] == [2, 3, 4, 5, 6]
    rejects = openpyxl.load_workbook(receipt["rejects_file"]).active
    assert [r[0] for r in rejects.iter_rows(min_row=2, values_only=True)] == list(range(2, 12))
    [audit] = audit_rows(lite)
    assert (audit["status"], audit["rows_read"], audit["rows_loaded"], audit["rows_rejected"]) == (
        "rejected",
        99,
        0,
        99,
    )
    assert list(lite.rejected.iterdir()) and not list(lite.archive.iterdir())


def test_reject_threshold_is_configurable(lite, monkeypatch):
    write_source(lite.inbox / "police.csv", POLICE, _police_with_bad(20, 4))  # 20% bad
    monkeypatch.setenv("SCORECARD_REJECT_THRESHOLD", "0.25")
    outcome = run_one(load_settings())
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 16, 4)
    assert len(stored(lite, POLICE)) == 16
    monkeypatch.setenv("SCORECARD_REJECT_THRESHOLD", "0.1")
    write_source(lite.inbox / "police2.csv", POLICE, _police_with_bad(21, 4)[1:])  # other rows, 4 of 20 bad
    outcome = run_one(load_settings())
    assert (outcome.status, outcome.rows_loaded) == ("rejected", 0)
    assert len(stored(lite, POLICE)) == 16


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
def test_header_but_no_data_rows_is_rejected_plainly(lite, suffix):
    header, _ = table_rows(POLICE, [])
    body = [[""] * len(header), ["", "Total", "0"]]
    (make_csv if suffix == ".csv" else make_xlsx)(lite.inbox / f"police{suffix}", header, body, title_rows=[["April"]])
    outcome = run_one(lite)
    assert (outcome.status, outcome.source, outcome.message) == (
        "rejected",
        POLICE,
        "the file has a header but no data rows",
    )
    assert list(lite.rejected.iterdir()) and stored(lite, POLICE) == []


# ============================================================================================
# CSV encodings and separators; .xlsm
# ============================================================================================
@pytest.mark.parametrize("encoding,bom", [("utf-8", True), ("utf-8", False), ("cp1252", False)])
def test_csv_encodings_keep_pounds_and_accents(settings, encoding, bom):
    records = [
        dict(good(ATTENDANCE, 1), school_name="École St Mary's (£5 fund)"),
        dict(good(ATTENDANCE, 2), school_name="Café Academy"),
    ]
    extra = {"Notes £": ["£12 paid – é", "naïve"]}
    write_source(
        settings.inbox / "attendance.csv",
        ATTENDANCE,
        records,
        encoding=encoding,
        bom=bom,
        extra=extra,
        headers={"school_urn": "URN"},
    )
    outcome = run_one(settings)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 2, 0), receipt["reasons"]
    assert receipt["mapped"]["URN"] == "school_urn"  # the BOM is not part of the first header
    assert receipt["ignored"] == ["Notes £"]
    names = sorted(v["school_name"] for v in stored(settings, ATTENDANCE))
    assert names == ["Café Academy", "École St Mary's (£5 fund)"]


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("quote_all", [False, True])
def test_csv_comma_or_semicolon_with_quoted_other_separator(lite, delimiter, quote_all):
    other = ";" if delimiter == "," else ","
    records = [
        dict(good(ATTENDANCE, 1), school_name=f"Smith{other} J Academy", enrolments="1,234"),
        dict(good(ATTENDANCE, 2), school_name=f"Park{other} Leeds", enrolments="1,200"),
    ]
    write_source(lite.inbox / "attendance.csv", ATTENDANCE, records, delimiter=delimiter, quote_all=quote_all)
    outcome = run_one(lite)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 2, 0)
    held = {k[0]: (v["school_name"], v["enrolments"]) for k, v in stored_by_key(lite, ATTENDANCE).items()}
    assert held == {100001: (f"Smith{other} J Academy", 1234), 100002: (f"Park{other} Leeds", 1200)}


def test_semicolon_csv_with_unquoted_thousands(lite):
    header, rows = table_rows(ATTENDANCE, [dict(good(ATTENDANCE, 1), enrolments="1,234", sessions_possible="40,000")])
    (lite.inbox / "attendance.csv").write_text(";".join(header) + "\n" + ";".join(rows[0]) + "\n", encoding="utf-8")
    outcome = run_one(lite)
    assert outcome.rows_loaded == 1
    [row] = stored(lite, ATTENDANCE)
    assert (row["enrolments"], row["sessions_possible"]) == (1234, 40000)


def test_xlsm_is_accepted(settings):
    write_source(settings.inbox / "police.xlsm", POLICE, [good(POLICE, 1), good(POLICE, 2)])
    outcome = run_one(settings)
    assert (outcome.status, outcome.rows_loaded) == ("accepted", 2)
    assert [without_load(r) for r in stored(settings, POLICE)] == [stored_good(POLICE, 1), stored_good(POLICE, 2)]


# ============================================================================================
# The inbox
# ============================================================================================
def test_hidden_and_lock_files_are_left_untouched(lite):
    dot = write_source(lite.inbox / ".police.csv", POLICE, [good(POLICE, 1)])
    lock = write_source(lite.inbox / "~$police.xlsx", POLICE, [good(POLICE, 2)])
    nested = write_source(lite.inbox / "missing_episodes" / "~$missing.xlsx", MISSING, [good(MISSING, 1)])
    before = {p: (p.read_bytes(), p.stat().st_mtime) for p in (dot, lock, nested)}
    real = write_source(lite.inbox / "police.csv", POLICE, [good(POLICE, 3)])
    outcomes = run(lite)
    assert list(outcomes) == ["police.csv"] and not real.exists()
    assert {p: (p.read_bytes(), p.stat().st_mtime) for p in (dot, lock, nested)} == before
    assert list(stored_by_key(lite, POLICE)) == ["INC0003"]
    assert len(list(lite.receipts.glob("*.receipt.json"))) == 1


def test_files_still_being_written_wait_for_the_next_run(lite, monkeypatch):
    monkeypatch.setenv("SCORECARD_SETTLE_SECONDS", "30")
    s = load_settings()
    fresh = write_source(s.inbox / "police.csv", POLICE, [good(POLICE, 1)])
    old = write_source(s.inbox / "2024" / "old.csv", POLICE, [good(POLICE, 2)])
    long_ago = time.time() - 120
    os.utime(old, (long_ago, long_ago))
    assert list(run(s)) == ["old.csv"]
    assert fresh.exists() and not old.exists()
    assert list(stored_by_key(s, POLICE)) == ["INC0002"]
    assert run(s) == {}  # still fresh
    os.utime(fresh, (time.time() - 31, time.time() - 31))
    assert run(s)["police.csv"].status == "accepted" and not fresh.exists()
    assert sorted(stored_by_key(s, POLICE)) == ["INC0001", "INC0002"]


def test_processed_files_leave_the_inbox_under_stamped_names(lite):
    good_bytes = write_source(lite.inbox / "police.csv", POLICE, [good(POLICE, 1)]).read_bytes()
    bad_bytes = make_csv(lite.inbox / "sub" / "rota.csv", ["Name", "Shift"], [["A", "Early"]]).read_bytes()
    before = datetime.utcnow().replace(microsecond=0)
    outcomes = run(lite)
    after = datetime.utcnow()
    assert [p for p in lite.inbox.rglob("*") if p.is_file()] == []
    for folder, name, data in ((lite.archive, "police.csv", good_bytes), (lite.rejected, "rota.csv", bad_bytes)):
        [stored_file] = list(folder.iterdir())
        stamp, digest, original = STAMPED.match(stored_file.name).groups()
        assert original == name and digest == hashlib.sha256(data).hexdigest()[:12]
        assert before <= datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") <= after
        assert stored_file.read_bytes() == data
        assert outcomes[name].stored_as == str(stored_file)


def test_files_with_the_same_name_never_overwrite_each_other(lite):
    a = write_source(lite.inbox / "north" / "police.csv", POLICE, [good(POLICE, 1)]).read_bytes()
    b = write_source(lite.inbox / "south" / "police.csv", POLICE, [good(POLICE, 2)]).read_bytes()
    bad = make_csv(lite.inbox / "x" / "rota.csv", ["Name"], [["A"]]).read_bytes()
    make_csv(lite.inbox / "y" / "rota.csv", ["Name"], [["A"]])  # identical bytes, same name, same second
    outcomes = run_intake(lite).outcomes
    assert sorted(o.status for o in outcomes) == ["accepted", "accepted", "rejected", "rejected"]
    c = write_source(lite.inbox / "police.csv", POLICE, [good(POLICE, 3)]).read_bytes()
    run(lite)
    archived = sorted(lite.archive.iterdir())
    assert len(archived) == 3 and sorted(p.read_bytes() for p in archived) == sorted([a, b, c])
    assert all(STAMPED.match(p.name).group(3) == "police.csv" for p in archived)
    rejected = sorted(lite.rejected.iterdir())
    assert len(rejected) == 2 and [p.read_bytes() for p in rejected] == [bad, bad]
    assert len(set(p.name for p in rejected)) == 2
    assert sorted(stored_by_key(lite, POLICE)) == ["INC0001", "INC0002", "INC0003"]


def test_same_file_twice_in_one_second_keeps_both_receipts(lite, monkeypatch):
    """The same extract dropped in two subfolders and processed within one second (time frozen here to
    make that certain): one is accepted, the other a duplicate, and each keeps its own receipt."""
    import pipelines.intake.process as process

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2024, 6, 3, 9, 0, 0, tzinfo=tz)

    monkeypatch.setattr(process, "datetime", Frozen)
    data = write_source(lite.inbox / "north" / "police.csv", POLICE, [good(POLICE, 1)]).read_bytes()
    (lite.inbox / "south").mkdir()
    (lite.inbox / "south" / "police.csv").write_bytes(data)
    outcomes = run_intake(lite).outcomes
    assert sorted(o.status for o in outcomes) == ["accepted", "duplicate"]
    assert len({o.stored_as for o in outcomes}) == 2  # the originals are both kept
    assert outcomes[0].receipt != outcomes[1].receipt, (
        "both files' receipts are written to the same path (receipts/<stamp>_<sha12>_police.receipt.*), "
        "so the duplicate's receipt overwrites the accepted file's receipt"
    )
    assert {receipt_of(o)["status"] for o in outcomes} == {"accepted", "duplicate"}


# ============================================================================================
# Loading: upsert by key, load ids, the load audit
# ============================================================================================
def indexes_of(settings, source: str) -> list[tuple]:
    engine = create_engine(settings.warehouse_url)
    try:
        found = inspect(engine).get_indexes(table_for(source).name)
    finally:
        engine.dispose()
    return sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found)


@pytest.mark.parametrize("big", [False, True], ids=["indexes kept", "indexes rebuilt"])
def test_resubmission_updates_only_its_keys_and_records_each_load(settings, big, monkeypatch):
    if big:  # each load counts as big: its table's secondary indexes are dropped and built again
        monkeypatch.setattr(loading, "REBUILD_FROM_ROWS", 1)
    write_source(settings.inbox / "april.xlsx", POLICE, [good(POLICE, i) for i in range(1, 6)])
    first = run_one(settings)
    before = indexes_of(settings, POLICE)
    assert {i.name for i in table_for(POLICE).indexes} <= {name for name, _, _ in before}
    corrected = [
        dict(good(POLICE, 2), risk_level="high", district="Headingley"),
        dict(good(POLICE, 3), children_present="Y", children_count="2"),
        *[good(POLICE, i) for i in range(6, 13)],
        dict(good(POLICE, 13), reported_at="12/25/2023"),
    ]  # one bad row in ten: still loads
    write_source(settings.inbox / "april.xlsx", POLICE, corrected, title_rows=[["Corrected"]])
    second = run_one(settings)
    assert (first.status, second.status) == ("accepted", "accepted")
    assert first.load_id != second.load_id
    held = stored_by_key(settings, POLICE)
    assert sorted(held) == [f"INC{i:04d}" for i in range(1, 13)]
    assert {k: v["load_id"] for k, v in held.items()} == {
        f"INC{i:04d}": first.load_id if i in (1, 4, 5) else second.load_id for i in range(1, 13)
    }
    assert without_load(held["INC0002"]) == dict(stored_good(POLICE, 2), risk_level="high", district="Headingley")
    assert (held["INC0003"]["children_present"], held["INC0003"]["children_count"]) == (True, 2)
    for k in ("INC0001", "INC0004", "INC0005"):
        assert without_load(held[k]) == stored_good(POLICE, int(k[3:]))
    audit = {a["load_id"]: a for a in audit_rows(settings)}
    assert set(audit) == {first.load_id, second.load_id}
    a1, a2 = audit[first.load_id], audit[second.load_id]
    assert (a1["status"], a1["source"], a1["sheet"], a1["rows_read"], a1["rows_loaded"], a1["rows_rejected"]) == (
        "accepted",
        POLICE,
        "Data",
        5,
        5,
        0,
    )
    assert (a2["status"], a2["rows_read"], a2["rows_loaded"], a2["rows_rejected"]) == ("accepted", 10, 9, 1)
    assert a1["original_name"] == a2["original_name"] == "april.xlsx" and a1["sha256"] != a2["sha256"]
    assert a2["stored_name"] == Path(second.stored_as).name
    assert indexes_of(settings, POLICE) == before


def test_only_big_loads_beside_their_table_set_the_indexes_aside(settings, monkeypatch):
    monkeypatch.setattr(loading, "REBUILD_FROM_ROWS", 3)
    write_source(settings.inbox / "april.xlsx", POLICE, [good(POLICE, i) for i in range(1, 8)])
    assert run_one(settings).rows_loaded == 7
    table = table_for(POLICE)
    engine = create_engine(settings.warehouse_url)
    try:
        with engine.begin() as conn:
            secondary = sorted(i.name for i in table.indexes if not i.unique)
            assert secondary and [i.name for i in loading._indexes_to_rebuild(conn, table, 4)] == secondary
            assert loading._indexes_to_rebuild(conn, table, 3) == []  # 7 rows held > 2 x 3 incoming
            assert loading._indexes_to_rebuild(conn, table, 2) == []  # too small to bother
    finally:
        engine.dispose()


def test_composite_key_upsert_and_reference_upsert(settings):
    write_source(settings.inbox / "att.csv", ATTENDANCE, [good(ATTENDANCE, 1), good(ATTENDANCE, 2)])
    write_source(settings.inbox / "pop.csv", POPULATION, [good(POPULATION, 23), good(POPULATION, 24)])
    first = run(settings)
    write_source(
        settings.inbox / "att2.csv",
        ATTENDANCE,
        [
            dict(good(ATTENDANCE, 1), sessions_absent="300"),
            dict(good(ATTENDANCE, 1), period_start="01/05/2024", period_end="31/05/2024"),
        ],
    )
    write_source(settings.inbox / "pop2.csv", POPULATION, [dict(good(POPULATION, 24), population_0_17="171,500")])
    second = run(settings)
    held = stored_by_key(settings, ATTENDANCE)
    april, may = (100001, date(2024, 4, 1), date(2024, 4, 30)), (100001, date(2024, 5, 1), date(2024, 5, 31))
    assert sorted(held) == sorted([april, may, (100002, date(2024, 4, 1), date(2024, 4, 30))])
    assert (held[april]["sessions_absent"], held[april]["load_id"]) == (300, second["att2.csv"].load_id)
    assert held[(100002, date(2024, 4, 1), date(2024, 4, 30))]["load_id"] == first["att.csv"].load_id
    pop = stored_by_key(settings, POPULATION)
    assert {y: (r["population_0_17"], r["load_id"]) for y, r in pop.items()} == {
        2023: (170000, first["pop.csv"].load_id),
        2024: (171500, second["pop2.csv"].load_id),
    }


# ============================================================================================
# Receipts, the rejects workbook and the receipt email
# ============================================================================================
def test_receipt_rejects_workbook_and_email(lite, monkeypatch):
    monkeypatch.setenv("SCORECARD_DATA_OFFICER_MISSING_EPISODES", "ris@example.org")
    monkeypatch.setenv("SCORECARD_REJECT_THRESHOLD", "0.6")
    s = load_settings()
    records = [good(MISSING, i) for i in range(1, 13)]
    for i in (2, 4, 6, 8, 10, 12):  # six rows with the same problem: five examples kept
        records[i - 1]["returned_at"] = "01/05/2024 08:00"
        records[i - 1]["return_interview_completed_at"] = ""
    records[2]["looked_after"] = "perhaps"
    extra = {"Carer Name": [f"Carer {i}" for i in range(12)]}
    header, rows = table_rows(MISSING, records, headers={"episode_id": "MFH Ref", "child_id": "CHILD"}, extra=extra)
    make_xlsx(
        s.inbox / "missing.xlsx",
        header,
        rows,
        title_rows=[["RIS monthly return"], []],
        sheet="Episodes",
        before=[("Read me", [["Notes only"]], False)],
    )
    outcome = run_one(s)
    receipt = receipt_of(outcome)
    assert (outcome.status, outcome.rows_loaded, outcome.rows_rejected) == ("accepted", 5, 7)
    assert (
        receipt["sheet"],
        receipt["header_row"],
        receipt["rows_read"],
        receipt["rows_loaded"],
        receipt["rows_rejected"],
    ) == ("Episodes", 3, 12, 5, 7)
    assert receipt["mapped"] == {
        "MFH Ref": "episode_id",
        "CHILD": "child_id",
        "Date Missing": "missing_from",
        "Date Found": "returned_at",
        "Looked After": "looked_after",
        "CSE Risk": "cse_risk",
        "Sex": "sex",
        "RHI Offered": "return_interview_offered",
        "RHI Completed": "return_interview_completed_at",
    }
    assert receipt["ignored"] == ["Carer Name"]
    assert receipt["reasons"] == [
        {
            "reason": "Date Found is before Date Missing",
            "rows": 6,
            "examples": [{"row": r, "detail": "Date Found is before Date Missing"} for r in (5, 7, 9, 11, 13)],
        },
        {
            "reason": "Looked After is not yes or no (use Y/N, Yes/No, True/False or 1/0)",
            "rows": 1,
            "examples": [{"row": 6, "detail": "Looked After is not yes or no (use Y/N, Yes/No, True/False or 1/0)"}],
        },
    ]
    text = Path(outcome.receipt).read_text(encoding="utf-8")
    for line in (
        "Outcome: ACCEPTED: 5 rows loaded, 7 rows rejected (see below)",
        "Identified as: Missing from home or care episodes (missing_episodes)",
        "Read from: sheet 'Episodes', header on row 3",
        "Columns used: MFH Ref -> episode_id; CHILD -> child_id;",
        "Columns ignored (not loaded): Carer Name",
        "Rows: 12 data rows read, 5 loaded, 7 rejected",
        "  - Date Found is before Date Missing: 6 row(s), e.g. row 5, 7, 9, 11, 13, ...",
        "  - Looked After is not yes or no (use Y/N, Yes/No, True/False or 1/0): 1 row(s), e.g. row 6",
    ):
        assert line in text, line

    rejects = openpyxl.load_workbook(receipt["rejects_file"]).active
    sheet = list(rejects.iter_rows(values_only=True))
    assert list(sheet[0]) == ["Row number", "Reasons", *header]
    assert [r[0] for r in sheet[1:]] == [5, 6, 7, 9, 11, 13, 15]
    as_sent = {r[0]: list(r[2:]) for r in sheet[1:]}
    sent = lambda row: [None if v == "" else v for v in row]  # noqa: E731  (a blank cell reads back as None)
    assert as_sent[5] == sent(rows[1]) and as_sent[6] == sent(rows[2])  # the original cells, raw child id included
    assert as_sent[6][1] == "RAWCHILD0003"
    assert (
        dict((r[0], r[1]) for r in sheet[1:])[6] == "Looked After is not yes or no (use Y/N, Yes/No, True/False or 1/0)"
    )

    [eml] = list(s.outbox.glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes())
    assert message["To"] == "ris@example.org"
    assert message["Subject"] == "Scorecard intake receipt: missing.xlsx: accepted"
    body = message.get_payload(decode=True).decode("utf-8")
    assert "Read from: sheet 'Episodes', header on row 3" in body
    assert b"RAWCHILD" not in eml.read_bytes() and "RAWCHILD" not in body
    for file in s.receipts.iterdir():
        if not file.name.endswith(".rejects.xlsx"):
            assert b"RAWCHILD" not in file.read_bytes(), file


def test_rejected_file_receipt_email_has_no_child_identifiers(lite, monkeypatch):
    """Even when the header is not recognised, the headers found never include a data row."""
    monkeypatch.setenv("SCORECARD_DATA_OFFICER_MISSING_EPISODES", "ris@example.org")
    s = load_settings()
    # sent to the missing-episodes folder without the Looked After column; the unnamed 5th column
    # makes each data row hold more text cells than the header row
    header = ["MFH Ref", "CHILD", "Date Missing", "Date Found", ""]
    rows = [[f"E{i}", f"RAWCHILD{i:04d}", "01/05/2024", "02/05/2024", "note"] for i in range(5)]
    make_csv(s.inbox / "missing_episodes" / "missing.csv", header, rows)
    outcome = run_one(s)
    assert outcome.status == "rejected" and outcome.source == "missing_episodes"  # named by its folder
    assert "Closest source: missing_episodes, which also needs: looked_after." in outcome.message
    [eml] = list(s.outbox.glob("*.eml"))
    assert b"RAWCHILD" not in eml.read_bytes()
    assert "RAWCHILD" not in outcome.message


def test_file_rejected_in_a_source_folder_is_receipted_to_that_sources_data_officer(lite, monkeypatch):
    """The folder names the source, so the agency that sent the file is known even when its header is not."""
    monkeypatch.setenv("SCORECARD_DATA_OFFICER_MISSING_EPISODES", "ris@example.org")
    s = load_settings()
    write_source(
        s.inbox / "missing_episodes" / "missing.csv",
        MISSING,
        [good(MISSING, 1)],
        columns=["episode_id", "child_id", "missing_from"],
    )  # no Looked After column
    outcome = run_one(s)
    assert outcome.status == "rejected"
    [eml] = list(s.outbox.glob("*.eml"))
    assert email.message_from_bytes(eml.read_bytes())["To"] == "ris@example.org", (
        "a file rejected in inbox/missing_episodes/ is emailed to the fallback address, not the data officer "
        "configured for missing_episodes (process.py sets receipt.source only after identification succeeds)"
    )
