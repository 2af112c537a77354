"""A small stand-in for Mailpit (https://mailpit.axllent.org): SMTP on 1025, HTTP API on 8025.

    python3 mailpit.py            # serve
    python3 mailpit.py readyz     # exit 0 when the server answers (the compose health check)

Keeps messages in memory. Implements the parts of Mailpit's API v1 that the project's tests read:
GET /api/v1/messages (summaries, newest first), GET /api/v1/message/{ID} (text, HTML, attachments),
GET /api/v1/message/{ID}/raw, DELETE /api/v1/messages, GET /readyz and GET /livez.
"""

import datetime
import email
import email.policy
import json
import sys
import threading
import urllib.request
import uuid
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MESSAGES: list[dict] = []
LOCK = threading.Lock()


def _addresses(values):
    return [{"Name": name, "Address": addr} for name, addr in getaddresses(values) if addr]


def store(raw: bytes, mail_from: str, rcpt_tos: list[str]) -> None:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text = html = ""
    attachments = []
    for n, part in enumerate(msg.walk()):
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            payload = part.get_payload(decode=True) or b""
            attachments.append(
                {
                    "PartID": str(n),
                    "FileName": filename or "",
                    "ContentType": part.get_content_type(),
                    "Size": len(payload),
                }
            )
        elif part.get_content_type() == "text/plain" and not text:
            text = part.get_content()
        elif part.get_content_type() == "text/html" and not html:
            html = part.get_content()
    ident = uuid.uuid4().hex
    entry = {
        "ID": ident,
        "MessageID": (msg.get("Message-ID") or "").strip("<>"),
        "Read": False,
        "From": (_addresses([msg.get("From", "")]) or [{"Name": "", "Address": mail_from}])[0],
        "To": _addresses(msg.get_all("To", [])),
        "Cc": _addresses(msg.get_all("Cc", [])),
        "Bcc": [
            {"Name": "", "Address": a}
            for a in rcpt_tos
            if a not in {x[1] for x in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", []))}
        ],
        "ReplyTo": _addresses(msg.get_all("Reply-To", [])),
        "Subject": " ".join(str(msg.get("Subject", "")).split()),  # unfolded, as Mailpit shows it
        "Created": datetime.datetime.now(datetime.UTC).isoformat(),
        "Tags": [],
        "Size": len(raw),
        "Attachments": len(attachments),
        "Snippet": " ".join(text.split())[:250],
        "_text": text,
        "_html": html,
        "_attachments": attachments,
        "_raw": raw,
    }
    with LOCK:
        MESSAGES.append(entry)


def summary(m: dict) -> dict:
    return {k: v for k, v in m.items() if not k.startswith("_")}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status: int, body, content_type: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/readyz", "/livez"):
            return self.send(200, b"ok", "text/plain")
        with LOCK:
            messages = list(reversed(MESSAGES))
        if path == "/api/v1/messages":
            return self.send(
                200,
                {
                    "total": len(messages),
                    "unread": len(messages),
                    "count": len(messages),
                    "messages_count": len(messages),
                    "start": 0,
                    "tags": [],
                    "messages": [summary(m) for m in messages],
                },
            )
        parts = path.split("/")
        if len(parts) >= 5 and parts[1:4] == ["api", "v1", "message"]:
            found = next((m for m in messages if m["ID"] == parts[4]), None)
            if found is None:
                return self.send(404, b"not found", "text/plain")
            if len(parts) == 6 and parts[5] == "raw":
                return self.send(200, found["_raw"], "text/plain")
            body = summary(found)
            body.update(
                {"Text": found["_text"], "HTML": found["_html"], "Attachments": found["_attachments"], "Inline": []}
            )
            return self.send(200, body)
        return self.send(404, b"not found", "text/plain")

    def do_DELETE(self):
        if self.path.split("?", 1)[0].rstrip("/") == "/api/v1/messages":
            with LOCK:
                MESSAGES.clear()
            return self.send(200, b"ok", "text/plain")
        return self.send(404, b"not found", "text/plain")


class SMTPHandler:
    async def handle_DATA(self, server, session, envelope):
        store(envelope.original_content or envelope.content, envelope.mail_from, list(envelope.rcpt_tos))
        return "250 OK"


def serve() -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    def accept_any(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=True)

    controller = Controller(
        SMTPHandler(),
        hostname="0.0.0.0",
        port=1025,
        auth_require_tls=False,
        authenticator=accept_any,
        decode_data=False,
        data_size_limit=50 * 1024 * 1024,
    )
    controller.start()
    print("smtp on 0.0.0.0:1025, http on 0.0.0.0:8025", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8025), Handler).serve_forever()


if __name__ == "__main__":
    if sys.argv[1:] == ["readyz"]:
        with urllib.request.urlopen("http://127.0.0.1:8025/readyz", timeout=4) as response:
            sys.exit(0 if response.status == 200 else 1)
    serve()
