"""Commentary in a real browser (``scorecard serve`` under uvicorn, Debian's chromium through
Playwright), on SQLite and PostgreSQL: a data officer opens the quarter's commentary page, sees
their exceptions awaiting commentary, types commentary holding markup and keeps it; the page
shows it as text (no script runs, no dialog opens), with no sideways scrolling at 375 px and
1280 px; the next build carries it into scorecard.json as plain text."""

from __future__ import annotations

import json

import pytest

from pipelines.build import build_quarter
from pipelines.periods import Quarter
from pipelines.warehouse import connect_warehouse, init_warehouse
from tests.portal_client import make_user
from tests.portal_server import chromium, running_portal
from tests.test_portal_browser_returns import look, sign_in
from tests.test_scorecard import data  # noqa: F401  (the fixture: two years of hand-made rows)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

Q1 = Quarter(2024, 1)
SCRIPT = "<script>alert('commentary')</script><img src=x onerror=alert(2)> Liaison post vacant since May."


def test_an_officer_keeps_commentary_in_chromium(settings, data, tmp_path):  # noqa: F811
    build_quarter(settings, Q1, email=False)
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    make_user(engine, "police@lscp.example", "data_officer", ["police_domestic_incidents"])
    engine.dispose()
    env = {"SCORECARD_HOME": str(settings.home), "SCORECARD_WAREHOUSE_URL": settings.warehouse_url}
    shots: list = []
    with running_portal(env) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, url, "police@lscp.example")
        page.click("nav >> text=Commentary")
        page.click(f"text={Q1.label}")
        assert page.url == f"{url}/commentary/{Q1.code}"
        assert page.locator("h3").nth(0).inner_text().startswith("DA04 ")
        assert page.locator(".tag-awaiting").count() == 2
        look(page, tmp_path, "commentary", shots)

        page.fill("#text-DA04", SCRIPT)
        page.click("text=Keep commentary on DA04")
        page.wait_for_url(f"{url}/commentary/{Q1.code}?kept=DA04#DA04")
        assert "Commentary on DA04 kept" in page.inner_text("main")
        assert page.locator("#DA04 .comment-text").inner_text() == SCRIPT
        assert page.locator("#DA04 img").count() == 0 and page.locator("main script").count() == 0
        assert page.locator(".tag-awaiting").count() == 1
        look(page, tmp_path, "commentary-kept", shots)
        assert dialogs == []

    build_quarter(settings, Q1, email=False)
    document = json.loads((settings.out / Q1.code / "scorecard.json").read_text(encoding="utf-8"))
    da04 = next(i for i in document["indicators"] if i["id"] == "DA04")
    assert da04["commentary"]["text"] == SCRIPT and da04["commentary"]["author"] == "police@lscp.example"
    assert len(shots) == 4
