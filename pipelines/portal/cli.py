"""The portal's commands: ``scorecard serve`` and ``scorecard users add|disable|enable|list|reset``.

``pipelines/cli.py`` adds these parsers with ``add_commands`` and hands their arguments to
``run``; everything about the portal's command line lives here."""

from __future__ import annotations

import argparse
import sys

from ..config import Settings

COMMANDS = ("serve", "users")


def add_commands(commands, reads) -> None:
    serve = commands.add_parser(
        "serve",
        epilog=reads("serve"),
        help="run the web portal (data officers check, submit and follow returns; the board reads scorecards)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")

    users = commands.add_parser(
        "users",
        epilog=reads("users"),
        help="the portal's accounts: add, disable, enable, list, reset",
        description="Manage who may sign in to the portal. Roles: data_officer (the sources named with "
        "--source), analyst (everything), board (the scorecards). A new or reset account is emailed a "
        "one-time link to set its password.",
    )
    actions = users.add_subparsers(dest="users_command", required=True, parser_class=type(users))
    add = actions.add_parser(
        "add",
        epilog=reads("users"),
        help="add an account; its user is emailed a one-time link to set a password (unless --password-stdin)",
    )
    add.add_argument("email", metavar="EMAIL", help="the user's email address (their sign-in name)")
    add.add_argument("--role", required=True, help="data_officer, analyst or board")
    add.add_argument(
        "--source",
        action="append",
        default=[],
        dest="sources",
        metavar="SOURCE",
        help="a source the data officer submits (repeat for several); data officers only",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of emailing a link (for scripts and the demo)",
    )
    disable = actions.add_parser("disable", help="stop an account signing in; its sessions end at once")
    disable.add_argument("email", metavar="EMAIL")
    enable = actions.add_parser("enable", help="let a disabled account sign in again (with the password it had)")
    enable.add_argument("email", metavar="EMAIL")
    actions.add_parser("list", help="every account: email, role, sources, state (never a password)")
    reset = actions.add_parser(
        "reset",
        epilog=reads("users"),
        help="unlock an account, end its sessions, clear its password and email a fresh one-time link",
    )
    reset.add_argument("email", metavar="EMAIL")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    if args.command == "users":
        from .accounts import AccountError
        from .passwords import WeakPassword

        try:
            return _users(settings, args)
        except (AccountError, WeakPassword) as exc:  # a usage error: one line, exit 2
            print(f"scorecard: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
    raise ValueError(args.command)


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from .app import create_app

    settings.ensure_folders()
    app = create_app(settings)
    print(f"Portal at http://{host}:{port}/ (as users reach it: {settings.portal.url}); Ctrl+C stops it", flush=True)
    if settings.portal.secure_cookies and settings.portal.url.startswith("http://"):
        print(
            "Note: cookies are sent over https only (SCORECARD_PORTAL_SECURE_COOKIES=true) but the portal's "
            "address is plain http, so a browser may not stay signed in. On your own machine, start it with "
            "SCORECARD_PORTAL_SECURE_COOKIES=false; in production, put the TLS proxy in front and set "
            "SCORECARD_PORTAL_URL to its https address (docs/operator-guide.md).",
            flush=True,
        )
    # No access log: query strings can hold a one-time link's token; the audit log records who did what.
    uvicorn.run(app, host=host, port=port, access_log=False, proxy_headers=True, log_level="warning")
    return 0


def _users(settings: Settings, args: argparse.Namespace) -> int:
    from ..warehouse.engine import connect_warehouse, init_warehouse

    engine = connect_warehouse(settings.warehouse_url)
    try:
        init_warehouse(engine)
        if args.users_command == "add":
            return _add(settings, engine, args.email, args.role, args.sources, args.password_stdin)
        if args.users_command == "disable":
            return _disable(engine, args.email)
        if args.users_command == "enable":
            return _enable(engine, args.email)
        if args.users_command == "list":
            return _list(engine)
        if args.users_command == "reset":
            return _reset(settings, engine, args.email)
        raise ValueError(args.users_command)
    finally:
        engine.dispose()


def _add(settings: Settings, engine, email: str, role: str, sources: list[str], password_stdin: bool) -> int:
    from ..sources import partner_sources
    from . import audit
    from .accounts import add_user, normalise_email
    from .links import issue_link, send_link
    from .passwords import check_strength, hash_password

    password_hash = None
    if password_stdin:
        if sys.stdin.isatty():  # typed by hand: not echoed
            import getpass

            password = getpass.getpass("Password (not shown): ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        check_strength(password)
        password_hash = hash_password(password)
        del password
    user = add_user(
        engine,
        normalise_email(email),
        role,
        sources,
        known_sources=[s.name for s in partner_sources()],
        password_hash=password_hash,
    )
    what = f"{user.role}" + (f" of {', '.join(sorted(user.sources))}" if user.sources else "")
    audit.record(engine, "user_added", email=user.email, detail=f"by the command line: {what}")
    if password_stdin:
        print(f"Added {user.email} ({what}), with the password given; they can sign in now.")
        return 0
    token = issue_link(engine, user.user_id, settings.portal.link_hours)
    where = send_link(settings, user, token)
    print(f"Added {user.email} ({what}). A one-time link to set a password was emailed: {where}")
    return 0


def _disable(engine, email: str) -> int:
    from . import audit
    from .accounts import disable_user, existing_user
    from .sessions import end_sessions_of

    user = existing_user(engine, email)
    if user.disabled:
        ended = end_sessions_of(engine, user.user_id)
        print(f"{user.email} was already disabled ({ended} session(s) ended now).")
        return 0
    disable_user(engine, user.user_id)
    ended = end_sessions_of(engine, user.user_id)
    audit.record(engine, "user_disabled", email=user.email, detail=f"by the command line; {ended} session(s) ended")
    print(f"Disabled {user.email}: they cannot sign in; {ended} session(s) ended.")
    return 0


def _enable(engine, email: str) -> int:
    from . import audit
    from .accounts import enable_user, existing_user, get_user

    user = existing_user(engine, email)
    if not user.disabled:
        print(f"{user.email} is not disabled ({user.state}); nothing to do.")
        return 0
    enable_user(engine, user.user_id)
    audit.record(engine, "user_enabled", email=user.email, detail="by the command line")
    fresh = get_user(engine, user.user_id)
    assert fresh is not None
    print(f"Enabled {user.email}: {fresh.state}.")
    return 0


def users_table(users) -> list[str]:
    """``scorecard users list``'s lines: email, role, sources, state, in aligned columns."""
    rows = [("EMAIL", "ROLE", "SOURCES", "STATE")] + [
        (u.email, u.role, ",".join(sorted(u.sources)) or "-", u.state) for u in users
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["  ".join([*(r[i].ljust(widths[i]) for i in range(3)), r[3]]) for r in rows]


def _list(engine) -> int:
    from .accounts import list_users

    users = list_users(engine)
    if not users:
        print("No portal accounts yet: add one with scorecard users add EMAIL --role ROLE.")
        return 0
    print("\n".join(users_table(users)))
    return 0


def _reset(settings: Settings, engine, email: str) -> int:
    from . import audit
    from .accounts import AccountError, clear_password, existing_user, get_user
    from .links import issue_link, send_link
    from .sessions import end_sessions_of

    user = existing_user(engine, email)
    if user.disabled:
        raise AccountError(f"{user.email} is disabled: a reset does not enable it (scorecard users enable does)")
    clear_password(engine, user.user_id)
    ended = end_sessions_of(engine, user.user_id)
    token = issue_link(engine, user.user_id, settings.portal.link_hours)
    audit.record(
        engine, "user_reset", email=user.email, detail=f"by the command line; unlocked, {ended} session(s) ended"
    )
    fresh = get_user(engine, user.user_id)
    assert fresh is not None
    where = send_link(settings, fresh, token, reset=True)
    print(
        f"Reset {user.email}: unlocked, password cleared, {ended} session(s) ended. "
        f"A one-time link to set a new password was emailed: {where}"
    )
    return 0
