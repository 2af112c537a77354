"""Helpers for the accounts tests: the portal app on the test's warehouse, the ``scorecard``
command run in-process, and the one-time link read back out of the emailed message."""

from __future__ import annotations

import email
import email.policy
import io
import re
from pathlib import Path

from pipelines.cli import main


def new_app(settings):
    """The portal application on the test's warehouse (dispose ``app.state.portal.engine`` after)."""
    from pipelines.portal.app import create_app
    from pipelines.warehouse import connect_warehouse, init_warehouse

    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    return create_app(settings, engine=engine)


def scorecard(monkeypatch, *argv: str, stdin: str | None = None) -> int:
    """``scorecard ARGV...`` in this process (the settings of the test's environment)."""
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def emails(outbox: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted(Path(outbox).glob("*.eml"))
    ]


def link_in(message) -> str:
    """The set-password link of an emailed message, as a path with its query."""
    body = message.get_body(("plain",)).get_content()
    found = re.search(r"https?://[^/\s]+(/set-password\?token=[A-Za-z0-9_%-]+)", body)
    assert found, body
    return found.group(1)


def last_link(outbox: Path) -> str:
    return link_in(emails(outbox)[-1])
