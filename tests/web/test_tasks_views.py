"""Each task view in Chromium, worked by keyboard on a real task, checked through the answer the
server stores, and saved as a screenshot (test-artifacts/task-*.png): text with its diff against
the suggestion, ranking, Likert, choice, labels, spans and agent-run review."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from test_annotation_flow import Api, login
from web_support import WebServer, shot

PROJECT = "views"
GUIDE = "## How to judge\n\n- Read the **whole** record first.\n- Prefer answers that are *correct*, then helpful."


def _msgs(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"role": r, "content": c} for r, c in pairs]


COMPARISON = {
    "kind": "comparison",
    "prompt": _msgs(("user", "How do I reverse a list in Python?")),
    "candidates": [
        {"id": "a", "model": "m-7b", "messages": _msgs(("assistant", "Use `lst.reverse()` or `lst[::-1]`."))},
        {"id": "b", "model": "m-70b", "messages": _msgs(("assistant", "`reversed(lst)` returns an iterator."))},
        {"id": "c", "model": "m-1b", "messages": _msgs(("assistant", "Sort it backwards."))},
    ],
}
CONVERSATION = {
    "kind": "conversation",
    "messages": _msgs(
        ("user", "What is the capital of Australia?"),
        ("assistant", "The capital of Australia is Sydney, its largest city."),
    ),
}
TEXT = {"kind": "text", "text": "Marie Curie moved from Warsaw to Paris in 1891 and worked at the Sorbonne."}
RUN = {
    "kind": "agent_run",
    "task": "Book a table for two at Sushi Ko at 8pm",
    "steps": [
        {"type": "plan", "content": "Search for the restaurant, then book it."},
        {"type": "tool_call", "tool_call": {"id": "k1", "name": "search", "arguments": {"q": "Sushi Ko"}}},
        {"type": "tool_result", "tool_call_id": "k1", "content": "Sushi Ko, 12 Main St"},
        {"type": "tool_call", "tool_call": {"id": "k2", "name": "book", "arguments": {"place": "Sushi Ko"}}},
        {"type": "tool_result", "tool_call_id": "k2", "content": "400: missing party size", "is_error": True},
        {"type": "message", "content": "Your table is booked!"},
    ],
    "outcome": {"status": "failure"},
}

# dataset -> (questions, record content, suggestions, keys pressed, the answer the server must hold)
Case = tuple[list[dict[str, Any]], dict[str, Any], list[dict[str, Any]], Callable[[Page], None], dict[str, Any]]


def _text_keys(page: Page) -> None:
    box = page.locator("section[data-question=ideal] textarea")
    expect(box).to_have_value("The capital of Australia is Sydney.")  # pre-filled from the suggestion
    box.press("Control+End")
    for _ in range(len("Sydney.")):
        box.press("Backspace")
    page.keyboard.type("Canberra; Sydney is its largest city.")
    expect(page.locator("section[data-question=ideal] ins").first).to_contain_text("Canberra")


def _ranking_keys(page: Page) -> None:
    for k in ("ArrowDown", "Shift+ArrowUp", "ArrowDown", "ArrowDown", "t"):
        page.keyboard.press(k)


def _likert_keys(page: Page) -> None:
    for k in ("5", "4", "1"):  # a, b, c one after another
        page.keyboard.press(k)
    page.keyboard.press("j")
    page.keyboard.press("4")


def _choice_keys(page: Page) -> None:
    page.keyboard.press("1")
    page.keyboard.press("r")
    page.keyboard.type("a gives both idioms; b returns an iterator, not a list")
    page.keyboard.press("Escape")


def _labels_keys(page: Page) -> None:
    page.keyboard.press("1")
    page.keyboard.press("j")
    page.keyboard.press("3")
    page.keyboard.press("1")


def _span_keys(page: Page) -> None:
    find = page.locator(".find input")
    for text, label in (("Marie Curie", "1"), ("Warsaw", "2"), ("Paris", "2"), ("Sorbonne", "3")):
        find.fill(text)
        find.press("Enter")
        page.keyboard.press(label)
    expect(page.locator("ul.list li")).to_have_count(4)


def _run_keys(page: Page) -> None:
    for k in ("c", "ArrowDown", "c", "ArrowDown", "c", "ArrowDown", "w", "2"):
        page.keyboard.press(k)
    page.keyboard.press("n")
    page.keyboard.type("the tool call left out the party size")
    page.keyboard.press("Escape")
    page.keyboard.press("e")
    page.keyboard.type('{"name": "book", "arguments": {"place": "Sushi Ko", "party": 2}}')
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("c")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("w")
    page.keyboard.press("1")


CASES: dict[str, Case] = {
    "text": (
        [{"type": "text", "name": "ideal", "title": "Write the ideal reply", "description": "Fix any factual error."}],
        CONVERSATION,
        [{"question": "ideal", "value": "The capital of Australia is Sydney.", "agent": "draft-model"}],
        _text_keys,
        {"ideal": "The capital of Australia is Canberra; Sydney is its largest city."},
    ),
    "ranking": (
        [{"type": "ranking", "name": "rank", "title": "Rank the answers", "description": "Best first; ties allowed."}],
        COMPARISON,
        [],
        _ranking_keys,
        {"rank": [["b"], ["a", "c"]]},
    ),
    "likert": (
        [
            {
                "type": "rating",
                "name": "helpfulness",
                "title": "Helpfulness of each answer",
                "dimension": "helpfulness",
                "per_candidate": True,
                "min": 1,
                "max": 5,
                "anchors": {"1": "useless", "3": "partly", "5": "fully"},
            },
            {
                "type": "rating",
                "name": "style",
                "title": "Style",
                "dimension": "style",
                "description": "Clear, concise, well formatted.",
                "min": 1,
                "max": 7,
                "anchors": {"1": "poor", "4": "fine", "7": "excellent"},
            },
        ],
        COMPARISON,
        [],
        _likert_keys,
        {"helpfulness": {"a": 5, "b": 4, "c": 1}, "style": 4},
    ),
    "choice": (
        [{"type": "choice", "name": "preferred", "title": "Which answer is better?", "rationale": "required"}],
        COMPARISON,
        [],
        _choice_keys,
        {"preferred": {"choice": "a", "rationale": "a gives both idioms; b returns an iterator, not a list"}},
    ),
    "labels": (
        [
            {"type": "choice", "name": "safe", "title": "Safe?", "options": ["safe", "unsafe"], "rationale": "none"},
            {
                "type": "multi_choice",
                "name": "task_type",
                "title": "Instruction task type",
                "options": ["generation", "open_qa", "closed_qa", "chat", "rewrite"],
            },
        ],
        CONVERSATION,
        [],
        _labels_keys,
        {
            "safe": {"choice": "safe", "rationale": None},
            "task_type": {"choices": ["generation", "closed_qa"], "rationale": None},
        },
    ),
    "span": (
        [{"type": "span", "name": "entities", "title": "Mark the entities", "labels": ["PER", "LOC", "ORG"]}],
        TEXT,
        [],
        _span_keys,
        {
            "entities": [
                {"start": 0, "end": 11, "label": "PER", "field": "text"},
                {"start": 23, "end": 29, "label": "LOC", "field": "text"},
                {"start": 33, "end": 38, "label": "LOC", "field": "text"},
                {"start": 65, "end": 73, "label": "ORG", "field": "text"},
            ]
        },
    ),
    "agent_run": (
        [
            {
                "type": "step_verdict",
                "name": "steps",
                "title": "Judge each step",
                "description": "Mark the first wrong step.",
            }
        ],
        RUN,
        [],
        _run_keys,
        {
            "steps": [
                {"step": 0, "verdict": "correct"},
                {"step": 1, "verdict": "correct"},
                {"step": 2, "verdict": "correct"},
                {
                    "step": 3,
                    "verdict": "wrong",
                    "cause": "system",
                    "note": "the tool call left out the party size",
                    "corrected": {"name": "book", "arguments": {"place": "Sushi Ko", "party": 2}},
                },
                {"step": 4, "verdict": "correct"},
                {"step": 5, "verdict": "wrong", "cause": "model_output"},
            ]
        },
    ),
}


@pytest.fixture(scope="module")
def api(web_server: WebServer) -> Api:
    api = Api(web_server.url)
    api.project(PROJECT)
    for name, (questions, content, suggestions, _, _) in CASES.items():
        ds = name.replace("_", "-")
        api.send("POST", f"/projects/{PROJECT}/datasets", {"name": ds, "guidelines": GUIDE, "questions": questions})
        (rid,) = api.records(PROJECT, ds, [{"content": content}])
        for s in suggestions:
            api.send("POST", f"/projects/{PROJECT}/datasets/{ds}/records/{rid}/suggestions", s)
    return api


@pytest.mark.parametrize("name", list(CASES))
def test_task_view_by_keyboard(page: Page, api: Api, name: str) -> None:
    questions, _, _, keys, want = CASES[name]
    ds = name.replace("_", "-")
    login(page)
    page.goto(f"/projects/{PROJECT}/datasets/{ds}/annotate")
    expect(page.locator(".annotate")).to_have_attribute("data-phase", "ready")
    expect(page.locator("aside.guidelines")).to_contain_text("How to judge")
    # The first question has the keyboard focus once the task is shown.
    expect(page.locator(f"section[data-question={questions[0]['name']}]:focus-within")).to_be_visible()
    keys(page)
    # Undo and redo go through the history of the task without losing the answer.
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+Shift+z")
    shot(page, f"task-{ds}")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    (row,) = api.get(f"/projects/{PROJECT}/datasets/{ds}/queue/history")
    assert row["answers"] == want


def test_skip_with_a_reason_then_go_back_and_amend_by_keyboard(page: Page, api: Api) -> None:
    question = {"type": "rating", "name": "rate", "title": "Overall", "min": 1, "max": 5}
    api.send("POST", f"/projects/{PROJECT}/datasets", {"name": "amend", "questions": [question]})
    first, second = api.records(PROJECT, "amend", [{"content": TEXT}, {"content": CONVERSATION}])
    login(page)
    page.goto(f"/projects/{PROJECT}/datasets/amend/annotate")
    root = page.locator(".annotate")
    expect(root).to_have_attribute("data-record", first)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    shot(page, "task-shortcuts")
    page.keyboard.press("Escape")
    # s asks a reason: a number picks one, Enter skips; the next record comes.
    page.keyboard.press("s")
    expect(page.get_by_role("dialog", name="Skip this task")).to_be_visible()
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(root).to_have_attribute("data-record", second)
    page.keyboard.press("3")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    # b goes back to the last submission, with its answer; Ctrl+Enter saves the amendment.
    page.keyboard.press("b")
    expect(root).to_have_attribute("data-mode", "amend")
    expect(root).to_have_attribute("data-record", second)
    expect(page.locator("section[data-question=rate] button[aria-checked=true]")).to_contain_text("3")
    page.keyboard.press("5")
    shot(page, "task-amend")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".notice")).to_contain_text("Amendment saved")
    (row,) = api.get(f"/projects/{PROJECT}/datasets/amend/queue/history")
    assert row["record_id"] == second and row["answers"] == {"rate": 5}


EVIL = (
    'Hi <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> '
    '[click](javascript:window.__pwned=1) <a href="javascript:window.__pwned=1">raw link</a>'
)


def test_untrusted_candidates_in_task_views_stay_text(page: Page, api: Api) -> None:
    questions = [
        {"type": "ranking", "name": "rank", "title": "Rank", "description": EVIL},
        {"type": "choice", "name": "pick", "title": "Pick", "rationale": "optional"},
    ]
    content = {
        "kind": "comparison",
        "prompt": _msgs(("user", EVIL)),
        "candidates": [
            {"id": "a", "model": "<b>m</b>", "messages": _msgs(("assistant", EVIL))},
            {"id": "b", "messages": _msgs(("assistant", "fine"))},
        ],
    }
    api.send("POST", f"/projects/{PROJECT}/datasets", {"name": "evil", "guidelines": EVIL, "questions": questions})
    api.records(PROJECT, "evil", [{"content": content}])
    login(page)
    page.goto(f"/projects/{PROJECT}/datasets/evil/annotate")
    expect(page.locator(".annotate")).to_have_attribute("data-phase", "ready")
    expect(page.locator(".ranking .item pre").first).to_contain_text("<script>window.__pwned=1</script>")
    expect(page.locator(".choice .cand").first).to_contain_text('<img src=x onerror="window.__pwned=1">')
    page.locator(".ranking .item").first.click()
    expect(page.locator("a[href^='javascript:']")).to_have_count(0)
    assert page.evaluate("window.__pwned") is None
    shot(page, "task-untrusted")


def test_ranking_by_drag_and_drop(page: Page, api: Api) -> None:
    question = {"type": "ranking", "name": "rank", "title": "Rank the answers"}
    api.send("POST", f"/projects/{PROJECT}/datasets", {"name": "drag", "questions": [question]})
    api.records(PROJECT, "drag", [{"content": COMPARISON}])
    login(page)
    page.goto(f"/projects/{PROJECT}/datasets/drag/annotate")
    expect(page.locator(".annotate")).to_have_attribute("data-phase", "ready")
    item = page.locator(".ranking .item")
    # c dropped above the first group: a new best; then b dropped onto c's group: a tie.
    page.locator(".ranking .item[data-item=c]").drag_to(page.locator(".ranking li.gap").first)
    expect(item).to_have_count(3)
    expect(page.locator(".ranking .group").first).to_have_attribute("data-rank", "1")
    expect(page.locator(".ranking .group").first.locator(".item")).to_have_attribute("data-item", "c")
    page.locator(".ranking .item[data-item=b]").drag_to(page.locator(".ranking .group").first)
    expect(page.locator(".ranking .group.tied .item")).to_have_count(2)
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    (row,) = api.get(f"/projects/{PROJECT}/datasets/drag/queue/history")
    assert row["answers"] == {"rank": [["c", "b"], ["a"]]}
