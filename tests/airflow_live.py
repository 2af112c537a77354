"""A real Airflow for tests: scheduler, dag-processor, triggerer and api-server (and, with the
CeleryExecutor, two Celery workers) as separate processes, on a fresh PostgreSQL metadata
database, driven through the REST API as an operator would.

Every process runs in its own process group with its log in the temporary AIRFLOW_HOME; ``stop``
ends those groups (and any process left with this home in its environment: the task processes
they started), drops the databases it created and the Celery queue's keys in Redis, and prints
the logs' tails when asked to. Nothing
here touches a process it did not start.

Authentication is Airflow 3's SimpleAuthManager with ``simple_auth_manager_all_admins``: every
request is an admin's, and ``GET /auth/token`` hands out a token with no credentials (see
``airflow/api_fastapi/auth/managers/simple/routes/login.py``). The metadata database goes through
psycopg 3 for both of Airflow's engines: ``SQL_ALCHEMY_CONN_ASYNC`` must be given, or Airflow
derives ``postgresql+asyncpg://`` from the sync URL, and asyncpg is not installed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.smtp_server import free_port

REPO = Path(__file__).resolve().parent.parent
AIRFLOW = Path(sys.executable).parent / "airflow"
PG_ADMIN_URL = os.environ.get("SCORECARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SCORECARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TERMINAL = {"success", "failed"}


def create_database(prefix: str) -> tuple[str, str]:
    """A fresh, empty PostgreSQL database on the test server: (name, psycopg URL)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class LiveAirflow:
    """One Airflow installation with its own home and metadata database.

    ``scorecard_env``: the product's ``SCORECARD_*`` settings, given to every Airflow process
    (the tasks inherit them). ``airflow_env``: extra Airflow settings (tuning)."""

    home: Path
    executor: str = "LocalExecutor"
    scorecard_env: dict[str, str] = field(default_factory=dict)
    airflow_env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    worker_concurrency: int = 2
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)
    api_port: int = 0
    token: str = ""

    # ------------------------------------------------------------------ set-up and shut-down

    def environment(self) -> dict[str, str]:
        name, url = create_database("airflow_live")
        self.databases.append(name)
        self.api_port = free_port()
        base = f"http://127.0.0.1:{self.api_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SCORECARD_"))}
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": url,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": url,  # psycopg 3 is async too
                "AIRFLOW__API__BASE_URL": base,
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                # Ports of their own: other Airflows (other people's tests) may share the machine.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
                "GX_ANALYTICS_ENABLED": "False",
                "TQDM_DISABLE": "1",
            }
        )
        if self.executor == "CeleryExecutor":
            # Its own queue on the shared Redis, so nothing else's workers take these tasks.
            env["AIRFLOW__CELERY__BROKER_URL"] = REDIS_URL
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + url
            env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] = f"airflow_live_{uuid.uuid4().hex[:8]}"
            env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(self.worker_concurrency)
        env.update(self.airflow_env)
        env.update(self.scorecard_env)
        return env

    def start(self, timeout: float = 240) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.env = self.environment()
        migrate = subprocess.run(
            [str(AIRFLOW), "db", "migrate"], env=self.env, capture_output=True, text=True, timeout=600
        )
        (self.home / "db-migrate.log").write_text(migrate.stdout + migrate.stderr)
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-3000:]}")
        self.spawn("api-server", "api-server", "--port", str(self.api_port), "--host", "127.0.0.1")
        self.spawn("scheduler", "scheduler")
        self.spawn("dag-processor", "dag-processor")
        self.spawn("triggerer", "triggerer")
        if self.executor == "CeleryExecutor":
            for n in range(1, self.workers + 1):
                self.spawn(
                    f"worker{n}",
                    "celery",
                    "worker",
                    "--celery-hostname",
                    f"worker{n}@%h",
                    "--queues",
                    self.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
                    "--concurrency",
                    str(self.worker_concurrency),
                    "--skip-serve-logs",
                    "--without-gossip",
                    "--without-mingle",
                )
        self.wait_healthy(timeout)
        self.token = self.client_without_token().get("/auth/token").raise_for_status().json()["access_token"]

    def spawn(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        self.processes[name] = subprocess.Popen(
            [str(AIRFLOW), *args],
            env=self.env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends it and its children
        )
        log.close()

    def wait_healthy(self, timeout: float) -> None:
        """The api-server answers and reports the metadatabase, scheduler, dag-processor and
        triggerer healthy (their heartbeats are in the database)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                last = self.client_without_token().get("/api/v2/monitor/health").json()
                parts = ("metadatabase", "scheduler", "dag_processor", "triggerer")
                if all((last.get(p) or {}).get("status") == "healthy" for p in parts):
                    return
            time.sleep(1)
        raise TimeoutError(f"Airflow not healthy in {timeout:.0f} s: {last}")

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"Airflow process(es) exited: {dead}")

    def stop(self) -> None:
        """End every process group started here (TERM, then KILL after 30 s), then anything still
        running with this AIRFLOW_HOME (task processes that left the group), then drop the DBs."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        for pid in self.strays():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for name in self.databases:
            with contextlib.suppress(Exception):
                drop_database(name)
        self.databases.clear()
        queue = getattr(self, "env", {}).get("AIRFLOW__OPERATORS__DEFAULT_QUEUE")
        if queue:  # this run's queue and kombu's binding of it, on the shared Redis
            import redis

            with contextlib.suppress(Exception), redis.Redis.from_url(REDIS_URL) as client:
                client.delete(queue, f"_kombu.binding.{queue}")

    def strays(self) -> list[int]:
        """Processes whose environment names this installation's home: only ours have it."""
        marker = f"AIRFLOW_HOME={self.home}\0".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if marker in (entry / "environ").read_bytes():
                        found.append(int(entry.name))
        return found

    def log_tails(self, lines: int = 40) -> str:
        out = []
        for log in sorted(self.home.glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"----- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out)

    # ------------------------------------------------------------------ the REST API

    def client_without_token(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{self.api_port}", timeout=30)

    def api(self, method: str, path: str, **kwargs) -> dict:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{self.api_port}/api/v2",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        ) as client:
            response = client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict:
        """The DAG once the dag-processor has parsed and stored it."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(RuntimeError):
                return self.api("GET", f"/dags/{dag_id}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} not parsed in {timeout:.0f} s")
            time.sleep(1)

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        return self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def wait_for_runs(self, dag_id: str, timeout: float = 120) -> list[dict]:
        """The DAG's runs, once it has one."""
        deadline = time.monotonic() + timeout
        while not (runs := self.runs(dag_id)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id}: no run in {timeout:.0f} s")
            self.check_alive()
            time.sleep(1)
        return runs

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600, poll: float = 0.5) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in TERMINAL:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s")
            self.check_alive()
            time.sleep(poll)

    def returned(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1):
        """What a task instance returned (its ``return_value`` XCom)."""
        entry = self.api(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
            params={"map_index": map_index, "deserialize": True},
        )
        return entry["value"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})[
            "task_instances"
        ]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
