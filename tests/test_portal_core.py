"""The portal's core on each warehouse engine: signing in and out, the session cookie, CSRF on
every form, the lock on the sixth wrong password, security headers on every response."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipelines.portal.app import create_app
from pipelines.portal.sessions import token_hash
from pipelines.warehouse.schema import portal_audit, portal_sessions, portal_users
from tests.portal_client import PASSWORD, client_for, csrf_of, make_user, sign_in, signed_in_client


@pytest.fixture
def app(settings):
    from pipelines.warehouse import connect_warehouse, init_warehouse

    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    yield create_app(settings, engine=engine)
    engine.dispose()


def engine_of(app):
    return app.state.portal.engine


def test_sign_in_sets_a_strict_httponly_secure_cookie_and_keeps_only_its_hash(app):
    make_user(engine_of(app), "Officer@Police.example", "data_officer", ["police_domestic_incidents"])
    client = client_for(app)
    assert client.get("/").headers["location"] == "/login?next=%2F"
    response = sign_in(client, "officer@police.example")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("__Host-lscp_session=")][0]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie and "Path=/" in cookie
    token = cookie.split("=", 1)[1].split(";", 1)[0]
    with engine_of(app).connect() as conn:
        hashes = conn.execute(select(portal_sessions.c.session_hash)).scalars().all()
        stored = conn.execute(select(portal_users.c.password_hash)).scalar()
        actions = conn.execute(select(portal_audit.c.action)).scalars().all()
    assert hashes == [token_hash(token)] and token not in hashes
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert actions == ["login"]
    page = client.get("/")
    assert page.status_code == 200 and "officer@police.example" in page.text


def test_a_wrong_password_is_refused_without_saying_whether_the_account_exists(app):
    make_user(engine_of(app), "board@lscp.example", "board")
    client = client_for(app)
    wrong = sign_in(client, "board@lscp.example", "not the password at all")
    unknown = sign_in(client, "nobody@lscp.example", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match" in wrong.text and "do not match" in unknown.text


def test_the_sixth_wrong_password_locks_the_account(app):
    make_user(engine_of(app), "analyst@lscp.example", "analyst")
    client = client_for(app)
    for attempt in range(1, 6):
        assert "do not match" in sign_in(client, "analyst@lscp.example", f"wrong password {attempt}").text
    sixth = sign_in(client, "analyst@lscp.example", "wrong password 6")
    assert "locked" in sixth.text
    # Now even the right password is refused until the analyst resets the account.
    assert "locked" in sign_in(client, "analyst@lscp.example").text
    with engine_of(app).connect() as conn:
        assert conn.execute(select(portal_users.c.locked_at)).scalar() is not None


def test_a_form_without_its_csrf_token_is_refused(app):
    make_user(engine_of(app), "board@lscp.example", "board")
    client = client_for(app)
    client.get("/login")
    refused = client.post("/login", data={"email": "board@lscp.example", "password": PASSWORD})
    assert refused.status_code == 403 and "expired" in refused.text
    signed = signed_in_client(app, "board@lscp.example")
    assert signed.post("/logout", data={}).status_code == 403
    assert signed.get("/scorecards").status_code == 200  # still signed in (the board's first page)
    assert signed.post("/logout", data={"csrf_token": csrf_of(signed.get("/scorecards").text)}).status_code == 303
    assert signed.get("/scorecards").status_code == 303  # signed out: sent to sign in


def test_every_response_carries_the_security_headers(app):
    client = client_for(app)
    for response in (
        client.get("/login"),
        client.get("/"),
        client.get("/no-such-page"),
        client.get("/static/portal.css"),
    ):
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "unsafe-inline" not in response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


def test_next_never_leads_to_another_site(app):
    make_user(engine_of(app), "board@lscp.example", "board")
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = client_for(app)
        assert sign_in(client, "board@lscp.example", next_path=bad).headers["location"] == "/"
