"""The settings model is the one list of settings: the README's configuration table and
``.env.example`` are held to it (names and defaults), and the code reads no other name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.config import (
    MIN_KEY_LENGTH,
    NOT_SETTINGS,
    OFFICER_PREFIX,
    ConfigError,
    SettingsModel,
    load_settings,
    officer_names,
    read_dotenv,
    setting_names,
)

REPO = Path(__file__).resolve().parent.parent
OFFICERS = OFFICER_PREFIX + "<SOURCE>"
COMPOSE_ONLY = {"SCORECARD_DATA", "SCORECARD_INBOX", "SCORECARD_IMAGE"}


def readme_settings() -> dict[str, str]:
    """Variable -> default, from the README's "Configuration" table (``_PASSWORD`` shorthands expanded)."""
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


def env_example_names() -> set[str]:
    """Every SCORECARD_ name .env.example sets or shows (commented lines included)."""
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#?\s*(?:export\s+)?(SCORECARD_[A-Z_]+)=", text, flags=re.MULTILINE))


def model_names() -> set[str]:
    return set(setting_names()) | {OFFICERS}


def test_the_readme_lists_exactly_the_settings_of_the_model():
    assert set(readme_settings()) == model_names()


def test_env_example_shows_every_setting_and_no_unknown_name():
    names = env_example_names()
    officers = {name for name in names if name.startswith(OFFICER_PREFIX)}
    assert officers and officers <= officer_names()
    assert (names - officers) | {OFFICERS} == model_names() | COMPOSE_ONLY
    assert COMPOSE_ONLY <= set(NOT_SETTINGS)


def test_the_code_reads_no_setting_outside_the_model():
    found = set()
    for path in [*(REPO / "pipelines").rglob("*.py"), *(REPO / "dags").glob("*.py")]:
        found |= set(re.findall(r'"(SCORECARD_[A-Z_]+)', path.read_text(encoding="utf-8")))
    found = {n for n in found if not n.startswith("SCORECARD_COMMENT")}  # a migration's constant
    allowed = model_names() | set(NOT_SETTINGS) | {OFFICER_PREFIX, "SCORECARD_", "SCORECARD_TEST_", "SCORECARD_SMTP_"}
    assert found <= allowed, found - allowed


def test_every_field_has_a_meaning():
    assert all(info.description for info in SettingsModel.model_fields.values())


def test_the_readme_defaults_are_the_model_defaults(tmp_path):
    defaults = readme_settings()
    for name, field_name in setting_names().items():
        info = SettingsModel.model_fields[field_name]
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        if "default_text" in extra:
            assert defaults[name] == extra["default_text"], name
        elif info.default is None:
            assert defaults[name] == "none", name
        elif isinstance(info.default, bool):
            assert defaults[name] == str(info.default).lower(), name
        elif isinstance(info.default, float | int):
            assert float(defaults[name]) == float(info.default), name
        else:
            assert defaults[name] == info.default, name
    settings = load_settings({"SCORECARD_HOME": str(tmp_path)})
    assert settings.warehouse_url == f"sqlite:///{tmp_path / 'warehouse.db'}"
    assert load_settings({}).home == Path("./var").resolve()
    assert settings.mail.port == 25 and settings.mail.host is None


def test_dotenv_comments_quotes_export_and_interpolation(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text(
        "# a comment\n"
        "export SCORECARD_PMSG_TO=pmsg@x.org  # the sub group\n"
        'SCORECARD_MAIL_FROM="Scorecard <sc@x.org>"\n'
        "DOMAIN=x.org\n"
        "SCORECARD_ANALYST_EMAIL=analyst@${DOMAIN}\n"
        "SCORECARD_SMTP_PASSWORD='p#ss'\n"
        "SCORECARD_REJECT_THRESHOLD=0.2\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"SCORECARD_HOME": str(tmp_path / "home"), "SCORECARD_REJECT_THRESHOLD": "0.3"})
    assert settings.mail.pmsg_recipients == ("pmsg@x.org",)
    assert settings.mail.sender == "Scorecard <sc@x.org>"
    assert settings.mail.analyst == "analyst@x.org"
    assert settings.mail.password == "p#ss"
    assert settings.reject_threshold == 0.3  # the environment wins over .env
    assert settings.sources["SCORECARD_REJECT_THRESHOLD"] == "environment"
    assert settings.sources["SCORECARD_PMSG_TO"] == ".env"
    assert read_dotenv(tmp_path / "missing") == {}


@pytest.mark.parametrize(
    "env, message",
    [
        (
            {"SCORECARD_REJECT_THRESHOLD": "5"},
            "SCORECARD_REJECT_THRESHOLD must be a fraction between 0 and 1 (got 5); 0.10 means 10%",
        ),
        (
            {"SCORECARD_RETENTION_DAYS": "-1"},
            "SCORECARD_RETENTION_DAYS must be a whole number of days, 0 or more (got -1)",
        ),
        ({"SCORECARD_SMTP_PORT": "smtp"}, "SCORECARD_SMTP_PORT must be a port number from 1 to 65535 (got smtp)"),
        ({"SCORECARD_SMTP_SECURITY": "tls"}, "SCORECARD_SMTP_SECURITY must be none, starttls or ssl (got tls)"),
        (
            {"SCORECARD_DATA_OFFICER_POLICE": "p@x.org"},
            "unknown setting SCORECARD_DATA_OFFICER_POLICE: did you mean SCORECARD_DATA_OFFICER_POLICE_DOMESTIC_INCIDENTS?",
        ),
        (
            {"SCORECARD_REJECT_TRESHOLD": "0.1"},
            "unknown setting SCORECARD_REJECT_TRESHOLD: did you mean SCORECARD_REJECT_THRESHOLD?",
        ),
        (
            {"SCORECARD_PSEUDONYM_KEY": "abc"},
            f"SCORECARD_PSEUDONYM_KEY must be at least {MIN_KEY_LENGTH} characters long (it has 3)",
        ),
        ({"SCORECARD_WAREHOUSE_URL": "postgres://u:hunter2@h/db"}, "write postgresql+psycopg://"),
        ({"SCORECARD_WAREHOUSE_URL": "oracle+nothing://h/db"}, "cannot use"),
    ],
)
def test_each_mistake_is_one_plain_line(tmp_path, env, message):
    with pytest.raises(ConfigError) as raised:
        load_settings({"SCORECARD_HOME": str(tmp_path), **env})
    assert message in str(raised.value)
    assert "\n" not in str(raised.value) and "hunter2" not in str(raised.value)


def test_the_key_file_is_read_when_the_variable_is_unset(tmp_path):
    (tmp_path / "pseudonym.key").write_text("a" * 64 + "\n", encoding="utf-8")
    assert load_settings({"SCORECARD_HOME": str(tmp_path)}).pseudonym_key == b"a" * 64
    same = load_settings({"SCORECARD_HOME": str(tmp_path), "SCORECARD_PSEUDONYM_KEY": "a" * 64})
    assert same.pseudonym_key == b"a" * 64
    with pytest.raises(ConfigError, match="differs from the key in .*pseudonym.key"):
        load_settings({"SCORECARD_HOME": str(tmp_path), "SCORECARD_PSEUDONYM_KEY": "b" * 64})
    (tmp_path / "pseudonym.key").write_text("short\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="the pseudonym key in .* must be at least"):
        load_settings({"SCORECARD_HOME": str(tmp_path)})


def test_names_that_are_not_settings_are_allowed(tmp_path):
    env = {name: "x" for name in NOT_SETTINGS} | {"SCORECARD_TEST_PG_URL": "x", "SCORECARD_HOME": str(tmp_path)}
    env |= {name: "someone@x.org" for name in officer_names()}
    settings = load_settings(env)
    assert set(settings.mail.data_officers) == {name[len(OFFICER_PREFIX) :].lower() for name in officer_names()}


def test_the_example_env_file_is_valid(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text((REPO / ".env.example").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"SCORECARD_HOME": str(tmp_path / "home")})
    assert settings.reject_threshold == 0.10 and settings.pseudonym_key == b"CHANGE-ME-pseudonym-key"


def test_a_rules_folder_in_dotenv_is_refused_not_ignored(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("SCORECARD_RESOURCES=/srv/rules\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="SCORECARD_RESOURCES is read from the environment only"):
        load_settings({"SCORECARD_HOME": str(tmp_path / "home")})
