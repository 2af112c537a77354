"""The Airflow DAGs: integrity, the quarterly schedule, and whole runs with dag.test() against
a temporary metadata DB, the real warehouse and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import create_engine, func, select

from pipelines.periods import Quarter
from pipelines.warehouse.schema import table_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    sys.path.insert(0, str(REPO / "dags"))  # as Airflow does for the DAGs folder
    return DagBag(dag_folder=str(REPO / "dags"))


def smtp_connection(monkeypatch, port: int) -> None:
    """Airflow's smtp_default connection, pointing at the test's SMTP server."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "scorecard@lscp.example"},
            }
        ),
    )


def warehouse_connection(monkeypatch, url: str) -> None:
    """Airflow's scorecard_warehouse connection for a PostgreSQL test database."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SCORECARD_WAREHOUSE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": parsed.host,
                "port": parsed.port,
                "login": parsed.username,
                "schema": parsed.database,
            }
        ),
    )
    monkeypatch.delenv("SCORECARD_WAREHOUSE_URL", raising=False)


def test_every_dag_imports_with_tags_owners_and_retries(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"partner_intake", "quarterly_scorecard", "late_data", "portal_reminders"}
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert dag.tags, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.owner == "lscp-analyst", (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)


def test_the_package_never_imports_airflow():
    """The DAGs are thin wrappers: all logic lives in pipelines/, importable without Airflow."""
    for path in (REPO / "pipelines").rglob("*.py"):
        text = path.read_text()
        assert "import airflow" not in text and "from airflow" not in text, path


def test_quarterly_schedule_runs_on_the_15th_at_six_uk_time_and_maps_to_quarters(dagbag):
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.trigger import CronTriggerTimetable

    configured = dagbag.get_dag("quarterly_scorecard").timetable
    timetable = CronTriggerTimetable(configured.expression, timezone=configured.timezone)
    restriction = TimeRestriction(earliest=pendulum.datetime(2024, 12, 1, tz="UTC"), latest=None, catchup=True)
    runs, last = [], None
    for _ in range(5):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        runs.append(info.run_after)
        last = info.data_interval
    assert [r.in_timezone("UTC").strftime("%Y-%m-%d %H:%M") for r in runs] == [
        "2025-01-15 06:00",  # GMT
        "2025-04-15 05:00",  # British Summer Time: still 06:00 in the UK
        "2025-07-15 05:00",
        "2025-10-15 05:00",
        "2026-01-15 06:00",
    ]
    assert {r.in_timezone("Europe/London").strftime("%H:%M") for r in runs} == {"06:00"}
    assert [Quarter.for_run(r).code for r in runs] == [
        "2024-25Q3",  # October-December 2024
        "2024-25Q4",  # January-March 2025: the financial year boundary
        "2025-26Q1",
        "2025-26Q2",
        "2025-26Q3",
    ]


def test_quarter_for_a_run_is_judged_on_the_uk_date():
    # 00:30 on 1 April 2025 in the UK (BST) is still 31 March in UTC: Q4 has ended in the UK.
    assert Quarter.for_run(datetime(2025, 3, 31, 23, 30, tzinfo=UTC)).code == "2024-25Q4"
    assert Quarter.for_run(datetime(2025, 3, 31, 22, 30, tzinfo=UTC)).code == "2024-25Q3"


def test_partner_intake_dag_run(dagbag, scorecard_home, warehouse_url, smtp_server, monkeypatch):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    from pipelines.config import load_settings
    from tests.test_intake import police_rows, write_xlsx

    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv(
        "AIRFLOW_VAR_SCORECARD_DATA_OFFICERS", json.dumps({"police_domestic_incidents": "wyp@police.example"})
    )
    settings = load_settings()
    settings.ensure_folders()
    write_xlsx(settings.inbox / "good.xlsx", police_rows(40))
    (settings.inbox / "bad.xlsx").write_bytes(b"%PDF-1.7 junk")
    (settings.inbox / "~$good.xlsx").write_bytes(b"lock")

    run = dagbag.get_dag("partner_intake").test()
    assert run.state == "success"
    assert [p.name.split("_", 2)[2] for p in settings.archive.iterdir()] == ["good.xlsx"]
    assert [p.name.split("_", 2)[2] for p in settings.rejected.iterdir()] == ["bad.xlsx"]
    assert [p.name for p in settings.inbox.iterdir()] == ["~$good.xlsx"]  # a lock file waits
    engine = create_engine(warehouse_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(table_for("police_domestic_incidents"))).scalar_one() == 40
    engine.dispose()

    # Receipts went through Airflow's SMTP connection to the configured data officer.
    receipts = {m["Subject"]: m for m in catcher.messages()}
    assert set(receipts) == {
        "Scorecard intake receipt: good.xlsx: accepted",
        "Scorecard intake receipt: bad.xlsx: rejected",
    }
    assert receipts["Scorecard intake receipt: good.xlsx: accepted"]["To"] == "wyp@police.example"
    assert list(settings.outbox.glob("*.eml")) == []

    # The accepted load emitted an Asset event for its source, with the load's counts.
    with create_session() as session:
        events = (
            session.execute(
                select(AssetEvent)
                .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .where(
                    AssetModel.uri == "scorecard://warehouse/police_domestic_incidents",
                    AssetEvent.source_run_id == run.run_id,
                )
            )
            .scalars()
            .all()
        )
        assert [(e.extra["rows"], e.extra["file"]) for e in events] == [(40, "good.xlsx")]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    from pipelines.generate import generate

    folder = tmp_path_factory.mktemp("generated")
    generate(folder, quarters=5, seed=7, end_quarter=Quarter.parse("2024-25Q2"), scale=0.2)
    return folder


def test_quarterly_scorecard_dag_run_emails_the_sub_group(
    dagbag, scorecard_home, pg_url, smtp_server, monkeypatch, generated
):
    from pipelines.config import load_settings
    from pipelines.intake import run_intake

    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    warehouse_connection(monkeypatch, pg_url)
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_PMSG_TO", "pmsg@lscp.example, chair@lscp.example")
    settings = load_settings({**dict(__import__("os").environ), "SCORECARD_WAREHOUSE_URL": pg_url})
    settings.ensure_folders()
    for path in generated.iterdir():
        (settings.inbox / path.name).write_bytes(path.read_bytes())
    run_intake(settings, files=sorted(settings.inbox.iterdir()))

    run = dagbag.get_dag("quarterly_scorecard").test(run_conf={"quarter": "2024-25Q2"})
    assert run.state == "success"
    assert {(ti.task_id, ti.state, ti.try_number) for ti in run.get_task_instances()} == {
        ("compute", "success", 1),
        ("render", "success", 1),
        ("email", "success", 1),
    }
    folder = settings.out / "2024-25Q2"
    scorecard = json.loads((folder / "scorecard.json").read_text())
    assert scorecard["quarter"] == "2024-25Q2" and len(scorecard["indicators"]) == 23
    assert (folder / "scorecard.html").stat().st_size > 0 and (folder / "scorecard.xlsx").stat().st_size > 0
    mails = [m for m in catcher.messages() if m["Subject"].startswith("LSCP performance scorecard 2024-25 Q2")]
    assert len(mails) == 1
    assert sorted(catcher.envelopes[-1].rcpt_tos) == ["chair@lscp.example", "pmsg@lscp.example"]
    # The values are in the PostgreSQL warehouse named by the Airflow connection.
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        from pipelines.warehouse.schema import mart_indicator_quarter

        assert conn.execute(select(func.count()).select_from(mart_indicator_quarter)).scalar_one() == 23
    engine.dispose()


def test_scheduled_run_builds_the_quarter_its_date_points_at(
    dagbag, scorecard_home, smtp_server, monkeypatch, generated
):
    """A scheduled (or backfilled) run on 15 Oct 2024 builds 2024-25 Q2."""
    from pipelines.config import load_settings
    from pipelines.intake import run_intake

    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    settings = load_settings()
    settings.ensure_folders()
    for path in generated.iterdir():
        (settings.inbox / path.name).write_bytes(path.read_bytes())
    run_intake(settings, files=sorted(settings.inbox.iterdir()))
    moment = pendulum.datetime(2024, 10, 15, 6, 0, tz="Europe/London")
    run = dagbag.get_dag("quarterly_scorecard").test(logical_date=moment, run_after=moment)
    assert run.state == "success"
    assert json.loads((settings.out / "2024-25Q2" / "scorecard.json").read_text())["quarter"] == "2024-25Q2"


def test_a_bad_quarter_parameter_is_refused(dagbag):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError):
        dagbag.get_dag("quarterly_scorecard").test(run_conf={"quarter": "2024Q1"})


def test_a_failed_build_emails_the_analyst(dagbag, scorecard_home, smtp_server, monkeypatch):
    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_ANALYST_EMAIL", "analyst@lscp.example")
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/unreachable")
    dag = dagbag.get_dag("quarterly_scorecard")
    for task in dag.tasks:
        monkeypatch.setattr(task, "retries", 0)  # fail at once instead of waiting for retries
    run = dag.test(run_conf={"quarter": "2024-25Q1"})
    assert run.state == "failed"
    alerts = [m for m in catcher.messages() if "failed" in m["Subject"]]
    assert len(alerts) == 1 and alerts[0]["To"] == "analyst@lscp.example"
    assert alerts[0]["Subject"] == "LSCP scorecard: quarterly_scorecard.compute failed (2024-25Q1)"
    assert "could not be reached" in alerts[0].get_content()


@pytest.mark.parametrize("configured_by", ["airflow", "scorecard_settings"])
def test_an_impossible_quarter_fails_at_once_and_the_analyst_hears(
    dagbag, scorecard_home, smtp_server, monkeypatch, configured_by
):
    """A well-formed quarter that does not exist is not retried; the alert arrives whichever way
    mail and the analyst are configured (Airflow's connection and variable, or SCORECARD_*)."""
    import time

    catcher, port = smtp_server()
    if configured_by == "airflow":
        smtp_connection(monkeypatch, port)
        monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_ANALYST_EMAIL", "analyst@lscp.example")
    else:
        monkeypatch.setenv("SCORECARD_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("SCORECARD_SMTP_PORT", str(port))
        monkeypatch.setenv("SCORECARD_ANALYST_EMAIL", "analyst@lscp.example")
    started = time.monotonic()
    run = dagbag.get_dag("quarterly_scorecard").test(run_conf={"quarter": "2024-26Q1"})
    assert run.state == "failed" and time.monotonic() - started < 60
    [compute] = [ti for ti in run.get_task_instances() if ti.task_id == "compute"]
    assert (compute.state, compute.try_number) == ("failed", 1)  # failed for good: no retry
    [alert] = catcher.messages()
    assert alert["To"] == "analyst@lscp.example"
    assert alert["Subject"] == "LSCP scorecard: quarterly_scorecard.compute failed (2024-26Q1)"
    assert "is not a financial year" in alert.get_content()


def test_a_quarter_with_no_returns_is_never_emailed(dagbag, scorecard_home, smtp_server, monkeypatch):
    """Unpausing the DAG on a fresh deployment builds the latest slot: with nothing loaded, no
    scorecard is built or sent to the sub group; the analyst is told, once, and it is not retried."""
    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_ANALYST_EMAIL", "analyst@lscp.example")
    run = dagbag.get_dag("quarterly_scorecard").test(run_conf={"quarter": "2024-25Q1"})
    assert run.state == "failed"
    [compute] = [ti for ti in run.get_task_instances() if ti.task_id == "compute"]
    assert compute.try_number == 1
    [alert] = catcher.messages()
    assert alert["To"] == "analyst@lscp.example" and "no partner return has arrived" in alert.get_content()
    assert not (scorecard_home / "out" / "2024-25Q1").exists()


def test_late_data_runs_after_a_load_of_any_source(dagbag):
    """A list schedule would wait for every source; late_data waits for any one."""
    from airflow.sdk import AssetAny

    from pipelines.sources import load_sources

    dag = dagbag.get_dag("late_data")
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAny)
    uris = {a.uri for a in condition.objects}
    assert uris == {f"scorecard://warehouse/{name}" for name in load_sources()}
    [check] = dag.tasks
    assert check.on_failure_callback and check.retries >= 1


def test_late_data_dag_run_republishes_and_tells_the_analyst_once(
    dagbag, scorecard_home, warehouse_url, smtp_server, monkeypatch
):
    """A published quarter, then a corrected resubmission for it: the DAG republishes the quarter's
    files, the analyst gets one notice (through Airflow's SMTP connection and variable), the sub
    group hears nothing more; a second run finds nothing."""
    from pipelines.build import build_quarter
    from pipelines.intake import run_intake
    from tests.test_intake import police_rows, write_xlsx

    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_ANALYST_EMAIL", "analyst@lscp.example")
    monkeypatch.setenv("AIRFLOW_VAR_SCORECARD_PMSG_TO", "pmsg@lscp.example")
    monkeypatch.setenv(
        "AIRFLOW_VAR_SCORECARD_DATA_OFFICERS", json.dumps({"police_domestic_incidents": "wyp@police.example"})
    )
    from airflow_settings import scorecard_settings

    settings = scorecard_settings()
    settings.ensure_folders()
    q1 = Quarter.parse("2024-25Q1")
    write_xlsx(settings.inbox / "police.xlsx", police_rows(1200))
    run_intake(settings)
    build_quarter(settings, q1)
    write_xlsx(settings.inbox / "police_corrected.xlsx", police_rows(1234))
    run_intake(settings)

    dag = dagbag.get_dag("late_data")
    run = dag.test()
    assert run.state == "success"
    notices = [m for m in catcher.messages() if m["To"] == "analyst@lscp.example"]
    assert [m["Subject"] for m in notices] == ["LSCP scorecard: 2 published figures revised (2024-25 Q1)"]
    assert "DA01 for 2024-25 Q1 was revised from 1,200 to 1,234" in notices[0].get_content()
    assert len([m for m in catcher.messages() if m["To"] == "pmsg@lscp.example"]) == 1
    assert json.loads((settings.out / q1.code / "scorecard.json").read_text())["indicators"][0]["value"] == 1234

    again = dag.test()
    assert again.state == "success"
    assert len([m for m in catcher.messages() if m["To"] == "analyst@lscp.example"]) == 1


def test_portal_reminders_runs_daily_at_nine_uk_time(dagbag):
    dag = dagbag.get_dag("portal_reminders")
    assert dag.timetable.expression == "0 9 * * *"
    assert str(getattr(dag.timetable.timezone, "name", dag.timetable.timezone)) == "Europe/London"
    [remind] = dag.tasks
    assert remind.on_failure_callback and remind.retries >= 1 and "portal" in dag.tags


def test_portal_reminders_dag_run_reminds_each_late_officer_once(
    dagbag, scorecard_home, warehouse_url, smtp_server, monkeypatch
):
    """A run on 1 August 2024 (2024-25 Q1's returns were due on 30 July): the police return came,
    the CSWS one did not; its portal officer is emailed through Airflow's SMTP connection with a
    link to the portal, the disabled officer is not, and a second run sends nothing."""
    from sqlalchemy import update

    from pipelines.intake import run_intake
    from pipelines.warehouse import connect_warehouse, init_warehouse
    from pipelines.warehouse.schema import portal_reminders, portal_users
    from tests.portal_client import make_user
    from tests.test_intake import police_rows, write_xlsx

    catcher, port = smtp_server()
    smtp_connection(monkeypatch, port)
    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SCORECARD_PORTAL_URL", "https://portal.lscp.example/")
    from airflow_settings import scorecard_settings

    settings = scorecard_settings()
    settings.ensure_folders()
    engine = connect_warehouse(warehouse_url)
    init_warehouse(engine)
    make_user(engine, "csws@lscp.example", "data_officer", ["csws_referrals"])
    make_user(engine, "left@lscp.example", "data_officer", ["csws_referrals"])
    make_user(engine, "wyp@police.example", "data_officer", ["police_domestic_incidents"])
    with engine.begin() as conn:
        conn.execute(
            update(portal_users)
            .where(portal_users.c.email == "left@lscp.example")
            .values(disabled_at=datetime(2024, 7, 1))
        )
    write_xlsx(settings.inbox / "police.xlsx", police_rows(40))
    run_intake(settings)
    catcher.envelopes.clear()

    moment = pendulum.datetime(2024, 8, 1, 9, 0, tz="Europe/London")
    dag = dagbag.get_dag("portal_reminders")
    run = dag.test(logical_date=moment, run_after=moment)
    assert run.state == "success"
    [reminder] = catcher.messages()
    assert reminder["To"] == "csws@lscp.example"
    assert reminder["Subject"] == "Late return: Children's social work referrals, 2024-25 Q1"
    assert reminder["From"] == "scorecard@lscp.example"  # smtp_default's from_email
    assert "https://portal.lscp.example/returns" in reminder.get_content()
    with engine.connect() as conn:
        assert [
            tuple(r)
            for r in conn.execute(
                select(portal_reminders.c.quarter, portal_reminders.c.source, portal_reminders.c.email)
            )
        ] == [("2024-25Q1", "csws_referrals", "csws@lscp.example")]
    engine.dispose()

    again = dag.test(logical_date=moment.add(days=1), run_after=moment.add(days=1))
    assert again.state == "success" and len(catcher.messages()) == 1
