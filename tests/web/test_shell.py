"""The built app is served at `/`, client-side routes reload into it, and the API is not shadowed."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect
from web_support import WebServer


def test_the_app_loads_in_chromium_and_the_api_still_answers(page: Page, web_server: WebServer) -> None:
    page.goto("/")
    expect(page).to_have_title(re.compile(r"Thresher$"))
    expect(page).to_have_url(f"{web_server.url}/login")  # not logged in: the app asks who you are
    # A deep link is answered with the app, not a 404, so a reload keeps the page.
    r = httpx.get(f"{web_server.url}/some/client/route")
    assert r.status_code == 200 and '<div id="app">' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    # The API keeps its own 404s and JSON.
    r = httpx.get(f"{web_server.url}/api/v1/no-such-thing")
    assert r.status_code == 404
    assert httpx.get(f"{web_server.url}/api/v1/auth/me").status_code == 401
