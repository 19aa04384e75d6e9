"""An app's user picks alternative B at step 3: the SDK sends the step with its alternatives and the
choice, the live server keeps them on the run's record, and the step-level DPO export makes the pair."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from sdk_support import PROJECT, Home, by_meta

from live_server import ServerProcess
from thresher import DataError
from thresher.model import AgentRunContent, Record
from thresher.pipeline import export_dataset
from thresher.sdk import AsyncClient, Client


def the_run(home: Home, run_id: str) -> Record:
    [rec] = by_meta(home.records("agent_run"), "run_id", run_id)
    assert isinstance(rec.content, AgentRunContent)
    return rec


def step_pairs(home: Home, tmp_path: Path, task: str) -> list[dict[str, object]]:
    """The step-level DPO rows of the capture dataset whose prompt starts with ``task``."""
    out = tmp_path / f"steps-{uuid.uuid4().hex[:8]}.jsonl"
    store = home.store()
    try:
        export_dataset(store, store.get_dataset(PROJECT, "capture"), out, "trl-step-preference")
    finally:
        store.close()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["prompt"][0]["content"] == task]


def test_step_by_step_run_with_the_users_choice(server: ServerProcess, home: Home, tmp_path: Path) -> None:
    run_id, task = uuid.uuid4().hex, f"Book a table for two, tonight ({uuid.uuid4().hex[:6]})"
    with Client(server.url, home.app_key, flush_interval=0.05) as client:
        client.agent_step(run_id, {"type": "plan", "content": "Find a free table."}, index=0, task=task)
        call = {"id": "c1", "type": "function", "function": {"name": "tables", "arguments": '{"seats": 2}'}}
        client.agent_step(run_id, {"type": "tool_call", "tool_call": call}, index=1)
        client.agent_step(run_id, {"type": "tool_result", "tool_call_id": "c1", "content": "19:00, 21:30"}, index=2)
        # Step 3: the agent offered two answers; the user picked B.
        client.agent_step(
            run_id,
            {"type": "message", "content": "I booked 19:00."},
            index=3,
            alternatives={"b": "19:00 or 21:30: which do you prefer?"},
            chosen="b",
        )
        client.agent_end(run_id, outcome="success", model="agent-1")
        assert client.flush(timeout=20)
        assert (client.sent, client.failed, client.dropped) == (5, 0, 0)

    rec = the_run(home, run_id)
    assert isinstance(rec.content, AgentRunContent)
    step = rec.content.steps[3]
    assert [(a.id, a.content) for a in step.alternatives or []] == [("b", "19:00 or 21:30: which do you prefer?")]
    assert step.chosen == "b" and rec.content.steps[1].tool_call is not None
    assert rec.content.steps[1].tool_call.arguments == {"seats": 2}

    [pair] = step_pairs(home, tmp_path, task)
    assert pair["prompt"] == [
        {"role": "user", "content": task},
        {
            "role": "assistant",
            "content": "Find a free table.",
            "tool_calls": [{"type": "function", "function": {"name": "tables", "arguments": {"seats": 2}}}],
        },
        {"role": "tool", "content": "19:00, 21:30", "name": "tables"},
    ]
    assert pair["chosen"] == [{"role": "assistant", "content": "19:00 or 21:30: which do you prefer?"}]
    assert pair["rejected"] == [{"role": "assistant", "content": "I booked 19:00."}]


def test_async_whole_run_with_text_alternatives(server: ServerProcess, home: Home, tmp_path: Path) -> None:
    task = f"Name a colour ({uuid.uuid4().hex[:6]})"

    async def main() -> str:
        async with AsyncClient(server.url, home.app_key, flush_interval=0.05) as client:
            steps = [{"type": "message", "content": "Red.", "alternatives": ["Blue.", "Green."], "chosen": "c"}]
            client.agent_run(task, steps, outcome="success", run_id=run_id)
            assert await client.flush(timeout=20)
            assert (client.failed, client.dropped) == (0, 0)
        return run_id

    run_id = uuid.uuid4().hex
    asyncio.run(main())
    rec = the_run(home, run_id)
    assert isinstance(rec.content, AgentRunContent)
    [step] = rec.content.steps
    assert [(a.id, a.content) for a in step.alternatives or []] == [("b", "Blue."), ("c", "Green.")]
    assert step.chosen == "c"
    # Green beats the recorded answer and the other alternative: one row per rejected option.
    pairs = step_pairs(home, tmp_path, task)
    assert sorted(p["rejected"][0]["content"] for p in pairs) == ["Blue.", "Red."]  # type: ignore[index]
    assert {p["chosen"][0]["content"] for p in pairs} == {"Green."}  # type: ignore[index]


def test_an_unknown_choice_fails_at_the_call(server: ServerProcess, home: Home) -> None:
    with Client(server.url, home.app_key, flush_interval=60) as client:
        with pytest.raises(DataError) as e:
            client.agent_step("r", {"type": "message", "content": "A"}, alternatives=["B"], chosen="z")
        assert e.value.details[0].loc[:2] == ("agent_step", "step")
        with pytest.raises(DataError):
            client.agent_run("t", [{"type": "message", "content": "A", "alternatives": {"taken": "B"}}])
        assert client.pending == 0  # nothing invalid was queued


def test_trace_block_records_the_choice(server: ServerProcess, home: Home, tmp_path: Path) -> None:
    task = f"Pick a time ({uuid.uuid4().hex[:6]})"
    with Client(server.url, home.app_key, flush_interval=0.05) as client:
        with client.trace(task) as run:
            run.plan("Ask the user.")
            run.message("19:00?", alternatives=["21:30?"], chosen="taken")
            run_id = run.run_id
        assert client.flush(timeout=20)
        with pytest.raises(DataError), client.trace("t") as bad:
            bad.message("x", alternatives=["y"], chosen="q")
    rec = the_run(home, run_id)
    assert isinstance(rec.content, AgentRunContent)
    step = rec.content.steps[1]
    assert (step.chosen, [a.content for a in step.alternatives or []]) == ("taken", ["21:30?"])
    [pair] = step_pairs(home, tmp_path, task)
    assert pair["chosen"][0]["content"] == "19:00?" and pair["rejected"][0]["content"] == "21:30?"  # type: ignore[index]
