"""Pages and the signed-in user of a request.

``render`` fills a template with what every page needs (the user, the CSRF token, the
navigation); templates autoescape everything, so a file name, sheet name, header or cell a
partner sent is shown as text, never as markup. ``signed_in`` is the dependency every page
behind the sign-in uses; ``need`` narrows it to what a role may do (``PortalUser.can_*``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine

from ..config import Settings
from .accounts import PortalUser
from .security import CsrfRefused, check_csrf, cookie_names
from .sessions import Session, current_session

TEMPLATES = Path(__file__).with_name("templates")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


class NotSignedIn(Exception):
    """No live session: pages send the browser to sign in (and back afterwards)."""

    def __init__(self, next_path: str):
        self.next_path = next_path


class Forbidden(Exception):
    """Signed in, but this is not theirs to see or do."""


@dataclass(frozen=True)
class Portal:
    """What the application holds for every request."""

    settings: Settings
    engine: Engine

    @property
    def cookies(self) -> tuple[str, str]:
        return cookie_names(self.settings.portal.secure_cookies)


def portal_of(request: Request) -> Portal:
    return request.app.state.portal


def session_of(request: Request) -> Session | None:
    """The request's live session (looked up once per request)."""
    if not hasattr(request.state, "session"):
        portal = portal_of(request)
        token = request.cookies.get(portal.cookies[0])
        request.state.session = current_session(portal.engine, token, portal.settings.portal)
    return request.state.session


def signed_in(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise NotSignedIn(path)
    return session


SignedIn = Annotated[Session, Depends(signed_in)]


def need(allowed: Callable[[PortalUser], bool]) -> Callable[[Request], Session]:
    """A dependency: signed in, and ``allowed(user)``, or 403."""

    def dependency(request: Request) -> Session:
        session = signed_in(request)
        if not allowed(session.user):
            raise Forbidden()
        return session

    return dependency


async def csrf_checked(request: Request) -> None:
    """A dependency for every form of a signed-in page (not for streamed uploads, which check
    the token themselves: it must come before the file in the form)."""
    session = signed_in(request)
    form = await request.form()
    try:
        check_csrf(session.csrf_token, form.get("csrf_token"))
    finally:
        await form.close()


def login_path(next_path: str | None = None) -> str:
    return "/login" + (f"?next={quote(next_path, safe='')}" if next_path else "")


def nav_for(user: PortalUser | None) -> list[dict[str, str]]:
    """The main navigation for a user's role: only what the role may open (every page's nav)."""
    if user is None:
        return []
    items: list[dict[str, str]] = [{"href": "/", "label": "Home"}]
    if user.can_submit:
        items += [
            {"href": "/returns", "label": "Returns"},
            {"href": "/check", "label": "Check a file"},
            {"href": "/submissions", "label": "Submissions"},
        ]
    if user.can_comment:
        items.append({"href": "/commentary", "label": "Commentary"})
    if user.can_read_scorecards:
        items.append({"href": "/scorecards", "label": "Scorecards"})
    if user.is_analyst:
        items += [
            {"href": "/status", "label": "Status"},
            {"href": "/users", "label": "Accounts"},
            {"href": "/audit", "label": "Audit log"},
        ]
    return items


def render(request: Request, template: str, *, status_code: int = 200, **context) -> HTMLResponse:
    session = session_of(request)
    anonymous_token = context.pop("csrf_token", None)  # a pre-sign-in form's double-submit token
    user = session.user if session else None
    context.setdefault("nav", nav_for(user))
    page = _env.get_template(template).render(
        request=request,
        user=user,
        csrf_token=session.csrf_token if session else anonymous_token,
        **context,
    )
    return HTMLResponse(page, status_code=status_code)


__all__ = ["CsrfRefused", "Forbidden", "NotSignedIn", "Portal", "render", "signed_in", "need", "csrf_checked"]
