"""Browsing records (keyset pages, filters), every record kind rendered, and untrusted content inert."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, expect
from web_support import Api, WebServer, login, page_errors, shot

PROJECT = "browse"

EVIL = (
    'Hello <script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=1"> '
    'then [click me](javascript:window.__pwned=1) or <a href="javascript:window.__pwned=1">raw link</a> '
    "or [a safe one](https://example.org/doc)."
)


def _msgs(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"role": r, "content": c} for r, c in pairs]


KINDS: dict[str, dict[str, Any]] = {
    "text": {"kind": "text", "text": "# Corpus page\n\nSome **bold** prose.\n\n```python\nprint('grain')\n```"},
    "conversation": {
        "kind": "conversation",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "reasoning": "Call the weather tool.",
                "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 18}'},
            {"role": "assistant", "content": "18 °C and sunny.", "weight": 1},
        ],
    },
    "comparison": {
        "kind": "comparison",
        "prompt": _msgs(("user", "Name a grain.")),
        "candidates": [
            {"id": "a", "model": "m-7b", "messages": _msgs(("assistant", "Wheat."))},
            {"id": "b", "model": "m-70b", "messages": _msgs(("assistant", "Barley, a cereal."))},
        ],
    },
    "agent_run": {
        "kind": "agent_run",
        "task": "Book a table for two at 8",
        "steps": [
            {"type": "plan", "content": "Find a place, then book it."},
            {"type": "tool_call", "tool_call": {"id": "k1", "name": "book", "arguments": {"place": "Sushi Ko"}}},
            {"type": "tool_result", "tool_call_id": "k1", "content": "503 Service Unavailable", "is_error": True},
            {"type": "message", "content": "Booked!"},
        ],
        "outcome": {"status": "failure", "detail": "Nothing was booked."},
        "failure": {"step": 3, "cause": "model_output", "reason": "claimed success after a failed call"},
    },
    "media": {
        "kind": "media",
        "media_type": "image",
        "blob": {"uri": "blob://sha256/" + "ab" * 32, "mime_type": "image/png", "size": 2048},
        "info": {"width": 640, "height": 480},
        "caption": "A field of wheat",
    },
    "eval_item": {
        "kind": "eval_item",
        "input": _msgs(("user", "2 + 2 = ?")),
        "reference": "4",
        "grader": {"type": "numeric", "params": {"tolerance": 0}},
    },
}


@pytest.fixture(scope="module")
def ids(web_server: WebServer) -> dict[str, str]:
    api = Api(web_server.url)
    api.project(PROJECT, datasets=("mix", "many", "evil"))
    recs = [
        {
            "content": c,
            "split": "test" if k == "eval_item" else "train",
            "metadata": {"lang": "fr" if k == "text" else "en"},
        }
        for k, c in KINDS.items()
    ]
    recs[1]["task_type"] = "open_qa"
    out = dict(zip(KINDS, api.records(PROJECT, "mix", recs), strict=True))
    # a response and a suggestion on the comparison, shown beside it
    for question in ({"type": "ranking", "name": "order"}, {"type": "choice", "name": "pick", "required": False}):
        api.send("POST", f"/projects/{PROJECT}/datasets/mix/questions", question)
    base = f"/projects/{PROJECT}/datasets/mix/records/{out['comparison']}"
    answers = {"order": [["b"], ["a"]], "pick": {"choice": "b", "rationale": "more precise"}}
    api.send("PUT", f"{base}/responses/me", {"answers": answers})
    suggestion = {"question": "order", "value": [["a", "b"]], "agent": "judge-1", "score": 0.5}
    api.send("POST", f"{base}/suggestions", suggestion)
    api.records(PROJECT, "many", [{"content": {"kind": "text", "text": f"document number {i}"}} for i in range(57)])
    evil: list[dict[str, Any]] = [
        {"content": {"kind": "text", "text": EVIL}},
        {"content": {"kind": "conversation", "messages": _msgs(("user", EVIL), ("assistant", EVIL))}},
    ]
    out["evil_text"], out["evil_chat"] = api.records(PROJECT, "evil", evil)
    return out


def test_browse_pages_and_filters(page: Page, ids: dict[str, str]) -> None:
    login(page)
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}/datasets/many")
    rows = page.locator("table.records tbody tr")
    expect(rows).to_have_count(50)
    expect(page.get_by_text("50 shown")).to_be_visible()
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(57)
    expect(page.get_by_text("57 shown · the end")).to_be_visible()
    expect(page.get_by_role("button", name="Load more")).to_have_count(0)
    # keyset order: the first record first, the last one last
    expect(rows.first).to_contain_text("document number 0")
    expect(rows.last).to_contain_text("document number 56")

    page.goto(f"/projects/{PROJECT}/datasets/mix")
    expect(rows).to_have_count(6)
    shot(page, "records-browse")
    page.locator("select[name=kind]").select_option("comparison")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Name a grain. · 2 candidates")
    assert "kind=comparison" in page.url

    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(6)
    page.locator("input[name=q]").fill("Paris")
    page.locator("input[name=q]").press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Weather in Paris?")

    page.get_by_role("button", name="Clear").click()
    page.locator("textarea[name=meta]").fill("lang=fr")
    page.locator("input[name=split]").fill("train")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Corpus page")
    # the filters live in the URL: a reload keeps them
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.locator("textarea[name=meta]")).to_have_value("lang=fr")

    page.get_by_role("button", name="Clear").click()
    page.locator("select[name=task_type]").select_option("open_qa")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".badge")).to_have_text("conversation")
    shot(page, "records-filtered")
    # each filtering is a step in the history: Back shows the previous view again
    page.go_back()
    expect(rows).to_have_count(6)
    expect(page.locator("select[name=task_type]")).to_have_value("")
    page.go_back()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Corpus page")
    expect(page.locator("textarea[name=meta]")).to_have_value("lang=fr")
    page.go_forward()
    page.go_forward()
    expect(rows).to_have_count(1)
    expect(page.locator("select[name=task_type]")).to_have_value("open_qa")

    # by keyboard: / to the search, j / k through the rows, Enter opens one
    page.get_by_role("button", name="Clear").click()
    expect(rows).to_have_count(6)
    page.locator("body").press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.nth(1).locator("a")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".record-view.kind-conversation")).to_be_visible()
    page.go_back()
    page.keyboard.press("/")
    expect(page.locator("input[name=q]")).to_be_focused()

    page.locator("select[name=task_type]").select_option("")
    page.locator("select[name=kind]").select_option("media")
    page.locator("input[name=q]").fill("nothing like this")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No record matches these filters.")).to_be_visible()
    assert errors == []


def test_each_kind_renders_readably(page: Page, ids: dict[str, str]) -> None:
    login(page)
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}/datasets/mix")
    page.get_by_role("link", name="Weather in Paris?").click()
    expect(page).to_have_url(
        f"{page.url.split('/projects')[0]}/projects/{PROJECT}/datasets/mix/records/{ids['conversation']}"
    )
    view = page.locator(".record-view")
    expect(view.locator(".msg")).to_have_count(5)
    expect(view.locator(".msg.role-user")).to_contain_text("Weather in Paris?")
    call = view.locator("summary", has_text="weather(#c1)")
    expect(call).to_be_visible()
    call.click()
    expect(view.get_by_text('"city": "Paris"')).to_be_visible()
    expect(view.locator("summary", has_text="reasoning")).to_be_visible()
    expect(page.get_by_text("open_qa")).to_be_visible()
    shot(page, "record-conversation")

    def open_record(kind: str) -> None:
        page.goto(f"/projects/{PROJECT}/datasets/mix/records/{ids[kind]}")
        expect(page.locator(f".record-view.kind-{kind}")).to_be_visible()
        shot(page, f"record-{kind.replace('_', '-')}")

    open_record("text")
    expect(page.locator(".record-view h1")).to_have_text("Corpus page")
    expect(page.locator(".record-view pre code")).to_contain_text("print('grain')")
    open_record("comparison")
    expect(page.locator("[data-candidate=a]")).to_contain_text("m-7b")
    expect(page.locator("[data-candidate=b]")).to_contain_text("Barley, a cereal.")
    responses = page.locator(".card", has=page.get_by_role("heading", name="Responses"))
    expect(responses).to_contain_text("b > a")
    expect(responses).to_contain_text("b — more precise")
    expect(responses.locator(".badge")).to_have_text("submitted")
    suggestions = page.locator(".card", has=page.get_by_role("heading", name="Suggestions"))
    expect(suggestions).to_contain_text("judge-1")
    expect(suggestions).to_contain_text("a = b")
    open_record("agent_run")
    steps = page.locator("li.step")
    expect(steps).to_have_count(4)
    expect(steps.nth(2)).to_contain_class("error")
    expect(steps.nth(3)).to_contain_text("first failure")
    expect(steps.nth(3)).to_contain_text("claimed success after a failed call")
    expect(page.locator(".outcome")).to_contain_text("Outcome: failure")
    open_record("media")
    expect(page.get_by_text("640 × 480")).to_be_visible()
    open_record("eval_item")
    expect(page.locator(".reference")).to_have_text("4")
    assert errors == []


def test_untrusted_content_executes_nothing_and_shows_the_text(page: Page, ids: dict[str, str]) -> None:
    login(page)
    errors = page_errors(page)
    dialogs: list[str] = []

    def on_dialog(d: Dialog) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    for key in ("evil_text", "evil_chat"):
        page.goto(f"/projects/{PROJECT}/datasets/evil/records/{ids[key]}")
        view = page.locator(".record-view")
        expect(view).to_contain_text("<script>window.__pwned=1</script>")
        expect(view).to_contain_text('<img src=x onerror="window.__pwned=1">')
        expect(view).to_contain_text('<a href="javascript:window.__pwned=1">raw link</a>')
        assert view.locator("script, img, iframe, [onerror]").count() == 0
        link = view.get_by_text("click me").first
        expect(link).to_be_visible()
        assert link.get_attribute("href") is None
        safe = view.get_by_role("link", name="a safe one").first
        assert safe.get_attribute("href") == "https://example.org/doc"
        assert safe.get_attribute("target") == "_blank"
        assert set((safe.get_attribute("rel") or "").split()) >= {"noopener", "noreferrer"}
        link.click()
        page.wait_for_timeout(200)
        assert page.evaluate("window.__pwned") is None
        assert page.url.endswith(ids[key])  # the click went nowhere
        shot(page, f"security-{key.replace('_', '-')}")
    # the browse list shows the same record as plain text
    page.goto(f"/projects/{PROJECT}/datasets/evil")
    expect(page.locator("table.records")).to_contain_text("<script>window.__pwned=1</script>")
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []
    assert errors == []
