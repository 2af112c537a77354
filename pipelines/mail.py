"""Deliver an email: over SMTP when a server is configured, else into the outbox as ``.eml``.

The outbox fallback is what lets ``scorecard demo`` and a laptop run show the real email
(open the ``.eml`` in any mail client) with no server at all. Passwords are never logged, and
errors name the server and what went wrong, never the credentials.

Mail never stalls the work that sends it: a whole SMTP conversation, from connecting to the
last reply, has one deadline (``SCORECARD_SMTP_DEADLINE_SECONDS``), so a server that answers a
byte at a time cannot hold a run for minutes per message. A message that misses it is queued, and
once one has failed, the rest of the run's messages to that server are queued at once; the next
run's ``flush_queue`` tries the server again.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import threading
import time
from datetime import UTC, datetime
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
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
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


class _Deadline:
    """Cuts an SMTP conversation's socket when its time is up, whatever it is waiting for: the
    socket's own timeout restarts with every byte received."""

    def __init__(self, server: smtplib.SMTP, seconds: float):
        self.server = server
        self.expired = False
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def _cut(self) -> None:
        self.expired = True
        sock = getattr(self.server, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()


def send_smtp(message: EmailMessage, mail: MailSettings, *, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Send through the configured server: plain, STARTTLS or implicit TLS, with login if set,
    all of it within ``mail.deadline_seconds``."""
    where = f"{mail.host}:{mail.port}"
    security = (mail.security or "none").lower()
    if security not in ("none", "starttls", "ssl"):
        raise MailError(f"unknown SMTP security {mail.security!r}: use none, starttls or ssl")
    context = ssl.create_default_context()
    limit = mail.deadline_seconds
    timeout = min(timeout, limit)
    server: smtplib.SMTP = (
        smtplib.SMTP_SSL(timeout=timeout, context=context) if security == "ssl" else smtplib.SMTP(timeout=timeout)
    )
    host = mail.host or "localhost"
    server._host = host  # type: ignore[attr-defined]  # the name TLS checks the certificate against (the constructor sets it only when it connects)
    deadline = _Deadline(server, limit)
    try:
        with deadline:
            server.connect(host, mail.port)
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
    except Exception as exc:
        if deadline.expired:
            raise MailError(f"the mail server {where} did not finish within {limit:g} seconds") from None
        raise _mail_error(exc, where, timeout) from None
    finally:
        try:
            server.close()
        except Exception:
            pass
    recipients = len(getaddresses([str(v) for k in ("To", "Cc", "Bcc") for v in message.get_all(k, [])]))
    log.info("sent %r to %d recipient(s) via %s", str(message.get("Subject")), recipients, where)
    if refused:
        refused_list = ", ".join(sorted(refused))
        log.warning("mail server %s refused some recipients: %s", where, refused_list)
        return f"sent to {where} (refused: {refused_list})"
    return f"sent to {where}"


def _mail_error(exc: Exception, where: str, timeout: float) -> Exception:
    """A plain-English ``MailError`` for what went wrong talking to the server."""
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailError(f"the mail server {where} does not support what was asked of it: {_reason(exc)}")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return MailError(f"the mail server {where} refused every recipient: {', '.join(exc.recipients)}")
    if isinstance(exc, smtplib.SMTPException):
        return MailError(f"the mail server {where} did not accept the email: {_reason(exc)}")
    if isinstance(exc, ssl.SSLError):
        return MailError(f"could not make a secure connection to the mail server {where}: {_reason(exc)}")
    if isinstance(exc, ConnectionRefusedError):
        return MailError(f"could not connect to the mail server {where}: connection refused (is it running?)")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return MailError(f"the mail server {where} did not answer within {timeout:g} seconds")
    if isinstance(exc, OSError):
        return MailError(f"could not connect to the mail server {where}: {_reason(exc)}")
    return exc


def _reason(exc: BaseException) -> str:
    """An exception's message as one line, bytes decoded (smtplib gives server replies as bytes)."""
    parts = []
    for arg in exc.args:
        if isinstance(arg, bytes):
            arg = arg.decode("utf-8", "replace")
        parts.append(str(arg))
    return " ".join(" ".join(parts).split()) or type(exc).__name__


QUEUE_FOLDER = "queued"


PAUSE_SECONDS = 600.0  # after a failure, how long this process queues a server's mail without trying
_failed_at: dict[tuple[str, int], float] = {}


def _paused(mail: MailSettings) -> bool:
    failed = _failed_at.get((mail.host or "", mail.port))
    return failed is not None and time.monotonic() - failed < PAUSE_SECONDS


def deliver_or_queue(
    message: EmailMessage, mail: MailSettings, outbox: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> str:
    """Deliver, or, when the configured server is down, refuses or is too slow, keep the message in
    ``<outbox>/queued/`` so a later run sends it (``flush_queue``): an outage never loses mail.
    After one failure the server is not tried again by this process until the next flush (or
    ``PAUSE_SECONDS``), so a run with many receipts never waits on it more than once."""
    if mail.host and _paused(mail):
        path = write_eml(message, Path(outbox) / QUEUE_FOLDER)
        return f"queued in {path} (the mail server {mail.host}:{mail.port} failed moments ago)"
    try:
        return deliver(message, mail, outbox, timeout=timeout)
    except MailError as exc:
        _failed_at[(mail.host or "", mail.port)] = time.monotonic()
        path = write_eml(message, Path(outbox) / QUEUE_FOLDER)
        log.warning("mail not sent (%s); queued as %s for the next run", exc, path.name)
        return f"queued in {path} ({exc})"


def flush_queue(mail: MailSettings, outbox: Path, *, timeout: float = DEFAULT_TIMEOUT) -> int:
    """Send queued messages, oldest first; stop at the first failure (the server is still down).
    Returns how many were sent. Each sent message leaves the queue. This is where a server that
    failed is tried again."""
    queue = Path(outbox) / QUEUE_FOLDER
    if not mail.host:
        return 0
    _failed_at.pop((mail.host, mail.port), None)
    if not queue.is_dir():
        return 0
    import email
    import email.policy

    sent = 0
    for path in sorted(queue.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        try:
            send_smtp(message, mail, timeout=timeout)
        except MailError as exc:
            _failed_at[(mail.host, mail.port)] = time.monotonic()
            log.warning("queued mail still not sent (%s); %d message(s) wait", exc, len(list(queue.glob("*.eml"))))
            break
        path.unlink()
        sent += 1
    return sent
