"""The compose deployment for real, on a machine without Docker Hub: a Docker daemon of the test's
own, stand-ins for the upstream images (deploy/local-images/), and docker-compose.yml brought up
with Debian's docker-compose 1.29 as docs/operator-guide.md says.

``DockerDaemon`` starts ``dockerd`` with its own data root, exec root, socket and bridge (a
bridge interface created here, with an address block no other interface uses), so it shares
nothing with any other Docker on the machine. ``stop`` ends it, unmounts anything left under its
roots, deletes its bridge and every iptables rule and chain that appeared while it ran (compared
with a snapshot taken before it started), and removes its folders: the images, containers,
volumes and networks go with its data root.

``Stack`` is one compose project in a copy of the checkout (the files git tracks, as a clean
clone has them, with the working tree's contents), with its own ``.env`` written by
``deploy/new-env.sh`` and its own scorecard folders, driven through the api-server's REST API
(the FAB auth manager's ``POST /auth/token`` with the admin's password) and the mail catcher's.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.smtp_server import free_port

REPO = Path(__file__).resolve().parent.parent
DOCKERD = "/usr/sbin/dockerd"
TERMINAL = {"success", "failed"}


def cannot_run_docker() -> str | None:
    """Why this machine cannot run the test's Docker daemon, or None when it can."""
    if os.geteuid() != 0:
        return "the Docker daemon needs root (the test starts its own dockerd)"
    for tool in (DOCKERD, "docker", "docker-compose", "ip", "iptables"):
        if not shutil.which(tool):
            return f"{tool} is not installed (Debian: apt-get install docker.io docker-compose)"
    if not Path("/sys/fs/cgroup").is_dir() or not any(Path("/sys/fs/cgroup").iterdir()):
        return "no cgroup file system at /sys/fs/cgroup: containers cannot run here"
    return None


def run(args: list[str], env: dict[str, str] | None = None, timeout: float = 900, check: bool = True, **kw):
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {result.returncode}:\n{(result.stdout + result.stderr)[-4000:]}")
    return result


# ---------------------------------------------------------------------------------------------- iptables


def iptables_state() -> dict[str, list[str]]:
    return {
        table: run(["iptables", "-w", "-t", table, "-S"]).stdout.splitlines() for table in ("filter", "nat", "mangle")
    }


def remove_new_iptables_entries(before: dict[str, list[str]]) -> list[str]:
    """Delete the rules, then the chains, that are in iptables now but were not in ``before``."""
    removed = []
    after = iptables_state()
    for table, lines in after.items():
        old = set(before.get(table, []))
        new_rules = [line for line in lines if line.startswith("-A ") and line not in old]
        new_chains = [line.split()[1] for line in lines if line.startswith("-N ") and line not in old]
        for rule in reversed(new_rules):
            args = rule.split()
            args[0] = "-D"
            if run(["iptables", "-w", "-t", table, *args], check=False).returncode == 0:
                removed.append(f"{table}: {rule}")
        for chain in new_chains:
            run(["iptables", "-w", "-t", table, "-F", chain], check=False)
        for chain in new_chains:
            if run(["iptables", "-w", "-t", table, "-X", chain], check=False).returncode == 0:
                removed.append(f"{table}: -X {chain}")
        # dockerd sets the FORWARD policy to DROP: put back the built-in chains' policies
        for line in before.get(table, []):
            if line.startswith("-P ") and line not in lines:
                run(["iptables", "-w", "-t", table, *line.split()], check=False)
                removed.append(f"{table}: policy back to {line}")
    return removed


def free_subnet_base() -> int:
    """A second octet N with no 10.N.0.0/16 address on any interface (the daemon's bridge takes
    10.N.0.1/24, its compose networks 10.N.{1..}.0/24)."""
    used = run(["ip", "-4", "-o", "addr"]).stdout + run(["ip", "-4", "route"]).stdout
    candidates = [n for n in range(200, 250) if f" 10.{n}." not in used and f"\n10.{n}." not in used]
    return random.choice(candidates)


# ---------------------------------------------------------------------------------------------- dockerd


@dataclass
class DockerDaemon:
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="lscp-dk-")))
    process: subprocess.Popen | None = None
    bridge: str = ""
    iptables_before: dict[str, list[str]] = field(default_factory=dict)
    ip_forward: str = ""
    cleanup_report: list[str] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "COMPOSE_"))}
        env["DOCKER_HOST"] = f"unix://{self.socket}"
        env["COMPOSE_HTTP_TIMEOUT"] = "300"
        return env

    def start(self, timeout: float = 60) -> None:
        self.iptables_before = iptables_state()
        self.ip_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
        octet = free_subnet_base()
        self.bridge = f"lscpdk{octet}"
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        run(["ip", "addr", "add", f"10.{octet}.0.1/24", "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])
        log = open(self.root / "dockerd.log", "wb")  # noqa: SIM115 (closed with the process)
        self.process = subprocess.Popen(
            [
                DOCKERD,
                "--data-root",
                str(self.root / "data"),
                "--exec-root",
                str(self.root / "exec"),
                "--pidfile",
                str(self.root / "docker.pid"),
                "--host",
                f"unix://{self.socket}",
                "--bridge",
                self.bridge,
                "--default-address-pool",
                f"base=10.{octet}.0.0/16,size=24",
                "--storage-driver",
                os.environ.get("LSCP_DOCKER_STORAGE_DRIVER", "overlay2"),
            ],  # fmt: skip
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.process.returncode} at start:\n{self.log_tail()}")
            if run(["docker", "info"], env=self.env, check=False, timeout=30).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"dockerd did not answer in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        path = self.root / "dockerd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def docker(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return run(["docker", *args], env=self.env, **kw)

    def stop(self) -> None:
        """Everything this daemon made goes: containers (with it), mounts, the bridge, iptables
        entries, the data root."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(Exception):  # containers first, so their mounts go cleanly
                ids = self.docker("ps", "-aq", timeout=60).stdout.split()
                if ids:
                    self.docker("rm", "-f", "-v", *ids, timeout=300, check=False)
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        for line in reversed(Path("/proc/mounts").read_text().splitlines()):
            mountpoint = line.split()[1]
            if mountpoint.startswith(str(self.root)):
                run(["umount", "-l", mountpoint], check=False)
                self.cleanup_report.append(f"unmounted {mountpoint}")
        if self.bridge:
            run(["ip", "link", "delete", self.bridge], check=False)
        # veth pairs go with their containers; what dockerd added to iptables stays: remove it.
        if self.iptables_before:
            self.cleanup_report += remove_new_iptables_entries(self.iptables_before)
        if self.ip_forward:  # dockerd turns on IP forwarding
            Path("/proc/sys/net/ipv4/ip_forward").write_text(self.ip_forward)
        shutil.rmtree(self.root, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What is still there after stop(): should be nothing."""
        left = []
        if self.process is not None and self.process.poll() is None:
            left.append(f"dockerd {self.process.pid} still running")
        if self.root.exists():
            left.append(f"{self.root} still exists")
        if any(line.split()[1].startswith(str(self.root)) for line in Path("/proc/mounts").read_text().splitlines()):
            left.append("mounts under the data root")
        if self.bridge and run(["ip", "link", "show", self.bridge], check=False).returncode == 0:
            left.append(f"bridge {self.bridge}")
        if self.iptables_before:
            now = iptables_state()
            for table, lines in now.items():
                extra = set(lines) - set(self.iptables_before.get(table, []))
                left += [f"iptables {table}: {line}" for line in sorted(extra)]
        if self.ip_forward and Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != self.ip_forward:
            left.append("net.ipv4.ip_forward changed")
        return left


# ---------------------------------------------------------------------------------------------- the stack


def copy_checkout(target: Path) -> Path:
    """The files git tracks (with their working-tree contents) and new ones not ignored: what a
    clean clone of this state holds, without .venv, .env, var/ or .git."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def set_env(path: Path, **values: str) -> None:
    """Set NAME=value lines of .env (uncommenting ``# NAME=`` lines), as an operator edits it."""
    text = path.read_text()
    for name, value in values.items():
        pattern = re.compile(rf"^(# )?{name}=.*$", re.M)
        if pattern.search(text):
            text = pattern.sub(lambda _m, n=name, v=value: f"{n}={v}", text, count=1)
        else:
            text += f"{name}={value}\n"
    path.write_text(text)


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            name, value = line.split("=", 1)
            out[name.strip()] = value.strip().strip("'")
    return out


@dataclass
class Stack:
    daemon: DockerDaemon
    checkout: Path
    project: str
    data: Path
    api_port: int = 0
    mail_port: int = 0
    portal_port: int = 0
    token: str = ""

    def compose(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        return run(
            ["docker-compose", "--no-ansi", "-p", self.project, *args],
            env=self.daemon.env,
            cwd=self.checkout,
            timeout=timeout,
            check=check,
        )

    def write_env(self, **extra: str) -> dict[str, str]:
        """deploy/new-env.sh, then the edits of the operator guide's step 3: the folders, and
        ports of their own (nothing on the host's 8080, 8025 or 8000 is disturbed)."""
        run(["bash", "deploy/new-env.sh"], cwd=self.checkout)
        self.api_port, self.mail_port, self.portal_port = free_port(), free_port(), free_port()
        (self.data / "inbox").mkdir(parents=True, exist_ok=True)
        set_env(
            self.checkout / ".env",
            SCORECARD_DATA=str(self.data),
            SCORECARD_INBOX=str(self.data / "inbox"),
            AIRFLOW_UI_PORT=str(self.api_port),
            MAILPIT_UI_PORT=str(self.mail_port),
            PORTAL_PORT=str(self.portal_port),
            **extra,
        )
        return read_env(self.checkout / ".env")

    # ------------------------------------------------------------------ health

    def containers(self) -> dict[str, dict]:
        """Each container of the project: name -> docker inspect."""
        ids = self.daemon.docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}").stdout
        if not ids.split():
            return {}
        inspected = json.loads(self.daemon.docker("inspect", *ids.split()).stdout)
        return {c["Name"].lstrip("/"): c for c in inspected}

    def wait_healthy(self, services: set[str], timeout: float = 600) -> dict[str, str]:
        """Every container of ``services`` running and healthy, airflow-init exited 0."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = {}
            seen = set()
            for name, c in self.containers().items():
                service = c["Config"]["Labels"]["com.docker.compose.service"]
                seen.add(service)
                if service == "airflow-init":
                    states[name] = "exited 0" if c["State"]["Status"] == "exited" else c["State"]["Status"]
                    if c["State"]["Status"] == "exited" and c["State"]["ExitCode"] != 0:
                        raise RuntimeError(
                            f"airflow-init exited {c['State']['ExitCode']}:\n{self.logs('airflow-init')}"
                        )
                else:
                    states[name] = (c["State"].get("Health") or {}).get("Status", c["State"]["Status"])
            if services <= seen and all(s in ("healthy", "exited 0") for s in states.values()):
                return states
            time.sleep(2)
        raise TimeoutError(f"not healthy in {timeout:.0f} s: {states}")

    def logs(self, *services: str, tail: int | str = 60) -> str:
        return self.compose("logs", "--no-color", f"--tail={tail}", *services, check=False, timeout=120).stdout

    def portal(self, path: str) -> httpx.Response:
        """A page of the portal service, through the port it publishes on the host."""
        return httpx.get(f"http://127.0.0.1:{self.portal_port}{path}", timeout=30, follow_redirects=False)

    # ------------------------------------------------------------------ the REST API

    def login(self, username: str, password: str) -> None:
        response = httpx.post(
            f"http://127.0.0.1:{self.api_port}/auth/token",
            json={"username": username, "password": password},
            timeout=30,
        )
        response.raise_for_status()
        self.token = response.json()["access_token"]

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

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(RuntimeError):
                return self.api("GET", f"/dags/{dag_id}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} not parsed in {timeout:.0f} s")
            time.sleep(2)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        return self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})[
            "dag_run_id"
        ]

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            found = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            if found["state"] in TERMINAL:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {run_id} still {found['state']} after {timeout:.0f} s")
            time.sleep(1)

    def wait_for_runs(self, dag_id: str, timeout: float = 180) -> list[dict]:
        deadline = time.monotonic() + timeout
        while not (found := self.runs(dag_id)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id}: no run in {timeout:.0f} s")
            time.sleep(1)
        return found

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100})[
            "task_instances"
        ]

    # ------------------------------------------------------------------ the mail catcher

    def messages(self) -> list[dict]:
        response = httpx.get(f"http://127.0.0.1:{self.mail_port}/api/v1/messages", timeout=30)
        response.raise_for_status()
        return response.json()["messages"]
