"""The ``scorecard`` command: demo, generate, intake, build, render, revisions, migrate, migration new, config.

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


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scorecard", description="LSCP quarterly performance scorecard.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("demo", help="generate synthetic data, run intake, build and email the latest quarter")
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
    commands.add_parser("intake", help="process every file now in the inbox once")
    commands.add_parser("migrate", help="bring the warehouse schema to the latest migration (done on start anyway)")
    migration = commands.add_parser("migration", help="write a migration for changed source definitions")
    migration_commands = migration.add_subparsers(dest="migration_command", required=True, parser_class=_Parser)
    new = migration_commands.add_parser(
        "new",
        help="compare the definitions in use with the migrations and write the migration between them "
        "(into SCORECARD_RESOURCES/migrations/ for a partnership's own rules)",
    )
    new.add_argument("message", help='what it does, e.g. "add source early_help_assessments"')
    build = commands.add_parser("build", help="compute, rate, render and email one quarter")
    build.add_argument("--quarter", required=True, help="financial quarter, e.g. 2024-25Q1")
    build.add_argument("--no-email", action="store_true", help="do not send or queue the email")
    render = commands.add_parser("render", help="write a built quarter's JSON, HTML and workbook again from the marts")
    render.add_argument("--quarter", required=True, help="financial quarter, e.g. 2024-25Q1")
    commands.add_parser(
        "revisions",
        help="compare the published quarters with the warehouse; republish (no email to the sub group), "
        "record and tell the analyst what changed",
    )
    commands.add_parser("config", help="print the effective settings and where each came from (secrets hidden)")
    return parser


def _quarter(text: str) -> Quarter:
    try:
        return Quarter.parse(text)
    except PeriodError as exc:
        raise UsageError(str(exc)) from None


def _run(args) -> int:
    settings = load_settings()
    if args.command == "config":
        from .config import describe

        print("\n".join(describe(settings)))
        return 0
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
            path = write_bulk(args.out, args.source, args.rows, seed=args.seed, end_quarter=end)
            print(f"Wrote {args.rows:,} rows of {args.source} to {path}")
            return 0
        result = generate(args.out, quarters=args.quarters, seed=args.seed, end_quarter=end, scale=args.scale)
        print(
            f"Wrote {len(result.files)} files for {result.start_quarter.label} to {result.end_quarter.label} into {args.out}"
        )
        return 0
    if args.command == "intake":
        from .intake import run_intake

        run = run_intake(settings, progress=lambda i, n, o: print(f"[{i}/{n}] {o.line()}", flush=True))
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
        from .build import build_quarter

        quarter = _quarter(args.quarter)
        built = build_quarter(settings, quarter, email=not args.no_email)
        print(f"Built {quarter.label}: {len(built.exceptions)} exception(s) ({', '.join(built.exceptions) or 'none'})")
        print(f"  {built.json}\n  {built.html}\n  {built.xlsx}")
        if built.email:
            print(f"  email: {built.email}")
        return 0
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
    raise UsageError(f"unknown command {args.command}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
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
