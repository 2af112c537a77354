"""The production shape: docker-compose.yml, .env.example, and the image and scripts in deploy/.

There is no Docker engine here, so the compose file is validated and resolved for real by
Debian's docker-compose (1.29; `config` needs no engine, tests/setup_system.sh installs it) and
the resolved YAML is checked against the specification; deploy/Dockerfile is parsed; the set-up
scripts (deploy/new-env.sh, deploy/airflow-init.sh, deploy/postgres-init.sh) are run for real
(airflow-init with a stand-in `airflow` command, postgres-init on the test PostgreSQL server).
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "deploy" / "Dockerfile"

AIRFLOW_SERVICES = ["airflow-init", "api-server", "scheduler", "dag-processor", "triggerer", "worker"]
LONG_RUNNING_AIRFLOW = ["api-server", "scheduler", "dag-processor", "triggerer", "worker"]
SCORECARD_HOME = "/opt/scorecard"
SCORECARD_FOLDERS = ["inbox", "archive", "rejected", "receipts", "out", "processing"]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|PSEUDONYM_KEY|TOKEN|AIRFLOW_CONN_")
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


# --- helpers ---------------------------------------------------------------------------------


def docker_compose() -> str:
    found = shutil.which("docker-compose")
    assert found, "docker-compose is not installed: run tests/setup_system.sh (apt-get install docker-compose)"
    return found


def run_compose(tmp_path: Path, env_text: str, *args: str) -> subprocess.CompletedProcess:
    """`docker-compose --env-file <env> <args>` on a copy of the compose file, in a clean environment
    (nothing from this process's environment, such as the test suite's AIRFLOW_* settings, leaks in)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    shutil.copy(COMPOSE, project / "docker-compose.yml")
    env_file = project / "settings.env"
    env_file.write_text(env_text, encoding="utf-8")
    assert not (project / ".env").exists()
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return subprocess.run(
        [
            docker_compose(),
            "--project-directory",
            str(project),
            "-f",
            str(project / "docker-compose.yml"),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=clean,
        timeout=120,
    )


def resolved(tmp_path: Path, env_text: str) -> dict:
    result = run_compose(tmp_path, env_text, "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def resolved_with(settings_text: str) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory(prefix="compose-") as folder:
        return resolved(Path(folder), settings_text)


def env_example() -> str:
    return ENV_EXAMPLE.read_text(encoding="utf-8")


def env_lines(env_text: str) -> dict[str, str]:
    """Name -> raw value of every uncommented NAME=value line."""
    values = {}
    for line in env_text.splitlines():
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2)
    return values


def without(env_text: str, name: str) -> str:
    return "\n".join(line for line in env_text.splitlines() if not line.startswith(f"{name}=")) + "\n"


def with_setting(env_text: str, name: str, value: str) -> str:
    return without(env_text, name) + f"{name}={value}\n"


def volumes_by_target(service: dict) -> dict[str, dict]:
    """container path -> {source, read_only} whichever syntax docker-compose printed."""
    out = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            parts = volume.split(":")
            source, target = parts[0], parts[1]
            mode = parts[2] if len(parts) > 2 else "rw"
            out[target] = {"source": source, "read_only": "ro" in mode.split(",")}
        else:
            out[volume["target"]] = {"source": volume.get("source"), "read_only": bool(volume.get("read_only"))}
    return out


def ports(service: dict) -> list[tuple[str, str, str]]:
    """(host ip, published port, container port) whichever syntax docker-compose printed."""
    out = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            out.append((str(port.get("host_ip", "")), str(port.get("published", "")), str(port["target"])))
        else:
            parts = str(port).split("/")[0].split(":")
            parts = [""] * (3 - len(parts)) + parts
            out.append((parts[0], parts[1], parts[2]))
    return out


def depends(service: dict) -> dict[str, str]:
    value = service.get("depends_on", {})
    if isinstance(value, list):
        return {name: "service_started" for name in value}
    return {name: spec.get("condition", "service_started") for name, spec in value.items()}


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    """docker-compose.yml resolved with .env.example, as an operator's first `docker compose config`."""
    return resolved(tmp_path_factory.mktemp("compose"), env_example())


@pytest.fixture(scope="module")
def generated_env(tmp_path_factory) -> str:
    """A .env written by deploy/new-env.sh (every CHANGE-ME replaced)."""
    target = tmp_path_factory.mktemp("newenv") / ".env"
    result = subprocess.run(
        ["bash", str(REPO / "deploy" / "new-env.sh"), str(target)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return target.read_text(encoding="utf-8")


# --- the compose file ------------------------------------------------------------------------


def test_the_compose_file_validates_with_env_example(config):
    assert set(config["services"]) >= {
        "postgres",
        "mailcatcher",
        "airflow-init",
        "api-server",
        "scheduler",
        "dag-processor",
        "triggerer",
        "redis",
        "worker",
    }


def test_services_the_specification_names(config):
    services = config["services"]
    for name in ["api-server", "scheduler", "dag-processor", "triggerer"]:
        assert services[name]["command"] in (name, [name]), name
    assert services["postgres"]["image"].startswith("postgres:")
    mail = services["mailcatcher"]
    assert "mailpit" in mail["image"]
    assert "1025" in [str(p) for p in mail.get("expose", [])]
    assert [target for _, _, target in ports(mail)] == ["8025"]
    assert [target for _, _, target in ports(services["api-server"])] == ["8080"]


def test_every_airflow_service_uses_the_project_image_built_from_deploy(config):
    for name in AIRFLOW_SERVICES:
        service = config["services"][name]
        build = service["build"]
        assert Path(build["context"]).name == "project", name  # the repository root (copied here)
        assert build["dockerfile"] == "deploy/Dockerfile", name
        assert service["image"] == config["services"]["scheduler"]["image"], name
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in service.get("environment", {}), name
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in COMPOSE.read_text(encoding="utf-8")


def host_path(service: dict, container_path: str) -> tuple[str, bool]:
    """Where a container path lives on the host (through the deepest mount holding it), and
    whether it is writable."""
    best = None
    for target, mount in volumes_by_target(service).items():
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            if best is None or len(target) > len(best[0]):
                best = (target, mount)
    assert best, f"{container_path} is not on any mounted volume"
    target, mount = best
    rest = container_path[len(target) :].lstrip("/")
    return (f"{mount['source']}/{rest}" if rest else mount["source"]), not mount["read_only"]


def test_every_airflow_service_mounts_the_dags_and_the_scorecard_folders(config):
    services = config["services"]
    settings = env_lines(env_example())
    expected = {
        f"{SCORECARD_HOME}/{folder}": f"{settings['SCORECARD_DATA']}/{folder}"
        for folder in ["archive", "rejected", "receipts", "out", "processing"]
    }
    expected[SCORECARD_HOME] = settings["SCORECARD_DATA"]
    expected[f"{SCORECARD_HOME}/inbox"] = settings["SCORECARD_INBOX"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        dags = volumes_by_target(service)["/opt/airflow/dags"]
        assert Path(dags["source"]) == Path(service["build"]["context"]) / "dags", name
        # every folder of SCORECARD_HOME (inbox, archive, rejected, receipts, out, and the
        # processing/ claims shared by all task processes) is on the host, writable, the same for all
        for container_path, host in expected.items():
            assert host_path(service, container_path) == (host, True), (name, container_path)
        assert volumes_by_target(service)[f"{SCORECARD_HOME}/inbox"]["source"] == settings["SCORECARD_INBOX"], (
            f"{name}: the inbox is a mounted folder of its own"
        )
        assert volumes_by_target(service)["/opt/airflow/logs"]["source"].endswith("airflow-logs"), name
        assert service["environment"]["AIRFLOW_VAR_SCORECARD_HOME"] == SCORECARD_HOME, name
    # the host folders move with the settings
    moved = resolved_with(
        settings_text=with_setting(
            with_setting(env_example(), "SCORECARD_DATA", "/data/lscp"), "SCORECARD_INBOX", "/mnt/partners/inbox"
        )
    )
    scheduler = moved["services"]["scheduler"]
    assert host_path(scheduler, f"{SCORECARD_HOME}/archive") == ("/data/lscp/archive", True)
    assert host_path(scheduler, f"{SCORECARD_HOME}/out") == ("/data/lscp/out", True)
    assert host_path(scheduler, f"{SCORECARD_HOME}/inbox") == ("/mnt/partners/inbox", True)


def test_local_executor_by_default(config, tmp_path):
    for name in AIRFLOW_SERVICES:
        assert config["services"][name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
    # also when .env does not mention the executor at all
    bare = resolved(tmp_path, without(env_example(), "AIRFLOW_EXECUTOR"))
    for name in AIRFLOW_SERVICES:
        assert bare["services"][name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name


def test_the_celery_profile_adds_redis_and_scalable_workers_sharing_the_folders(config, tmp_path):
    services = config["services"]
    assert services["redis"]["profiles"] == ["celery"]
    assert services["worker"]["profiles"] == ["celery"]
    for name, service in services.items():
        if name not in ("redis", "worker"):
            assert not service.get("profiles"), f"{name} must run without a profile"
    worker = services["worker"]
    assert worker["command"] in ("celery worker", ["celery", "worker"])
    assert "container_name" not in worker and not worker.get("ports"), "a fixed name or port stops --scale"
    assert volumes_by_target(worker) == volumes_by_target(services["scheduler"])
    assert depends(worker)["redis"] == "service_healthy"
    broker = worker["environment"]["AIRFLOW__CELERY__BROKER_URL"]
    assert urlsplit(broker).scheme == "redis" and urlsplit(broker).hostname == "redis"
    backend = worker["environment"]["AIRFLOW__CELERY__RESULT_BACKEND"]
    assert backend.startswith("db+postgresql://") and urlsplit(backend).hostname == "postgres"
    # nothing outside the profile may depend on it, or `docker compose up` without it would fail
    for name, service in services.items():
        if name not in ("redis", "worker"):
            assert not {"redis", "worker"} & set(depends(service)), name
    # the executor switch is one setting in .env
    celery = resolved(tmp_path, with_setting(env_example(), "AIRFLOW_EXECUTOR", "CeleryExecutor"))
    for name in AIRFLOW_SERVICES:
        assert celery["services"][name]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name


def test_airflow_3_settings_are_shared_by_every_airflow_service(config):
    services = config["services"]
    shared = [
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__AUTH_MANAGER",
    ]
    first = services["scheduler"]["environment"]
    for name in AIRFLOW_SERVICES:
        environment = services[name]["environment"]
        for setting in shared:
            assert environment[setting] == first[setting], (name, setting)
            assert environment[setting], (name, setting)
    execution = urlsplit(first["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert execution.hostname == "api-server" and execution.port == 8080 and execution.path == "/execution/"
    assert first["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    metadata = urlsplit(first["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert metadata.scheme.startswith("postgresql") and metadata.hostname == "postgres"
    assert metadata.path == "/airflow" and metadata.username == "airflow"


def test_the_scorecard_connections_and_variables_airflow_reads(config):
    from airflow.sdk import Connection

    environment = config["services"]["scheduler"]["environment"]

    smtp = Connection.from_uri(environment["AIRFLOW_CONN_SMTP_DEFAULT"], conn_id="smtp_default")
    assert (smtp.conn_type, smtp.host, smtp.port) == ("smtp", "mailcatcher", 1025)
    assert smtp.extra_dejson["disable_tls"] in (True, "true")
    assert smtp.extra_dejson["disable_ssl"] in (True, "true")
    assert "@" in smtp.extra_dejson["from_email"]
    # the failure alerts' sender (variable scorecard_mail_from) is the same address
    assert environment["AIRFLOW_VAR_SCORECARD_MAIL_FROM"] == smtp.extra_dejson["from_email"]

    raw_warehouse = environment["AIRFLOW_CONN_SCORECARD_WAREHOUSE"]
    assert raw_warehouse.startswith("postgresql://")
    warehouse = Connection.from_uri(raw_warehouse, conn_id="scorecard_warehouse")
    assert (warehouse.conn_type, warehouse.host, warehouse.port, warehouse.schema, warehouse.login) == (
        "postgres",
        "postgres",
        5432,
        "warehouse",
        "scorecard",
    )
    # the warehouse user's password is the one PostgreSQL's init script gives it
    assert warehouse.password == config["services"]["postgres"]["environment"]["WAREHOUSE_DB_PASSWORD"]

    key = Connection.from_uri(environment["AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY"], conn_id="scorecard_pseudonym_key")
    assert key.password == env_lines(env_example())["SCORECARD_PSEUDONYM_KEY"]

    assert "@" in environment["AIRFLOW_VAR_SCORECARD_PMSG_TO"]
    assert "@" in environment["AIRFLOW_VAR_SCORECARD_ANALYST_EMAIL"]
    officers = json.loads(environment["AIRFLOW_VAR_SCORECARD_DATA_OFFICERS"])
    sources = {p.stem for p in (REPO / "definitions" / "sources").glob("*.yaml")}
    assert officers and set(officers) <= sources
    assert {"police_domestic_incidents", "csws_referrals", "school_attendance", "missing_episodes"} <= set(officers)
    assert all("@" in address for address in officers.values())
    assert environment["AIRFLOW_VAR_SCORECARD_HOME"] == SCORECARD_HOME


def duration(value) -> int:
    """Seconds in a compose duration ("1m30s", "10s")."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([hms])", str(value)))


def test_healthchecks_dependencies_and_restart_policies(config):
    services = config["services"]
    for name in ["postgres", "mailcatcher", "redis", *LONG_RUNNING_AIRFLOW]:
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        assert services[name].get("restart") in ("unless-stopped", "always"), name
    init = services["airflow-init"]
    assert init.get("restart") in (None, "no")
    assert depends(init) == {"postgres": "service_healthy"}
    assert init["command"] == ["bash", "/opt/scorecard-deploy/airflow-init.sh"]
    for name in LONG_RUNNING_AIRFLOW:
        needs = depends(services[name])
        assert needs["postgres"] == "service_healthy", name
        assert needs["airflow-init"] == "service_completed_successfully", name
    # PostgreSQL's readiness over TCP: the image's initialisation server listens on a socket only
    assert "127.0.0.1" in services["postgres"]["healthcheck"]["test"]
    # A slow first start (the database initialising, a busy 2-core host) is not "unhealthy": each
    # check tolerates two minutes or more of failures after its start period.
    for name in ["postgres", "mailcatcher", "redis", *LONG_RUNNING_AIRFLOW]:
        check = services[name]["healthcheck"]
        seconds = {key: duration(check[key]) for key in ("interval", "start_period")}
        assert seconds["start_period"] + seconds["interval"] * check["retries"] >= 75, (name, check)
    scheduler = services["scheduler"]
    assert scheduler["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    assert any("8974/health" in part for part in scheduler["healthcheck"]["test"])


def test_postgres_runs_the_init_script_for_both_databases(config):
    postgres = config["services"]["postgres"]
    volumes = volumes_by_target(postgres)
    init = [target for target in volumes if target.startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1 and init[0].endswith(".sh")
    assert Path(volumes[init[0]]["source"]).name == "postgres-init.sh"
    assert volumes[init[0]]["read_only"]
    assert volumes["/var/lib/postgresql/data"]["source"].endswith("postgres-data")
    environment = postgres["environment"]
    airflow_env = config["services"]["scheduler"]["environment"]
    assert urlsplit(airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).password == environment["AIRFLOW_DB_PASSWORD"]


def test_only_the_uis_are_published_and_to_this_machine_by_default(config):
    published = {name for name, service in config["services"].items() if service.get("ports")}
    assert published == {"api-server", "mailcatcher", "portal"}
    for name in published:
        for host_ip, published_port, _ in ports(config["services"][name]):
            assert host_ip == "127.0.0.1" and published_port, name


def test_the_portal_runs_scorecard_serve_from_the_same_image_on_the_same_folders_and_warehouse(config, tmp_path):
    services = config["services"]
    portal, scheduler = services["portal"], services["scheduler"]
    # `scorecard serve` on every address inside the container, from the image Airflow runs
    assert portal["command"] == ["scorecard", "serve", "--host", "0.0.0.0", "--port", "8000"]
    assert portal["entrypoint"] == ["/usr/bin/dumb-init", "--"]  # not `airflow scorecard serve`
    assert portal["image"] == scheduler["image"] and portal["build"] == scheduler["build"]
    assert portal["user"] == scheduler["user"]
    assert not portal.get("profiles") and portal.get("restart") == "unless-stopped"
    assert depends(portal) == {"postgres": "service_healthy", "airflow-init": "service_completed_successfully"}
    # the scorecard folders, mounted where the tasks have them (the inbox its own mount)
    for folder in ["", *SCORECARD_FOLDERS]:
        path = f"{SCORECARD_HOME}/{folder}".rstrip("/")
        assert host_path(portal, path) == host_path(scheduler, path), path
    environment = portal["environment"]
    assert environment["SCORECARD_HOME"] == SCORECARD_HOME == scheduler["environment"]["AIRFLOW_VAR_SCORECARD_HOME"]
    # the warehouse and the pseudonym key of Airflow's connections
    from airflow.sdk import Connection
    from sqlalchemy.engine import make_url

    url = make_url(environment["SCORECARD_WAREHOUSE_URL"])
    warehouse = Connection.from_uri(scheduler["environment"]["AIRFLOW_CONN_SCORECARD_WAREHOUSE"], conn_id="w")
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username, url.password) == (
        warehouse.host,
        warehouse.port,
        warehouse.schema,
        warehouse.login,
        warehouse.password,
    )
    key = Connection.from_uri(scheduler["environment"]["AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY"], conn_id="k")
    assert environment["SCORECARD_PSEUDONYM_KEY"] == key.password
    # every setting the portal is given is one the program knows (it refuses unknown SCORECARD_ names)
    from pipelines.config import setting_names

    assert {n for n in environment if n.startswith("SCORECARD_")} <= set(setting_names())
    # the portal's address: the same for the portal and for the reminders Airflow sends
    assert environment["SCORECARD_PORTAL_URL"] == scheduler["environment"]["SCORECARD_PORTAL_URL"]
    assert environment["SCORECARD_PORTAL_SECURE_COOKIES"] == "true"
    assert environment["FORWARDED_ALLOW_IPS"]  # uvicorn's proxy headers, from the TLS proxy
    moved = resolved(
        tmp_path,
        with_setting(
            with_setting(env_example(), "SCORECARD_PORTAL_URL", "https://scorecard.lscp.example"),
            "SCORECARD_PORTAL_SECURE_COOKIES",
            "false",
        ),
    )
    assert moved["services"]["portal"]["environment"]["SCORECARD_PORTAL_URL"] == "https://scorecard.lscp.example"
    assert moved["services"]["scheduler"]["environment"]["SCORECARD_PORTAL_URL"] == "https://scorecard.lscp.example"
    assert moved["services"]["portal"]["environment"]["SCORECARD_PORTAL_SECURE_COOKIES"] == "false"


def test_the_portal_is_health_checked_on_its_login_page_and_published_to_this_machine_only(config, tmp_path):
    portal = config["services"]["portal"]
    check = portal["healthcheck"]
    assert check["test"][0] == "CMD" and "curl" in check["test"] and "--fail" in check["test"]
    assert check["test"][-1] == "http://localhost:8000/login"
    seconds = {key: duration(check[key]) for key in ("interval", "start_period")}
    assert seconds["start_period"] + seconds["interval"] * check["retries"] >= 75
    assert ports(portal) == [("127.0.0.1", "8000", "8000")]
    # also when .env does not say where (an older .env)
    bare = resolved(tmp_path, without(without(env_example(), "PORTAL_BIND"), "PORTAL_PORT"))
    assert ports(bare["services"]["portal"]) == [("127.0.0.1", "8000", "8000")]
    assert not any(host_ip in ("", "0.0.0.0", "::") for host_ip, _, _ in ports(bare["services"]["portal"]))


# --- secrets ---------------------------------------------------------------------------------


def compose_source() -> str:
    """docker-compose.yml without its comment lines."""
    return "\n".join(
        line for line in COMPOSE.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    )


def required_settings() -> list[str]:
    return sorted({m.group(1) for m in INTERPOLATION.finditer(compose_source()) if m.group(2) == ":?"})


def test_secrets_are_never_given_defaults_in_the_compose_file():
    raw = compose_source()
    for match in INTERPOLATION.finditer(raw):
        name, operator, default = match.groups()
        if SECRET_NAME.search(name):
            assert operator == ":?", f"${{{name}}} must be required (:?), not defaulted"
        if operator == ":-" and default:
            assert not urlsplit(default).password, f"the default of {name} holds a password"
    # no credentials written into a URL, and no secret-looking key with a literal value
    for url in re.findall(r"[a-z][a-z0-9+.-]*://[^\s'\"]+", raw):
        userinfo = urlsplit(url).netloc.rpartition("@")[0]
        if ":" in userinfo:
            assert userinfo.split(":", 1)[1].startswith("${"), f"literal password in {url}"
    document = yaml.safe_load(raw)
    for name, service in document["services"].items():
        environment = service.get("environment") or {}
        for key, value in environment.items() if isinstance(environment, dict) else []:
            if SECRET_NAME.search(key):
                assert "${" in str(value), f"{name}: {key} is a literal"
    assert set(required_settings()) >= {
        "AIRFLOW_DB_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "POSTGRES_PASSWORD",
        "WAREHOUSE_DB_PASSWORD",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_CONN_SMTP_DEFAULT",
        "AIRFLOW_CONN_SCORECARD_WAREHOUSE",
        "AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY",
        "AIRFLOW_VAR_SCORECARD_PMSG_TO",
        "AIRFLOW_VAR_SCORECARD_ANALYST_EMAIL",
        "AIRFLOW_VAR_SCORECARD_DATA_OFFICERS",
        "AIRFLOW_VAR_SCORECARD_MAIL_FROM",
    }


@pytest.mark.parametrize("name", required_settings())
def test_compose_refuses_to_run_without_each_required_setting(name, tmp_path):
    result = run_compose(tmp_path, without(env_example(), name), "config")
    assert result.returncode != 0
    assert f"set {name} in .env" in result.stderr


def test_env_example_documents_every_setting_with_placeholders_for_secrets():
    text = env_example()
    settings = env_lines(text)
    commented = set(re.findall(r"^#\s*([A-Z_][A-Z0-9_]*)=", text, flags=re.M))
    used = {m.group(1) for m in INTERPOLATION.finditer(compose_source())}
    assert used - set(settings) - commented == set(), "compose settings missing from .env.example"
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_][A-Z0-9_]*=", line):
            above = lines[index - 1] if index else ""
            assert above.startswith("#") or re.match(r"^[A-Z_][A-Z0-9_]*=", above), f"no comment for {line}"
    secrets_ = [name for name in settings if SECRET_NAME.search(name) and not name.startswith("AIRFLOW_CONN_")]
    assert secrets_
    for name in secrets_:
        assert settings[name].startswith("CHANGE-ME"), f"{name} must be a CHANGE-ME placeholder"
    assert "secrets.token_hex(32)" in text and "urlsafe_b64encode" in text
    # nothing that looks like a real secret
    assert not re.search(r"[0-9a-f]{32,}", text)
    # connections take their passwords from the placeholders above, never literally
    for name in ["AIRFLOW_CONN_SCORECARD_WAREHOUSE", "AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY"]:
        password = urlsplit(settings[name]).netloc.rpartition("@")[0].partition(":")[2]
        assert password.startswith("${"), name


def test_new_env_replaces_every_placeholder_with_a_fresh_secret(generated_env, tmp_path):
    from cryptography.fernet import Fernet

    settings = env_lines(generated_env)
    assert not any("CHANGE-ME" in value for value in settings.values())
    placeholders = [name for name, value in env_lines(env_example()).items() if value.startswith("CHANGE-ME")]
    values = [settings[name] for name in placeholders]
    assert len(set(values)) == len(values), "every secret is different"
    Fernet(settings["AIRFLOW_FERNET_KEY"].encode())  # a valid Fernet key
    for name in placeholders:
        if name != "AIRFLOW_FERNET_KEY":
            assert re.fullmatch(r"[0-9a-f]{64}", settings[name]), name
    # everything else is kept as it was
    for name, value in env_lines(env_example()).items():
        if name not in placeholders:
            assert settings[name] == value, name
    # it resolves, and the secrets flow into the services
    services = resolved(tmp_path, generated_env)["services"]
    environment = services["scheduler"]["environment"]
    assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == settings["AIRFLOW_JWT_SECRET"]
    assert urlsplit(environment["AIRFLOW_CONN_SCORECARD_WAREHOUSE"]).password == settings["WAREHOUSE_DB_PASSWORD"]
    assert environment["AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY"] == f"generic://:{settings['SCORECARD_PSEUDONYM_KEY']}@"


def test_new_env_is_private_and_never_overwrites(tmp_path):
    target = tmp_path / ".env"
    first = subprocess.run(["bash", str(REPO / "deploy" / "new-env.sh"), str(target)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    before = target.read_text()
    again = subprocess.run(["bash", str(REPO / "deploy" / "new-env.sh"), str(target)], capture_output=True, text=True)
    assert again.returncode != 0 and "not overwriting" in again.stderr
    assert target.read_text() == before


# --- the image -------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_builds_on_the_airflow_version_the_project_needs():
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    instructions = dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(froms) == 1
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", froms[0])
    assert match, froms[0]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    airflow_spec = next(
        d for d in project["optional-dependencies"]["airflow"] if re.match(r"apache-airflow\s*[<>=!~]", d)
    )
    assert Version(match.group(1)) in SpecifierSet(airflow_spec.removeprefix("apache-airflow"))
    assert Version(match.group(2) + ".0") in SpecifierSet(project["requires-python"])


def test_dockerfile_copies_and_installs_everything_the_package_needs():
    instructions = dockerfile_instructions()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    copied: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "COPY":
            parts = [p for p in rest.split() if not p.startswith("--")]
            for source in parts[:-1]:
                copied[source.rstrip("/")] = parts[-1]
    needed = {"pyproject.toml", pyproject["project"]["readme"], "schemas", "constraints.txt"}
    needed |= set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    needed |= set(pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"])
    assert needed <= set(copied), f"not copied: {needed - set(copied)}"
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
    # the project is installed at build time, not at start-up, pinning the image's own Airflow
    installs = [rest for keyword, rest in instructions if keyword == "RUN" and "pip install" in rest]
    assert len(installs) == 1
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in installs[0]
    source_dir = copied["pipelines"].rstrip("/").rsplit("/", 1)[0] if copied["pipelines"].startswith("/") else None
    workdirs = [rest for keyword, rest in instructions if keyword == "WORKDIR"]
    project_dir = source_dir or workdirs[0]
    assert project_dir in installs[0] and " -e " not in f" {installs[0]} "
    # with the DAGs' extra, at the versions the tests ran with, which pin this image's own Airflow
    assert f"{project_dir}[airflow]" in installs[0] and f"-c {project_dir}/constraints.txt" in installs[0]
    assert copied["constraints.txt"] in ("./", project_dir, project_dir + "/")
    pinned = dict(
        line.split("==", 1)
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    image = re.search(r"FROM apache/airflow:([0-9.]+)-python", DOCKERFILE.read_text()).group(1)
    assert pinned["apache-airflow"] == image
    # and the build checks the installed package finds its rule data
    checks = [rest for keyword, rest in instructions if keyword == "RUN" and "definitions_dir()" in rest]
    assert checks and "scorecard --help" in checks[0]
    # the set-up script the compose file runs is in the image where airflow-init looks for it
    assert copied["deploy/airflow-init.sh"] == "/opt/scorecard-deploy/airflow-init.sh"
    assert copied["deploy/replay-archive.py"] == "/opt/scorecard-deploy/replay-archive.py"


def dockerignore_patterns() -> list[str]:
    return [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]


def in_build_context(path: str, patterns: list[str]) -> bool:
    """Whether the builder sends PATH (relative to the repository root): the last matching
    pattern decides, a leading ! lets a path (or a folder and everything in it) back in."""
    included = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        glob = body.removeprefix("**/")
        parts = path.split("/")
        matches = any(
            fnmatch.fnmatchcase("/".join(parts[: n + 1]), body)
            or (body != glob and fnmatch.fnmatchcase(parts[n], glob))
            for n in range(len(parts))
        )
        if matches:
            included = negated
    return included


def test_both_dockerignore_files_are_the_same():
    # the root one for docker-compose 1.29 and the classic builder, the Dockerfile's for BuildKit
    assert (REPO / ".dockerignore").read_text() == (REPO / "deploy" / "Dockerfile.dockerignore").read_text()


def test_the_build_context_holds_only_what_the_image_copies():
    patterns = dockerignore_patterns()
    assert patterns[0] == "*"  # an allow-list
    copied = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY":
            copied += [p.rstrip("/") for p in rest.split() if not p.startswith("--")][:-1]
    for source in copied:
        assert in_build_context(source, patterns), source
        assert in_build_context(f"{source}/x.py", patterns) or "." in source.rsplit("/", 1)[-1], source
    for left_out in [
        ".env",
        ".env.example",
        "var/scorecard/inbox/x.csv",
        ".venv/bin/python",
        ".git/HEAD",
        "tests/test_compose.py",
        "pipelines/__pycache__/cli.cpython-311.pyc",
        "deploy/new-env.sh",
        "docs/operator-guide.md",
        "benchmarks/RESULTS.md",
    ]:
        assert not in_build_context(left_out, patterns), left_out


# --- the set-up scripts, run for real ----------------------------------------------------------


def airflow_init_env(tmp_path: Path, services: dict, **overrides: str) -> dict[str, str]:
    """airflow-init's environment from the resolved compose file, with a stand-in `airflow`
    that records its arguments, and the scorecard home in a temporary folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "airflow-calls"
    fake = bin_dir / "airflow"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n')
    fake.chmod(0o755)
    python = bin_dir / "python"  # the test environment's Python (a venv's needs its own path)
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    environment = {key: str(value) for key, value in services["airflow-init"]["environment"].items()}
    environment.update(
        PATH=f"{bin_dir}:/usr/bin:/bin",
        HOME=str(tmp_path),
        AIRFLOW_VAR_SCORECARD_HOME=str(tmp_path / "scorecard"),
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        AIRFLOW_UID=str(os.getuid()),
    )
    environment.update(overrides)
    return environment


def run_init(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / "deploy" / "airflow-init.sh")], env=environment, capture_output=True, text=True, timeout=120
    )


def test_airflow_init_refuses_the_placeholders_of_env_example(config, tmp_path):
    result = run_init(airflow_init_env(tmp_path, config["services"]))
    assert result.returncode == 1
    for name in [
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
        "AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    ]:
        assert f"  - {name}\n" in result.stderr, name
    assert not (tmp_path / "airflow-calls").exists(), "nothing may run before the settings are fixed"
    assert not (tmp_path / "scorecard").exists()


def test_airflow_init_prepares_folders_migrates_and_creates_the_admin(generated_env, tmp_path, pg_url):
    services = resolved(tmp_path, generated_env)["services"]
    # the warehouse connection pointed at the test PostgreSQL database, as Airflow would get it
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    warehouse = f"postgresql://{url.username}@{url.host}:{url.port}/{url.database}"
    result = run_init(airflow_init_env(tmp_path, services, AIRFLOW_CONN_SCORECARD_WAREHOUSE=warehouse))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scorecard_pseudonym_key: set" in result.stdout
    assert f"database '{url.database}' on {url.host} accepts the connection" in result.stdout
    for folder in [*SCORECARD_FOLDERS, "out/outbox"]:
        assert (tmp_path / "scorecard" / folder).is_dir(), folder
    calls = (tmp_path / "airflow-calls").read_text().splitlines()
    assert calls[0] == "db migrate"
    assert calls[1].startswith("users create --username admin --password ")
    assert calls[1].endswith("--role Admin")
    settings = env_lines(generated_env)
    assert f"--password {settings['AIRFLOW_ADMIN_PASSWORD']} " in calls[1]
    assert settings["AIRFLOW_ADMIN_PASSWORD"] not in result.stdout + result.stderr


def test_airflow_init_stops_without_a_pseudonym_key_and_only_warns_about_the_warehouse(generated_env, tmp_path):
    services = resolved(tmp_path, generated_env)["services"]
    (tmp_path / "no-key").mkdir()
    no_key = run_init(
        airflow_init_env(tmp_path / "no-key", services, AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY="generic://:@")
    )
    assert no_key.returncode != 0
    assert "scorecard_pseudonym_key connection has no password" in no_key.stderr
    assert not (tmp_path / "no-key" / "airflow-calls").exists()
    (tmp_path / "short-key").mkdir()
    short_key = run_init(
        airflow_init_env(tmp_path / "short-key", services, AIRFLOW_CONN_SCORECARD_PSEUDONYM_KEY="generic://:abc@")
    )
    assert short_key.returncode != 0 and "shorter than 16 characters" in short_key.stderr
    assert not (tmp_path / "short-key" / "airflow-calls").exists()
    (tmp_path / "no-warehouse").mkdir()
    unreachable = run_init(
        airflow_init_env(
            tmp_path / "no-warehouse",
            services,
            AIRFLOW_CONN_SCORECARD_WAREHOUSE="postgresql://scorecard:x@127.0.0.1:1/warehouse",
        )
    )
    assert unreachable.returncode == 0, unreachable.stderr
    assert "WARNING: the scorecard_warehouse connection could not log in" in unreachable.stderr
    assert (tmp_path / "no-warehouse" / "airflow-calls").read_text().startswith("db migrate")


@pytest.mark.postgres
def test_postgres_init_creates_both_databases_owned_by_their_users(config):
    """deploy/postgres-init.sh as PostgreSQL's image runs it, on the test server; the roles and
    databases it makes (airflow, scorecard; airflow, warehouse) are dropped afterwards."""
    admin = create_engine(
        os.environ.get("SCORECARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        taken = conn.execute(
            text(
                "select rolname from pg_roles where rolname in ('airflow', 'scorecard') union all "
                "select datname from pg_database where datname in ('airflow', 'warehouse')"
            )
        ).all()
    assert not taken, f"the test server already has {taken}: this test creates and drops them"
    environment = config["services"]["postgres"]["environment"]
    url = admin.url
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGHOST": url.host or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": "postgres",
        "AIRFLOW_DB_PASSWORD": "it's; a test",
        "WAREHOUSE_DB_PASSWORD": environment["WAREHOUSE_DB_PASSWORD"],
    }
    try:
        result = subprocess.run(
            ["bash", str(REPO / "deploy" / "postgres-init.sh")], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        with admin.connect() as conn:
            owners = dict(
                conn.execute(
                    text(
                        "select datname, pg_get_userbyid(datdba) from pg_database where datname in ('airflow', 'warehouse')"
                    )
                ).all()
            )
            roles = dict(
                conn.execute(
                    text("select rolname, rolsuper from pg_roles where rolname in ('airflow', 'scorecard')")
                ).all()
            )
            with_password = conn.execute(
                text(
                    "select count(*) from pg_authid where rolname in ('airflow', 'scorecard') and rolpassword is not null"
                )
            ).scalar()
        assert owners == {"airflow": "airflow", "warehouse": "scorecard"}
        assert roles == {"airflow": False, "scorecard": False}
        assert with_password == 2
        # the names are the ones the connections use
        scheduler = config["services"]["scheduler"]["environment"]
        assert urlsplit(scheduler["AIRFLOW_CONN_SCORECARD_WAREHOUSE"]).path == "/warehouse"
        assert urlsplit(scheduler["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).path == "/airflow"
        # the warehouse user can create the pipeline's tables in its database
        scorecard = create_engine(url.set(username="scorecard", database="warehouse", password=None))
        with scorecard.begin() as conn:
            conn.execute(text("create table probe (x int)"))
            conn.execute(text("drop table probe"))
        scorecard.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text("drop database if exists airflow"))
            conn.execute(text("drop database if exists warehouse"))
            conn.execute(text("drop role if exists airflow"))
            conn.execute(text("drop role if exists scorecard"))
        admin.dispose()


def test_replaying_the_archive_with_a_new_key_links_the_same_children(tmp_path):
    """The key rotation procedure of docs/operator-guide.md, with the command line on SQLite:
    intake with the old key, deploy/replay-archive.py, intake of the replay with a new key into a
    fresh warehouse: the same rows and the same number of distinct children, new pseudonyms."""
    from sqlalchemy import inspect

    def scorecard(home: Path, key: str, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
        env.update(SCORECARD_HOME=str(home), SCORECARD_PSEUDONYM_KEY=key, SCORECARD_SETTLE_SECONDS="0")
        result = subprocess.run(
            [str(Path(sys.executable).parent / "scorecard"), *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    live, replay = tmp_path / "live", tmp_path / "replay"
    scorecard(
        live,
        "old-key-" + "0" * 56,
        "generate",
        "--out",
        str(live / "inbox"),
        "--quarters",
        "1",
        "--scale",
        "0.05",
        "--seed",
        "11",
    )
    scorecard(live, "old-key-" + "0" * 56, "intake")
    (live / "inbox" / "stray.txt").write_text("not a partner file\n")  # rejected: not replayed
    scorecard(live, "old-key-" + "0" * 56, "intake")
    copied = subprocess.run(
        [sys.executable, str(REPO / "deploy" / "replay-archive.py"), "--home", str(live), "--to", str(replay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert copied.returncode == 0, copied.stderr
    accepted = len(list((live / "archive").iterdir()))
    assert f"copied {accepted} accepted original(s)" in copied.stdout
    assert sorted(p.parent.name for p in (replay / "inbox").rglob("*.*")) == sorted(
        json.loads(p.read_text())["source"]
        for p in (live / "receipts").glob("*.receipt.json")
        if json.loads(p.read_text())["status"] == "accepted"
    )
    scorecard(replay, "new-key-" + "1" * 56, "intake")
    assert not list((replay / "rejected").glob("*")), "every replayed original is accepted again"

    def staged(home: Path) -> dict:
        engine = create_engine(f"sqlite:///{home / 'warehouse.db'}")
        out = {}
        with engine.connect() as conn:
            for table in inspect(engine).get_table_names():
                if table.startswith("stg_"):
                    columns = {c["name"] for c in inspect(engine).get_columns(table)}
                    rows = conn.execute(text(f"select count(*) from {table}")).scalar()
                    children = (
                        set(conn.execute(text(f"select distinct child_pseudonym from {table}")).scalars())
                        if "child_pseudonym" in columns
                        else None
                    )
                    out[table] = (rows, children)
        engine.dispose()
        return out

    before, after = staged(live), staged(replay)
    assert before.keys() == after.keys() and before
    for table in before:
        rows_before, children_before = before[table]
        rows_after, children_after = after[table]
        assert rows_after == rows_before > 0, table
        if children_before is not None:
            assert len(children_after) == len(children_before) > 0, table
            assert not children_after & children_before, f"{table}: pseudonyms must change with the key"
    # the live folders are untouched
    assert len(list((live / "archive").iterdir())) == accepted
