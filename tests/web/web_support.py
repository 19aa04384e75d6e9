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
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Page

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
    # A fake microphone (a beep tone) that needs no permission prompt: the recording view records it.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
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


class Api:
    """The HTTP API as a logged-in user (session cookie + CSRF token), to set up and check what the
    browser tests do through the UI."""

    def __init__(self, url: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
        import httpx

        self.http = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        r = self.http.post("/auth/login", json={"username": user, "password": password})
        r.raise_for_status()
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def send(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, path, json=body)
        r.raise_for_status()
        return r.json() if r.content else None

    def project(self, name: str, *, datasets: tuple[str, ...] = ()) -> None:
        """Create a project (and empty datasets in it)."""
        self.send("POST", "/projects", {"name": name})
        for d in datasets:
            self.send("POST", f"/projects/{name}/datasets", {"name": d})

    def user(self, name: str, password: str, project: str | None = None, role: str = "annotator") -> None:
        self.send("POST", "/users", {"name": name, "password": password})
        if project:
            self.send("PUT", f"/projects/{project}/members/{name}", {"role": role})

    def records(self, project: str, dataset: str, records: list[dict[str, Any]]) -> list[str]:
        out = self.send("POST", f"/projects/{project}/datasets/{dataset}/records", records)
        ids: list[str] = out["ids"]
        return ids


def login(page: Page, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    """Log the page's browser context in through the API (the login form has its own test)."""
    r = page.request.post("/api/v1/auth/login", data={"username": user, "password": password})
    assert r.ok, r.text()


def page_errors(page: Page) -> list[str]:
    """Collect the page's uncaught exceptions and console errors (a test asserts the list is empty).

    Failed requests the app handles (a 401 before login, a 404 it reports) log console errors
    that start with "Failed to load resource"; those are left out."""
    seen: list[str] = []
    page.on("pageerror", lambda e: seen.append(f"pageerror: {e}"))

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error" and not msg.text.startswith("Failed to load resource"):
            seen.append(f"console: {msg.text}")

    page.on("console", on_console)
    return seen
