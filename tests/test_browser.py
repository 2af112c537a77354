"""The HTML scorecard in a real browser: Debian's headless Chromium, driven over the DevTools
protocol, renders a built scorecard, takes a screenshot, and records every request the page
makes (there must be none beyond the page's own files)."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from pipelines.build import build_quarter
from pipelines.catalogue import load_catalogue
from pipelines.config import load_settings
from pipelines.generate import generate
from pipelines.intake import run_intake
from pipelines.periods import Quarter

pytestmark = pytest.mark.browser

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--window-size=1280,1600",
]


class DevTools:
    """A minimal DevTools-protocol client over the page's websocket."""

    def __init__(self, url: str):
        from websockets.sync.client import connect

        self.socket = connect(url, max_size=None, open_timeout=20)
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == ident:
                assert "error" not in message, message
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(self.socket.recv(timeout=max(0.1, deadline - time.monotonic()))))

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.events.append(json.loads(self.socket.recv(timeout=deadline - time.monotonic())))
            except TimeoutError:
                break


@pytest.fixture
def chromium(tmp_path):
    binary = shutil.which("chromium")
    assert binary, "Debian's chromium is required (tests/setup_system.sh installs it)"
    profile = tmp_path / "profile"
    process = subprocess.Popen(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
        tools.socket.close()
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def built_page(tmp_path_factory):
    home = tmp_path_factory.mktemp("browser")
    settings = load_settings(
        {"SCORECARD_HOME": str(home), "SCORECARD_PSEUDONYM_KEY": "test-key-not-secret", "SCORECARD_SETTLE_SECONDS": "0"}
    )
    settings.ensure_folders()
    quarter = Quarter.parse("2024-25Q4")
    generate(settings.inbox, quarters=5, seed=3, end_quarter=quarter, scale=0.2)
    run_intake(settings, files=sorted(settings.inbox.iterdir()))
    return build_quarter(settings, quarter, email=False)


def test_scorecard_renders_in_chromium_with_no_external_requests(chromium, built_page, tmp_path):
    chromium.call("Network.enable")
    chromium.call("Page.enable")
    chromium.call("Page.navigate", url=built_page.html.as_uri())
    chromium.wait_for("Page.loadEventFired")
    chromium.drain(1.0)  # anything the page would fetch late

    requested = [
        e["params"]["request"]["url"] for e in chromium.events if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested, "the browser recorded no request at all: the page did not load"
    outside = [u for u in requested if not (u.startswith("file://") or u.startswith("data:"))]
    assert outside == []
    charts = [u for u in requested if "/charts/" in u]
    assert len(charts) >= 20  # the sparklines are the page's own files
    failed = [e["params"] for e in chromium.events if e.get("method") == "Network.loadingFailed"]
    assert failed == []

    rows = chromium.call(
        "Runtime.evaluate",
        expression="Array.from(document.querySelectorAll('tr[id]')).map(r => r.id)",
        returnByValue=True,
    )
    shown = [r for r in rows["result"]["value"] if r[:2] in ("DA", "CS", "AT", "MI")]
    # every indicator once; within its section, the build's exceptions first, then the catalogue's order
    catalogue = load_catalogue()
    assert sorted(shown) == sorted(i.id for i in catalogue)
    exceptions = set(built_page.exceptions)
    for priority in dict.fromkeys(i.priority for i in catalogue):
        ids = [i.id for i in catalogue if i.priority == priority]
        expected = [i for i in ids if i in exceptions] + [i for i in ids if i not in exceptions]
        assert [r for r in shown if r in ids] == expected
    scripts = chromium.call("Runtime.evaluate", expression="document.scripts.length", returnByValue=True)
    assert scripts["result"]["value"] == 0
    broken = chromium.call(
        "Runtime.evaluate",
        returnByValue=True,
        expression="Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length",
    )
    assert broken["result"]["value"] == 0

    shot = chromium.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png = base64.b64decode(shot["data"])
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000
    (built_page.folder / "screenshot.png").write_bytes(png)  # kept beside the scorecard to look at
