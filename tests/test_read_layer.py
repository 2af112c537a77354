"""The marts are the read layer: a built quarter re-renders from them alone.

A quarter is built (hand-made rows, both engines), every staging and reference row is deleted,
and ``scorecard render`` (the real command, as a subprocess) writes the same scorecard.json,
HTML, charts and workbook cell values. A scorecard the contract rejects fails the build with one
clear line, before anything reaches the marts or the output folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import delete, func, select

from pipelines.build import NoReturns, build_quarter
from pipelines.contract import ContractError
from pipelines.periods import Quarter
from pipelines.warehouse.schema import mart_scorecard, source_tables
from tests.test_scorecard import data  # noqa: F401  (the fixture: two years of hand-made rows)

SCORECARD = str(Path(sys.executable).parent / "scorecard")
Q1 = Quarter(2024, 1)
BUILT = datetime(2024, 7, 15, 6, 0, 3)


def workbook_cells(path: Path) -> dict:
    wb = openpyxl.load_workbook(path)
    return {
        (ws.title, c.coordinate): (c.value, c.number_format)
        for ws in wb
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    }


def outputs(folder: Path) -> dict:
    return {
        "json": (folder / "scorecard.json").read_bytes(),
        "html": (folder / "scorecard.html").read_text(encoding="utf-8"),
        "cells": workbook_cells(folder / "scorecard.xlsx"),
        "charts": {p.name: p.read_bytes() for p in sorted((folder / "charts").iterdir())},
    }


def render(quarter: str) -> subprocess.CompletedProcess:
    return subprocess.run([SCORECARD, "render", "--quarter", quarter], capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # runs the real `scorecard render` in a subprocess
def test_render_rebuilds_a_quarter_from_the_marts_with_no_staging_rows(settings, data):  # noqa: F811
    built = build_quarter(settings, Q1, email=False, generated_at=BUILT)
    before = outputs(built.folder)
    scorecard = json.loads(before["json"])
    assert scorecard["exceptions"] == ["DA04", "DA05", "CS05"]
    assert before["cells"][("Data", "A2")][0] == "2022-23 Q2"  # the history sheet: 8 quarters per indicator
    assert sum(1 for (sheet, ref) in before["cells"] if sheet == "Data" and ref.startswith("B")) == 1 + 23 * 8

    with data.begin() as conn:
        for table in source_tables().values():
            conn.execute(delete(table))
        assert all(
            conn.execute(select(func.count()).select_from(t)).scalar_one() == 0 for t in source_tables().values()
        )
    for path in built.folder.iterdir():  # nothing of the build's files is left to copy
        if path.is_file():
            path.unlink()

    result = render(Q1.code)
    assert result.returncode == 0, result.stderr
    assert "Rendered 2024-25 Q1 from the marts: 3 exception(s) (DA04, DA05, CS05)" in result.stdout
    after = outputs(built.folder)
    assert after["json"] == before["json"]  # byte for byte, generated_at included: the build's time
    assert after["html"] == before["html"]
    assert after["cells"] == before["cells"]
    assert after["charts"] == before["charts"]
    assert f'href="{Q1.code}/scorecard.html"' in (settings.out / "index.html").read_text()

    # A build now sees the empty staging tables: every return missing, so it refuses (an empty
    # scorecard is never built or sent) and the marts keep what was published.
    with pytest.raises(NoReturns, match="no partner return has arrived for 2024-25 Q1"):
        build_quarter(settings, Q1, email=False)
    assert render(Q1.code).returncode == 0 and outputs(built.folder)["json"] == before["json"]


@pytest.mark.slow  # runs the real `scorecard render` in a subprocess
def test_render_of_a_quarter_never_built_says_so(settings):
    result = render("2019-20Q1")
    assert result.returncode == 1
    assert result.stderr.strip() == "scorecard: 2019-20 Q1 has not been built: run scorecard build --quarter 2019-20Q1"
    assert render("2019Q1").returncode == 2  # a usage error, as for build


def test_a_scorecard_the_contract_rejects_fails_the_build_before_anything_is_stored(
    settings,
    data,  # noqa: F811  (the fixture imported above)
    tmp_path,
    monkeypatch,
):
    """An analyst adds an indicator whose id the contract does not allow (ids are two capitals
    and two digits): the build stops with one line naming the field, and neither the marts nor
    the output folder get a scorecard."""
    resources = copy_resources(tmp_path / "rules")
    catalogue = resources / "definitions" / "indicators.yaml"
    catalogue.write_text(
        catalogue.read_text(encoding="utf-8").replace("  - id: DA02\n", "  - id: DA2b\n"), encoding="utf-8"
    )
    monkeypatch.setenv("SCORECARD_RESOURCES", str(resources))
    with pytest.raises(ContractError) as failure:
        build_quarter(settings, Q1, email=False, generated_at=BUILT)
    message = str(failure.value)
    assert message.startswith(
        "the scorecard for 2024-25Q1 does not match scorecard.schema.json, so nothing was published:"
    )
    assert "indicators[1].id: 'DA2b' does not match" in message
    with data.connect() as conn:
        assert conn.execute(select(func.count()).select_from(mart_scorecard)).scalar_one() == 0
    assert not (settings.out / Q1.code).exists()


def copy_resources(target: Path) -> Path:
    """The rule data (definitions, SQL, expectations, templates, schema) copied for one test to edit."""
    import shutil

    repo = Path(__file__).resolve().parent.parent
    for folder in ("definitions", "sql", "expectations", "scorecard_templates", "schemas"):
        shutil.copytree(repo / folder, target / folder)
    return target
