"""The README's configuration table is the settings the code reads, with the code's defaults."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines.config import load_settings

REPO = Path(__file__).resolve().parent.parent
TEST_ONLY = {"SCORECARD_FAULT_KILL_AT"}


def readme_settings() -> dict[str, str]:
    """Variable -> default, from the README's "Configuration" table (``_PORT`` shorthands expanded)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    table = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    settings = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`SCORECARD_"):
            continue
        names = re.findall(r"`([A-Z_<>]+)`", cells[0])
        stem = names[0].rsplit("_", 1)[0]
        for name in names:
            settings[name if name.startswith("SCORECARD_") else stem + name] = cells[1].strip("`")
    return settings


def code_settings() -> set[str]:
    """Every SCORECARD_ variable the package and the DAGs read (a prefix such as
    SCORECARD_DATA_OFFICER_ as the README writes it, with <SOURCE>)."""
    found = set()
    for path in [*(REPO / "pipelines").rglob("*.py"), *(REPO / "dags").glob("*.py")]:
        found |= set(re.findall(r'"(SCORECARD_[A-Z_]+)', path.read_text(encoding="utf-8")))
    return {name + "<SOURCE>" if name.endswith("_") else name for name in found} - TEST_ONLY


def test_the_readme_lists_exactly_the_settings_the_code_reads():
    assert set(readme_settings()) == code_settings()


def test_the_readme_defaults_are_the_code_defaults(tmp_path):
    defaults = readme_settings()
    settings = load_settings({"SCORECARD_HOME": str(tmp_path)})
    numeric = {
        "SCORECARD_REJECT_THRESHOLD": settings.reject_threshold,
        "SCORECARD_SUPPRESSION_THRESHOLD": settings.suppression_threshold,
        "SCORECARD_SETTLE_SECONDS": settings.settle_seconds,
        "SCORECARD_MAX_FILE_MB": settings.max_file_mb,
        "SCORECARD_FILE_MEMORY_MB": settings.file_memory_mb,
        "SCORECARD_FILE_SECONDS": settings.file_seconds,
        "SCORECARD_RETENTION_DAYS": settings.retention_days,
        "SCORECARD_CLAIM_TIMEOUT_MINUTES": settings.claim_timeout_minutes,
        "SCORECARD_SMTP_DEADLINE_SECONDS": settings.mail.deadline_seconds,
    }
    assert {name: float(defaults[name]) for name in numeric} == {name: float(value) for name, value in numeric.items()}
    assert defaults["SCORECARD_MAIL_FROM"] == settings.mail.sender
    assert defaults["SCORECARD_PMSG_TO"] == ", ".join(settings.mail.pmsg_recipients)
    assert settings.warehouse_url == f"sqlite:///{tmp_path / 'warehouse.db'}"
    assert defaults["SCORECARD_WAREHOUSE_URL"] == "sqlite:///$SCORECARD_HOME/warehouse.db"
    assert defaults["SCORECARD_HOME"] == "./var" and load_settings({}).home == Path("./var").resolve()
    assert settings.mail.host is None and defaults["SCORECARD_SMTP_HOST"] == "none"
