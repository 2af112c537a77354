"""Shared fixtures: a temporary SCORECARD_HOME, and a real warehouse on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TQDM_DISABLE", "1")

# Airflow reads its home when first imported: point it at a throwaway metadata DB before that.
REPO = Path(__file__).resolve().parent.parent
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="scorecard-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"

PG_ADMIN_URL = os.environ.get("SCORECARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pytest_collection_modifyitems(config, items):
    """Mark every test that talks to the PostgreSQL server ``postgres`` (through ``pg_url``, or the
    ``postgresql`` side of ``warehouse_url``), so ``make test-fast`` can leave them out; ``browser``
    and ``slow`` are marked where the tests are."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = "pg_url" in getattr(item, "fixturenames", ()) or (
            callspec is not None and "postgresql" in callspec.params.values()
        )
        if on_postgres:
            item.add_marker(pytest.mark.postgres)


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"scorecard_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse_url(request, tmp_path: Path):
    """Run the test once on an embedded SQLite file and once on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'warehouse.db'}"
    else:
        yield request.getfixturevalue("pg_url")


@pytest.fixture
def warehouse(warehouse_url):
    """An initialised warehouse engine on each engine."""
    from pipelines.warehouse import connect_warehouse, init_warehouse

    engine = connect_warehouse(warehouse_url)
    init_warehouse(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def scorecard_home(tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("SCORECARD_HOME", str(home))
    monkeypatch.setenv("SCORECARD_PSEUDONYM_KEY", "test-key-not-secret")
    monkeypatch.setenv("SCORECARD_SETTLE_SECONDS", "0")
    monkeypatch.delenv("SCORECARD_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("SCORECARD_SMTP_HOST", raising=False)
    return home


@pytest.fixture(scope="session")
def airflow_db():
    """An initialised Airflow metadata DB (``airflow db migrate``) for DagBag and dag.test()."""
    airflow = Path(sys.executable).parent / "airflow"
    result = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, env=os.environ.copy())
    assert result.returncode == 0, result.stderr[-2000:]
    return _AIRFLOW_HOME


@pytest.fixture
def smtp_server():
    """Start real SMTP servers on free localhost ports: ``start(**aiosmtpd_options) -> (catcher, port)``."""
    from tests.smtp_server import start_server

    controllers = []

    def start(**kwargs):
        catcher, port, controller = start_server(**kwargs)
        controllers.append(controller)
        return catcher, port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def settings(scorecard_home, warehouse_url, monkeypatch):
    """Intake settings in a temporary SCORECARD_HOME, on each warehouse engine."""
    from pipelines.config import load_settings

    monkeypatch.setenv("SCORECARD_WAREHOUSE_URL", warehouse_url)
    s = load_settings()
    s.ensure_folders()
    return s
