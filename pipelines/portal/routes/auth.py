"""Sign in and sign out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from .. import audit, throttle
from ..security import CsrfRefused, check_csrf, new_token
from ..sessions import end_session, start_session
from ..signin import sign_in
from ..web import csrf_checked, portal_of, render, session_of

router = APIRouter()


def _safe_next(value: str | None) -> str:
    """Only a path of this site: never another site (``//host``, ``https:``) or a header trick."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 32 for c in value)
    ):
        return "/"
    return value


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if session_of(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    portal = portal_of(request)
    token = new_token()
    response = render(request, "login.html.j2", csrf_token=token, next=_safe_next(next), message=None)
    _set_cookie(response, portal.cookies[1], token, portal.settings.portal.secure_cookies, max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    portal = portal_of(request)
    form = await request.form()
    check_csrf(request.cookies.get(portal.cookies[1]), form.get("csrf_token"))
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    next_path = _safe_next(str(form.get("next") or ""))
    wait = throttle.seconds_to_wait(portal.engine, email, _remote(request))
    if wait > 0:  # too many failures from this address or for this account: not even checked
        audit.record(portal.engine, "login_throttled", email=email.strip().lower(), remote=_remote(request))
        return _login_again(request, next_path, throttle.message(wait), 429, {"retry-after": str(wait)})
    result = sign_in(portal.engine, email, password, portal.settings.portal)
    if result.user is None:
        audit.record(
            portal.engine,
            "account_locked" if result.just_locked else "login_failed",
            email=email.strip().lower(),
            remote=_remote(request),
        )
        return _login_again(request, next_path, result.message, 401)
    session_token = start_session(portal.engine, result.user.user_id)
    audit.record(portal.engine, "login", user_id=result.user.user_id, email=result.user.email, remote=_remote(request))
    redirect = RedirectResponse(next_path, status_code=303)
    _set_cookie(redirect, portal.cookies[0], session_token, portal.settings.portal.secure_cookies)
    redirect.delete_cookie(portal.cookies[1], path="/")
    return redirect


def _login_again(
    request: Request, next_path: str, message: str | None, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    """The sign-in form again, with why, and a fresh double-submit token."""
    portal = portal_of(request)
    token = new_token()
    response = render(
        request, "login.html.j2", status_code=status_code, csrf_token=token, next=next_path, message=message
    )
    response.headers.update(headers or {})
    _set_cookie(response, portal.cookies[1], token, portal.settings.portal.secure_cookies, max_age=3600)
    return response


@router.post("/logout", dependencies=[Depends(csrf_checked)])
def logout(request: Request) -> Response:
    portal = portal_of(request)
    session = session_of(request)
    token = request.cookies.get(portal.cookies[0])
    if token:
        end_session(portal.engine, token)
    if session:
        audit.record(portal.engine, "logout", user_id=session.user.user_id, email=session.user.email)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(portal.cookies[0], path="/", secure=portal.settings.portal.secure_cookies)
    return response


def _set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    """HttpOnly, SameSite=Strict, Path=/, Secure unless switched off for local http; a session
    cookie (no Max-Age) for the sign-in itself, so closing the browser ends it too."""
    response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict")


__all__ = ["router", "CsrfRefused"]
