"""A real portal for browser tests: ``scorecard serve`` in its own process on a free 127.0.0.1
port (uvicorn, the real application, the warehouse and folders of the test's SCORECARD_HOME),
and Playwright driving Debian's chromium (``executable_path``: browsers are not downloaded)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_portal(env: dict[str, str] | None = None, *, timeout: float = 60.0):
    """Yield the portal's base URL (``http://127.0.0.1:PORT``) while ``scorecard serve`` runs.

    Plain http on one machine, so ``SCORECARD_PORTAL_SECURE_COOKIES=false`` unless ``env`` says
    otherwise. The server's output goes to a log file beside the home, shown if it fails to start."""
    port = free_port()
    environment = {**os.environ, "SCORECARD_PORTAL_SECURE_COOKIES": "false", **(env or {})}
    environment.setdefault("SCORECARD_PORTAL_URL", f"http://127.0.0.1:{port}")
    environment["PYTHONPATH"] = str(REPO) + os.pathsep + environment.get("PYTHONPATH", "")
    home = Path(environment.get("SCORECARD_HOME", "."))
    log_path = home.parent / f"portal-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(home.parent if home.parent.exists() else REPO),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the portal exited ({process.returncode}): {log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/login", timeout=5) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the portal did not answer in {timeout:.0f}s: {log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def chromium():
    """A headless Debian chromium under Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
