"""The scorecard where it is read: the demo's scorecard page in headless Chromium (Playwright
driving Debian's chromium) on a phone (375 px) and a desktop (1280 px), checked by axe-core for
WCAG 2.2 AA, and the demo's email measured against Gmail's clipping limit.

One demo build (``scorecard demo`` as shipped: twelve quarters, the shipped catalogue, every source)
serves every test here. Screenshots are saved in the test's tmp folder and their paths printed.
axe-core comes from the npm registry (tests/setup_system.sh installs it into a cache folder).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
from datetime import date
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.demo import run_demo
from pipelines.render.labels import RAG, RETURN_STATUS, SPC_ASSURANCE, SPC_VARIATION
from tests.portal_server import chromium, no_horizontal_scroll

HTML_BUDGET = 90 * 1024  # bytes; Gmail clips a message body over about 102 KB
AXE = (
    Path(
        os.environ.get(
            "SCORECARD_AXE_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "scorecard-axe"
        )
    )
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
WIDTHS = (375, 1280)
SCREEN_HEIGHT = 800


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("layout")
    settings = load_settings({"SCORECARD_HOME": str(home), "SCORECARD_SETTLE_SECONDS": "0"})
    _, result = run_demo(settings, today=date(2026, 11, 30), say=lambda *_: None)  # the demo as shipped
    assert result.exceptions, "the demo quarter should have exceptions to show"
    [eml] = [p for p in settings.outbox.glob("*.eml") if "performance-scorecard" in p.name]
    return result, email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)


# --- the email ------------------------------------------------------------------------------


@pytest.mark.slow
def test_demo_email_html_is_under_budget_and_every_cid_image_is_referenced_and_attached(demo):
    result, message = demo
    html = message.get_body(preferencelist=("html",)).get_content()
    size = len(html.encode("utf-8"))
    print(f"HTML part of the demo email: {size:,} bytes (budget {HTML_BUDGET:,})")
    assert size < HTML_BUDGET
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    attached = {
        part["Content-ID"].strip("<>"): part for part in related.iter_parts() if part.get_content_maintype() == "image"
    }
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    assert referenced and referenced == set(attached)  # every reference attached, every attachment used
    assert all(p.get_content().startswith(b"\x89PNG") for p in attached.values())
    # the exceptions' charts are referenced twice (their card and their row), from one part each
    for indicator_id in result.exceptions:
        cid = next(c for c in attached if c.startswith(f"chart-{indicator_id}-"))
        assert html.count(f'src="cid:{cid}"') == 2
    # no remote resource, no script; the styles are one block, not repeated per cell
    assert "<script" not in html.lower() and "http://" not in html and "https://" not in html
    assert html.count("<style") == 1
    assert len(re.findall(r'style="', html)) < 150


# --- contrast: every badge's colour pair ------------------------------------------------------


def _luminance(colour: str) -> float:
    channels = [int(colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2.2's contrast ratio of two sRGB colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula_matches_known_values():
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)  # the classic just-fails grey
    assert contrast("#B10E1E", "#FFFFFF") > 4.5


@pytest.mark.parametrize(
    "name, badge",
    [
        (f"{table}:{code}", badge)
        for table, badges in (
            ("rag", RAG),
            ("return", RETURN_STATUS),
            ("variation", SPC_VARIATION),
            ("assurance", SPC_ASSURANCE),
        )
        for code, badge in badges.items()
    ],
)
def test_every_badge_colour_pair_has_at_least_4_5_to_1_contrast(name, badge):
    ratio = contrast(badge.foreground, badge.background)
    assert ratio >= 4.5, f"{name}: {badge.foreground} on {badge.background} is {ratio:.2f}:1"


# --- in the browser -------------------------------------------------------------------------


def _first_screens(page) -> list[dict]:
    """Each section with an exception, scrolled so its heading is at the top of the screen: its
    exceptions (rows flagged Exception, or the Exceptions block's cards), where each starts, and
    whether its name is shown, as a link, within the first screen."""
    return page.evaluate(
        """(height) => {
            const out = [];
            for (const heading of document.querySelectorAll('h2')) {
                const block = heading.parentElement;
                const items = [...block.querySelectorAll('tr[id]')].filter(r => r.querySelector('.fl'))
                    .concat([...block.querySelectorAll('.ex')]);
                if (!items.length) continue;
                heading.scrollIntoView({block: 'start'});
                const named = [...block.querySelectorAll('a[href^="#"]')].filter(a => {
                    const box = a.getBoundingClientRect();
                    return box.height > 0 && box.top >= 0 && box.bottom <= height;
                }).map(a => a.getAttribute('href').slice(1));
                out.push({section: heading.innerText, named, items: items.map(el => {
                    const box = el.getBoundingClientRect();
                    return {id: el.id, top: Math.round(box.top), height: Math.round(box.height)};
                })});
            }
            return out;
        }""",
        SCREEN_HEIGHT,
    )


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_scorecard_fits_the_screen_and_shows_each_exception_on_its_sections_first_screen(demo, width, tmp_path):
    result, _ = demo
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": SCREEN_HEIGHT})
        page.goto(result.html.as_uri())
        assert no_horizontal_scroll(page), f"sideways scrolling at {width} px"
        overflowing = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .map(e => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className).slice(0, 5)"""
        )
        assert overflowing == []  # nothing runs off the right edge (the sentences did at 420 px)
        sections = _first_screens(page)
        rows = [i["id"] for s in sections for i in s["items"] if not i["id"].startswith("x-")]
        assert sorted(rows) == sorted(result.exceptions)  # each exception's row, in its priority's section
        assert [s["section"] for s in sections][0] == "Exceptions"
        for section in sections:
            first = section["items"][0]
            # the section's first exception starts on its first screen (exceptions come first) ...
            assert 0 <= first["top"] < SCREEN_HEIGHT - 100, (width, section)
            for item in section["items"]:
                # ... and every one is on it: whole (the desktop's rows), or named with a link to it
                whole = 0 <= item["top"] and item["top"] + item["height"] <= SCREEN_HEIGHT
                assert whole or item["id"] in section["named"], (width, section["section"], item)
                if width == 1280 and not item["id"].startswith("x-"):
                    assert whole, (section["section"], item)
        images = page.evaluate(
            "[...document.images].map(i => [i.complete && i.naturalWidth > 0, i.alt, i.getBoundingClientRect().width])"
        )
        assert images and all(loaded and alt for loaded, alt, _ in images)
        if width == 375:
            # one column of cards: each row is as wide as its table, labels shown
            cards = page.evaluate(
                """() => [...document.querySelectorAll('tr[id]')].map(r => {
                    const t = r.closest('table').getBoundingClientRect();
                    const b = r.getBoundingClientRect();
                    const lbl = r.querySelector('.lbl');
                    return [Math.abs(b.width - t.width) < 2, lbl && getComputedStyle(lbl).display !== 'none'];
                })"""
            )
            assert cards and all(full and label for full, label in cards)
        else:
            # one width plan: every section's columns start at the same places
            starts = page.evaluate(
                """() => [...document.querySelectorAll('table.t')].filter(t => t.querySelector('tr[id]'))
                    .map(t => [...t.querySelector('thead tr').children].map(c => Math.round(c.getBoundingClientRect().left)))"""
            )
            assert len(starts) >= 4 and all(s == starts[0] for s in starts)
            # the indicator column never wraps a name one word per line
            lines = page.evaluate(
                """() => [...document.querySelectorAll('tr[id] .nm')].map(n => [n.innerText,
                    Math.round(n.getBoundingClientRect().height / parseFloat(getComputedStyle(n).lineHeight))])"""
            )
            assert lines and all(n <= 2 for _, n in lines), lines
            labels = page.evaluate("[...document.querySelectorAll('.lbl')].filter(l => l.offsetHeight > 0).length")
            assert labels == 0  # the table's headings say what each column is
        shot = tmp_path / f"scorecard-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot at {width} px: {shot}")


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_no_serious_or_critical_violation(demo, width):
    assert AXE.is_file(), f"axe-core is not installed at {AXE}: run tests/setup_system.sh"
    result, _ = demo
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": SCREEN_HEIGHT})
        page.goto(result.html.as_uri())
        page.add_script_tag(path=str(AXE))
        report = page.evaluate(
            """async () => {
                const r = await axe.run(document, {runOnly: {type: 'tag',
                    values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
                return {passes: r.passes.map(p => p.id),
                        violations: r.violations.map(v => ({id: v.id, impact: v.impact,
                            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))};
            }"""
        )
        headings = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4')].map(h => Number(h.tagName[1]))")
        scopes = page.evaluate("[...document.querySelectorAll('th')].map(th => th.getAttribute('scope'))")
    serious = [v for v in report["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], serious
    print(f"axe-core at {width} px: {len(report['passes'])} rules passed; other findings: {report['violations']}")
    # the rules that matter here ran and passed
    assert {"color-contrast", "image-alt", "th-has-data-cells", "heading-order", "html-has-lang", "region"} <= set(
        report["passes"]
    )
    assert scopes and set(scopes) == {"col", "row"}  # every table heading says what it heads
    assert headings[0] == 1 and headings.count(1) == 1
    assert all(b - a <= 1 for a, b in zip(headings, headings[1:]))  # never skips a level


@pytest.mark.browser
@pytest.mark.slow
def test_nothing_runs_off_the_right_edge_at_the_widths_in_between(demo):
    """Either side of the 600 px switch from cards to the table, and a small laptop: the page fits
    by itself (the portal's extra narrow-screen rules are not needed)."""
    result, _ = demo
    with chromium() as browser:
        for width in (320, 599, 600, 768, 1024):
            page = browser.new_page(viewport={"width": width, "height": SCREEN_HEIGHT})
            page.goto(result.html.as_uri())
            assert no_horizontal_scroll(page), width
            beyond = page.evaluate(
                "[...document.querySelectorAll('body *')]"
                ".filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1).length"
            )
            assert beyond == 0, width
            cards = page.evaluate("getComputedStyle(document.querySelector('tr[id]')).display")
            assert cards == ("block" if width < 600 else "table-row"), width
            page.close()
