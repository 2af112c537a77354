"""The Airflow DAGs: integrity (imports, tags, owners, retries) and whole runs with dag.test()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.periods import Quarter

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_every_dag_imports_with_tags_owners_and_retries(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"partner_intake", "quarterly_scorecard"}
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert dag.tags, dag_id
        for task in dag.tasks:
            assert task.owner == "lscp-analyst", (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)


def test_dags_folder_keeps_logic_out_of_airflow():
    """The package never imports Airflow: the DAGs are thin wrappers over it."""
    for path in (REPO / "pipelines").rglob("*.py"):
        text = path.read_text()
        assert "import airflow" not in text and "from airflow" not in text, path


def test_partner_intake_dag_run(dagbag, scorecard_home, monkeypatch, tmp_path):
    from pipelines.config import load_settings
    from tests.test_intake import police_rows, write_xlsx

    settings = load_settings()
    settings.ensure_folders()
    write_xlsx(settings.inbox / "good.xlsx", police_rows(40))
    (settings.inbox / "bad.xlsx").write_bytes(b"%PDF-1.7 junk")
    run = dagbag.get_dag("partner_intake").test()
    assert run.state == "success"
    assert [p.name.split("_", 2)[2] for p in settings.archive.iterdir()] == ["good.xlsx"]
    assert [p.name.split("_", 2)[2] for p in settings.rejected.iterdir()] == ["bad.xlsx"]
    from sqlalchemy import create_engine, func, select

    from pipelines.warehouse.schema import table_for

    engine = create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_for("police_domestic_incidents"))).scalar_one() == 40
    engine.dispose()
    assert len(list(settings.outbox.glob("*.eml"))) == 2  # a receipt for each file


def test_quarterly_scorecard_dag_run(dagbag, scorecard_home, tmp_path):
    from pipelines.config import load_settings
    from pipelines.generate import generate
    from pipelines.intake import run_intake

    quarter = Quarter.parse("2024-25Q2")
    settings = load_settings()
    settings.ensure_folders()
    generate(settings.inbox, quarters=2, seed=7, end_quarter=quarter, scale=0.2)
    run_intake(settings, files=sorted(p for p in settings.inbox.rglob("*") if p.is_file()))
    run = dagbag.get_dag("quarterly_scorecard").test(run_conf={"quarter": quarter.code})
    assert run.state == "success"
    folder = settings.out / quarter.code
    scorecard = json.loads((folder / "scorecard.json").read_text())
    assert scorecard["quarter"] == "2024-25Q2"
    assert (folder / "scorecard.html").stat().st_size > 0 and (folder / "scorecard.xlsx").stat().st_size > 0
    emails = [p.read_text(errors="replace") for p in settings.outbox.glob("*.eml")]
    scorecards = [e for e in emails if "Subject: LSCP performance scorecard 2024-25 Q2" in e]
    assert len(scorecards) == 1
