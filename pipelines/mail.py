"""Deliver an email: over SMTP when a server is configured, else into the outbox as ``.eml``.

The outbox fallback is what lets ``scorecard demo`` and a laptop run show the real email
(open the ``.eml`` in any mail client) with no server at all. Passwords are never logged, and
errors name the server and what went wrong, never the credentials.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from .config import MailSettings

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0


class MailError(RuntimeError):
    """The email could not be sent; the message says why in plain words."""


def deliver(message: EmailMessage, mail: MailSettings, outbox: Path, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Send ``message`` and say where it went: ``sent to host:port``, or the ``.eml`` path."""
    if not mail.host:
        path = write_eml(message, outbox)
        log.info("no SMTP server configured; wrote %s", path)
        return str(path)
    return send_smtp(message, mail, timeout=timeout)


def write_eml(message: EmailMessage, outbox: Path) -> Path:
    """``<outbox>/<UTC timestamp>-<subject slug>.eml``, never overwriting an earlier message."""
    outbox = Path(outbox)
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    stem = f"{stamp}-{slug(str(message.get('Subject') or 'message'))}"
    path = outbox / f"{stem}.eml"
    n = 1
    while path.exists():
        n += 1
        path = outbox / f"{stem}-{n}.eml"
    data = message.as_bytes()
    tmp = path.with_suffix(".eml.part")
    tmp.write_bytes(data)
    tmp.replace(path)  # a watcher never sees half a message
    return path


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe, lower-case form of a subject line."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return cleaned[:limit].rstrip("-") or "message"


def send_smtp(message: EmailMessage, mail: MailSettings, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Send through the configured server: plain, STARTTLS or implicit TLS, with login if set."""
    where = f"{mail.host}:{mail.port}"
    security = (mail.security or "none").lower()
    if security not in ("none", "starttls", "ssl"):
        raise MailError(f"unknown SMTP security {mail.security!r}: use none, starttls or ssl")
    context = ssl.create_default_context()
    try:
        if security == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(mail.host, mail.port, timeout=timeout, context=context)
        else:
            server = smtplib.SMTP(mail.host, mail.port, timeout=timeout)
        with server:
            server.ehlo()
            if security == "starttls":
                server.starttls(context=context)
                server.ehlo()
            if mail.username:
                server.login(mail.username, mail.password or "")
            refused = server.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"the mail server {where} rejected the login for user {mail.username!r} "
            f"({exc.smtp_code}); check SCORECARD_SMTP_USER and SCORECARD_SMTP_PASSWORD"
        ) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"the mail server {where} does not support what was asked of it: {_reason(exc)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"the mail server {where} refused every recipient: {', '.join(exc.recipients)}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"the mail server {where} did not accept the email: {_reason(exc)}") from None
    except ssl.SSLError as exc:
        raise MailError(f"could not make a secure connection to the mail server {where}: {_reason(exc)}") from None
    except ConnectionRefusedError:
        raise MailError(f"could not connect to the mail server {where}: connection refused (is it running?)") from None
    except (socket.timeout, TimeoutError):
        raise MailError(f"the mail server {where} did not answer within {timeout:g} seconds") from None
    except OSError as exc:
        raise MailError(f"could not connect to the mail server {where}: {_reason(exc)}") from None
    recipients = len(getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])]))
    log.info("sent %r to %d recipient(s) via %s", str(message.get("Subject")), recipients, where)
    if refused:
        refused_list = ", ".join(sorted(refused))
        log.warning("mail server %s refused some recipients: %s", where, refused_list)
        return f"sent to {where} (refused: {refused_list})"
    return f"sent to {where}"


def _reason(exc: BaseException) -> str:
    """An exception's message as one line, bytes decoded (smtplib gives server replies as bytes)."""
    parts = []
    for arg in exc.args:
        if isinstance(arg, bytes):
            arg = arg.decode("utf-8", "replace")
        parts.append(str(arg))
    return " ".join(" ".join(parts).split()) or type(exc).__name__


QUEUE_FOLDER = "queued"


def deliver_or_queue(message: EmailMessage, mail: MailSettings, outbox: Path, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Deliver, or, when the configured server is down or refuses, keep the message in
    ``<outbox>/queued/`` so a later run sends it (``flush_queue``): an outage never loses mail."""
    try:
        return deliver(message, mail, outbox, timeout=timeout)
    except MailError as exc:
        path = write_eml(message, Path(outbox) / QUEUE_FOLDER)
        log.warning("mail not sent (%s); queued as %s for the next run", exc, path.name)
        return f"queued in {path} ({exc})"


def flush_queue(mail: MailSettings, outbox: Path, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Send queued messages, oldest first; stop at the first failure (the server is still down).
    Returns how many were sent. Each sent message leaves the queue."""
    queue = Path(outbox) / QUEUE_FOLDER
    if not mail.host or not queue.is_dir():
        return 0
    import email
    import email.policy

    sent = 0
    for path in sorted(queue.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        try:
            send_smtp(message, mail, timeout=timeout)
        except MailError as exc:
            log.warning("queued mail still not sent (%s); %d message(s) wait", exc, len(list(queue.glob("*.eml"))))
            break
        path.unlink()
        sent += 1
    return sent
