"""Members, roles and API keys (the secret shown once), and user accounts for administrators."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect
from web_support import Api, WebServer, login, page_errors, shot

PROJECT = "people"


def test_members_roles_and_an_api_key_shown_once(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project(PROJECT)
    login(page)
    errors = page_errors(page)

    # an administrator creates a user...
    page.goto("/admin/users")
    users = page.get_by_role("form", name="Create a user")
    users.locator("input[name=user-name]").fill("ana")
    users.locator("input[name=user-password]").fill("ana password 1")
    users.get_by_role("button", name="Create user").click()
    expect(page.locator("[data-user=ana]")).to_be_visible()
    shot(page, "users")

    # ...and an owner adds them to the project with skills and languages, then changes the role
    page.goto(f"/projects/{PROJECT}/members")
    add = page.get_by_role("form", name="Add a member")
    add.locator("input[name=member-user]").fill("ana")
    add.locator("select[name=member-role]").select_option("annotator")
    add.locator("input[name=member-skills]").fill("legal, medical")
    add.locator("input[name=member-languages]").fill("fr")
    add.get_by_role("button", name="Add or update").click()
    row = page.locator("[data-member=ana]")
    expect(row).to_contain_text("legal")
    expect(row).to_contain_text("fr")
    row.get_by_label("Role of ana").select_option("reviewer")
    expect(page.get_by_role("status")).to_have_text("ana is reviewer.")
    members = {m["user"]: m for m in api.get(f"/projects/{PROJECT}/members")}
    assert members["ana"] == {"user": "ana", "role": "reviewer", "skills": ["legal", "medical"], "languages": ["fr"]}

    # adding an unknown user says so
    add.locator("input[name=member-user]").fill("nobody")
    add.get_by_role("button", name="Add or update").click()
    expect(page.get_by_role("alert")).to_contain_text("nobody")

    # an API key: the secret is shown once, works, and is gone after a reload
    keys = page.get_by_role("form", name="Create an API key")
    keys.locator("input[name=key-name]").fill("chat app")
    keys.locator("select[name=key-role]").select_option("engineer")
    keys.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key-secret").inner_text().strip()
    assert secret.startswith("thr_")
    shot(page, "members")
    me = httpx.get(f"{web_server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json()["project"] == PROJECT and me.json()["role"] == "engineer"
    key_row = page.locator("table.keys tbody tr", has_text="chat app")
    expect(key_row).to_contain_text(secret[:6])
    page.reload()
    expect(page.locator("table.keys tbody tr", has_text="chat app")).to_be_visible()
    expect(page.get_by_test_id("new-key-secret")).to_have_count(0)
    assert secret not in page.content()

    # revoking it stops it at once
    page.once("dialog", lambda d: d.accept())
    page.locator("table.keys tbody tr", has_text="chat app").get_by_role("button", name="Revoke").click()
    expect(page.locator("table.keys tbody tr", has_text="chat app")).to_contain_text("revoked")
    me = httpx.get(f"{web_server.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 401

    # the new member logs in and sees only their project, without the owner's sections
    page.get_by_label("User menu").click()
    page.get_by_role("menuitem", name="Log out").click()
    login(page, "ana", "ana password 1")
    page.goto("/")
    expect(page.locator("a.project")).to_have_count(1)
    expect(page.locator("a.project")).to_contain_text("reviewer")
    page.goto(f"/projects/{PROJECT}")
    expect(page.get_by_role("link", name="Members & keys")).to_have_count(0)
    expect(page.get_by_role("link", name="My queue")).to_be_visible()
    assert errors == []
