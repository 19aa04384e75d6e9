"""Fixtures of the browser tests: one server and one Chromium per session, a fresh context per test
(see ``web_support``)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from web_support import ADMIN, ADMIN_PASSWORD, CHROMIUM, CHROMIUM_ARGS, WebServer, require

from live_server import STARTED, THRESHER, ServerProcess
from thresher.server.webapp import WEBAPP


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    require((WEBAPP / "index.html").is_file(), "the web app is not built: run `make web`")
    home = tmp_path_factory.mktemp("web-home")
    subprocess.run(
        [THRESHER, "init", str(home), "--admin", ADMIN, "--password-stdin"],
        input=ADMIN_PASSWORD + "\n",
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    proc = ServerProcess(home).start()
    yield WebServer(proc, home)
    proc.stop()


# Module scope: Playwright's sync API keeps an event loop running in this thread while it lives,
# and later tests (outside tests/web) call asyncio.run.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require(Path(CHROMIUM).exists(), f"no browser at {CHROMIUM}: apt-get install chromium (or `make chromium`)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield b
    b.close()


@pytest.fixture
def context(browser: Browser, web_server: WebServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=web_server.url, viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    p = context.new_page()
    p.set_default_timeout(10_000)
    return p


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for proc in STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
