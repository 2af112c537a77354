"""docker-compose.yml started for real (issue 15): the production shape on this machine, with the
LocalExecutor and then the ``celery`` profile with two workers.

A Docker daemon of the test's own (``tests/compose_live.py``), stand-ins for the upstream images
built from a Debian bookworm root filesystem (``deploy/local-images/build.sh``: Docker Hub is not
reachable here), the project's image built from ``deploy/Dockerfile`` as it is, and the stack
brought up from ``docker-compose.yml`` and a ``.env`` written by ``deploy/new-env.sh``, following
docs/operator-guide.md ("First deployment", "Checking it works", "More capacity"). Then partner
files are dropped into the mounted inbox, both DAGs are triggered through the api-server's REST
API, and the files must be archived (or rejected) with receipts, the scorecard must be in the
mounted out/ folder, the emails in the mail catcher, and every task must succeed on its first try.

Everything started is removed at the end, also on failure: the daemon goes with its data root
(images, containers, volumes, networks), its bridge and the iptables entries it added.
``benchmarks/compose_live.json`` gets the times (rewritten by every run: a results file, not a
timed assertion).

Skipped, with the reason, only where no Docker daemon can run (not root, dockerd or
docker-compose missing, no cgroups); a daemon that is there but fails to start fails the test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from pipelines.periods import Quarter
from tests.compose_live import REPO, DockerDaemon, Stack, cannot_run_docker, copy_checkout, run

pytestmark = [pytest.mark.docker, pytest.mark.slow]

RESULTS = REPO / "benchmarks" / "compose_live.json"
QUARTER = Quarter.parse("2025-26Q2")
DAGS = ("partner_intake", "quarterly_scorecard", "late_data")
WORKERS = 2
# What .env.example sends where (the test keeps its addresses: the operator guide's first start).
PMSG = "pmsg@lscp.invalid"
ANALYST = "analyst@lscp.invalid"
RECEIPT = "Scorecard intake receipt: "
SERVICES = {
    "postgres",
    "mailcatcher",
    "airflow-init",
    "api-server",
    "scheduler",
    "dag-processor",
    "triggerer",
    "portal",
}

WHY_NOT = cannot_run_docker()


@pytest.fixture(scope="module")
def daemon():
    if WHY_NOT:
        pytest.skip(f"no Docker daemon can run on this machine: {WHY_NOT}")
    started = time.monotonic()
    docker = DockerDaemon()
    try:
        docker.start()
        # The stand-ins for apache/airflow, postgres, axllent/mailpit and redis.
        run(["bash", str(REPO / "deploy" / "local-images" / "build.sh")], env=docker.env, timeout=900)
        docker.build_seconds = time.monotonic() - started  # type: ignore[attr-defined]
        yield docker
    finally:
        docker.stop()
        left = docker.leftovers()
        assert not left, f"left behind: {left}"


@pytest.fixture(scope="module")
def partner_files(tmp_path_factory) -> list[Path]:
    """Three quarters of every source (28 files) and two deliberately bad ones."""
    from pipelines.generate import generate, write_bad_files

    folder = tmp_path_factory.mktemp("partner-files")
    generated = generate(folder, quarters=3, seed=7, end_quarter=QUARTER, scale=1)
    bad = write_bad_files(folder / "bad", seed=7, end_quarter=QUARTER)[:2]
    return [*generated.files, *bad]


def record(executor: str, entry: dict) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault("runs", {})[executor] = entry
    results["about"] = (
        "Written by tests/test_compose_live.py on every run (one entry per executor): docker-compose.yml "
        "brought up with Debian's docker-compose 1.29 on a Docker daemon of the test's own, with local "
        "stand-ins for the upstream images (deploy/local-images/). Seconds from `docker-compose up -d` to "
        "every service healthy, and to the first scorecard in out/ (the DAGs unpaused, 30 partner files "
        "taken in, quarterly_scorecard triggered). Not a timed assertion."
    )
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")


def wait_for_receipts(stack: Stack, expected: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        sent = [m for m in stack.messages() if m["Subject"].startswith(RECEIPT)]
        if len(sent) >= expected or time.monotonic() > deadline:
            return sent
        time.sleep(2)


def all_first_try(stack: Stack, dag_id: str, run_ids: list[str]) -> list[dict]:
    instances = []
    for run_id in run_ids:
        instances += stack.task_instances(dag_id, run_id)
    assert instances and {(t["state"], t["try_number"]) for t in instances} == {("success", 1)}, (dag_id, instances)
    return instances


@pytest.mark.parametrize("executor", ["LocalExecutor", "CeleryExecutor"])
def test_the_compose_stack_takes_in_files_and_publishes_a_scorecard(executor, daemon, partner_files, tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    project = f"lscplive{executor[:5].lower()}{os.getpid()}"
    stack = Stack(daemon=daemon, checkout=checkout, project=project, data=tmp_path / "scorecard")
    celery = executor == "CeleryExecutor"
    # Operator guide, "First deployment" 2-3 (and "More capacity" for Celery): .env with new secrets,
    # then the folders (and ports of the test's own).
    extra = {"AIRFLOW_EXECUTOR": "CeleryExecutor", "COMPOSE_PROFILES": "celery"} if celery else {}
    env = stack.write_env(**extra)
    services = SERVICES | ({"redis", "worker"} if celery else set())
    try:
        # 5. Start: builds the project's image from deploy/Dockerfile the first time.
        began = time.monotonic()
        stack.compose("build", timeout=900)
        build_seconds = time.monotonic() - began
        up = time.monotonic()
        stack.compose("up", "-d", *(["--scale", f"worker={WORKERS}"] if celery else []), timeout=900)
        stack.wait_healthy(services, timeout=600)
        healthy_seconds = time.monotonic() - up
        init_log = stack.logs("airflow-init", tail="all")
        assert "set-up done" in init_log, init_log
        assert "database 'warehouse' on postgres accepts the connection" in init_log, init_log
        if celery:
            workers = [n for n, c in stack.containers().items() if "_worker_" in n]
            assert len(workers) == WORKERS, workers
        # The portal (`scorecard serve` from the same image) answers on its published port: its
        # sign-in form, with the security headers; every other page sends a visitor there.
        login = stack.portal("/login")
        assert login.status_code == 200 and 'name="csrf_token"' in login.text, login.text[:500]
        assert login.headers["x-content-type-options"] == "nosniff" and "content-security-policy" in login.headers
        home = stack.portal("/")
        assert home.status_code in (302, 303, 307) and home.headers["location"].startswith("/login"), home.headers

        # 6. The UI's API, signed in as the admin; 7. unpause the DAGs as the guide does.
        stack.login(env["AIRFLOW_ADMIN_USERNAME"], env["AIRFLOW_ADMIN_PASSWORD"])
        for dag_id in DAGS:
            assert stack.wait_for_dag(dag_id)["is_paused"] is True
        for dag_id in DAGS:
            stack.compose("exec", "-T", "api-server", "airflow", "dags", "unpause", dag_id, timeout=180)
        # Unpaused, each runs its latest slot: partner_intake on the empty inbox; quarterly_scorecard
        # the quarter before its last 15th, which has no returns: it fails at once and tells the analyst.
        for each in stack.wait_for_runs("partner_intake"):
            assert stack.wait_run("partner_intake", each["dag_run_id"])["state"] == "success"
        [scheduled] = stack.wait_for_runs("quarterly_scorecard")
        assert stack.wait_run("quarterly_scorecard", scheduled["dag_run_id"])["state"] == "failed"

        # Checking it works: partner files into the mounted inbox, then partner_intake.
        for path in partner_files:
            shutil.copy2(path, stack.data / "inbox" / path.name)
        run_id = stack.trigger("partner_intake")
        assert stack.wait_run("partner_intake", run_id, timeout=600)["state"] == "success"
        runs = stack.runs("partner_intake")
        for each in runs:  # a scheduled run may have started on the files too: all must succeed
            assert stack.wait_run("partner_intake", each["dag_run_id"])["state"] == "success", each
        intake_instances = all_first_try(stack, "partner_intake", [r["dag_run_id"] for r in runs])
        assert [p.name for p in (stack.data / "inbox").iterdir() if p.is_file()] == []
        archived = [p for p in (stack.data / "archive").rglob("*") if p.is_file()]
        rejected = [p for p in (stack.data / "rejected").rglob("*") if p.is_file()]
        assert len(archived) + len(rejected) == len(partner_files), (archived, rejected)
        assert len(archived) >= len(partner_files) - 2 and archived
        receipts = list((stack.data / "receipts").rglob("*.receipt.json"))
        assert len(receipts) == len(partner_files), receipts
        sent = wait_for_receipts(stack, len(partner_files))
        assert len(sent) == len(partner_files), (sorted(m["Subject"] for m in sent), sorted(p.name for p in receipts))

        # Running a quarter by hand: compute -> render -> email, each on its first try.
        run_id = stack.trigger("quarterly_scorecard", {"quarter": QUARTER.code})
        run_state = stack.wait_run("quarterly_scorecard", run_id, timeout=600)
        tasks = {
            t["task_id"]: (t["state"], t["try_number"]) for t in stack.task_instances("quarterly_scorecard", run_id)
        }
        assert run_state["state"] == "success", (tasks, stack.logs("scheduler", "worker"))
        assert tasks == {"compute": ("success", 1), "render": ("success", 1), "email": ("success", 1)}
        out = stack.data / "out" / QUARTER.code
        for name in ("scorecard.json", "scorecard.html", "scorecard.xlsx"):
            assert (out / name).is_file(), name
        scorecard_seconds = time.monotonic() - up
        scorecards = [m for m in stack.messages() if any(to["Address"] == PMSG for to in m["To"])]
        assert len(scorecards) == 1 and QUARTER.label in scorecards[0]["Subject"], scorecards
        assert any(any(to["Address"] == ANALYST for to in m["To"]) for m in stack.messages())  # the failed slot

        # late_data ran on the loads' Asset events, each task on its first try.
        late = [r for r in stack.runs("late_data")]
        for each in late:
            assert stack.wait_run("late_data", each["dag_run_id"], timeout=300)["state"] == "success", each
        if late:
            all_first_try(stack, "late_data", [r["dag_run_id"] for r in late])

        hosts = sorted({t["hostname"] for t in intake_instances if t.get("hostname")})
        if celery:  # the tasks ran on the workers, not in the scheduler
            worker_hosts = {c["Config"]["Hostname"] for n, c in stack.containers().items() if "_worker_" in n}
            assert set(hosts) <= worker_hosts and hosts, (hosts, worker_hosts)

        record(
            executor,
            {
                "executor": executor,
                "workers": WORKERS if celery else None,
                "files": len(partner_files),
                "archived": len(archived),
                "rejected": len(rejected),
                "image_build_seconds": round(build_seconds, 1),
                "standins_build_seconds": round(getattr(daemon, "build_seconds", 0), 1),
                "up_to_healthy_seconds": round(healthy_seconds, 1),
                "up_to_first_scorecard_seconds": round(scorecard_seconds, 1),
                "intake_task_hosts": len(hosts),
                "machine_cores": os.cpu_count(),
                "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            },
        )
    except BaseException:
        logs = stack.logs(tail="all")
        (tmp_path / "compose.log").write_text(logs)  # kept by pytest for a look afterwards
        print("\n".join(logs.splitlines()[-80:]), f"\nall logs: {tmp_path / 'compose.log'}")
        raise
    finally:
        stack.compose("down", "-v", "--remove-orphans", timeout=300, check=False)
