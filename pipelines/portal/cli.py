"""The portal's commands: ``scorecard serve`` (and, from ``accounts``, ``scorecard users``).

``pipelines/cli.py`` adds these parsers with ``add_commands`` and hands their arguments to
``run``; everything about the portal's command line lives here."""

from __future__ import annotations

import argparse

from ..config import Settings

COMMANDS = ("serve",)


def add_commands(commands, reads) -> None:
    serve = commands.add_parser(
        "serve",
        epilog=reads("serve"),
        help="run the web portal (data officers check, submit and follow returns; the board reads scorecards)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
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
