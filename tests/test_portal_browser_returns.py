"""The portal's pages in a real browser (``scorecard serve`` under uvicorn, Debian's chromium
through Playwright), on SQLite and PostgreSQL: a data officer checks a file with bad rows, sees
each reason, submits it, intake runs and the receipt appears; markup in names and cells stays
inert; a board member reads a built scorecard and downloads its workbook; the analyst sees the
overview and the pipeline's status. Every page visited is
screenshotted at 375 px and 1280 px wide, with no sideways scrolling at either width."""

from __future__ import annotations

import re
from datetime import date

import openpyxl
import pytest

from pipelines.build import build_quarter
from pipelines.generate import generate
from pipelines.intake import run_intake
from pipelines.periods import Quarter
from pipelines.warehouse import connect_warehouse, init_warehouse
from tests.portal_client import PASSWORD, make_user
from tests.portal_server import chromium, no_horizontal_scroll, running_portal
from tests.test_intake import HEADER, police_rows, write_xlsx

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POLICE = "police_domestic_incidents"
WIDTHS = (375, 1280)
PAYLOADS = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)")


def sign_in(page, url: str, email: str) -> None:
    page.goto(url + "/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def look(page, tmp_path, name: str, shots: list) -> None:
    """The page as it is now, at each width: no sideways scrolling, a screenshot kept."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert no_horizontal_scroll(page), f"{name} scrolls sideways at {width}px"
        shot = tmp_path / f"portal-{name}-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 1000
        print(f"screenshot: {shot}")
        shots.append(shot)
    page.set_viewport_size({"width": 1280, "height": 900})


def evil_file(path):
    """A police return whose sheet name, one header and some cells are markup, and whose
    row 4 (of the sheet) is bad."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = PAYLOADS[1]
    sheet.append([*HEADER, PAYLOADS[0]])
    rows = police_rows(6)
    rows[2][5] = PAYLOADS[1]
    rows[2][7] = PAYLOADS[0]
    rows[2][8] = PAYLOADS[2]
    for row in rows:
        sheet.append([*row, PAYLOADS[2]])
    book.save(path)
    return path


def test_officer_and_board_in_chromium(settings, tmp_path):
    quarter = Quarter.latest_complete(date.today())  # so its returns are on the dashboard
    generate(settings.inbox, quarters=5, seed=3, end_quarter=quarter, scale=0.1)
    run_intake(settings, files=sorted(p for p in settings.inbox.iterdir() if p.is_file()))
    build_quarter(settings, quarter, email=False)
    engine = connect_warehouse(settings.warehouse_url)
    init_warehouse(engine)
    make_user(engine, "police@lscp.example", "data_officer", [POLICE])
    make_user(engine, "board@lscp.example", "board")
    make_user(engine, "analyst@lscp.example", "analyst")
    engine.dispose()

    rows = police_rows(30, start=5001)
    rows[3][1] = "31/02/2024"  # sheet row 8: not a date
    rows[7][5] = "purple"  # row 12: not a risk level
    bad = write_xlsx(tmp_path / "police april.xlsx", rows)
    evil = evil_file(tmp_path / "evil.xlsx")
    shots: list = []
    env = {"SCORECARD_HOME": str(settings.home), "SCORECARD_WAREHOUSE_URL": settings.warehouse_url}
    with running_portal(env) as url, chromium() as browser:
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        sign_in(page, url, "police@lscp.example")
        assert page.url == url + "/"
        assert "Police domestic incidents" in page.inner_text("main")
        look(page, tmp_path, "dashboard", shots)
        page.goto(url + "/returns")
        returns = page.inner_text("main")
        assert quarter.label in returns
        assert "Late: received after the due date" in returns or re.search(r"\tReceived\t", returns)
        look(page, tmp_path, "returns", shots)

        page.goto(url + "/check")
        look(page, tmp_path, "check", shots)
        page.set_input_files("#file", str(bad))
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r".*/uploads/[A-Za-z0-9_-]{32}$"))
        main = page.inner_text("main")
        assert "Intake would accept this file" in main
        assert "police april.xlsx" in main
        assert page.locator("td[data-label=Row]").all_inner_texts() == ["8", "12"]
        reasons = page.locator("ul.reasons").all_inner_texts()
        assert "Date Reported" in reasons[0] and "DASH Risk" in reasons[1]
        assert "31/02/2024" in main and "purple" in main
        look(page, tmp_path, "check-result", shots)

        page.click("text=Submit this file")
        page.wait_for_url(re.compile(r".*/submissions/\d+$"))
        submission_url = page.url
        assert "Waiting for intake" in page.inner_text("main")
        look(page, tmp_path, "submission-waiting", shots)
        assert [o.status for o in run_intake(settings).outcomes] == ["accepted"]
        page.reload()
        main = page.inner_text("main")
        assert "Waiting for intake" not in main
        assert "Intake accepted this file" in main and "Receipt for police april-portal-" in main
        look(page, tmp_path, "submission-receipt", shots)
        with page.expect_download() as download:
            page.click("text=Download the rejected rows (Excel)")
        saved = tmp_path / "rejects-downloaded.xlsx"
        download.value.save_as(saved)
        sheet = openpyxl.load_workbook(saved).active
        assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == [8, 12]
        page.goto(url + "/submissions")
        assert submission_url.rsplit("/", 1)[1] in page.inner_html("main")
        look(page, tmp_path, "submissions", shots)

        # Markup in the file name, sheet name, a header and cells: shown as text, never run.
        page.goto(url + "/check")
        page.set_input_files(
            "#file",
            files=[
                {
                    "name": PAYLOADS[0] + ".xlsx",
                    "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "buffer": evil.read_bytes(),
                }
            ],
        )
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r".*/uploads/[A-Za-z0-9_-]{32}$"))
        main = page.inner_text("main")
        for payload in PAYLOADS:
            assert payload in main  # as text
        assert page.locator("script").count() == 0
        assert page.locator("img").count() == 0
        assert page.locator("a[href^='javascript']").count() == 0
        look(page, tmp_path, "check-markup", shots)
        assert dialogs == []
        context.close()

        # The board: the list of quarters, a scorecard with its charts, the workbook.
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, url, "board@lscp.example")
        assert page.url == url + "/"  # the board's first page: the scorecards
        assert quarter.label in page.inner_text("main")
        nav = page.locator("nav a").all_inner_texts()
        assert "Check a file" not in nav and "Scorecards" in nav
        look(page, tmp_path, "scorecards", shots)
        page.click(f"text={quarter.label}")
        page.wait_for_url(url + f"/scorecards/{quarter.code}")
        assert quarter.label in page.inner_text("body")
        images = page.locator("img")
        assert images.count() > 0
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        look(page, tmp_path, "scorecard", shots)
        # An indicator's own page, with its full SPC chart and icons, from the scorecard's link.
        first = page.locator(f'a[href^="/scorecards/{quarter.code}/indicators/"]').first
        indicator_href = first.get_attribute("href")
        page.goto(url + indicator_href)
        assert page.evaluate("document.images.length > 0")
        assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        look(page, tmp_path, "indicator", shots)
        page.goto(url + "/scorecards")
        with page.expect_download() as download:
            page.click("text=Excel workbook")
        saved = tmp_path / "workbook-downloaded.xlsx"
        download.value.save_as(saved)
        assert download.value.suggested_filename == f"scorecard-{quarter.code}.xlsx"
        assert openpyxl.load_workbook(saved, read_only=True).sheetnames
        assert page.goto(url + "/check").status == 403
        assert dialogs == []
        context.close()

        # The analyst: every source's returns, and the pipeline's status.
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, url, "analyst@lscp.example")
        main = page.inner_text("main")
        assert "Overview" in main and "Missing from home or care episodes" in main and "police april.xlsx" not in main
        look(page, tmp_path, "overview", shots)
        page.goto(url + "/status")
        main = page.inner_text("main")
        assert "Pipeline status" in main and quarter.label in main and "Police domestic incidents" in main
        look(page, tmp_path, "status", shots)
        page.goto(url + "/submissions")
        assert "police april.xlsx" in page.inner_text("main")
        page.close()
    assert len(shots) == 2 * 13
