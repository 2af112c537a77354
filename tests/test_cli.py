"""The `scorecard` command: exit codes and one-line messages, run as a real subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_intake import police_rows, write_xlsx

pytestmark = pytest.mark.slow

SCORECARD = str(Path(sys.executable).parent / "scorecard")


def run(args, home: Path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    environment.update(SCORECARD_HOME=str(home), SCORECARD_SETTLE_SECONDS="0", **env)
    return subprocess.run(
        [SCORECARD, *args], capture_output=True, text=True, env=environment, cwd=home.parent, timeout=300
    )


def test_bad_quarter_is_a_usage_error(tmp_path):
    result = run(["build", "--quarter", "2024Q1"], tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "2024-25Q1" in result.stderr
    result = run(["build", "--quarter", "2024-26Q1"], tmp_path / "home")
    assert result.returncode == 2


def test_unknown_command_is_a_usage_error(tmp_path):
    assert run(["frobnicate"], tmp_path / "home").returncode == 2


def test_intake_without_key_refuses_with_one_line(tmp_path):
    result = run(["intake"], tmp_path / "home")
    assert result.returncode == 2
    assert "SCORECARD_PSEUDONYM_KEY" in result.stderr and "Traceback" not in result.stderr
    assert "pseudonym.key" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_intake_after_the_demo_uses_the_demo_key(tmp_path):
    """The key `scorecard demo` wrote into the home is the key of a plain intake there; another
    key in the environment is refused rather than silently breaking the linking of children."""
    from pipelines.intake.pseudonym import demo_key

    home = tmp_path / "home"
    key = demo_key(home / "pseudonym.key")  # what `scorecard demo` does with no key set
    result = run(["intake"], home)
    assert result.returncode == 0, result.stderr
    assert "No files ready" in result.stdout
    assert run(["intake"], home, SCORECARD_PSEUDONYM_KEY=key.decode()).returncode == 0
    result = run(["intake"], home, SCORECARD_PSEUDONYM_KEY="another-key-made-up-later")
    assert result.returncode == 2
    assert result.stderr.startswith("scorecard: SCORECARD_PSEUDONYM_KEY differs from the key in ")
    assert str(home / "pseudonym.key") in result.stderr and len(result.stderr.strip().splitlines()) == 1


CONFIG_MISTAKES = [
    (
        {"SCORECARD_REJECT_THRESHOLD": "5"},
        "SCORECARD_REJECT_THRESHOLD must be a fraction between 0 and 1 (got 5); 0.10 means 10%",
    ),
    (
        {"SCORECARD_DATA_OFFICER_POLICE": "police@x.org"},
        "unknown setting SCORECARD_DATA_OFFICER_POLICE: did you mean SCORECARD_DATA_OFFICER_POLICE_DOMESTIC_INCIDENTS?",
    ),
    ({"SCORECARD_PSEUDONYM_KEY": "abc"}, "SCORECARD_PSEUDONYM_KEY must be at least 16 characters long (it has 3)"),
    (
        {"SCORECARD_WAREHOUSE_URL": "postgres://scorecard:hunter2@db.example:5432/warehouse"},
        "write postgresql+psycopg://",
    ),
    ({"SCORECARD_FILE_SECONDS": "soon"}, "SCORECARD_FILE_SECONDS must be a number of seconds above 0 (got soon)"),
]


@pytest.mark.parametrize("command", [["intake"], ["config"], ["build", "--quarter", "2024-25Q1"]])
@pytest.mark.parametrize("env, message", CONFIG_MISTAKES)
def test_each_configuration_mistake_is_one_line_and_exit_2(tmp_path, command, env, message):
    result = run(command, tmp_path / "home", **env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("scorecard: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "hunter2" not in result.stderr
    assert not (tmp_path / "home").exists()  # stopped before doing anything


def test_a_dotenv_file_is_read_as_python_dotenv_reads_it(tmp_path):
    """Comments, `export`, quotes and ${VAR} in the working directory's .env; the environment wins."""
    (tmp_path / ".env").write_text(
        "export SCORECARD_PMSG_TO=pmsg@x.org  # the sub group\n"
        "DOMAIN=x.org\n"
        "SCORECARD_ANALYST_EMAIL=analyst@${DOMAIN}\n"
        "SCORECARD_MAIL_FROM='scorecard@x.org'\n"
        "SCORECARD_MAX_FILE_MB=50\n",
        encoding="utf-8",
    )
    result = run(["config"], tmp_path / "home", SCORECARD_MAX_FILE_MB="70")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "SCORECARD_PMSG_TO=pmsg@x.org  [.env]" in lines
    assert "SCORECARD_ANALYST_EMAIL=analyst@x.org  [.env]" in lines
    assert "SCORECARD_MAIL_FROM=scorecard@x.org  [.env]" in lines
    assert "SCORECARD_MAX_FILE_MB=70.0  [environment]" in lines
    (tmp_path / ".env").write_text("SCORECARD_REJECT_THRESHOLD=10  # per cent\n", encoding="utf-8")
    result = run(["intake"], tmp_path / "home")
    assert result.returncode == 2 and "SCORECARD_REJECT_THRESHOLD must be a fraction" in result.stderr


def test_config_prints_the_settings_with_secrets_hidden(tmp_path):
    key = "k3y-" + "9" * 40
    result = run(
        ["config"],
        tmp_path / "home",
        SCORECARD_PSEUDONYM_KEY=key,
        SCORECARD_SMTP_HOST="smtp.example.gov.uk",
        SCORECARD_SMTP_SECURITY="STARTTLS",
        SCORECARD_SMTP_USER="scorecard",
        SCORECARD_SMTP_PASSWORD="mail-hunter2",
        SCORECARD_WAREHOUSE_URL="postgresql+psycopg://scorecard:db-hunter2@db.example:5432/warehouse",
        SCORECARD_DATA_OFFICER_MISSING_EPISODES="return.interviews@x.org",
    )
    assert result.returncode == 0, result.stderr
    assert key not in result.stdout and "hunter2" not in result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert (
        "SCORECARD_WAREHOUSE_URL=postgresql+psycopg://scorecard:***@db.example:5432/warehouse  [environment]" in lines
    )
    assert "SCORECARD_PSEUDONYM_KEY=set, 44 characters (hidden)  [environment]" in lines
    assert "SCORECARD_SMTP_PASSWORD=set (hidden)  [environment]" in lines
    assert "SCORECARD_SMTP_PORT=587  [default]" in lines and "SCORECARD_SMTP_SECURITY=starttls  [environment]" in lines
    assert "SCORECARD_DATA_OFFICER_MISSING_EPISODES=return.interviews@x.org  [environment]" in lines
    assert f"SCORECARD_HOME={tmp_path / 'home'}  [environment]" in lines
    assert "SCORECARD_REJECT_THRESHOLD=0.1  [default]" in lines


def test_an_unwritable_home_is_named_in_one_line(tmp_path):
    """A home that cannot be created (here under a file, which stops root too): exit 2, the folder
    named. (A folder of an existing home that is read-only: exit 1, tests/test_trust.py.)"""
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    home = tmp_path / "a-file" / "home"
    for command in (["intake"], ["migrate"], ["build", "--quarter", "2024-25Q1", "--no-email"]):
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
        environment.update(SCORECARD_HOME=str(home), SCORECARD_PSEUDONYM_KEY="test-key-not-secret")
        result = subprocess.run(
            [SCORECARD, *command], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300
        )
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("scorecard: cannot create ") and str(home) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unreachable_warehouse_exits_1_without_traceback(tmp_path):
    result = run(
        ["intake"],
        tmp_path / "home",
        SCORECARD_PSEUDONYM_KEY="test-key-not-secret",
        SCORECARD_WAREHOUSE_URL="postgresql+psycopg://postgres@127.0.0.1:1/none",
    )
    assert result.returncode == 1
    assert "warehouse" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = run(
        ["migrate"],
        tmp_path / "home",
        SCORECARD_WAREHOUSE_URL="postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none",
    )
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "127.0.0.1" in result.stderr and "port 1" in result.stderr and "hunter2" not in result.stderr


def test_intake_of_empty_inbox_succeeds(tmp_path):
    result = run(["intake"], tmp_path / "home", SCORECARD_PSEUDONYM_KEY="test-key-not-secret")
    assert result.returncode == 0, result.stderr
    assert "No files ready" in result.stdout


def test_generate_writes_files(tmp_path):
    result = run(
        ["generate", "--out", str(tmp_path / "gen"), "--quarters", "1", "--end-quarter", "2024-25Q1", "--scale", "0.1"],
        tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in (tmp_path / "gen").iterdir())
    assert any(n.endswith(".xlsx") for n in names) and any(n.endswith(".csv") for n in names)


def test_migrate_reports_the_revision(tmp_path):
    result = run(["migrate"], tmp_path / "home")
    assert result.returncode == 0, result.stderr
    assert "Warehouse at migration 0008" in result.stdout


def test_generate_one_big_file_of_a_source(tmp_path):
    import csv

    result = run(
        [
            "generate",
            "--out",
            str(tmp_path / "big"),
            "--source",
            "missing_episodes",
            "--rows",
            "1500",
            "--end-quarter",
            "2024-25Q1",
        ],
        tmp_path / "home",
    )
    assert result.returncode == 0, result.stderr
    [path] = list((tmp_path / "big").iterdir())
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw[:3] == b"\xef\xbb\xbf" else raw.decode("cp1252")
    delimiter = ";" if text.splitlines()[0].count(";") > text.splitlines()[0].count(",") else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=delimiter) if any(r)]
    assert len(rows) == 1 + 1500  # the header and exactly the rows asked for
    assert (
        run(
            ["generate", "--out", str(tmp_path / "x"), "--source", "nonsense", "--rows", "5"], tmp_path / "home"
        ).returncode
        == 2
    )


def test_revisions_reports_what_changed_and_exits_0(tmp_path):
    """Nothing published yet: nothing to revise. Then a published quarter and a corrected extract
    for it: the command prints each revised figure; a second run finds nothing."""
    from tests.test_intake import police_rows, write_xlsx

    home = tmp_path / "home"
    env = {"SCORECARD_PSEUDONYM_KEY": "test-key-not-secret", "SCORECARD_ANALYST_EMAIL": "analyst@lscp.example"}
    result = run(["revisions"], home, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No published figure has changed (0 published quarter(s) checked)"
    (home / "inbox").mkdir(parents=True, exist_ok=True)
    write_xlsx(home / "inbox" / "police.xlsx", police_rows(100))
    assert run(["intake"], home, **env).returncode == 0
    assert run(["build", "--quarter", "2024-25Q1", "--no-email"], home, **env).returncode == 0
    write_xlsx(home / "inbox" / "police_corrected.xlsx", police_rows(120))
    assert run(["intake"], home, **env).returncode == 0
    result = run(["revisions"], home, **env)
    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert lines[0] == "2 published figure(s) revised (1 published quarter(s) checked)"
    assert "DA01 for 2024-25 Q1 was revised from 100 to 120" in lines
    notice = next(line for line in lines if line.startswith("revision notice"))
    assert notice.startswith("revision notice (2 figure(s)): ") and notice.endswith(
        ".eml"
    )  # no SMTP server: the outbox
    result = run(["revisions"], home, **env)
    assert result.stdout.strip() == "No published figure has changed (1 published quarter(s) checked)"


KEY = {"SCORECARD_PSEUDONYM_KEY": "a-test-key-long-enough-for-any-rule"}


def test_version_names_the_installed_package(tmp_path):
    from importlib.metadata import version

    result = run(["--version"], tmp_path / "home")
    assert result.returncode == 0 and result.stdout.strip() == f"scorecard {version('lscp-scorecard')}"


def test_a_quarter_that_has_not_ended_is_never_built(tmp_path):
    from pipelines.periods import Quarter

    running = Quarter.containing(__import__("datetime").date.today())
    for args in (["--quarter", running.code], ["--from", running.shift(-2).code, "--to", running.code]):
        result = run(["build", *args], tmp_path / "home", **KEY)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"scorecard: {running.label} has not ended (it ends on {running.end.day} {running.end:%B %Y}): "
            "a scorecard of it would show part of a quarter, so none is built"
        )
    assert not (tmp_path / "home" / "out" / running.code).exists()


def test_a_quarter_with_no_returns_is_not_built_or_emailed(tmp_path):
    home = tmp_path / "home"
    result = run(["build", "--quarter", "2024-25Q1", "--yes"], home, **KEY)
    assert result.returncode == 1
    assert result.stderr.strip().startswith("scorecard: no partner return has arrived for 2024-25 Q1")
    assert not (home / "out" / "2024-25Q1").exists() and not scorecard_emails(home)


def scorecard_emails(home: Path) -> list[Path]:
    """Scorecards emailed to the sub group (no SMTP server: the outbox; receipts go there too)."""
    return sorted((home / "out" / "outbox").glob("*-performance-scorecard-*.eml"))


@pytest.fixture(scope="module")
def loaded_home(tmp_path_factory) -> Path:
    """A home with four quarters of every source taken in (2024-25 Q1 to Q4)."""
    root = tmp_path_factory.mktemp("backfill")
    home = root / "home"
    extracts = root / "extracts"
    made = run(["generate", "--out", str(extracts), "--quarters", "4", "--end-quarter", "2024-25Q4"], home)
    assert made.returncode == 0, made.stderr
    (home / "inbox").mkdir(parents=True)
    for path in extracts.rglob("*"):
        if path.is_file():
            path.rename(home / "inbox" / path.name)
    taken = run(["intake"], home, **KEY)
    assert taken.returncode == 0, taken.stderr
    return home


def test_backfill_builds_every_quarter_in_the_range_without_email(loaded_home):
    result = run(["build", "--from", "2024-25Q1", "--to", "2024-25Q4"], loaded_home, **KEY)
    assert result.returncode == 0, result.stderr
    built = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert [line.split(":")[0] for line in built] == [f"[{i}/4] Built 2024-25 Q{i}" for i in range(1, 5)]
    for q in range(1, 5):
        assert (loaded_home / "out" / f"2024-25Q{q}" / "scorecard.json").is_file()
    assert "email:" not in result.stdout and not scorecard_emails(loaded_home)

    # A range reaching back before the data: those quarters are said and skipped, the rest built.
    result = run(["build", "--from", "2023-24Q4", "--to", "2024-25Q1"], loaded_home, **KEY)
    assert result.returncode == 1
    assert "[2/2] Built 2024-25 Q1" in result.stdout
    assert "[1/2] scorecard: no partner return has arrived for 2023-24 Q4" in result.stderr
    assert not (loaded_home / "out" / "2023-24Q4").exists()
    result = run(["build", "--from", "2024-25Q2", "--to", "2024-25Q1"], loaded_home, **KEY)
    assert result.returncode == 2 and "comes before" in result.stderr


def on_terminal(args: list[str], home: Path, answer: str = "", **env: str) -> tuple[int, str]:
    """Run the command with a terminal for its input and output, answering its question."""
    import pty
    import select

    environment = {k: v for k, v in os.environ.items() if not k.startswith("SCORECARD_")}
    environment.update(SCORECARD_HOME=str(home), SCORECARD_SETTLE_SECONDS="0", SCORECARD_PMSG_TO="pmsg@lscp.example")
    environment.update(COLUMNS="160", **KEY)
    environment.update(env)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [SCORECARD, *args], stdin=follower, stdout=follower, stderr=follower, env=environment, cwd=home.parent
    )
    os.close(follower)
    output = b""
    answered = False
    while True:
        ready, _, _ = select.select([leader], [], [], 300)
        assert ready, output
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command ended and closed the terminal
            break
        if not chunk:
            break
        output += chunk
        if not answered and b"[y/N]" in output:
            os.write(leader, answer.encode() + b"\n")
            answered = True
    os.close(leader)
    return process.wait(timeout=300), output.decode(errors="replace")


def test_on_a_terminal_build_asks_before_emailing_the_sub_group(loaded_home):
    code, output = on_terminal(["build", "--quarter", "2024-25Q3"], loaded_home, "n")
    assert code == 0, output
    assert "Email 2024-25 Q3 to pmsg@lscp.example? [y/N]" in output
    assert "Not emailed" in output and "Built 2024-25 Q3" in output
    assert not scorecard_emails(loaded_home)
    code, output = on_terminal(["build", "--quarter", "2024-25Q3"], loaded_home, "y")
    assert code == 0, output
    [email] = scorecard_emails(loaded_home)
    assert "-2024-25-q3-" in email.name


def test_intake_on_a_terminal_shows_progress_through_a_big_file(tmp_path):
    """A 200,000-row police extract: the bar for the file moves through its stages with the row
    count while the file's child process works; the outcome line stays when the bars go."""
    home = tmp_path / "home"
    made = run(
        ["generate", "--out", str(home / "inbox"), "--source", "police_domestic_incidents", "--rows", "200000"], home
    )
    assert made.returncode == 0, made.stderr
    code, shown = on_terminal(["intake"], home)
    assert code == 0, shown
    assert "\u2501" in shown  # the bar itself
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)  # the text, without colours and cursor moves
    name = "WYP_DomesticIncidents_bulk_200000.xlsx"
    assert "file 1 of 1" in output
    for step in ("opening", "reading", "checking", "loading 200,000 rows"):  # pseudonymising is too quick to see
        assert f"{name}: {step}" in output, step
    assert "[1/1] ACCEPTED  WYP_DomesticIncidents_bulk_200000.xlsx" in output and "200,000 rows loaded" in output


def test_intake_to_a_pipe_prints_only_the_outcome_lines(tmp_path):
    home = tmp_path / "home"
    (home / "inbox").mkdir(parents=True)
    write_xlsx(home / "inbox" / "police.xlsx", police_rows(5))
    result = run(["intake"], home, **KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("[1/1] ACCEPTED  police.xlsx") and "\x1b" not in result.stdout
    assert result.stderr == ""  # no library's lines


def test_shell_completion(tmp_path):
    script = run(["completion", "bash"], tmp_path / "home")
    assert script.returncode == 0 and "complete " in script.stdout and "scorecard" in script.stdout
    answers = tmp_path / "completions"
    asked = run(
        [],
        tmp_path / "home",
        _ARGCOMPLETE="1",
        COMP_LINE="scorecard bu",
        COMP_POINT="12",
        _ARGCOMPLETE_STDOUT_FILENAME=str(answers),
    )
    assert asked.returncode == 0
    assert answers.read_text().split() == ["build"]


def test_each_commands_help_lists_its_options_and_the_settings_it_reads(tmp_path):
    from pipelines.cli import READS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for command, names in READS.items():
        for name in names:
            short = f"`_{name.removeprefix('SCORECARD_SMTP_')}`" if name.startswith("SCORECARD_SMTP_") else None
            assert f"`{name}`" in table or (short and short in table), (command, name)  # the README explains it
    shown = run(["build", "--help"], tmp_path / "home")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    for option in ("--quarter", "--from", "--to", "--no-email", "--email", "--yes"):
        assert option in text
    assert "Settings read" in text and "SCORECARD_SUPPRESSION_THRESHOLD" in text
