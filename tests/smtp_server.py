"""A real SMTP server (aiosmtpd) on a free localhost port, for tests that send mail."""

from __future__ import annotations

import email
import email.policy
import socket

from aiosmtpd.controller import Controller


class Catcher:
    """An aiosmtpd handler that keeps every envelope it receives."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def messages(self):
        return [email.message_from_bytes(e.original_content, policy=email.policy.default) for e in self.envelopes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(**kwargs) -> tuple[Catcher, int, Controller]:
    catcher = Catcher()
    port = free_port()
    controller = Controller(catcher, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return catcher, port, controller
