"""Airflow in production, for real: a scheduler, dag-processor, triggerer and api-server (and two
Celery workers sharing the inbox, as the compose file's ``celery`` profile runs them) on a fresh
PostgreSQL metadata database, both DAGs triggered through the REST API (``tests/airflow_live.py``).

With 30 partner files in the inbox: every task instance succeeds on its first try, every file
leaves the inbox (archived, or rejected for the two deliberately bad ones, exactly as the command
line files them), a receipt per file reaches the SMTP server (aiosmtpd), the quarterly run's
three tasks succeed and its email reaches the sub group, and an impossible quarter fails in under
a minute with the analyst alerted. ``late_data`` runs on the loads' Asset events; a corrected
extract for the published quarter brings the analyst a revision notice and the sub group nothing.

The intake's time under Airflow (trigger to the run's end) and the command line's time for the
same files on a fresh warehouse are written to ``benchmarks/airflow_intake.json``: a results
file, rewritten by every run of this test (one entry per executor), not a timed assertion.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.periods import Quarter
from pipelines.sources import load_sources
from tests.airflow_live import TERMINAL, LiveAirflow, create_database, drop_database
from tests.smtp_server import start_server
from tests.test_intake import police_rows, write_xlsx

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "airflow_intake.json"
QUARTER = Quarter.parse("2025-26Q2")  # the last of the three generated quarters
IMPOSSIBLE = "2024-26Q1"  # well-formed, but no such financial year
FILES = 30
DAGS = ("partner_intake", "quarterly_scorecard", "late_data")
LATE_INCIDENTS = 25
SOURCE_TABLES = {source.table for source in load_sources().values()}
PMSG = "pmsg@lscp.example"
ANALYST = "analyst@lscp.example"
POLICE_OFFICER = "wyp@police.example"
RECEIPT = "Scorecard intake receipt: "
# Settings given to the Airflow processes on top of the harness's (tuning experiments: e.g.
# LIVE_AIRFLOW_TUNING='{"SCORECARD_INTAKE_PARTS": "4"}'); recorded with the results.
TUNING: dict[str, str] = json.loads(os.environ.get("LIVE_AIRFLOW_TUNING") or "{}")


@pytest.fixture(scope="module")
def partner_files(tmp_path_factory) -> list[Path]:
    """30 partner files: three quarters of every source (28 files), and two deliberately bad ones."""
    from pipelines.generate import generate, write_bad_files

    folder = tmp_path_factory.mktemp("partner-files")
    generated = generate(folder, quarters=3, seed=7, end_quarter=QUARTER, scale=1)
    bad = write_bad_files(folder / "bad", seed=7, end_quarter=QUARTER)[: FILES - len(generated.files)]
    files = [*generated.files, *bad]
    assert len(files) == FILES
    return files


def late_police_rows(n: int) -> list[list]:
    """``n`` incidents the force missed in the published quarter (July 2025), with references of
    their own."""
    rows = police_rows(n)
    for row in rows:
        row[0] = row[0].replace("INC", "LATE")
        for col in (1, 6):
            if row[col]:
                row[col] = row[col].replace("/04/2024", "/07/2025")
    return rows


def late_data_runs(airflow: LiveAirflow, at_least: int = 0, timeout: float = 180) -> list[dict]:
    """late_data's runs once there are ``at_least`` and all have finished."""
    deadline = time.monotonic() + timeout
    while True:
        runs = airflow.runs("late_data")
        if len(runs) >= at_least and all(r["state"] in TERMINAL for r in runs):
            return runs
        assert time.monotonic() < deadline, f"late_data: {len(runs)} run(s), waiting for {at_least} to finish"
        time.sleep(1)


def scorecard_env(home: Path, warehouse_url: str, smtp_port: int) -> dict[str, str]:
    return {
        "SCORECARD_HOME": str(home),
        "SCORECARD_WAREHOUSE_URL": warehouse_url,
        "SCORECARD_PSEUDONYM_KEY": "live-test-key-not-secret",
        "SCORECARD_SMTP_HOST": "127.0.0.1",
        "SCORECARD_SMTP_PORT": str(smtp_port),
        "SCORECARD_SMTP_SECURITY": "none",
        "SCORECARD_PMSG_TO": PMSG,
        "SCORECARD_ANALYST_EMAIL": ANALYST,
        "SCORECARD_DATA_OFFICER_POLICE_DOMESTIC_INCIDENTS": POLICE_OFFICER,
        "SCORECARD_SETTLE_SECONDS": "0",
    }


def drop_files(files: list[Path], inbox: Path) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, inbox / path.name)


def filed(home: Path) -> dict[str, str]:
    """Where intake put each file: original name -> archive or rejected."""
    out = {}
    for folder in ("archive", "rejected"):
        for path in (home / folder).rglob("*"):
            if path.is_file():
                out[path.name.split("_", 2)[2]] = folder
    return out


def subject(message) -> str:
    """The subject as a reader sees it (a long one arrives folded after ``Subject:``)."""
    return " ".join(str(message["Subject"]).split())


def receipts(catcher) -> dict[str, list[str]]:
    """Receipt subjects by recipient."""
    out: dict[str, list[str]] = {}
    for message in catcher.messages():
        if subject(message).startswith(RECEIPT):
            out.setdefault(str(message["To"]), []).append(subject(message))
    return out


def wait_for_mail(catcher, to: str, words: str, timeout: float = 30) -> list:
    """The messages to ``to`` whose subject has ``words``, once there is one (an alert is sent by
    the failure callback, just after the run is marked failed)."""
    deadline = time.monotonic() + timeout
    while not (found := [m for m in catcher.messages() if str(m["To"]) == to and words in subject(m)]):
        assert time.monotonic() < deadline, f"no mail to {to} about {words!r}"
        time.sleep(0.5)
    return found


def cli_intake(files: list[Path], root: Path) -> tuple[float, dict[str, str], dict[str, int]]:
    """``scorecard intake`` on the same files, in a fresh home and PostgreSQL warehouse: (seconds,
    where each file went, receipts per recipient). Its receipts go to an SMTP server of its own."""
    name, url = create_database("airflow_live_cli")
    catcher, port, controller = start_server()
    try:
        home = root / "cli-home"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SCORECARD_"))}
        env.update(scorecard_env(home, url, port))
        migrate = subprocess.run(
            [str(Path(sys.executable).parent / "scorecard"), "migrate"], env=env, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stderr[-2000:]
        drop_files(files, home / "inbox")
        started = time.monotonic()
        result = subprocess.run(
            [str(Path(sys.executable).parent / "scorecard"), "intake"], env=env, capture_output=True, text=True
        )
        seconds = time.monotonic() - started
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        sent = {to: len(subjects) for to, subjects in receipts(catcher).items()}
        assert sum(sent.values()) == FILES
        return seconds, filed(home), sent
    finally:
        controller.stop()
        drop_database(name)


def timeline(run: dict, instances: list[dict]) -> dict:
    """Where the run's time went, in seconds from the run being queued (the trigger): when it
    started, and each task instance's queued, start and end times."""

    def at(value):
        if not value:
            return None
        return round(
            (dt.datetime.fromisoformat(value) - dt.datetime.fromisoformat(run["queued_at"])).total_seconds(), 2
        )

    return {
        "run_started": at(run["start_date"]),
        "run_ended": at(run["end_date"]),
        "tasks": [
            {
                "map_index": t["map_index"],
                "queued": at(t.get("queued_when")),
                "started": at(t["start_date"]),
                "ended": at(t["end_date"]),
            }
            for t in sorted(instances, key=lambda t: t["map_index"])
        ],
    }


def record(executor: str, entry: dict) -> None:
    """This run's numbers in benchmarks/airflow_intake.json, beside the other executor's."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("runs", {})[executor] = entry
    results["about"] = (
        "Written by tests/test_airflow_live.py on every run (one entry per executor): partner_intake "
        "under a live Airflow (trigger through the REST API to the run's end) against `scorecard intake` "
        "on the same files, each on a fresh PostgreSQL warehouse on the same machine. Not a timed assertion."
    )
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def quiet_moment(airflow: LiveAirflow, timeout: float = 360) -> None:
    """partner_intake runs every 5 minutes: start the timed run once the latest slot's scheduled run
    has finished and at least a minute before the next, so no scheduled run takes the files first (one
    due while the timed run is active waits for it: max_active_runs=1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = time.time()
        slot = dt.datetime.fromtimestamp(now - now % 300, dt.UTC)
        runs = airflow.runs("partner_intake")
        if (
            now % 300 <= 240
            and all(r["state"] in TERMINAL for r in runs)
            and any(dt.datetime.fromisoformat(r["run_after"]) >= slot for r in runs if r["run_type"] == "scheduled")
        ):
            return
        time.sleep(1)


@pytest.mark.parametrize("executor", ["LocalExecutor", "CeleryExecutor"])
def test_both_dags_under_a_live_airflow(executor, partner_files, tmp_path):
    cli_seconds, cli_filed, cli_receipts = cli_intake(partner_files, tmp_path)

    warehouse_db, warehouse_url = create_database("airflow_live_warehouse")
    catcher, smtp_port, controller = start_server()
    home = tmp_path / "scorecard"
    airflow = LiveAirflow(
        home=tmp_path / "airflow",
        executor=executor,
        scorecard_env=scorecard_env(home, warehouse_url, smtp_port),
        airflow_env=TUNING,
    )
    try:
        started = time.monotonic()
        airflow.start()
        start_seconds = time.monotonic() - started
        for dag_id in DAGS:
            assert airflow.wait_for_dag(dag_id)["is_paused"] is True  # DAGs start paused

        # Unpaused with catchup off, each DAG still runs its most recent slot at once: partner_intake
        # on the empty inbox, and quarterly_scorecard the quarter before its last 15th, which has no
        # returns here: it fails at once (no retry) and the analyst is told.
        for dag_id in DAGS:
            airflow.set_paused(dag_id, False)
        first = {dag_id: airflow.wait_for_runs(dag_id) for dag_id in ("partner_intake", "quarterly_scorecard")}
        for run in first["partner_intake"]:
            assert airflow.wait_run("partner_intake", run["dag_run_id"])["state"] == "success"
        [scheduled] = first["quarterly_scorecard"]
        assert scheduled["run_type"] == "scheduled"
        assert airflow.wait_run("quarterly_scorecard", scheduled["dag_run_id"])["state"] == "failed"
        assert wait_for_mail(catcher, ANALYST, "(scheduled run)")

        # 30 files, one triggered run.
        quiet_moment(airflow)
        drop_files(partner_files, home / "inbox")
        began = time.monotonic()
        run_id = airflow.trigger("partner_intake")
        run = intake_run = airflow.wait_run("partner_intake", run_id, timeout=900)
        airflow_seconds = time.monotonic() - began
        assert run["state"] == "success"
        instances = []
        for each in airflow.runs("partner_intake"):  # every run, the scheduled ones too (finished first)
            assert airflow.wait_run("partner_intake", each["dag_run_id"])["state"] == "success", each
            instances += airflow.task_instances("partner_intake", each["dag_run_id"])
        assert instances and {(t["state"], t["try_number"]) for t in instances} == {("success", 1)}, instances
        mine = airflow.task_instances("partner_intake", run_id)
        assert sorted(t["map_index"] for t in mine) == list(range(len(mine)))
        per_part = [len(airflow.returned("partner_intake", run_id, "intake", t["map_index"])) for t in mine]
        assert sum(per_part) == FILES  # this run did the work, in every part
        assert [p.name for p in (home / "inbox").iterdir() if p.is_file()] == []
        assert filed(home) == cli_filed and len(cli_filed) == FILES  # archived (or rejected) as the CLI does
        sent = {to: len(subjects) for to, subjects in receipts(catcher).items()}
        assert sent == cli_receipts and POLICE_OFFICER in sent  # one receipt per file, to its data officer

        # Each accepted load emitted its source's Asset event: late_data ran on them (nothing was
        # published yet, so it found nothing to revise).
        checks = late_data_runs(airflow, at_least=1)
        assert all(r["run_type"] == "asset_triggered" for r in checks), checks
        assert all(airflow.returned("late_data", r["dag_run_id"], "check")["revised"] == [] for r in checks)

        # Every source is an Asset of the partner_data group, in use; no service complained of one;
        # the task logs hold the product's lines, not Great Expectations' registration noise.
        assets = airflow.api("GET", "/assets", params={"limit": 100})["assets"]
        assert {a["name"] for a in assets} == SOURCE_TABLES, assets
        assert {a["group"] for a in assets} == {"partner_data"}
        services = "".join(path.read_text(errors="replace") for path in airflow.home.glob("*.log"))
        assert not re.search(r"inactive AssetModel|AssetModel.*not found", services)
        task_logs = [p.read_text(errors="replace") for p in (airflow.home / "logs").rglob("*.log")]
        assert any("] ACCEPTED " in text for text in task_logs)  # each file's outcome, in its part's log
        assert not any("Skipping registering function" in text for text in task_logs)

        # The quarter with data: compute -> render -> email, each on its first try.
        run_id = airflow.trigger("quarterly_scorecard", {"quarter": QUARTER.code})
        run = airflow.wait_run("quarterly_scorecard", run_id, timeout=600)
        tasks = {
            t["task_id"]: (t["state"], t["try_number"]) for t in airflow.task_instances("quarterly_scorecard", run_id)
        }
        assert run["state"] == "success", tasks
        assert tasks == {"compute": ("success", 1), "render": ("success", 1), "email": ("success", 1)}
        scorecards = [m for m in catcher.messages() if str(m["To"]) == PMSG]
        assert len(scorecards) == 1 and QUARTER.label in subject(scorecards[0])
        assert (home / "out" / QUARTER.code / "scorecard.html").exists()

        # A quarter that cannot exist fails at once (no retry), and the analyst is told.
        began = time.monotonic()
        run_id = airflow.trigger("quarterly_scorecard", {"quarter": IMPOSSIBLE})
        run = airflow.wait_run("quarterly_scorecard", run_id, timeout=120)
        failed_in = time.monotonic() - began
        tasks = {
            t["task_id"]: (t["state"], t["try_number"]) for t in airflow.task_instances("quarterly_scorecard", run_id)
        }
        assert run["state"] == "failed" and failed_in < 60, (run, failed_in)
        assert tasks["compute"] == ("failed", 1), tasks
        alerts = wait_for_mail(catcher, ANALYST, IMPOSSIBLE)
        assert len(alerts) == 1 and "quarterly_scorecard.compute failed" in subject(alerts[0]), alerts

        # Late data: a corrected police extract for the published quarter. The load's Asset event
        # starts late_data, which republishes the quarter, tells the analyst (old and new) and does
        # not email the sub group again.
        before = len(late_data_runs(airflow))
        write_xlsx(home / "inbox" / "police_late_correction.xlsx", late_police_rows(LATE_INCIDENTS))
        airflow.trigger("partner_intake")
        checks = late_data_runs(airflow, at_least=before + 1, timeout=300)
        [notice] = wait_for_mail(catcher, ANALYST, f"revised ({QUARTER.label})", timeout=120)
        assert "DA01 for " + QUARTER.label + " was revised from " in notice.get_content()
        assert len([m for m in catcher.messages() if str(m["To"]) == PMSG]) == 1
        assert any(airflow.returned("late_data", r["dag_run_id"], "check")["revised"] for r in checks)
        for dag_id in ("partner_intake", "late_data"):  # every run, every task, on its first try
            for each in airflow.runs(dag_id):
                assert airflow.wait_run(dag_id, each["dag_run_id"])["state"] == "success", each
                states = {(t["state"], t["try_number"]) for t in airflow.task_instances(dag_id, each["dag_run_id"])}
                assert states == {("success", 1)}, (dag_id, each, states)

        if executor == "CeleryExecutor":  # the work was shared: each worker ran tasks
            for n in range(1, airflow.workers + 1):
                log = (airflow.home / f"worker{n}.log").read_text(errors="replace")
                assert "Task execute_workload[" in log and "succeeded in" in log, f"worker{n} ran no task"

        record(
            executor,
            {
                "executor": executor,
                "workers": airflow.workers if executor == "CeleryExecutor" else None,
                "worker_concurrency": airflow.worker_concurrency if executor == "CeleryExecutor" else None,
                "files": FILES,
                "intake_parts": len(mine),
                "files_per_part": per_part,
                "airflow_seconds": round(airflow_seconds, 2),
                "cli_seconds": round(cli_seconds, 2),
                "ratio": round(airflow_seconds / cli_seconds, 2),
                "impossible_quarter_failed_in_seconds": round(failed_in, 2),
                "airflow_start_seconds": round(start_seconds, 1),
                "intake_timeline": timeline(intake_run, mine),
                "tuning": TUNING,
                "machine_cores": os.cpu_count(),
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            },
        )
    except BaseException:
        print(airflow.log_tails())
        raise
    finally:
        airflow.stop()
        controller.stop()
        drop_database(warehouse_db)
