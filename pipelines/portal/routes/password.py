"""Setting a password by the one-time link a new or reset user is emailed (``links.py``):
``GET /set-password?token=...`` shows the form while the link works, ``POST`` sets the password
(the strength check of ``passwords.py``), retires the link, ends any other session of the user,
audits ``password_set`` and signs the user in. A link that has expired or was used says so."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from .. import audit
from ..accounts import set_password_hash
from ..links import UNKNOWN, USED, LinkRefused, live_link, use_link
from ..passwords import WeakPassword, check_strength, hash_password
from ..security import check_csrf, new_token
from ..sessions import end_session, end_sessions_of, start_session
from ..web import portal_of, render
from .auth import _remote, _set_cookie

router = APIRouter()


def _refused(request: Request, exc: LinkRefused) -> Response:
    status = 404 if str(exc) == UNKNOWN else 410
    return render(request, "set_password.html.j2", status_code=status, refused=str(exc), link=None)


def _form(request: Request, token: str, link, message: str | None = None, status_code: int = 200) -> Response:
    portal = portal_of(request)
    csrf = new_token()
    response = render(
        request,
        "set_password.html.j2",
        status_code=status_code,
        form_token=csrf,  # the double-submit token (a signed-in visitor's own is for the sign-out form)
        token=token,
        link=link,
        message=message,
        refused=None,
    )
    _set_cookie(response, portal.cookies[1], csrf, portal.settings.portal.secure_cookies, max_age=3600)
    return response


@router.get("/set-password")
def set_password_form(request: Request, token: str | None = None) -> Response:
    try:
        link = live_link(portal_of(request).engine, token)
    except LinkRefused as exc:
        return _refused(request, exc)
    return _form(request, token or "", link)


@router.post("/set-password")
async def set_password(request: Request) -> Response:
    portal = portal_of(request)
    form = await request.form()
    check_csrf(request.cookies.get(portal.cookies[1]), form.get("csrf_token"))
    token = str(form.get("token") or "")
    password, again = str(form.get("password") or ""), str(form.get("confirm") or "")
    try:
        link = live_link(portal.engine, token)
    except LinkRefused as exc:
        return _refused(request, exc)
    if password != again:
        return _form(request, token, link, "The two passwords are not the same. Type the same password twice.", 400)
    try:
        check_strength(password)
    except WeakPassword as exc:
        return _form(request, token, link, f"That password cannot be used: {exc}.", 400)
    if not use_link(portal.engine, token):  # another request used it a moment ago
        return _refused(request, LinkRefused(USED))
    user = link.user
    set_password_hash(portal.engine, user.user_id, hash_password(password))
    end_sessions_of(portal.engine, user.user_id)
    previous = request.cookies.get(portal.cookies[0])
    if previous:  # the browser was signed in (as anyone): that session ends, this user's begins
        end_session(portal.engine, previous)
    audit.record(portal.engine, "password_set", user_id=user.user_id, email=user.email, remote=_remote(request))
    session_token = start_session(portal.engine, user.user_id)
    audit.record(portal.engine, "login", user_id=user.user_id, email=user.email, remote=_remote(request))
    redirect = RedirectResponse("/", status_code=303)
    _set_cookie(redirect, portal.cookies[0], session_token, portal.settings.portal.secure_cookies)
    redirect.delete_cookie(portal.cookies[1], path="/")
    return redirect
