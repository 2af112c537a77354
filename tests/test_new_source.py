"""Adding a source is data and one documented command (issue 13): a partnership's own rules
folder (a copy of the project's, plus the new source's definition and suite) gets its migration
from ``scorecard migration new``, in that folder; the real intake then loads a file of the new
source into its new table, on SQLite and PostgreSQL, and the other sources still load."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select

from pipelines.cli import main
from pipelines.indicators import source_rows
from pipelines.intake import run_intake
from pipelines.intake.expectations import suite_document
from pipelines.intake.pseudonym import pseudonymise
from pipelines.periods import Quarter
from pipelines.sources import known_headers, load_sources, normalise_header
from pipelines.warehouse import open_warehouse
from pipelines.warehouse.migrate import PROJECT_VERSIONS, current_revision, head_revision
from pipelines.warehouse.schema import table_for

REPO = Path(__file__).resolve().parent.parent
NEW = "early_help_assessments"

# Its own type rules: its system writes dates as 20240131 (or 31/01/2024) and yes/no as Yes/No
# only, and it started in April 2015.
DEFINITION = f"""\
# Early help assessments: one row per assessment started by the early help service.
source: {NEW}
title: Early help assessments
agency: Early Help Service
kind: partner
order: 5
key: [assessment_id]
period:
  column: started_on
types:
  from: standard
  date_formats: [yyyyMMdd, d/M/y]
  true_values: ["Yes", "Y"]
  false_values: ["No", "N"]
  earliest_date: 2015-04-01
columns:
  - name: assessment_id
    type: text
    required: true
    aliases: [Assessment ID, EH Ref]
  - name: child_id
    type: text
    required: true
    personal: true
    aliases: [EH Child Ref]
  - name: started_on
    type: date
    required: true
    aliases: [Assessment Start]
  - name: lead
    type: enum
    values:
      school: [Education]
      health: [Health Visiting]
      family_hub: [Family Hub]
    aliases: [Lead Practitioner Agency]
  - name: domestic_abuse
    type: bool
    aliases: [DA Identified]
"""

SUITE = {
    "name": NEW,
    "meta": {"about": "Row rules for early help assessments."},
    "expectations": [
        {
            "type": "expect_column_values_to_not_be_null",
            "kwargs": {"column": c},
            "meta": {"reason": f"{{{c}}} is blank but required"},
        }
        for c in ("assessment_id", "child_id", "started_on")
    ]
    + [
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {
                "column": "started_on",
                "min_value": {"$PARAMETER": "earliest_date"},
                "max_value": {"$PARAMETER": "latest_date"},
            },
            "meta": {"reason": "{started_on} is before {earliest_date} or in the future"},
        },
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "lead", "value_set": ["school", "health", "family_hub"]},
            "meta": {"reason": "{lead} is not one of: school, health, family_hub"},
        },
    ],
}

HEADER = "EH Ref,EH Child Ref,Assessment Start,Lead Practitioner Agency,DA Identified,Worker\n"
ROWS = (
    [
        "EH001,C1001,20240403,Education,Yes,A Worker",  # row 2
        "EH002,C1002,15/04/2024,Health Visiting,No,A Worker",
        "EH003,C1001,20240520,Family Hub,,A Worker",
        "EH004,C1003,20240611,family_hub,Y,A Worker",
    ]
    + [f"EH{i:03d},C{1000 + i},202406{i - 4:02d},Education,N,A Worker" for i in range(5, 31)]
    + [
        "EH031,C1031,2024-06-19,Education,N,A Worker",  # row 32: ISO is not one of its formats
        "EH032,C1032,20140101,Education,N,A Worker",  # row 33: before its earliest date
        "EH033,C1033,20240620,Education,True,A Worker",  # row 34: True is not one of its spellings
    ]
)
POLICE = (
    "Occurrence Number,Date Reported,Child(ren) Present,No. of Children\n"
    "INC001,03/04/2024 10:00,Y,2\nINC002,04/04/2024 11:30,N,0\n"
)


@pytest.fixture
def rules(tmp_path: Path, monkeypatch) -> Path:
    """A partnership's own rules folder: the project's rules, plus the new source's two files."""
    folder = tmp_path / "rules"
    for name in ("definitions", "expectations", "sql"):
        shutil.copytree(REPO / name, folder / name)
    for name, order in (("population", 6), ("benchmarks", 7)):  # the new source takes 5
        path = folder / "definitions" / "sources" / f"{name}.yaml"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        path.write_text(
            "".join(f"order: {order}\n" if line.startswith("order:") else line for line in lines), encoding="utf-8"
        )
    (folder / "definitions" / "sources" / f"{NEW}.yaml").write_text(DEFINITION, encoding="utf-8")
    (folder / "expectations" / f"{NEW}.json").write_text(json.dumps(SUITE, indent=2), encoding="utf-8")
    monkeypatch.setenv("SCORECARD_RESOURCES", str(folder))
    return folder


def test_a_new_source_is_its_two_files_and_a_migration_made_by_the_command(rules, settings, capsys, monkeypatch):
    project_migrations = sorted(p.name for p in PROJECT_VERSIONS.glob("*.py"))
    assert not (rules / "migrations").exists() and head_revision() == "0008"  # a rules folder may have none
    assert main(["migration", "new", f"add source {NEW}"]) == 0
    written = sorted((rules / "migrations").glob("*.py"))
    assert [p.name for p in written] == [f"local_0001_add_source_{NEW}.py"]
    assert str(written[0]) in capsys.readouterr().out
    migration = written[0].read_text(encoding="utf-8")
    assert "down_revision = '0008'" in migration and f"op.create_table('stg_{NEW}'" in migration
    assert "drop_table" not in migration.split("def downgrade")[0]  # nothing else in the schema changed
    assert sorted(p.name for p in PROJECT_VERSIONS.glob("*.py")) == project_migrations
    assert head_revision() == "local_0001"

    (settings.inbox / "early_help.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    (settings.inbox / "police.csv").write_text(POLICE, encoding="utf-8")
    run = run_intake(settings)  # migrates the warehouse on start, the rules folder's migration too

    outcomes = {o.source: o for o in run.outcomes}
    assert {o.status for o in run.outcomes} == {"accepted"}
    assert (outcomes[NEW].rows_loaded, outcomes[NEW].rows_rejected) == (30, 3)
    assert (outcomes["police_domestic_incidents"].rows_loaded, outcomes["police_domestic_incidents"].rows_rejected) == (
        2,
        0,
    )
    receipt = json.loads(Path(outcomes[NEW].receipt).with_suffix(".json").read_text(encoding="utf-8"))
    reasons = {example["row"]: example["detail"] for group in receipt["reasons"] for example in group["examples"]}
    assert reasons == {
        32: "Assessment Start is not a date we recognise (use 20240131 or 31/01/2024)",
        33: "Assessment Start is before 1 April 2015 or in the future",
        34: "DA Identified is not yes or no (use Yes/No)",  # Y/N: its initials, implied
    }
    assert receipt["ignored"] == ["Worker"]

    engine = create_engine(settings.warehouse_url)
    try:
        assert current_revision(engine) == "local_0001"
        table = table_for(NEW)
        assert table.name == f"stg_{NEW}"
        assert {i["name"] for i in inspect(engine).get_indexes(table.name)} >= {
            f"ix_stg_{NEW}_started_on",
            f"ix_stg_{NEW}_child_pseudonym_started_on",
        }
        with engine.connect() as conn:
            stored = {r["assessment_id"]: r for r in conn.execute(select(table)).mappings()}
            assert source_rows(conn, NEW, Quarter(2024, 1)) == 30  # its return, by its period column
            assert source_rows(conn, NEW, Quarter(2023, 4)) == 0
            assert source_rows(conn, "police_domestic_incidents", Quarter(2024, 1)) == 2
    finally:
        engine.dispose()
    assert sorted(stored) == [f"EH{i:03d}" for i in range(1, 31)]
    assert [
        (stored[k]["started_on"], stored[k]["lead"], stored[k]["domestic_abuse"])
        for k in ("EH001", "EH002", "EH003", "EH004")
    ] == [
        (date(2024, 4, 3), "school", True),
        (date(2024, 4, 15), "health", False),
        (date(2024, 5, 20), "family_hub", None),
        (date(2024, 6, 11), "family_hub", True),
    ]
    assert (
        stored["EH001"]["child_pseudonym"]
        == stored["EH003"]["child_pseudonym"]
        == pseudonymise("C1001", settings.pseudonym_key)
    )
    assert "child_id" not in stored["EH001"]

    # The caches follow SCORECARD_RESOURCES: the project's own rules know nothing of the new source.
    assert (
        NEW in load_sources() and normalise_header("EH Ref") in known_headers() and suite_document(NEW)["name"] == NEW
    )
    monkeypatch.delenv("SCORECARD_RESOURCES")
    assert NEW not in load_sources() and normalise_header("EH Ref") not in known_headers()
    assert head_revision() == "0008"


def test_a_later_change_to_the_source_is_the_next_migration_of_the_rules_folder(
    rules, warehouse_url, tmp_path, capsys, monkeypatch
):
    """A column added to the new source (the edited rules, as the next command would read them):
    the next local revision, after the first; then nothing is left to migrate."""
    assert main(["migration", "new", f"add source {NEW}"]) == 0
    edited = shutil.copytree(rules, tmp_path / "rules-edited")
    path = edited / "definitions" / "sources" / f"{NEW}.yaml"
    path.write_text(
        path.read_text(encoding="utf-8") + "  - name: closed_on\n    type: date\n    aliases: [Closed]\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SCORECARD_RESOURCES", str(edited))
    capsys.readouterr()
    assert main(["migration", "new", "closed date for early help"]) == 0
    second = edited / "migrations" / "local_0002_closed_date_for_early_help.py"
    migration = second.read_text(encoding="utf-8")
    assert "down_revision = 'local_0001'" in migration and "sa.Column('closed_on', sa.Date()" in migration
    assert main(["migration", "new", "nothing changed"]) == 0
    assert "no migration written" in capsys.readouterr().out
    assert sorted(p.name for p in (edited / "migrations").glob("*.py")) == [
        f"local_0001_add_source_{NEW}.py",
        "local_0002_closed_date_for_early_help.py",
    ]
    with open_warehouse(warehouse_url) as engine:
        assert current_revision(engine) == "local_0002"
        assert "closed_on" in {c["name"] for c in inspect(engine).get_columns(f"stg_{NEW}")}
