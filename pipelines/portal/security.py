"""What every response carries and every form must prove.

- Security headers on every response, pages, downloads and errors alike: a Content Security
  Policy with no inline script or style (``'self'`` only), no framing, no MIME sniffing, no
  referrer to other sites, and HSTS when cookies are secure (the portal is behind TLS).
- CSRF: each signed-in session has its own token, which every form carries in a hidden field
  ``csrf_token``; forms shown before sign-in (sign-in, set a password) use a double-submit
  cookie instead. A POST without the right token is refused with 403.
"""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"

# For a built scorecard shown as it was emailed: its own inline styles, nothing else.
SCORECARD_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: cid:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

CSRF_FIELD = "csrf_token"


class CsrfRefused(Exception):
    """A form came without the token of the session (or page) that showed it."""


def cookie_names(secure: bool) -> tuple[str, str]:
    """(session cookie, pre-sign-in CSRF cookie). Secure cookies take the ``__Host-`` prefix,
    which browsers accept only from https, with Path=/ and no Domain."""
    prefix = "__Host-" if secure else ""
    return prefix + "lscp_session", prefix + "lscp_csrf"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def check_csrf(expected: str | None, given: object) -> None:
    if not expected or not isinstance(given, str) or not secrets.compare_digest(expected, given):
        raise CsrfRefused()


class SecurityHeaders:
    """Pure ASGI middleware (it sees every response, static files and errors too)."""

    def __init__(self, app: ASGIApp, *, hsts: bool):
        self.app = app
        self.headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]
        if hsts:
            self.headers.append((b"strict-transport-security", HSTS.encode()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                given = message.get("headers", [])
                # A response may set a policy of its own (a built scorecard's page allows its
                # inline styles; scripts stay forbidden everywhere); the rest are always these.
                own_policy = any(k.lower() == b"content-security-policy" for k, _ in given)
                added = [(k, v) for k, v in self.headers if not (own_policy and k == b"content-security-policy")]
                names = {k for k, _ in added}
                kept = [(k, v) for k, v in given if k.lower() not in names]
                message["headers"] = kept + added
                if not any(k.lower() == b"cache-control" for k, _ in kept):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, sending)
