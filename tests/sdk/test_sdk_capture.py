"""Each capture call lands on a real server as the record a user would look for."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sdk_support import Home, by_meta

from live_server import ServerProcess
from thresher import DataError
from thresher.model import AgentRunContent, ComparisonContent, ConversationContent
from thresher.sdk import Client, current_run


@pytest.fixture
def client(server: ServerProcess, home: Home) -> Iterator[Client]:
    with Client(server.url, home.app_key, flush_interval=0.05) as c:
        yield c


def sid() -> str:
    return uuid.uuid4().hex[:12]


def sent_all(client: Client) -> None:
    assert client.flush(timeout=20)
    assert (client.failed, client.dropped) == (0, 0)


def test_turns_make_the_session_conversation(client: Client, home: Home) -> None:
    s = sid()
    client.turn(s, "system", "Be brief.")
    client.turn(s, "user", "What is the capital of France?")
    client.turn(s, "assistant", "Paris.", model="gpt-test", params={"temperature": 0.2})
    sent_all(client)
    assert client.sent == 3
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert isinstance(rec.content, ConversationContent)
    assert [(m.role, m.text()) for m in rec.content.messages] == [
        ("system", "Be brief."),
        ("user", "What is the capital of France?"),
        ("assistant", "Paris."),
    ]
    assert rec.source.model == "gpt-test" and rec.source.endpoint == "capture"


def test_tool_calls_in_openai_shape_are_accepted(client: Client, home: Home) -> None:
    s = sid()
    client.turn(s, "user", "Weather in Oslo?")
    call = {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    client.turn(s, "assistant", None, tool_calls=[call])
    client.turn(s, "tool", "-3C, snow", tool_call_id="c1")
    client.turn(s, "assistant", "Cold: -3C and snow.")
    sent_all(client)
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert isinstance(rec.content, ConversationContent)
    calls = rec.content.messages[1].tool_calls
    assert calls is not None and calls[0].name == "weather" and calls[0].arguments == {"city": "Oslo"}
    assert rec.content.messages[2].tool_call_id == "c1"


def test_preference_with_reason_is_a_comparison_with_the_choice(client: Client, home: Home) -> None:
    s = sid()
    client.turn(s, "user", "Summarise the report.")
    client.preference(["A short summary.", "A long, rambling summary."], chosen=0, reason="shorter", session_id=s)
    sent_all(client)
    [rec] = by_meta(home.records("comparison"), "session_id", s)
    assert isinstance(rec.content, ComparisonContent)
    assert [m.text() for m in rec.content.prompt] == ["Summarise the report."]
    assert [c.id for c in rec.content.candidates] == ["0", "1"]
    assert rec.id is not None
    [resp] = home.responses(rec.id)
    assert resp.answers["preferred"] == {"choice": "0", "rationale": "shorter"}


def test_feedback_labels_the_assistant_turn(client: Client, home: Home) -> None:
    s = sid()
    client.turn(s, "user", "Translate 'cat' to French.")
    turn = client.turn(s, "assistant", "chat")
    client.turn(s, "user", "And 'dog'?")
    client.turn(s, "assistant", "chien")
    client.feedback(s, thumbs="up", ratings={"accuracy": 5}, comment="right", turn_id=turn, user="u1")
    sent_all(client)
    labelled = [
        (r, resp) for r in by_meta(home.records("conversation"), "session_id", s) for resp in home.responses(r.id or "")
    ]
    [(rec, resp)] = labelled
    assert isinstance(rec.content, ConversationContent)
    assert [m.text() for m in rec.content.messages] == ["Translate 'cat' to French.", "chat"]  # up to that turn
    assert resp.answers["feedback"] == {"choice": "up", "rationale": "right"}
    assert resp.answers["accuracy"] == 5 and resp.user == "app:u1"


def test_agent_run_at_once(client: Client, home: Home) -> None:
    run_id = sid()
    steps: list[dict[str, Any]] = [
        {"type": "plan", "content": "look it up"},
        {"type": "tool_call", "tool_call": {"id": "c1", "name": "search", "arguments": {"q": "x"}}},
        {"type": "tool_result", "content": "nothing", "tool_call_id": "c1"},
    ]
    client.agent_run("find x", steps, outcome="failure", failure={"step": 2, "cause": "tool"}, run_id=run_id)
    sent_all(client)
    [rec] = by_meta(home.records("agent_run"), "run_id", run_id)
    assert isinstance(rec.content, AgentRunContent)
    assert [s.type for s in rec.content.steps] == ["plan", "tool_call", "tool_result"]
    assert rec.content.outcome.status == "failure"
    assert rec.content.failure is not None and (rec.content.failure.step, rec.content.failure.cause) == (2, "tool")


def test_trace_records_steps_in_order(client: Client, home: Home) -> None:
    with client.trace("book a table for two", model="agent-1") as run:
        run.plan("search, then book")
        call = run.tool_call("search", {"q": "sushi"})
        run.tool_result("3 places")
        run.reasoning("the first one has a table")
        run.handoff("booker", "book the first")
        run.error("booking API slow", agent="booker")
        run.message("Booked for 8pm.", agent="booker")
        assert run.last_step == 6 and current_run() is run
    assert current_run() is None
    sent_all(client)
    [rec] = by_meta(home.records("agent_run"), "run_id", run.run_id)
    assert isinstance(rec.content, AgentRunContent)
    assert rec.content.task == "book a table for two"
    steps = rec.content.steps
    assert [s.type for s in steps] == ["plan", "tool_call", "tool_result", "reasoning", "handoff", "error", "message"]
    assert steps[1].tool_call is not None and steps[1].tool_call.id == call
    assert steps[2].tool_call_id == call and steps[4].handoff_to == "booker" and steps[6].agent == "booker"
    assert rec.content.outcome.status == "success" and rec.content.failure is None
    assert rec.source.model == "agent-1"


def test_an_exception_in_a_trace_fails_the_run_and_propagates(client: Client, home: Home) -> None:
    with pytest.raises(ValueError, match="no tables"), client.trace("book a table") as run:
        run.plan("search")
        raise ValueError("no tables left")
    sent_all(client)
    [rec] = by_meta(home.records("agent_run"), "run_id", run.run_id)
    assert isinstance(rec.content, AgentRunContent)
    assert rec.content.outcome.status == "failure"
    assert rec.content.failure is not None
    assert rec.content.failure.cause == "unknown" and "no tables left" in (rec.content.failure.reason or "")


def test_fail_sets_cause_and_step(client: Client, home: Home) -> None:
    with client.trace("answer 2+2") as run:
        run.message("5")
        run.fail("model_output", "arithmetic", step=run.last_step)
    with pytest.raises(RuntimeError), client.trace("call the API") as run2:
        run2.tool_call("api")
        run2.fail(cause="system")
        raise RuntimeError("503 from upstream")
    sent_all(client)
    [rec] = by_meta(home.records("agent_run"), "run_id", run.run_id)
    assert isinstance(rec.content, AgentRunContent) and rec.content.failure is not None
    assert (rec.content.outcome.status, rec.content.failure.cause, rec.content.failure.step) == (
        "failure",
        "model_output",
        0,
    )
    assert rec.content.failure.reason == "arithmetic"
    [rec2] = by_meta(home.records("agent_run"), "run_id", run2.run_id)
    assert isinstance(rec2.content, AgentRunContent) and rec2.content.failure is not None
    assert rec2.content.failure.cause == "system" and "503 from upstream" in (rec2.content.failure.reason or "")


def test_trace_as_decorator_makes_one_run_per_call(client: Client, home: Home) -> None:
    task = f"greet {sid()}"
    seen: list[str] = []

    @client.trace(task)
    def agent(name: str) -> str:
        run = current_run()
        assert run is not None
        seen.append(run.run_id)
        run.message(f"hello {name}")
        return name.upper()

    assert agent("ada") == "ADA" and agent("bob") == "BOB"
    sent_all(client)
    runs = [r for r in home.records("agent_run") if r.content.kind == "agent_run" and r.content.task == task]
    assert sorted(r.metadata["run_id"] for r in runs) == sorted(seen) and len(set(seen)) == 2


def test_invalid_input_raises_at_the_call_site(client: Client) -> None:
    with pytest.raises(DataError) as e:
        client.turn("s", "robot", "hi")  # type: ignore[arg-type]
    assert e.value.details[0].loc[:3] == ("turn", "message", "role")
    with pytest.raises(DataError):
        client.preference(["only one"], chosen=0)
    with pytest.raises(DataError):
        client.preference(["a", "b"], chosen=5)
    with pytest.raises(DataError):
        client.feedback("s")  # neither thumbs, ratings nor a comment
    with pytest.raises(DataError):
        client.turn("s", "user", "hi", params={"bad": object()})  # not JSON
    with client.trace("t") as run:
        with pytest.raises(DataError):
            run.step("tool_call")  # a tool_call step needs its call
        with pytest.raises(DataError):
            run.fail("model_output", step=3)  # no such step
    assert client.pending + client.sent == 1  # only the trace's end event was queued


def test_an_event_id_is_stored_once(client: Client, home: Home) -> None:
    s, eid = sid(), uuid.uuid4().hex
    before = home.event_counts().get("turn", 0)
    client.turn(s, "user", "once", id=eid)
    client.turn(s, "user", "once", id=eid)  # a retry by the app itself
    sent_all(client)
    assert client.sent == 2  # both acknowledged (the second as a duplicate) ...
    assert home.event_counts()["turn"] == before + 1  # ... stored once
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert isinstance(rec.content, ConversationContent) and len(rec.content.messages) == 1
