"""The ``scorecard`` command: demo, generate, intake, check, status, build, render, revisions, migrate,
migration new, config, completion, remind, comment, and the portal's (``pipelines/portal/cli.py``): serve.

Exit status: 0 when the command did its job (rejected files are a normal outcome), 2 for a usage
or configuration error, 1 when the system could not do its job; one-line messages, tracebacks
only with --debug.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .config import ConfigError, FolderNotWritable, load_settings
from .logs import quiet_third_party
from .periods import PeriodError, Quarter


class UsageError(Exception):
    pass


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        self.exit(2, f"scorecard: {message}\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lscp-scorecard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


# The settings each command reads (README "Configuration" says what each means), for its --help.
_WHERE = ("SCORECARD_HOME", "SCORECARD_WAREHOUSE_URL")
_MAIL = (
    "SCORECARD_SMTP_HOST",
    "SCORECARD_SMTP_PORT",
    "SCORECARD_SMTP_SECURITY",
    "SCORECARD_SMTP_USER",
    "SCORECARD_SMTP_PASSWORD",
    "SCORECARD_SMTP_DEADLINE_SECONDS",
    "SCORECARD_MAIL_FROM",
)
READS: dict[str, tuple[str, ...]] = {
    "demo": (*_WHERE, "SCORECARD_PSEUDONYM_KEY", "SCORECARD_PMSG_TO", *_MAIL),
    "intake": (
        *_WHERE,
        "SCORECARD_PSEUDONYM_KEY",
        "SCORECARD_SETTLE_SECONDS",
        "SCORECARD_REJECT_THRESHOLD",
        "SCORECARD_MAX_FILE_MB",
        "SCORECARD_FILE_MEMORY_MB",
        "SCORECARD_FILE_SECONDS",
        "SCORECARD_CLAIM_TIMEOUT_MINUTES",
        "SCORECARD_RETENTION_DAYS",
        "SCORECARD_DATA_OFFICER_<SOURCE>",
        "SCORECARD_ANALYST_EMAIL",
        *_MAIL,
        "SCORECARD_RESOURCES",
    ),
    "check": (
        *_WHERE,
        "SCORECARD_PSEUDONYM_KEY",
        "SCORECARD_REJECT_THRESHOLD",
        "SCORECARD_MAX_FILE_MB",
        "SCORECARD_FILE_MEMORY_MB",
        "SCORECARD_FILE_SECONDS",
        "SCORECARD_RESOURCES",
    ),
    "status": (*_WHERE, "SCORECARD_SETTLE_SECONDS", "SCORECARD_MAX_FILE_MB", "SCORECARD_CLAIM_TIMEOUT_MINUTES"),
    "build": (*_WHERE, "SCORECARD_SUPPRESSION_THRESHOLD", "SCORECARD_PMSG_TO", *_MAIL, "SCORECARD_RESOURCES"),
    "render": (*_WHERE, "SCORECARD_RESOURCES"),
    "comment": (*_WHERE, "SCORECARD_RESOURCES"),
    "revisions": (*_WHERE, "SCORECARD_ANALYST_EMAIL", *_MAIL, "SCORECARD_RESOURCES"),
    "migrate": (*_WHERE, "SCORECARD_RESOURCES"),
    "migration": ("SCORECARD_RESOURCES",),
    "remind": (
        *_WHERE,
        "SCORECARD_PORTAL_URL",
        "SCORECARD_DATA_OFFICER_<SOURCE>",
        *_MAIL,
        "SCORECARD_RESOURCES",
    ),
    "serve": (
        *_WHERE,
        "SCORECARD_PSEUDONYM_KEY",
        "SCORECARD_PORTAL_URL",
        "SCORECARD_PORTAL_SECURE_COOKIES",
        "SCORECARD_PORTAL_IDLE_MINUTES",
        "SCORECARD_PORTAL_SESSION_HOURS",
        "SCORECARD_PORTAL_LOCK_AFTER",
        "SCORECARD_MAX_FILE_MB",
        "SCORECARD_RESOURCES",
    ),
    "users": (
        *_WHERE,
        "SCORECARD_PORTAL_URL",
        "SCORECARD_PORTAL_LINK_HOURS",
        *_MAIL,
        "SCORECARD_RESOURCES",
    ),
}


def _reads(command: str) -> str | None:
    names = READS.get(command)
    return f'Settings read (README "Configuration"): {", ".join(names)}.' if names else None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scorecard", description="LSCP quarterly performance scorecard.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("--version", action="version", version=f"scorecard {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser(
        "demo", epilog=_reads("demo"), help="generate synthetic data, run intake, build and email the latest quarter"
    )
    generate = commands.add_parser("generate", help="write synthetic partner extracts only")
    generate.add_argument("--out", required=True, type=Path, help="folder to write into")
    generate.add_argument("--quarters", type=int, default=12, help="how many quarters (default 12)")
    generate.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    generate.add_argument("--end-quarter", help="last quarter to generate, e.g. 2024-25Q4 (default: latest complete)")
    generate.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1.0, Leeds-sized)")
    generate.add_argument(
        "--source",
        help="write ONE big file of this source instead (missing_episodes: csv, "
        "police_domestic_incidents: xlsx); needs --rows",
    )
    generate.add_argument("--rows", type=int, help="data rows in the one file written with --source")
    commands.add_parser("intake", epilog=_reads("intake"), help="process every file now in the inbox once")
    commands.add_parser(
        "migrate",
        epilog=_reads("migrate"),
        help="bring the warehouse schema to the latest migration (done on start anyway)",
    )
    migration = commands.add_parser(
        "migration", epilog=_reads("migration"), help="write a migration for changed source definitions"
    )
    migration_commands = migration.add_subparsers(dest="migration_command", required=True, parser_class=_Parser)
    new = migration_commands.add_parser(
        "new",
        help="compare the definitions in use with the migrations and write the migration between them "
        "(into SCORECARD_RESOURCES/migrations/ for a partnership's own rules)",
    )
    new.add_argument("message", help='what it does, e.g. "add source early_help_assessments"')
    build = commands.add_parser(
        "build",
        epilog=_reads("build"),
        help="compute, rate, render and email one quarter; or backfill several (--from, --to), not emailed",
        description="Build one quarter (--quarter) and email it to the sub group, asking first on a "
        "terminal; or backfill every quarter from --from to --to, emailed only with --email. A quarter "
        "that has not ended, or with no partner return, is never built or emailed.",
    )
    which = build.add_mutually_exclusive_group(required=True)
    which.add_argument("--quarter", help="financial quarter, e.g. 2024-25Q1")
    which.add_argument("--from", dest="first", metavar="QUARTER", help="first quarter of a backfill")
    build.add_argument("--to", dest="last", metavar="QUARTER", help="last quarter of a backfill (with --from)")
    build.add_argument("--no-email", action="store_true", help="do not send or queue the email")
    build.add_argument("--email", action="store_true", help="with --from/--to: email each quarter too")
    build.add_argument("-y", "--yes", action="store_true", help="do not ask before emailing the sub group")
    render = commands.add_parser(
        "render", epilog=_reads("render"), help="write a built quarter's JSON, HTML and workbook again from the marts"
    )
    render.add_argument("--quarter", required=True, help="financial quarter, e.g. 2024-25Q1")
    completion = commands.add_parser(
        "completion",
        help="print the shell completion script",
        description="Print a completion script for the shell: add "
        "'eval \"$(scorecard completion bash)\"' to ~/.bashrc (or zsh's ~/.zshrc with zsh).",
    )
    completion.add_argument("shell", choices=["bash", "zsh", "fish"], help="the shell")
    commands.add_parser(
        "revisions",
        epilog=_reads("revisions"),
        help="compare the published quarters with the warehouse; republish (no email to the sub group), "
        "record and tell the analyst what changed",
    )
    check = commands.add_parser(
        "check",
        epilog=_reads("check"),
        help="say what intake would decide about files (receipt, duplicate, rows it would update) "
        "without loading, recording or moving anything; exit 0 if every file would be accepted, 1 if not",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE", help="the file(s) to check (anywhere)")
    check.add_argument("--out", type=Path, help="folder to write each file's rejected rows (as sent) into")
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    status = commands.add_parser(
        "status",
        epilog=_reads("status"),
        help="per source the last load, the last four quarters' returns, files waiting in the inbox and why, "
        "files claimed by a run, mail queued, quarters built",
    )
    status.add_argument("--json", action="store_true", help="print it as JSON (schemas/status.schema.json)")
    status.add_argument("--quarter", help="the newest quarter whose returns are shown (default: the latest complete)")
    commands.add_parser("config", help="print the effective settings and where each came from (secrets hidden)")
    remind = commands.add_parser(
        "remind",
        epilog=_reads("remind"),
        help="email the data officers of each late return of the last complete quarter (once per quarter "
        "and source) a link to the portal; print who was reminded",
    )
    remind.add_argument("--date", help="judge lateness on this date, YYYY-MM-DD (default: today, UK time)")
    comment = commands.add_parser(
        "comment",
        epilog=_reads("comment"),
        help="keep the lead officer's commentary on an indicator for a quarter (shown from its next build); "
        "or list the exceptions of the quarter's last build awaiting commentary (--missing)",
        description="Keep commentary on an indicator for a quarter: plain text, at most 2,000 characters, "
        "from --text, --file or standard input (-). A new entry supersedes the earlier ones (which are "
        "kept); the next build of the quarter shows the latest. --missing lists the exceptions of the "
        "quarter's last build that have none yet.",
    )
    comment.add_argument("quarter", metavar="QUARTER", help="financial quarter, e.g. 2024-25Q1")
    comment.add_argument("indicator", metavar="INDICATOR", nargs="?", help="the indicator's id, e.g. CS03")
    comment.add_argument("text_stdin", metavar="-", nargs="?", choices=["-"], help="read the text from standard input")
    given = comment.add_mutually_exclusive_group()
    given.add_argument("--text", help="the commentary itself")
    given.add_argument("--file", type=Path, help="a UTF-8 text file holding the commentary")
    given.add_argument(
        "--missing", action="store_true", help="list the exceptions of the quarter's last build awaiting commentary"
    )
    comment.add_argument("--author", metavar="NAME", help="who wrote it (default: your login name)")
    from .portal import cli as portal_cli

    portal_cli.add_commands(commands, _reads)
    return parser


def _quarter(text: str) -> Quarter:
    try:
        return Quarter.parse(text)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None


def _run(args) -> int:
    if args.command == "completion":
        import argcomplete

        print(argcomplete.shellcode(["scorecard"], shell=args.shell), end="")
        return 0
    settings = load_settings()
    if args.command == "config":
        from .config import describe

        print("\n".join(describe(settings)))
        return 0
    from .portal import cli as portal_cli

    if args.command in portal_cli.COMMANDS:
        return portal_cli.run(settings, args)
    if args.command == "demo":
        from .demo import run_demo

        run_demo(settings)
        return 0
    if args.command == "generate":
        from .generate import generate

        if args.quarters < 1:
            raise UsageError("--quarters must be at least 1")
        end = _quarter(args.end_quarter) if args.end_quarter else None
        if args.source is not None or args.rows is not None:
            from .generate.bulk import BULK_SOURCES, write_bulk

            if args.source not in BULK_SOURCES or args.rows is None:
                raise UsageError(f"--source and --rows go together; --source is one of {', '.join(BULK_SOURCES)}")
            if args.rows < 1:
                raise UsageError("--rows must be at least 1")
            from .terminal import working

            with working(f"Writing {args.rows:,} rows of {args.source} ..."):
                path = write_bulk(args.out, args.source, args.rows, seed=args.seed, end_quarter=end)
            print(f"Wrote {args.rows:,} rows of {args.source} to {path}")
            return 0
        from .terminal import working

        with working(f"Writing {args.quarters} quarter(s) of partner extracts ..."):
            result = generate(args.out, quarters=args.quarters, seed=args.seed, end_quarter=end, scale=args.scale)
        print(
            f"Wrote {len(result.files)} files for {result.start_quarter.label} to {result.end_quarter.label} into {args.out}"
        )
        return 0
    if args.command == "intake":
        from .intake import run_intake
        from .terminal import intake_display

        with intake_display() as display:
            run = run_intake(settings, progress=display.outcome, starting=display.starting)
        if not run.outcomes:
            print(f"No files ready in {settings.inbox}")
        errors = [o for o in run.outcomes if o.status == "error"]
        if errors:
            print(
                f"scorecard: {len(errors)} file(s) could not be loaded and stay in the inbox: see the lines above",
                file=sys.stderr,
            )
            return 1
        return 0
    if args.command == "migrate":
        from .warehouse import open_warehouse
        from .warehouse.migrate import current_revision

        with open_warehouse(settings.warehouse_url) as engine:
            print(
                f"Warehouse at migration {current_revision(engine)}: {engine.url.render_as_string(hide_password=True)}"
            )
        return 0
    if args.command == "migration":
        from .warehouse.migrate import NothingToMigrate, new_migration

        if not args.message.strip():
            raise UsageError("a migration needs a message saying what it does")
        try:
            path = new_migration(args.message)
        except NothingToMigrate as exc:
            print(f"{exc}")
            return 0
        print(f"Wrote {path}: read it, then `scorecard migrate` (or any command) applies it")
        return 0
    if args.command == "build":
        return _build(settings, args)
    if args.command == "render":
        from .build import render_quarter
        from .marts import NotBuilt
        from .model import PayloadError

        quarter = _quarter(args.quarter)
        try:
            rendered = render_quarter(settings, quarter)
        except (NotBuilt, PayloadError) as exc:
            print(f"scorecard: {_one_line(exc)}", file=sys.stderr)
            return 1
        print(
            f"Rendered {quarter.label} from the marts: {len(rendered.exceptions)} exception(s) ({', '.join(rendered.exceptions) or 'none'})"
        )
        print(f"  {rendered.json}\n  {rendered.html}\n  {rendered.xlsx}")
        return 0
    if args.command == "revisions":
        from .revisions import check_revisions

        for line in check_revisions(settings).lines():
            print(line)
        return 0
    if args.command == "check":
        return _check(settings, args.files, args.out, args.json)
    if args.command == "remind":
        return _remind(settings, args.date)
    if args.command == "comment":
        return _comment(settings, args)
    if args.command == "status":
        import json

        from .status import system_status

        found = system_status(settings, last_quarter=_quarter(args.quarter) if args.quarter else None)
        print(json.dumps(found.to_dict(), indent=2) if args.json else found.text(), end="\n" if args.json else "")
        return 0
    raise UsageError(f"unknown command {args.command}")


def _remind(settings, when: str | None) -> int:
    from datetime import date

    from .reminders import send_reminders

    try:
        today = date.fromisoformat(when) if when else None
    except ValueError:
        raise UsageError(f"--date {when} is not a date: write it as YYYY-MM-DD, e.g. 2025-08-01") from None
    for line in send_reminders(settings, today=today).lines():
        print(line)
    return 0


def _comment(settings, args) -> int:
    """``scorecard comment``: keep an entry, or (``--missing``) list the exceptions awaiting one.
    The text is never printed back or logged."""
    from .commentary import CommentaryError, add_commentary, awaiting_commentary
    from .warehouse import open_warehouse

    quarter = _quarter(args.quarter)
    if args.missing:
        if args.indicator or args.text_stdin or args.author:
            raise UsageError("--missing takes only the quarter")
        with open_warehouse(settings.warehouse_url) as engine:
            print(awaiting_commentary(engine, quarter).line())
        return 0
    if not args.indicator:
        raise UsageError("name the indicator to comment on (e.g. CS03), or --missing")
    indicator = args.indicator.strip().upper()
    if sum(bool(x) for x in (args.text is not None, args.file is not None, args.text_stdin)) != 1:
        raise UsageError("give the commentary once: --text TEXT, --file FILE or - (standard input)")
    if args.file is not None:
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--file {args.file}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    elif args.text_stdin:
        text = sys.stdin.read()
    else:
        text = args.text
    author = args.author if args.author is not None else _login_name()
    with open_warehouse(settings.warehouse_url) as engine:
        try:
            entry = add_commentary(engine, quarter, indicator, text, author)
        except CommentaryError as exc:
            raise UsageError(str(exc)) from None
    print(
        f"Kept commentary on {indicator} for {quarter.label} by {entry.author} ({len(entry.text):,} characters); "
        f"the next build of {quarter.code} shows it"
    )
    return 0


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "command line"


def _quarters(args) -> list[Quarter]:
    """The quarters a build asks for, each one ended (else a usage error: nothing is built)."""
    from .periods import require_ended

    if args.quarter:
        if args.last or args.email:
            raise UsageError("--to and --email go with --from (a backfill); one quarter is emailed unless --no-email")
        quarters = [_quarter(args.quarter)]
    else:
        if not args.last:
            raise UsageError("--from needs --to: the last quarter of the backfill")
        first, last = _quarter(args.first), _quarter(args.last)
        if last < first:
            raise UsageError(f"--to {last.code} comes before --from {first.code}")
        quarters = [first]
        while quarters[-1] < last:
            quarters.append(quarters[-1].shift(1))
    try:
        require_ended(quarters[-1])
    except PeriodError as exc:
        raise UsageError(str(exc)) from None
    return quarters


def _confirmed(question: str) -> bool:
    """Ask on a terminal; anything but yes is no (an unattended run is not asked)."""
    if not sys.stdin.isatty():
        return True
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in {"y", "yes"}


def _build(settings, args) -> int:
    from .build import NoReturns, build_quarter
    from .commentary import awaited_in, awaiting_line, indicator_names

    quarters = _quarters(args)
    email = args.email if args.first else not args.no_email
    if email and not args.yes:
        what = (
            quarters[0].label
            if len(quarters) == 1
            else f"{len(quarters)} scorecards ({quarters[0].label} to {quarters[-1].label})"
        )
        to = ", ".join(settings.mail.pmsg_recipients) or "the sub group"
        if not _confirmed(f"Email {what} to {to}?"):
            print("Not emailed (the answer was not yes); building without email")
            email = False
    missing = 0
    names = indicator_names()

    def before_email(scorecard) -> None:  # printed whether or not it is emailed (and under --yes)
        print(f"{scorecard.label}: {awaiting_line(awaited_in(scorecard.indicators), names)}", flush=True)

    for index, quarter in enumerate(quarters, start=1):
        step = f"[{index}/{len(quarters)}] " if len(quarters) > 1 else ""
        try:
            built = build_quarter(settings, quarter, email=email, before_email=before_email)
        except NoReturns as exc:
            missing += 1
            print(f"{step}scorecard: {_one_line(exc)}", file=sys.stderr)
            continue
        print(
            f"{step}Built {quarter.label}: {len(built.exceptions)} exception(s) ({', '.join(built.exceptions) or 'none'})"
        )
        print(f"  {built.json}\n  {built.html}\n  {built.xlsx}")
        if built.email:
            print(f"  email: {built.email}")
    if missing and len(quarters) > 1:
        print(
            f"scorecard: {missing} of {len(quarters)} quarter(s) had no partner return and were not built",
            file=sys.stderr,
        )
    return 1 if missing else 0


def _check(settings, files: list[Path], out: Path | None, as_json: bool) -> int:
    """``scorecard check``: 0 when every file would be accepted, 1 when any would not (rejected,
    or a duplicate that would load nothing), 2 when a file is not there to check."""
    import json

    from .intake.check import CheckError, check_file

    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is not a folder")
    results = []
    for path in files:
        try:
            results.append(check_file(settings, path, out))
        except CheckError as exc:
            raise UsageError(str(exc)) from None
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2, default=str))
    else:
        print("\n".join(r.text() for r in results), end="")
    return 0 if all(r.accepted for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    import argcomplete

    argcomplete.autocomplete(parser)  # only when a shell asks for completions (_ARGCOMPLETE set)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    quiet_third_party()  # --debug is for this program's own log, not its libraries'
    from .intake.pseudonym import MissingKey
    from .warehouse import WarehouseUnavailable

    try:
        return _run(args)
    except UsageError as exc:
        print(f"scorecard: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (ConfigError, MissingKey) as exc:  # a setting to correct: exit 2, like a usage error
        if args.debug:
            raise
        print(f"scorecard: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (WarehouseUnavailable, FolderNotWritable) as exc:
        if args.debug:
            raise
        print(f"scorecard: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("scorecard: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:  # the system could not do its job
        if args.debug:
            raise
        print(
            f"scorecard: failed: {type(exc).__name__}: {_one_line(exc)} (run with --debug for details)", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
