"""The archive's scorecard page and an indicator page in headless Chromium (Playwright driving
Debian's chromium): the full Making Data Count chart and the SPC icons load, and the icons'
meaning in words is visible beside them. Screenshots are saved under the test's tmp folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import sync_playwright

from pipelines.build import build_quarter
from pipelines.config import load_settings
from pipelines.generate import generate
from pipelines.intake import run_intake
from pipelines.periods import Quarter
from pipelines.render.icons import ASSURANCE, COMMON_CAUSE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    home = tmp_path_factory.mktemp("chart-pages")
    settings = load_settings(
        {"SCORECARD_HOME": str(home), "SCORECARD_PSEUDONYM_KEY": "test-key-not-secret", "SCORECARD_SETTLE_SECONDS": "0"}
    )
    settings.ensure_folders()
    quarter = Quarter.parse("2024-25Q4")
    generate(settings.inbox, quarters=5, seed=3, end_quarter=quarter, scale=0.2)
    run_intake(settings, files=sorted(settings.inbox.iterdir()))
    return build_quarter(settings, quarter, email=False)


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1000})
        finally:
            browser.close()


ICON_WORDS = {COMMON_CAUSE.words, *(icon.words for icon in ASSURANCE.values())}


def _icons(page) -> list[dict]:
    """Every SPC icon on the page: its image's state and the words shown beside it."""
    return page.eval_on_selector_all(
        ".spc-icon",
        """els => els.map(e => {
            const img = e.querySelector('img');
            const words = e.querySelector('.spc-words');
            return {
                loaded: img ? img.complete && img.naturalWidth > 0 : null,
                width: img ? img.naturalWidth : 0,
                alt: img ? img.alt : null,
                words: words.innerText,
                visible: words.offsetWidth > 0 && words.offsetHeight > 0
                    && getComputedStyle(words).visibility === 'visible',
            };
        })""",
    )


def test_scorecard_and_indicator_pages_show_the_chart_and_the_icons_words(built, page, tmp_path):
    # from the archive's index to the quarter's scorecard page
    page.goto(built.index.as_uri())
    page.get_by_role("link", name="2024-25 Q4").click()
    page.wait_for_load_state("load")
    assert page.url == built.html.as_uri()
    icons = _icons(page)
    assert len(icons) >= 30  # a variation and (for most) an assurance icon per indicator
    assert all(i["loaded"] and i["width"] == 96 for i in icons if i["loaded"] is not None)
    assert all(i["visible"] for i in icons)
    with_images = [i for i in icons if i["loaded"] is not None]
    assert len(with_images) >= 30
    assert all(
        re.fullmatch(r"(Variation|Assurance) icon: (grey|blue|orange|purple)(, [HLPF?])?", i["alt"])
        for i in with_images
    )
    words = {i["words"] for i in icons}
    assert words & ICON_WORDS  # the common-cause and assurance words people read beside the icons
    broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
    assert broken == 0
    shot = tmp_path / "scorecard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    # the indicator's name links to its page in the archive
    first = page.locator("tr[id] a").first
    href = first.get_attribute("href")
    assert href and href.startswith("indicators/") and href.endswith(".html")
    first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(href)
    chart = page.locator("#mdc-chart")
    assert chart.get_attribute("alt").startswith("Making Data Count chart of ")
    natural = page.evaluate(
        "[document.getElementById('mdc-chart').naturalWidth, document.getElementById('mdc-chart').naturalHeight]"
    )
    assert natural == [1600, 760]
    box = chart.bounding_box()
    assert box is not None and box["width"] == 800 and box["height"] == 380
    page_icons = _icons(page)
    assert page_icons and all(i["loaded"] and i["visible"] for i in page_icons)
    assert page.locator("#icons").inner_text().strip() == "\n".join(i["words"] for i in page_icons).strip()
    assert page.get_by_text("Reading the chart and the icons").is_visible()
    shot = tmp_path / "indicator.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    # back to the scorecard and the archive's index
    page.get_by_role("link", name="all quarters").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/out/index.html")
