"""Accounts in a real browser against a real server (``scorecard serve`` under uvicorn, Debian's
chromium through Playwright): a new user opens the emailed one-time link, sets a password and is
signed in with an HttpOnly, SameSite=Strict session cookie; the link then says it was used; the
analyst reads the accounts and the audit log at phone and desktop widths without sideways
scrolling; the server's own log never holds a password or a link's token."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from pipelines.portal import links
from tests.portal_accounts import last_link, scorecard
from tests.portal_server import chromium, no_horizontal_scroll, running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANALYST_PASSWORD = "analyst typed this passphrase"
CHOSEN = "officer chose this passphrase"


def test_a_new_user_sets_a_password_by_the_emailed_link_in_chromium(settings, monkeypatch, tmp_path):
    assert scorecard(monkeypatch, "users", "add", "analyst@lscp.example", "--role", "analyst", "--password-stdin",
                     stdin=ANALYST_PASSWORD + "\n") == 0  # fmt: skip
    assert scorecard(monkeypatch, "users", "add", "a.very.long.name.for.an.officer@police.force.example",
                     "--role", "data_officer", "--source", "police_domestic_incidents") == 0  # fmt: skip
    path = last_link(settings.outbox)
    token = parse_qs(urlsplit(path).query)["token"][0]
    env = {"SCORECARD_HOME": str(settings.home), "SCORECARD_WAREHOUSE_URL": settings.warehouse_url}
    with running_portal(env) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 375, "height": 800})
        page = context.new_page()
        shown = page.goto(url + path)
        assert shown is not None and shown.status == 200
        policy = shown.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert shown.headers["x-content-type-options"] == "nosniff" and shown.headers["x-frame-options"] == "DENY"
        assert shown.headers["referrer-policy"] == "same-origin"  # the token in the address goes to no other site
        assert "a.very.long.name.for.an.officer@police.force.example" in page.inner_text("main")
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(tmp_path / "set-password-375.png"), full_page=True)
        # The real server refuses the form without its token (the browser's own request, token removed).
        refused = context.request.post(
            url + "/set-password", form={"token": token, "password": CHOSEN, "confirm": CHOSEN}
        )
        assert refused.status == 403 and "Form expired" in refused.text()
        page.fill("#password", CHOSEN)
        page.fill("#confirm", CHOSEN)
        page.click("main button[type=submit]")
        page.wait_for_url(url + "/")
        assert "a.very.long.name.for.an.officer@police.force.example" in page.inner_text("header")
        [session] = [c for c in context.cookies() if c["name"] == "lscp_session"]
        assert session["httpOnly"] is True and session["sameSite"] == "Strict" and session["secure"] is False
        page.goto(url + path)  # the link works once
        assert links.USED in page.inner_text("main") and page.locator("#password").count() == 0
        context.close()

        for width in (375, 1280):
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            page.goto(url + "/users")
            assert page.url.startswith(url + "/login")
            page.fill("#email", "analyst@lscp.example")
            page.fill("#password", ANALYST_PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_url(url + "/users")
            text = page.inner_text("main")
            assert (
                "a.very.long.name.for.an.officer@police.force.example" in text and "police_domestic_incidents" in text
            )
            assert no_horizontal_scroll(page)
            page.screenshot(path=str(tmp_path / f"users-{width}.png"), full_page=True)
            page.goto(url + "/audit")
            page.select_option("#action", "password_set")
            page.click("form.filters button")
            page.wait_for_url(url + "/audit?action=password_set*")
            rows = page.locator("main tbody tr")
            assert rows.count() == 1 and "a.very.long.name.for.an.officer@police.force.example" in rows.inner_text()
            assert no_horizontal_scroll(page)
            page.screenshot(path=str(tmp_path / f"audit-{width}.png"), full_page=True)
            context.close()
    for shot in tmp_path.glob("*.png"):
        assert shot.stat().st_size > 1000
        print(f"screenshot: {shot}")
    [server_log] = Path(settings.home).parent.glob("portal-*.log")
    logged = server_log.read_text()
    assert "Portal at http://127.0.0.1:" in logged  # it is the server's output
    for secret in (ANALYST_PASSWORD, CHOSEN, token):
        assert secret not in logged
