"""Generate: an engineer starts candidate generation from the page against the test model server,
watches it finish, and finds the comparisons in the target dataset."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from web_support import Api, WebServer, login, page_errors, shot

from thresher.evals.fake_server import FakeModelServer

PROJECT = "generating"


def test_start_a_generation_job_and_see_it_finish(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project(PROJECT, datasets=("prompts",))
    api.records(
        PROJECT,
        "prompts",
        [{"content": {"kind": "conversation", "messages": [{"role": "user", "content": f"Q{i}?"}]}} for i in range(6)],
    )
    api.user("gen-engineer", "engineer password 1", PROJECT, role="engineer")

    with FakeModelServer(latency_ms=5) as srv:
        login(page, "gen-engineer", "engineer password 1")
        errors = page_errors(page)
        page.goto(f"/projects/{PROJECT}")
        page.get_by_role("link", name="Generate").click()
        expect(page.get_by_role("heading", name="Generate candidates")).to_be_visible()
        expect(page.get_by_text("No generation jobs yet.")).to_be_visible()

        form = page.get_by_role("form", name="New generation")
        form.locator("select[name=source]").select_option("prompts")
        form.locator("input[name=target]").fill("candidates")
        first = form.locator(".model").nth(0)
        first.locator("input[name=model]").fill(f"openai:{srv.url}#small")
        first.locator("input[name=params]").fill('{"temperature": 0.7}')
        first.locator("input[name=n]").fill("2")
        form.get_by_role("button", name="Add a model").click()
        second = form.locator(".model").nth(1)
        second.locator("input[name=model]").fill(f"openai:{srv.url}#large")
        form.get_by_role("button", name="Start generation").click()

        row = page.locator("table.jobs tbody tr").first
        expect(row).to_contain_text("prompts")
        expect(row.locator(".status")).to_have_text("done", timeout=30_000)  # polled until the job ends
        expect(row.locator(".progress-text")).to_have_text("6 / 6")
        expect(row.locator(".result")).to_contain_text("6 new comparisons · 18 candidates · 18 calls")
        shot(page, "generate")
        assert srv.requests == 18

    records = api.get(f"/projects/{PROJECT}/datasets/candidates/records")["items"]
    assert len(records) == 6
    models = [c["model"] for c in records[0]["content"]["candidates"]]
    assert models == ["small", "small", "large"]
    assert records[0]["content"]["candidates"][0]["params"] == {"temperature": 0.7}

    # A bad model spec is reported on the page, not a crash.
    page.locator("input[name=model]").first.fill("callable:os:system")
    page.get_by_role("button", name="Start generation").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert not errors, errors
