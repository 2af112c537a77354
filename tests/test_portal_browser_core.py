"""The portal in a real browser: ``scorecard serve`` under uvicorn, Debian's chromium through
Playwright, signing in at phone and desktop widths with no sideways scrolling."""

from __future__ import annotations

import pytest

from pipelines.warehouse import connect_warehouse, init_warehouse
from tests.portal_client import PASSWORD, make_user
from tests.portal_server import chromium, no_horizontal_scroll, running_portal

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_sign_in_in_chromium_at_phone_and_desktop_widths(settings, tmp_path):
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    make_user(engine, "board@lscp.example", "board")
    engine.dispose()
    env = {"SCORECARD_HOME": str(settings.home), "SCORECARD_WAREHOUSE_URL": settings.warehouse_url}
    with running_portal(env) as url, chromium() as browser:
        for width in (375, 1280):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(url + "/")
            assert page.url.startswith(url + "/login")
            page.fill("#email", "board@lscp.example")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")  # the board's first page: the scorecards
            assert "board@lscp.example" in page.inner_text("header")
            assert no_horizontal_scroll(page)
            shot = tmp_path / f"portal-home-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
            print(f"screenshot: {shot}")
            page.close()
