"""How the project installs: the whole pipeline without Airflow, and every install at the
versions pinned in constraints.txt."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pinned() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[_canonical(name)] = version
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    return _canonical(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))


def test_every_dependency_is_pinned_and_installed_at_its_pin():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = pinned()
    declared = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    names = {_requirement_name(r) for r in declared} - {"lscp-scorecard"}
    assert names <= set(pins), f"not in constraints.txt (run make lock): {sorted(names - set(pins))}"
    installed = {_canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    drift = {
        name: (pins[name], installed[name]) for name in pins if name in installed and installed[name] != pins[name]
    }
    assert drift == {}, f"installed versions differ from constraints.txt (pinned, installed): {drift}"


def test_airflow_is_an_optional_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not any(_requirement_name(r).startswith("apache-airflow") for r in project["dependencies"])
    assert {_requirement_name(r) for r in project["optional-dependencies"]["airflow"]} == {
        "apache-airflow",
        "apache-airflow-providers-smtp",
        "apache-airflow-providers-celery",
        "celery",
        "kombu",
    }


@pytest.mark.slow
def test_the_whole_pipeline_runs_without_airflow(tmp_path):
    """Intake, build, render and email with every ``airflow`` import made impossible."""
    script = textwrap.dedent(f"""
        import sys
        sys.modules["airflow"] = None  # "import airflow" now raises ImportError
        from pipelines.build import build_quarter
        from pipelines.config import load_settings
        from pipelines.generate import generate
        from pipelines.intake import run_intake
        from pipelines.periods import Quarter
        settings = load_settings({{"SCORECARD_HOME": {str(tmp_path / "home")!r}, "SCORECARD_PSEUDONYM_KEY": "test-key-not-secret",
                                   "SCORECARD_SETTLE_SECONDS": "0"}})
        settings.ensure_folders()
        quarter = Quarter.parse("2024-25Q1")
        generate(settings.inbox, quarters=1, seed=3, end_quarter=quarter, scale=0.05)
        run = run_intake(settings)
        result = build_quarter(settings, quarter)
        print(len(run.accepted), len(run.outcomes), result.html.exists(), result.xlsx.exists(), result.email)
        print(sorted(name for name in sys.modules if name.split(".")[0] == "airflow"))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCORECARD_", "AIRFLOW"))}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts, modules = result.stdout.strip().splitlines()[-2:]
    accepted, total, html, xlsx, email = counts.split(" ", 4)
    assert int(accepted) == int(total) > 5 and html == xlsx == "True" and email.endswith(".eml")
    assert modules == "['airflow']"  # only the blocked entry itself: nothing imported Airflow
