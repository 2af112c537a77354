"""Portal accounts on each warehouse engine: ``scorecard users add|disable|list|reset``, the
one-time set-password link (emailed, hashed, one use, expiring), and the analyst's pages of
accounts and of the audit log."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import insert, select, update

from pipelines.portal import links
from pipelines.portal.accounts import find_user, utcnow
from pipelines.portal.sessions import token_hash
from pipelines.warehouse.schema import portal_audit, portal_tokens, portal_users
from tests.portal_accounts import emails, last_link, new_app, scorecard
from tests.portal_client import PASSWORD, client_for, csrf_of, make_user, sign_in, signed_in_client

NEW_PASSWORD = "plum kettle orbit meadow"


@pytest.fixture
def app(settings):
    app = new_app(settings)
    yield app
    app.state.portal.engine.dispose()


def engine_of(app):
    return app.state.portal.engine


def form_token(page: str) -> str:
    """The CSRF token of the set-password form itself (a signed-in page's sign-out form has its own)."""
    found = re.search(r'action="/set-password".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert found, page
    return found.group(1)


def set_password(client, path: str, password: str = NEW_PASSWORD, again: str | None = None):
    form = client.get(path)
    assert form.status_code == 200, form.text
    token = parse_qs(urlsplit(path).query)["token"][0]
    return client.post(
        "/set-password",
        data={
            "csrf_token": form_token(form.text),
            "token": token,
            "password": password,
            "confirm": password if again is None else again,
        },
    )


def test_users_add_emails_a_one_time_link_that_sets_the_password_and_signs_in(app, settings, monkeypatch, capsys):
    assert scorecard(monkeypatch, "users", "add", "Officer@Police.example", "--role", "data_officer",
                     "--source", "police_domestic_incidents") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "Added officer@police.example (data_officer of police_domestic_incidents)" in out
    [message] = emails(settings.outbox)
    assert message["To"] == "officer@police.example"
    body = message.get_body(("plain",)).get_content()
    assert "72 hours" in body and "police_domestic_incidents" not in body and "data_officer" not in body
    path = last_link(settings.outbox)
    token = parse_qs(urlsplit(path).query)["token"][0]
    assert token not in out  # the analyst never sees the link
    with engine_of(app).connect() as conn:
        row = conn.execute(select(portal_tokens)).mappings().one()
        user = conn.execute(select(portal_users)).mappings().one()
    assert row["token_hash"] == token_hash(token) and token not in row.values()
    assert row["expires_at"] - row["created_at"] == timedelta(hours=72) and row["used_at"] is None
    assert (
        user["password_hash"] is None and find_user(engine_of(app), "officer@police.example").state == "no password yet"
    )

    client = client_for(app)
    assert "do not match" in sign_in(client, "officer@police.example", NEW_PASSWORD).text  # no password yet
    page = client.get(path)
    assert page.status_code == 200 and "officer@police.example" in page.text and 'name="password"' in page.text
    done = set_password(client, path)
    assert done.status_code == 303 and done.headers["location"] == "/"
    home = client.get("/")
    assert home.status_code == 200 and "officer@police.example" in home.text  # signed in
    with engine_of(app).connect() as conn:
        assert conn.execute(select(portal_tokens.c.used_at)).scalar() is not None
        stored = conn.execute(select(portal_users.c.password_hash)).scalar()
        actions = conn.execute(select(portal_audit.c.action).order_by(portal_audit.c.audit_id)).scalars().all()
    assert stored.startswith("$argon2id$") and NEW_PASSWORD not in stored
    assert actions == ["user_added", "login_failed", "password_set", "login"]
    # The link works once: used, it says so, and it cannot set a password again.
    again = client_for(app).get(path)
    assert again.status_code == 410 and links.USED in html.unescape(again.text) and 'name="password"' not in again.text
    assert signed_in_client(app, "officer@police.example", NEW_PASSWORD).get("/").status_code == 200


def test_an_expired_or_unknown_link_says_so_and_sets_nothing(app, settings, monkeypatch):
    assert scorecard(monkeypatch, "users", "add", "board@lscp.example", "--role", "board") == 0
    path = last_link(settings.outbox)
    client = client_for(app)
    form = client.get(path)
    with engine_of(app).begin() as conn:
        conn.execute(update(portal_tokens).values(expires_at=utcnow() - timedelta(minutes=1)))
    expired = client.get(path)
    assert expired.status_code == 410 and links.EXPIRED in html.unescape(expired.text)
    token = parse_qs(urlsplit(path).query)["token"][0]
    posted = client.post(
        "/set-password",
        data={"csrf_token": csrf_of(form.text), "token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert posted.status_code == 410 and links.EXPIRED in html.unescape(posted.text)
    for bad in ("/set-password?token=" + token[:-3], "/set-password", "/set-password?token="):
        unknown = client.get(bad)
        assert unknown.status_code == 404 and links.UNKNOWN in html.unescape(unknown.text)
    assert find_user(engine_of(app), "board@lscp.example").has_password is False


def test_a_weak_or_mistyped_password_is_refused_and_the_link_still_works(app, settings, monkeypatch):
    assert scorecard(monkeypatch, "users", "add", "board@lscp.example", "--role", "board") == 0
    path = last_link(settings.outbox)
    client = client_for(app)
    short = set_password(client, path, "short")
    assert short.status_code == 400 and "at least 12 characters" in short.text
    mistyped = set_password(client, path, NEW_PASSWORD, again=NEW_PASSWORD + "x")
    assert mistyped.status_code == 400 and "not the same" in mistyped.text
    assert find_user(engine_of(app), "board@lscp.example").has_password is False
    assert set_password(client, path).status_code == 303


def test_users_add_usage_errors_exit_2_with_one_line(settings, monkeypatch, capsys):
    cases = [
        (["--role", "boss"], "no role 'boss': the roles are data_officer, analyst, board"),
        (["--role", "data_officer", "--source", "nowhere"], "no source nowhere: the sources are"),
        (["--role", "data_officer"], "a data officer needs at least one --source"),
        (["--role", "board", "--source", "missing_episodes"], "only a data officer has sources"),
    ]
    for extra, said in cases:
        assert scorecard(monkeypatch, "users", "add", "x@lscp.example", *extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("scorecard: ") and said in err and err.count("\n") == 1, err
    assert scorecard(monkeypatch, "users", "add", "x@lscp.example", "--role", "board") == 0
    capsys.readouterr()
    assert scorecard(monkeypatch, "users", "add", "X@lscp.example", "--role", "analyst") == 2
    assert capsys.readouterr().err == "scorecard: x@lscp.example already has an account\n"
    assert scorecard(monkeypatch, "users", "add", "not-an-address", "--role", "board") == 2
    assert "is not an email address" in capsys.readouterr().err
    assert scorecard(monkeypatch, "users", "add", "y@lscp.example", "--role", "board", "--password-stdin",
                     stdin="too short\n") == 2  # fmt: skip
    assert capsys.readouterr().err == "scorecard: a password must be at least 12 characters long\n"
    for command in ("disable", "reset"):
        assert scorecard(monkeypatch, "users", command, "nobody@lscp.example") == 2
        assert "no account nobody@lscp.example" in capsys.readouterr().err
    assert len(emails(settings.outbox)) == 1  # only x@ was emailed a link


def test_users_list_shows_each_state_and_never_a_hash(app, settings, monkeypatch, capsys):
    engine = engine_of(app)
    assert scorecard(monkeypatch, "users", "add", "analyst@lscp.example", "--role", "analyst", "--password-stdin",
                     stdin=PASSWORD + "\n") == 0  # fmt: skip
    assert scorecard(monkeypatch, "users", "add", "new@lscp.example", "--role", "board") == 0
    make_user(engine, "locked@police.example", "data_officer", ["police_domestic_incidents", "missing_episodes"])
    make_user(engine, "gone@lscp.example", "board")
    with engine.begin() as conn:
        conn.execute(
            update(portal_users).where(portal_users.c.email == "locked@police.example").values(locked_at=utcnow())
        )
    assert scorecard(monkeypatch, "users", "disable", "gone@lscp.example") == 0
    capsys.readouterr()
    assert scorecard(monkeypatch, "users", "list") == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        ["EMAIL", "ROLE", "SOURCES", "STATE"],
        ["analyst@lscp.example", "analyst", "-", "active"],
        ["gone@lscp.example", "board", "-", "disabled"],
        ["locked@police.example", "data_officer", "missing_episodes,police_domestic_incidents", "locked"],
        ["new@lscp.example", "board", "-", "no", "password", "yet"],
    ]
    # The password given on stdin works, and only its argon2id hash is stored.
    assert signed_in_client(app, "analyst@lscp.example").get("/").status_code == 200


def test_users_disable_ends_every_session_at_once(app, settings, monkeypatch, capsys):
    make_user(engine_of(app), "officer@police.example", "data_officer", ["police_domestic_incidents"])
    first, second = (signed_in_client(app, "officer@police.example") for _ in range(2))
    token = csrf_of(first.get("/").text)
    assert scorecard(monkeypatch, "users", "disable", "officer@police.example") == 0
    assert "2 session(s) ended" in capsys.readouterr().out
    for client in (first, second):  # the next request of each existing session is refused
        refused = client.get("/")
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert first.post("/logout", data={"csrf_token": token}).status_code == 401
    assert "do not match" in sign_in(client_for(app), "officer@police.example").text
    assert find_user(engine_of(app), "officer@police.example").state == "disabled"
    # A disabled account's link (were one still live) sets nothing.
    assert scorecard(monkeypatch, "users", "reset", "officer@police.example") == 2
    assert "is disabled" in capsys.readouterr().err


def test_users_reset_retires_the_old_link_and_password_and_emails_a_new_link(app, settings, monkeypatch, capsys):
    assert scorecard(monkeypatch, "users", "add", "board@lscp.example", "--role", "board") == 0
    old_link = last_link(settings.outbox)
    assert set_password(client_for(app), old_link).status_code == 303
    signed = signed_in_client(app, "board@lscp.example", NEW_PASSWORD)
    assert scorecard(monkeypatch, "users", "reset", "board@lscp.example") == 0
    out = capsys.readouterr().out
    assert "Reset board@lscp.example: unlocked, password cleared, 2 session(s) ended" in out
    assert signed.get("/").status_code == 303  # sessions ended
    assert "do not match" in sign_in(client_for(app), "board@lscp.example", NEW_PASSWORD).text  # password cleared
    assert (
        len(emails(settings.outbox)) == 2
        and "has reset your account" in emails(settings.outbox)[-1].get_body(("plain",)).get_content()
    )
    assert client_for(app).get(old_link).status_code == 410
    # A second reset retires the first reset's link: only the newest works.
    first_reset = last_link(settings.outbox)
    assert scorecard(monkeypatch, "users", "reset", "board@lscp.example") == 0
    assert client_for(app).get(first_reset).status_code == 410
    assert set_password(client_for(app), last_link(settings.outbox), "another long passphrase").status_code == 303


def test_the_accounts_page_and_the_audit_log_are_for_the_analyst_only(app, monkeypatch):
    engine = engine_of(app)
    make_user(engine, "analyst@lscp.example", "analyst")
    make_user(engine, "officer@police.example", "data_officer", ["police_domestic_incidents"])
    make_user(engine, "board@lscp.example", "board")
    make_user(engine, "<script>alert(1)</script>@evil.example", "board")
    for email in ("officer@police.example", "board@lscp.example"):
        client = signed_in_client(app, email)
        for path in ("/users", "/audit", "/audit?action=login"):
            refused = client.get(path)
            assert refused.status_code == 403 and "analyst@lscp.example" not in refused.text
    analyst = signed_in_client(app, "analyst@lscp.example")
    users = analyst.get("/users")
    assert users.status_code == 200
    for email, role, state in (
        ("officer@police.example", "data officer", "active"),
        ("board@lscp.example", "board", "active"),
    ):
        assert f">{email}<" in users.text and f">{role}<" in users.text and state in users.text
    assert "police_domestic_incidents" in users.text and "$argon2" not in users.text
    assert "<script>alert(1)" not in users.text and "&lt;script&gt;alert(1)&lt;/script&gt;@evil.example" in users.text


def test_the_audit_log_is_newest_first_filtered_and_paged(app):
    engine = engine_of(app)
    make_user(engine, "analyst@lscp.example", "analyst")
    start = utcnow() - timedelta(days=1)
    rows = [
        {
            "at": start + timedelta(minutes=n),
            "user_id": None,
            "email": "officer@police.example" if n % 2 else "board@lscp.example",
            "action": "download" if n % 3 == 0 else "upload",
            "detail": f"entry {n:03d}",
            "remote": "10.0.0.1",
        }
        for n in range(130)
    ]
    with engine.begin() as conn:
        conn.execute(insert(portal_audit), rows)
    analyst = signed_in_client(app, "analyst@lscp.example")
    first = analyst.get("/audit")
    assert first.status_code == 200
    # The analyst's own sign-in is the newest; then entry 129, 128, ... 50 rows a page.
    shown = [int(n) for n in re.findall(r"entry (\d{3})", first.text)]
    assert shown == list(range(129, 80, -1)) and "login" in first.text.split("entry 129")[0]
    assert 'href="/audit?page=2"' in first.text and "Newer entries" not in first.text
    third = analyst.get("/audit?page=3")
    shown3 = [int(n) for n in re.findall(r"entry (\d{3})", third.text)]
    assert shown3 == list(range(30, -1, -1)) and "Older entries" not in third.text
    filtered = analyst.get("/audit", params={"action": "download", "user": "Officer@Police.example"})
    numbers = [int(n) for n in re.findall(r"entry (\d{3})", filtered.text)]
    assert numbers == [n for n in range(129, -1, -1) if n % 2 and n % 3 == 0]
    assert analyst.get("/audit", params={"action": "nothing_like_it"}).text.count("entry ") == 0
    assert analyst.get("/audit?page=0").status_code == 400


def test_only_the_analyst_is_shown_the_links_to_accounts_and_the_audit_log(app):
    engine = engine_of(app)
    make_user(engine, "analyst@lscp.example", "analyst")
    make_user(engine, "board@lscp.example", "board")
    analyst = signed_in_client(app, "analyst@lscp.example").get("/").text
    assert 'href="/users"' in analyst and 'href="/audit"' in analyst
    board = signed_in_client(app, "board@lscp.example").get("/").text
    assert 'href="/users"' not in board and 'href="/audit"' not in board


def test_the_link_goes_by_the_configured_mail_server(app, settings, monkeypatch, capsys, smtp_server):
    catcher, port = smtp_server()
    monkeypatch.setenv("SCORECARD_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCORECARD_SMTP_PORT", str(port))
    monkeypatch.setenv("SCORECARD_PORTAL_URL", "https://scorecard.lscp.example/")
    assert scorecard(monkeypatch, "users", "add", "board@lscp.example", "--role", "board") == 0
    assert f"emailed: sent to 127.0.0.1:{port}" in capsys.readouterr().out
    [envelope] = catcher.envelopes
    assert envelope.rcpt_tos == ["board@lscp.example"]
    [message] = catcher.messages()
    body = message.get_body(("plain",)).get_content()
    found = re.search(r"https://scorecard\.lscp\.example/set-password\?token=([A-Za-z0-9_-]{43})\s", body)
    assert found, body
    assert not list(settings.outbox.glob("*.eml"))  # sent, not written to the outbox
    page = client_for(app).get(f"/set-password?token={found.group(1)}")
    assert page.status_code == 200 and "board@lscp.example" in page.text


def test_users_enable_lets_a_disabled_account_sign_in_again(app, monkeypatch, capsys):
    make_user(engine_of(app), "board@lscp.example", "board")
    assert scorecard(monkeypatch, "users", "disable", "board@lscp.example") == 0
    assert "do not match" in sign_in(client_for(app), "board@lscp.example").text
    capsys.readouterr()
    assert scorecard(monkeypatch, "users", "enable", "board@lscp.example") == 0
    assert capsys.readouterr().out == "Enabled board@lscp.example: active.\n"
    assert signed_in_client(app, "board@lscp.example").get("/").status_code == 200
    assert scorecard(monkeypatch, "users", "enable", "board@lscp.example") == 0
    assert "is not disabled (active)" in capsys.readouterr().out
    with engine_of(app).connect() as conn:
        actions = conn.execute(select(portal_audit.c.action).order_by(portal_audit.c.audit_id)).scalars().all()
    assert actions == ["user_disabled", "login_failed", "user_enabled", "login"]


def test_a_link_opened_in_a_browser_signed_in_as_someone_else_signs_in_its_own_user(app, settings, monkeypatch):
    make_user(engine_of(app), "analyst@lscp.example", "analyst")
    browser = signed_in_client(app, "analyst@lscp.example")
    old_cookie = dict(browser.cookies)
    assert scorecard(monkeypatch, "users", "add", "board@lscp.example", "--role", "board") == 0
    done = set_password(browser, last_link(settings.outbox))
    assert done.status_code == 303
    assert client_for(app).get("/", cookies=old_cookie).status_code == 303  # the analyst's session ended
    home = browser.get("/")
    assert home.status_code == 200 and "board@lscp.example" in home.text and "analyst@lscp.example" not in home.text


def test_the_audit_log_shows_what_was_typed_as_text(app):
    engine = engine_of(app)
    make_user(engine, "analyst@lscp.example", "analyst")
    client = client_for(app)
    typed = '<img src=x onerror="alert(1)">@evil.example'
    assert sign_in(client, typed, "whatever they typed").status_code == 401
    analyst = signed_in_client(app, "analyst@lscp.example")
    page = analyst.get("/audit", params={"user": typed})
    assert page.status_code == 200 and "<img" not in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;@evil.example" in page.text
    assert page.text.count('<td data-label="Action">login failed</td>') == 1 and page.text.count("<tr>") == 2
