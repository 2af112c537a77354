"""The portal's security properties on each warehouse engine, over every route the application
has (``app.routes`` is read, so pages added later are covered too): CSRF on every POST, the
security headers on every response for every role, session expiry (idle and absolute), the lock
on the sixth wrong password and its reset, a disabled user's session, sign-in throttling,
cookie flags, and no password in the logs or in the warehouse in clear."""

from __future__ import annotations

import html
import logging
import re
import time
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, String, Text, select, update
from starlette.routing import Route

from pipelines.portal import signin, throttle
from pipelines.portal.accounts import find_user, utcnow
from pipelines.portal.app import create_app
from pipelines.warehouse import connect_warehouse, init_warehouse
from pipelines.warehouse.schema import portal_audit, portal_sessions
from tests.portal_accounts import last_link, new_app, scorecard
from tests.portal_client import PASSWORD, client_for, csrf_of, make_user, sign_in, signed_in_client

ROLES = {
    "analyst@lscp.example": ("analyst", ()),
    "officer@police.example": ("data_officer", ("police_domestic_incidents",)),
    "board@lscp.example": ("board", ()),
}


@pytest.fixture
def app(settings):
    app = new_app(settings)
    yield app
    app.state.portal.engine.dispose()


def engine_of(app):
    return app.state.portal.engine


def app_with(settings, **portal):
    """The application with some portal settings changed (tiny lifetimes, cookies not secure)."""
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    return create_app(replace(settings, portal=replace(settings.portal, **portal)), engine=engine)


def routes_of(app, method: str) -> list[str]:
    """Every path of the app answering ``method``, each path parameter given the value 1."""
    paths = {
        re.sub(r"\{[^}]+\}", "1", route.path)
        for route in app.routes
        if isinstance(route, Route) and method in (route.methods or ())
    }
    return sorted(paths)


def from_address(app, address: str) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False, client=(address, 50000))


def shift_back(engine, table, **by: timedelta) -> None:
    """Move stored times back (read and written in Python: SQLite has no date arithmetic)."""
    key = list(table.primary_key.columns)[0]
    with engine.begin() as conn:
        for row in conn.execute(select(table)).mappings().all():
            conn.execute(
                update(table)
                .where(key == row[key.name])
                .values({column: row[column] - delta for column, delta in by.items()})
            )


def everyone(app) -> dict[str, TestClient]:
    for email, (role, sources) in ROLES.items():
        make_user(engine_of(app), email, role, sources)
    return {email: signed_in_client(app, email) for email in ROLES}


# CSRF -------------------------------------------------------------------------------------------


def test_every_post_route_refuses_a_form_without_its_csrf_token(app):
    posts = routes_of(app, "POST")
    assert {"/login", "/logout", "/set-password"} <= set(posts), posts  # the test cannot pass on no routes
    make_user(engine_of(app), "analyst@lscp.example", "analyst")  # may do everything: only the token is missing
    client = signed_in_client(app, "analyst@lscp.example")
    double_submit = "a-double-submit-token-the-browser-holds"
    client.cookies.set(app.state.portal.cookies[1], double_submit)  # pre-sign-in forms compare with it
    for path in posts:
        for data in ({"email": "analyst@lscp.example", "password": PASSWORD}, {"csrf_token": "forged"}):
            # A multipart form with a file (as an upload is sent; streamed routes read the token first).
            refused = client.post(path, data=data, files={"file": ("return.csv", b"a,b\n1,2\n", "text/csv")})
            assert refused.status_code == 403, (path, data, refused.status_code, refused.text[:300])
            assert "Form expired" in refused.text, path
            urlencoded = client.post(path, data=data)
            assert urlencoded.status_code == 403, (path, data, urlencoded.status_code)
    # Refused, nothing happened: still signed in; the same forms with their token do go through.
    page = client.get("/")
    assert page.status_code == 200
    retried = client.post("/login", data={"email": "x@lscp.example", "password": "x", "csrf_token": double_submit})
    assert retried.status_code in (303, 401)  # past the CSRF check (signed in already: sent on)
    with engine_of(app).connect() as conn:
        assert conn.execute(select(portal_sessions.c.ended_at)).scalars().all() == [None]
    assert client.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303


def test_another_sessions_csrf_token_is_refused(app):
    clients = everyone(app)
    officer, board = clients["officer@police.example"], clients["board@lscp.example"]
    board_token = csrf_of(board.get("/").text)
    assert officer.post("/logout", data={"csrf_token": board_token}).status_code == 403
    assert officer.get("/").status_code == 200


# Security headers -------------------------------------------------------------------------------


def assert_security_headers(response, where) -> None:
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy or "default-src 'none'" in policy, where
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[-1].split(";", 1)[0], where
    assert "frame-ancestors 'none'" in policy, where
    assert response.headers["x-content-type-options"] == "nosniff", where
    assert response.headers["x-frame-options"] == "DENY", where
    assert response.headers["referrer-policy"] == "same-origin", where
    assert response.headers["strict-transport-security"].startswith("max-age="), where


def test_every_get_route_carries_the_security_headers_for_every_role(app):
    gets = routes_of(app, "GET")
    assert {"/", "/login", "/set-password", "/users", "/audit"} <= set(gets), gets
    paths = [*gets, "/static/portal.css", "/no-such-page", "/set-password?token=nothing", "/audit?page=0"]
    clients = {"anonymous": client_for(app), **everyone(app)}
    seen = set()
    for who, client in clients.items():
        for path in paths:
            response = client.get(path)
            seen.add(response.status_code)
            assert_security_headers(response, (who, path, response.status_code))
    assert {200, 303, 403, 404, 400} <= seen  # pages, redirects and errors alike were checked


def test_errors_and_posts_carry_the_security_headers_too(app):
    client = client_for(app)
    for response in (
        client.post("/login", data={}),
        client.post("/logout", data={}),
        client.post("/set-password", data={}),
        client.put("/login"),
    ):
        assert response.status_code >= 400
        assert_security_headers(response, response.request.url)


# Sessions ---------------------------------------------------------------------------------------


def test_an_idle_session_expires_and_sends_to_sign_in(settings):
    app = app_with(settings, idle_minutes=0.05)  # 3 seconds
    try:
        make_user(engine_of(app), "board@lscp.example", "board")
        client = signed_in_client(app, "board@lscp.example")
        page = client.get("/")
        assert page.status_code == 200
        time.sleep(3.2)
        expired = client.get("/users?x=1")
        assert expired.status_code == 303 and expired.headers["location"] == "/login?next=%2Fusers%3Fx%3D1"
        assert client.post("/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 401
        with engine_of(app).connect() as conn:
            assert conn.execute(select(portal_sessions.c.ended_at)).scalar() is not None
        # The sign-in page takes the user back where they were.
        back = sign_in(client, "board@lscp.example", next_path="/users?x=1")
        assert back.status_code == 303 and back.headers["location"] == "/users?x=1"
    finally:
        engine_of(app).dispose()


def test_use_keeps_a_session_alive_but_not_past_its_absolute_lifetime(app, settings):
    make_user(engine_of(app), "board@lscp.example", "board")
    client = signed_in_client(app, "board@lscp.example")
    idle = timedelta(minutes=settings.portal.idle_minutes)

    def age(**by) -> None:
        shift_back(engine_of(app), portal_sessions, **by)

    for _ in range(3):  # used every idle period less a minute: still alive
        age(last_seen_at=idle - timedelta(minutes=1), created_at=idle - timedelta(minutes=1))
        assert client.get("/").status_code == 200
    age(created_at=timedelta(hours=settings.portal.session_hours))  # however busy, it ends after session_hours
    ended = client.get("/")
    assert ended.status_code == 303 and ended.headers["location"] == "/login?next=%2F"
    # And unused for the idle time, a fresh session ends too.
    client = signed_in_client(app, "board@lscp.example")
    age(last_seen_at=idle + timedelta(seconds=1))
    assert client.get("/").status_code == 303


def test_a_disabled_users_session_stops_on_its_next_request(app, settings, monkeypatch):
    clients = everyone(app)
    officer = clients["officer@police.example"]
    assert officer.get("/").status_code == 200
    # Disabled directly in the warehouse (as another process would): the check is on every request.
    with engine_of(app).begin() as conn:
        from pipelines.warehouse.schema import portal_users

        conn.execute(
            update(portal_users).where(portal_users.c.email == "officer@police.example").values(disabled_at=utcnow())
        )
    stopped = officer.get("/")
    assert stopped.status_code == 303 and stopped.headers["location"].startswith("/login")
    assert clients["board@lscp.example"].get("/").status_code == 200  # others carry on
    # And by the command, which also ends the sessions in the warehouse.
    assert clients["analyst@lscp.example"].get("/users").status_code == 200
    assert scorecard(monkeypatch, "users", "disable", "analyst@lscp.example") == 0
    assert clients["analyst@lscp.example"].get("/users").status_code == 303


# The lock and the throttle ----------------------------------------------------------------------


def test_the_sixth_wrong_password_locks_with_its_message_and_a_reset_unlocks(app, settings, monkeypatch):
    make_user(engine_of(app), "officer@police.example", "data_officer", ["police_domestic_incidents"])
    earlier = signed_in_client(app, "officer@police.example")
    client = client_for(app)
    for attempt in range(1, 6):
        wrong = sign_in(client, "officer@police.example", f"wrong password {attempt}")
        assert wrong.status_code == 401 and signin.FAILED in html.unescape(wrong.text)
    sixth = sign_in(client, "officer@police.example", "wrong password 6")
    assert sixth.status_code == 401 and signin.LOCKED in html.unescape(sixth.text)
    assert signin.LOCKED in html.unescape(sign_in(client, "officer@police.example").text)  # the right one too
    assert earlier.get("/").status_code == 303  # the lock ended the account's sessions
    assert find_user(engine_of(app), "officer@police.example").state == "locked"
    with engine_of(app).connect() as conn:
        actions = conn.execute(select(portal_audit.c.action).order_by(portal_audit.c.audit_id)).scalars().all()
    assert actions == ["login", *["login_failed"] * 5, "account_locked", "login_failed"]

    assert scorecard(monkeypatch, "users", "reset", "officer@police.example") == 0
    assert find_user(engine_of(app), "officer@police.example").state == "no password yet"
    path = last_link(settings.outbox)
    form = client.get(path)
    token = parse_qs(urlsplit(path).query)["token"][0]
    new = "a different long passphrase"
    done = client.post(
        "/set-password", data={"csrf_token": csrf_of(form.text), "token": token, "password": new, "confirm": new}
    )
    assert done.status_code == 303 and client.get("/").status_code == 200
    assert find_user(engine_of(app), "officer@police.example").state == "active"
    assert sign_in(client_for(app), "officer@police.example", new).status_code == 303
    # Unlocked with a fresh count: five wrong passwords do not lock it again.
    for attempt in range(5):  # (from other addresses: this one has used up its free failures)
        elsewhere = from_address(app, f"198.51.100.{attempt + 1}")
        assert signin.FAILED in html.unescape(sign_in(elsewhere, "officer@police.example", f"no {attempt}").text)
    assert sign_in(from_address(app, "198.51.100.99"), "officer@police.example", new).status_code == 303


def test_many_failures_from_one_address_are_throttled_with_a_growing_wait(app):
    make_user(engine_of(app), "board@lscp.example", "board")
    spray = from_address(app, "203.0.113.9")
    for n in range(throttle.ADDRESS_FREE):  # one guess at each of ten accounts
        assert sign_in(spray, f"person{n}@lscp.example", "Password123!").status_code == 401
    slowed = sign_in(spray, "board@lscp.example")  # even the right password is not checked now
    assert slowed.status_code == 429 and slowed.headers["retry-after"] == "1"
    assert "Too many sign-in attempts" in slowed.text and "Wait 1 second," in slowed.text
    assert "set-cookie" in slowed.headers and "lscp_session" not in slowed.headers["set-cookie"]
    assert sign_in(from_address(app, "198.51.100.7"), "board@lscp.example").status_code == 303  # others are not
    time.sleep(1.1)
    assert sign_in(spray, "person10@lscp.example", "Password123!").status_code == 401  # allowed again, and wrong
    doubled = sign_in(spray, "board@lscp.example")
    assert doubled.status_code == 429 and doubled.headers["retry-after"] == "2"
    with engine_of(app).connect() as conn:
        actions = conn.execute(select(portal_audit.c.action)).scalars().all()
    assert actions.count("login_throttled") == 2 and actions.count("login_failed") == 11
    # Failures older than the window no longer count.
    shift_back(engine_of(app), portal_audit, at=throttle.WINDOW + timedelta(seconds=1))
    assert sign_in(spray, "board@lscp.example").status_code == 303


def test_many_failures_at_one_account_from_many_addresses_are_throttled(app):
    for n in range(throttle.ACCOUNT_FREE):
        client = from_address(app, f"192.0.2.{n + 1}")
        assert sign_in(client, "Nobody@lscp.example", f"guess {n}").status_code == 401
    slowed = sign_in(from_address(app, "192.0.2.200"), "nobody@lscp.example", "guess again")
    assert slowed.status_code == 429 and int(slowed.headers["retry-after"]) >= 1
    make_user(engine_of(app), "board@lscp.example", "board")
    assert sign_in(from_address(app, "192.0.2.200"), "board@lscp.example").status_code == 303  # another account


def test_with_a_higher_lock_the_throttle_slows_guessing_and_a_good_sign_in_starts_the_count_again(settings):
    app = app_with(settings, lock_after=50)
    try:
        make_user(engine_of(app), "board@lscp.example", "board")
        for n in range(throttle.ACCOUNT_FREE):
            assert sign_in(from_address(app, f"192.0.2.{n + 1}"), "board@lscp.example", f"guess {n}").status_code == 401
        slowed = sign_in(from_address(app, "192.0.2.100"), "board@lscp.example")
        assert slowed.status_code == 429 and slowed.headers["retry-after"] == "1"
        time.sleep(1.1)
        assert sign_in(from_address(app, "192.0.2.101"), "board@lscp.example").status_code == 303
        # Counted afresh from the good sign-in: the next wrong password is answered, not slowed.
        again = sign_in(from_address(app, "192.0.2.102"), "board@lscp.example", "guess 11")
        assert again.status_code == 401 and signin.FAILED in html.unescape(again.text)
        assert find_user(engine_of(app), "board@lscp.example").state == "active"  # 11 wrong, not locked at 50
    finally:
        engine_of(app).dispose()


def test_the_wait_grows_and_is_capped():
    assert [throttle.wait_after(n, 10) for n in (0, 9, 10, 11, 12, 15, 19, 20, 60)] == [
        0,
        0,
        1,
        2,
        4,
        32,
        512,
        900,
        900,
    ]
    assert throttle.wait_in_words(1) == "1 second" and throttle.wait_in_words(90) == "2 minutes"


# Cookies ----------------------------------------------------------------------------------------


def test_cookies_are_httponly_strict_and_secure(app):
    make_user(engine_of(app), "board@lscp.example", "board")
    client = client_for(app)
    form = client.get("/login")
    response = sign_in(client, "board@lscp.example")
    cookies = form.headers.get_list("set-cookie") + response.headers.get_list("set-cookie")
    named = {c.split("=", 1)[0]: c for c in cookies if "Max-Age=0" not in c and "expires=Thu, 01 Jan 1970" not in c}
    assert set(named) == {"__Host-lscp_csrf", "__Host-lscp_session"}
    for cookie in named.values():
        flags = [f.strip().lower() for f in cookie.split(";")[1:]]
        assert {"httponly", "samesite=strict", "secure", "path=/"} <= set(flags), cookie
        assert not any(f.startswith("domain=") for f in flags), cookie


def test_cookies_are_not_secure_when_switched_off_for_local_http(settings):
    app = app_with(settings, secure_cookies=False)
    try:
        make_user(engine_of(app), "board@lscp.example", "board")
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        form = client.get("/login")
        assert "strict-transport-security" not in form.headers
        response = sign_in(client, "board@lscp.example")
        assert response.status_code == 303
        cookies = form.headers.get_list("set-cookie") + response.headers.get_list("set-cookie")
        named = {c.split("=", 1)[0]: c for c in cookies if "Max-Age=0" not in c}
        assert {"lscp_csrf", "lscp_session"} <= set(named)
        for name in ("lscp_csrf", "lscp_session"):
            flags = [f.strip().lower() for f in named[name].split(";")[1:]]
            assert {"httponly", "samesite=strict", "path=/"} <= set(flags) and "secure" not in flags, named[name]
        assert client.get("/").status_code == 200  # the cookie works over plain http
    finally:
        engine_of(app).dispose()


# Passwords never in clear -----------------------------------------------------------------------


def test_passwords_never_appear_in_logs_output_or_the_warehouse(app, settings, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    given, chosen, guessed = "stdin given passphrase 1", "link chosen passphrase 2", "a guessed passphrase 3"
    assert scorecard(monkeypatch, "--debug", "users", "add", "analyst@lscp.example", "--role", "analyst",
                     "--password-stdin", stdin=given + "\n") == 0  # fmt: skip
    client = client_for(app)
    assert sign_in(client, "analyst@lscp.example", guessed).status_code == 401
    assert sign_in(client, "analyst@lscp.example", given).status_code == 303
    assert scorecard(monkeypatch, "--debug", "users", "add", "board@lscp.example", "--role", "board") == 0
    path = last_link(settings.outbox)
    token = parse_qs(urlsplit(path).query)["token"][0]
    other = client_for(app)
    form = other.get(path)
    assert (
        other.post(
            "/set-password",
            data={"csrf_token": csrf_of(form.text), "token": token, "password": chosen, "confirm": chosen},
        ).status_code
        == 303
    )
    assert other.get("/").status_code == 200
    captured = capsys.readouterr()
    # Every record logged, at any level, but the test's own HTTP client's (it logs the URLs it asks
    # for, as a browser's history holds them; the server logs no request line: no access log).
    records = [r for r in caplog.records if not r.name.startswith("httpx")]
    logged = "\n".join(r.getMessage() for r in records) + captured.out + captured.err
    assert {r.levelno for r in records} >= {logging.DEBUG, logging.INFO}  # the capture works at every level
    assert "no SMTP server configured; wrote" in logged
    for secret in (given, chosen, guessed, token):
        assert secret not in logged

    # Every text column of every table of the warehouse, read back whole.
    engine = engine_of(app)
    tables = MetaData()
    tables.reflect(engine)
    scanned, found_emails = 0, 0
    with engine.connect() as conn:
        for table in tables.tables.values():
            for column in table.columns:
                if not isinstance(column.type, (String, Text)):
                    continue
                scanned += 1
                for value in conn.execute(select(column)).scalars():
                    if value is None:
                        continue
                    for secret in (given, chosen, guessed, token):
                        assert secret not in str(value), (table.name, column.name)
                    found_emails += "analyst@lscp.example" in str(value)
    assert scanned > 20 and found_emails >= 3  # the scan reads real values (emails are kept in clear)
