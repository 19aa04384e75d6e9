"""Authoring from scratch in Chromium, by keyboard, as an annotator, checked through what the
server stores: a conversation written from a brief (both roles, task type / domain / language
chosen beside it), an agent trajectory, the preferred output at agent steps, and audio recorded
from the (fake) microphone, played back, submitted and decoded on the server's side."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import av
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from web_support import Api, WebServer, login, page_errors, shot

PROJECT = "authoring"
AUTHOR, PASSWORD = "author1", "author password for the authoring tests"
GUIDE = "## Writing chats\n\n- The user asks something **real**.\n- The assistant answers as an expert would."
BRIEF = "Write a chat where a home cook asks how to keep pasta from sticking, then follows up twice."
SCRIPT = "The quick brown fox jumps over the lazy dog."
SELECTED = re.compile(r"\bselected\b")
TASK_TYPES = ["generation", "open_qa", "brainstorming", "chat", "rewrite", "summarization", "classification", "other"]
TOOLS = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}, {"name": "book"}]
RUN = {
    "kind": "agent_run",
    "task": "Book a table for two at Sushi Ko at 8pm",
    "tools": TOOLS,
    "steps": [
        {"type": "plan", "content": "Search for the restaurant, then book it."},
        {
            "type": "tool_call",
            "tool_call": {"id": "k1", "name": "search", "arguments": {"q": "Sushi Ko"}},
            "alternatives": [
                {"id": "b", "tool_call": {"name": "search", "arguments": {"q": "Sushi Ko 8pm table for two"}}},
                {"id": "c", "content": "<b>I cannot search</b> <script>alert(1)</script>", "model": "m-small"},
            ],
        },
        {"type": "tool_result", "tool_call_id": "k1", "content": "Sushi Ko, 12 Main St"},
        {
            "type": "message",
            "content": "Booked!",
            "alternatives": [{"id": "b", "content": "Which time suits you, 8pm exactly?"}],
        },
    ],
}


@pytest.fixture(scope="module")
def api(web_server: WebServer) -> Api:
    api = Api(web_server.url)
    api.project(PROJECT)
    api.user(AUTHOR, PASSWORD, PROJECT, "annotator")
    return api


@pytest.fixture
def author(context: BrowserContext, page: Page) -> Iterator[Page]:
    context.grant_permissions(["microphone"])
    login(page, AUTHOR, PASSWORD)
    errors = page_errors(page)
    yield page
    assert errors == []


def _dataset(api: Api, name: str, questions: list[dict[str, Any]], content: dict[str, Any]) -> str:
    api.send("POST", f"/projects/{PROJECT}/datasets", {"name": name, "guidelines": GUIDE, "questions": questions})
    (rid,) = api.records(PROJECT, name, [{"content": content}])
    return rid


def _open(page: Page, dataset: str) -> None:
    page.goto(f"/projects/{PROJECT}/datasets/{dataset}/annotate")
    expect(page.locator(".annotate")).to_have_attribute("data-phase", "ready")


def _submitted(api: Api, dataset: str, rid: str) -> dict[str, Any]:
    """The answers the server holds for the record (the caller is the project owner: sees all)."""
    page_done = api.get(f"/projects/{PROJECT}/datasets/{dataset}/records/{rid}/responses")
    (row,) = [r for r in page_done if r["user"] == AUTHOR]
    assert row["status"] == "submitted"
    answers: dict[str, Any] = row["answers"]
    return answers


def test_write_a_three_turn_conversation_from_a_brief_by_keyboard(author: Page, api: Api) -> None:
    page = author
    questions = [
        {"type": "conversation", "name": "chat", "title": "Write the conversation"},
        {"type": "choice", "name": "task_type", "title": "Task type", "options": TASK_TYPES, "rationale": "none"},
        {"type": "choice", "name": "domain", "title": "Domain", "options": ["cooking", "law"], "rationale": "none"},
        {"type": "choice", "name": "language", "title": "Language", "options": ["en", "fr"], "rationale": "none"},
    ]
    rid = _dataset(api, "chat-briefs", questions, {"kind": "text", "text": BRIEF})
    _open(page, "chat-briefs")
    expect(page.locator("section.record")).to_contain_text("home cook")  # the brief, beside the editor
    expect(page.locator("aside.guidelines")).to_contain_text("Writing chats")
    # The editor starts with an empty user turn (focused) and its empty reply.
    turn1 = page.get_by_role("textbox", name="turn 1", exact=True)
    expect(turn1).to_be_focused()
    expect(page.get_by_role("combobox", name="role of turn 1")).to_have_value("user")
    turns = [
        ("user", "How do I keep pasta from sticking?"),
        ("assistant", "Use plenty of water at a rolling boil and stir in the first two minutes."),
        ("user", "Should I add oil to the water?"),
        ("assistant", "No: oil floats and makes sauce slide off. Stirring is enough."),
        ("user", "And after draining?"),
        ("assistant", "Sauce it at once, with a splash of the cooking water."),
    ]
    for i, (_, text) in enumerate(turns):
        if i:
            page.keyboard.press("Alt+Enter")  # the next turn, the other role, focused
        page.keyboard.type(text)
        if i == 0:  # the draft of a half-written chat (a question, its empty reply) is accepted
            expect(page.locator(".annotate .save")).to_have_text("draft saved")
            expect(page.locator(".annotate .alert")).to_have_count(0)
    # One turn too many, removed by keyboard.
    page.keyboard.press("Alt+Enter")
    expect(page.get_by_role("textbox", name="turn 7", exact=True)).to_be_focused()
    page.keyboard.press("Alt+x")
    expect(page.locator("section[data-question=chat] textarea")).to_have_count(6)
    # Esc leaves the editor; j goes to the choice questions; number keys pick.
    page.keyboard.press("Escape")
    for key in ("j", "4", "j", "1", "j", "1"):
        page.keyboard.press(key)
    shot(page, "authoring-conversation")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    assert _submitted(api, "chat-briefs", rid) == {
        "chat": [{"role": r, "content": c} for r, c in turns],
        "task_type": {"choice": "chat", "rationale": None},
        "domain": {"choice": "cooking", "rationale": None},
        "language": {"choice": "en", "rationale": None},
    }


def test_write_a_trajectory_by_keyboard(author: Page, api: Api) -> None:
    page = author
    question = {"type": "trajectory", "name": "trajectory", "title": "Write the agent's steps"}
    task = {"kind": "agent_run", "task": "Book a table for two at Sushi Ko at 8pm", "tools": TOOLS}
    rid = _dataset(api, "trajectories", [question], task)
    _open(page, "trajectories")
    page.keyboard.press("p")
    page.keyboard.type("Find the restaurant, then book it.")
    page.keyboard.press("Escape")
    page.keyboard.press("t")  # a tool call, its tool name pre-filled with the first tool
    expect(page.get_by_role("combobox", name="tool of step 2")).to_have_value("search")
    page.keyboard.press("Tab")
    page.keyboard.type('{"q": ')
    expect(page.locator(".trajectory .error")).to_contain_text("not valid JSON")
    page.keyboard.type('"Sushi Ko"}')
    expect(page.locator(".trajectory .error")).to_have_count(0)
    page.keyboard.press("Escape")
    page.keyboard.press("o")
    page.keyboard.type("Sushi Ko, 12 Main St")
    page.keyboard.press("Escape")
    page.keyboard.press("m")
    page.keyboard.type("Found it; booking now.")
    page.keyboard.press("Escape")
    page.keyboard.press("Shift+ArrowUp")  # the message goes above the tool result...
    page.keyboard.press("Shift+ArrowDown")  # ...and back
    page.keyboard.press("f")
    page.keyboard.type("Your table at Sushi Ko is booked for 8pm.")
    shot(page, "authoring-trajectory")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    assert _submitted(api, "trajectories", rid) == {
        "trajectory": {
            "steps": [
                {"type": "plan", "content": "Find the restaurant, then book it."},
                {"type": "tool_call", "tool_call": {"id": "call_1", "name": "search", "arguments": {"q": "Sushi Ko"}}},
                {"type": "tool_result", "content": "Sushi Ko, 12 Main St", "tool_call_id": "call_1"},
                {"type": "message", "content": "Found it; booking now."},
            ],
            "final": "Your table at Sushi Ko is booked for 8pm.",
        }
    }


def test_choose_the_preferred_output_at_agent_steps(author: Page, api: Api) -> None:
    page = author
    question = {"type": "step_preference", "name": "preferred", "title": "Which output is better at each step?"}
    rid = _dataset(api, "step-prefs", [question], RUN)
    _open(page, "step-prefs")
    options = page.locator("[data-step='1'] .option")
    expect(options).to_have_count(3)  # taken and two alternatives, side by side
    expect(options.nth(2)).to_contain_text("<script>alert(1)</script>")  # untrusted text shown as text
    expect(page.locator(".step-preference .option :is(script, b)")).to_have_count(0)
    page.keyboard.press("2")
    page.keyboard.press("r")
    page.keyboard.type("b asks for the time and the party size up front")
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("1")
    expect(page.locator("[data-step='3'] .option[aria-checked=true]")).to_have_attribute("data-option", "taken")
    shot(page, "authoring-step-preference")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    assert _submitted(api, "step-prefs", rid) == {
        "preferred": [
            {"step": 1, "choice": "b", "rationale": "b asks for the time and the party size up front"},
            {"step": 3, "choice": "taken"},
        ]
    }


def _decoded_seconds(data: bytes) -> float:
    with av.open(io.BytesIO(data), "r") as c:
        stream = c.streams.audio[0]
        frames = list(c.decode(stream))
    return sum(f.samples for f in frames) / frames[0].sample_rate


def test_record_three_seconds_play_them_back_and_submit(author: Page, api: Api) -> None:
    page = author
    question = {
        "type": "recording",
        "name": "take",
        "title": "Read the script aloud",
        "tags": {"emotion": ["neutral", "happy", "sad"]},
        "min_seconds": 1,
        "max_seconds": 20,
    }
    rid = _dataset(api, "scripts", [question], {"kind": "text", "text": SCRIPT})
    _open(page, "scripts")
    expect(page.locator(".recording blockquote.script")).to_have_text(SCRIPT)
    view = page.locator(".task.recording")
    page.keyboard.press("r")
    expect(view).to_have_attribute("data-phase", "recording")
    page.wait_for_timeout(3_200)
    page.keyboard.press("r")
    takes = page.locator("[data-take]")
    expect(takes).to_have_count(1, timeout=15_000)
    expect(view).to_have_attribute("data-phase", "idle")
    peak = float(page.locator("meter.level").get_attribute("data-peak") or 0)
    assert peak > 0.01, f"the level meter never moved (peak {peak})"  # the fake device beeps
    # p plays the selected take to its end.
    page.keyboard.press("p")
    duration = page.evaluate(
        """() => new Promise((resolve, reject) => {
            const a = document.querySelector('[data-take="0"] audio');
            const done = () => resolve(a.duration);
            if (a.ended) return done();
            a.addEventListener('ended', done, { once: true });
            setTimeout(() => reject(new Error('no ended event; paused=' + a.paused + ' t=' + a.currentTime)), 15000);
        })"""
    )
    assert 2.0 < duration < 6.0, duration
    # A retake is kept beside the first; 1 goes back to the first; t and the arrows set a tag.
    page.keyboard.press("r")
    expect(view).to_have_attribute("data-phase", "recording")
    page.wait_for_timeout(1_500)
    page.keyboard.press("r")
    expect(takes).to_have_count(2, timeout=15_000)
    expect(takes.nth(1)).to_have_class(SELECTED)
    page.keyboard.press("1")
    expect(takes.nth(0)).to_have_class(SELECTED)
    page.keyboard.press("t")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    expect(page.get_by_role("combobox", name="emotion")).to_have_value("happy")
    page.keyboard.press("Escape")
    shot(page, "authoring-recording")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()

    answer = _submitted(api, "scripts", rid)["take"]
    assert answer["selected"] == 0 and answer["tags"] == {"emotion": "happy"} and len(answer["takes"]) == 2
    first = answer["takes"][0]
    assert 2.5 < first["duration_s"] < 4.5 and first["blob"]["mime_type"] in ("audio/webm", "audio/ogg")
    # The stored blob is real audio: served back through the answer, and decoded here.
    r = api.http.get(f"/projects/{PROJECT}/datasets/scripts/records/{rid}/takes/{first['blob']['sha256']}")
    assert r.status_code == 200 and r.headers["content-type"] == first["blob"]["mime_type"]
    assert len(r.content) == first["blob"]["size"]
    assert _decoded_seconds(r.content) == pytest.approx(first["duration_s"], abs=0.05)


def test_an_engineer_creates_the_authoring_questions_in_the_settings_editor(page: Page, api: Api) -> None:
    api.send("POST", f"/projects/{PROJECT}/datasets", {"name": "new-authoring"})
    login(page)  # the administrator: an owner of every project
    page.goto(f"/projects/{PROJECT}/datasets/new-authoring/settings")
    form = page.get_by_role("form", name="New question")
    page.locator("select[name=new-type]").select_option("recording")
    form.locator("input[name=name]").fill("take")
    form.locator("input[name=tags]").fill("emotion: neutral, happy; style: calm")
    form.locator("input[name=max_seconds]").fill("15")
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("[data-question=take]")).to_contain_text("emotion · style")
    page.locator("select[name=new-type]").select_option("trajectory")
    form.locator("input[name=name]").fill("plan")
    form.get_by_label("Plan steps only").check()
    form.locator("textarea[name=tools]").fill("search\nbook")
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("[data-question=plan]")).to_contain_text("plan only")
    page.locator("select[name=new-type]").select_option("step_preference")
    form.locator("input[name=name]").fill("preferred")
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("[data-question=preferred]")).to_be_visible()
    questions = {q["name"]: q for q in api.get(f"/projects/{PROJECT}/datasets/new-authoring")["questions"]}
    assert questions["take"]["tags"] == {"emotion": ["neutral", "happy"], "style": ["calm"]}
    assert (questions["take"]["min_seconds"], questions["take"]["max_seconds"]) == (0.5, 15.0)
    assert questions["plan"]["plan_only"] is True and questions["plan"]["tools"] == ["search", "book"]
    assert questions["preferred"]["type"] == "step_preference" and questions["preferred"]["rationale"] == "optional"
