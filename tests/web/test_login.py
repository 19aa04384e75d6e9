"""Logging in and out through the form; a deep link survives the detour through /login."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from web_support import ADMIN, ADMIN_PASSWORD, Api, WebServer, page_errors, shot


def test_wrong_password_says_so_and_the_right_one_opens_the_projects(page: Page, web_server: WebServer) -> None:
    Api(web_server.url).project("loginproj")
    errors = page_errors(page)
    page.goto("/projects/loginproj")
    # not logged in: the app sends us to the login page and remembers where we were going
    expect(page).to_have_url(f"{web_server.url}/login?next=%2Fprojects%2Floginproj")
    shot(page, "login")
    page.get_by_label("User name").fill(ADMIN)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong user name or password")
    expect(page.get_by_label("Password")).to_have_value("")
    shot(page, "login-wrong-password")

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{web_server.url}/projects/loginproj")
    expect(page.get_by_role("heading", name="loginproj")).to_be_visible()

    page.get_by_role("link", name="Projects", exact=True).click()
    expect(page).to_have_url(f"{web_server.url}/")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.locator("a.project", has_text="loginproj")).to_be_visible()
    shot(page, "projects")

    # the project switcher goes to a project; the user menu logs out
    page.get_by_label("Project").select_option("loginproj")
    expect(page).to_have_url(f"{web_server.url}/projects/loginproj")
    page.get_by_label("User menu").click()
    page.get_by_role("menuitem", name="Log out").click()
    expect(page).to_have_url(f"{web_server.url}/login")
    page.goto("/")
    expect(page).to_have_url(f"{web_server.url}/login")  # the session is gone on the server too
    assert errors == []
