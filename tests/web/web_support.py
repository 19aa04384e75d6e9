"""Helpers of the browser tests (imported by name): Playwright drives Debian's Chromium against a
real ``thresher serve``.

One server and one browser per session; each test gets a fresh browser context (cookies,
storage) and a page. Screenshots go to ``test-artifacts/`` (``shot(page, name)``). Without
``/usr/bin/chromium`` these tests skip, unless ``THRESHER_REQUIRE_BROWSER=1`` (``make test``),
which makes a missing browser a failure. The app must be built (``make web``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page

from live_server import THRESHER, ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ADMIN, ADMIN_PASSWORD = "admin", "admin password for the browser tests"


def require(ok: bool, message: str) -> None:
    if not ok:
        if os.environ.get("THRESHER_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class WebServer:
    process: ServerProcess
    home: Path

    @property
    def url(self) -> str:
        return self.process.url

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """Run ``thresher ARGS --home HOME`` (commands that take ``--home``)."""
        out = subprocess.run([THRESHER, *args], input=stdin, check=True, capture_output=True, text=True, timeout=120)
        return out.stdout


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; returns its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
