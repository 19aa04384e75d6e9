"""AsyncClient: the same calls, sent by a task in the app's event loop."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sdk_support import AsyncFaultTransport, Faults, Home, by_meta, error_response

from live_server import ServerProcess, free_port
from thresher import DataError
from thresher.model import AgentRunContent, ComparisonContent, ConversationContent
from thresher.sdk import AsyncClient, current_run


def test_every_capture_call_lands(server: ServerProcess, home: Home) -> None:
    s = uuid.uuid4().hex

    async def main() -> tuple[str, str]:
        async with AsyncClient(server.url, home.app_key, flush_interval=0.05) as client:
            client.turn(s, "user", f"Hi, I am {s}")  # unique: the dataset keeps one record per content
            client.turn(s, "assistant", "Hello!", model="m-async")
            client.preference(["a", "b"], chosen="1", reason="politer", session_id=s)
            client.feedback(s, thumbs="down", comment="too short")
            run = client.agent_run("sum 1..3", [{"type": "message", "content": "6"}], outcome="success")
            async with client.trace("async task") as traced:
                traced.plan("think")
                await asyncio.sleep(0)
                traced.message("done")
            assert await client.flush(timeout=20)
            assert (client.sent, client.failed, client.dropped) == (8, 0, 0)
        return run, traced.run_id

    run_event, traced_run = asyncio.run(main())
    convs = by_meta(home.records("conversation"), "session_id", s)
    assert any(isinstance(r.content, ConversationContent) and len(r.content.messages) == 2 for r in convs)
    assert [r.id for r in convs if any(x.answers.get("feedback") for x in home.responses(r.id or ""))]
    [cmp] = by_meta(home.records("comparison"), "session_id", s)
    assert isinstance(cmp.content, ComparisonContent)
    assert any(r.source.client_id == run_event for r in home.records("agent_run"))
    [traced] = by_meta(home.records("agent_run"), "run_id", traced_run)
    assert isinstance(traced.content, AgentRunContent)
    assert [st.type for st in traced.content.steps] == ["plan", "message"]


def test_async_decorator_and_failure(server: ServerProcess, home: Home) -> None:
    async def main() -> list[str]:
        ids: list[str] = []
        async with AsyncClient(server.url, home.app_key, flush_interval=0.05) as client:

            @client.trace("flaky tool")
            async def agent(n: int) -> int:
                run = current_run()
                assert run is not None
                ids.append(run.run_id)
                run.tool_call("divide", {"n": n})
                await asyncio.sleep(0.01)
                return 10 // n

            results = await asyncio.gather(agent(2), agent(0), agent(5), return_exceptions=True)
            assert results[0] == 5 and isinstance(results[1], ZeroDivisionError) and results[2] == 2
            assert await client.flush(timeout=20)
        return ids

    ids = asyncio.run(main())
    assert len(set(ids)) == 3  # concurrent calls, one run each
    runs = {r.metadata["run_id"]: r for r in home.records("agent_run") if r.metadata.get("run_id") in ids}
    statuses = sorted(r.content.outcome.status for r in runs.values() if isinstance(r.content, AgentRunContent))
    assert statuses == ["failure", "success", "success"]
    failed = next(r for r in runs.values() if isinstance(r.content, AgentRunContent) and r.content.failure)
    assert isinstance(failed.content, AgentRunContent) and failed.content.failure is not None
    assert "ZeroDivisionError" in (failed.content.failure.reason or "")


def test_retries_and_refusals(server: ServerProcess, home: Home) -> None:
    faults = Faults()
    faults.script = [error_response(503, "internal", "busy"), httpx.ConnectError("injected")]

    async def main() -> AsyncClient:
        transport = AsyncFaultTransport(faults)
        async with AsyncClient(server.url, home.app_key, transport=transport, flush_interval=0.05) as client:
            ids = [client.turn(uuid.uuid4().hex, "user", f"m{i}") for i in range(3)]
            assert await client.flush(timeout=30)
            faults.reject = {client.turn("s", "user", "poison")}
            assert await client.flush(timeout=30)
        assert {tuple(p[1]) for p in faults.posts[:3]} == {tuple(ids)}  # same batch, same ids, every try
        return client

    client = asyncio.run(main())
    assert (client.sent, client.failed, client.dropped) == (3, 1, 0)
    with pytest.raises(DataError):
        client.turn("s", "nobody", "x")  # type: ignore[arg-type]


def test_full_queue_drops_and_close_gives_up() -> None:
    async def main() -> AsyncClient:
        client = AsyncClient(f"http://127.0.0.1:{free_port()}", "thr_x", max_queue=10, batch_size=5)
        started = time.monotonic()
        for i in range(100):
            client.turn("s", "user", f"m{i}")
        assert time.monotonic() - started < 1.0
        assert client.dropped == 90 and client.pending == 10  # the sender has not run yet
        assert await client.flush(timeout=0.2) is False
        await client.close(timeout=0.1)
        return client

    client = asyncio.run(main())
    assert (client.sent, client.dropped, client.pending) == (0, 100, 0)


def test_a_loop_that_ends_without_close_loses_nothing(server: ServerProcess, home: Home) -> None:
    s = uuid.uuid4().hex
    client = AsyncClient(server.url, home.app_key, flush_interval=5)  # nothing sent before the loop ends

    async def main() -> None:
        for i in range(4):
            client.turn(s, "user", f"{s}: m{i}")

    asyncio.run(main())  # the sender task is cancelled with the loop; its batch goes back in the queue
    assert client.sent == 0 and client.pending == 4
    client._atexit()  # what atexit runs: a synchronous client sends the rest
    assert (client.sent, client.pending) == (4, 0)
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert isinstance(rec.content, ConversationContent) and len(rec.content.messages) == 4


def test_a_batch_is_due_a_flush_interval_after_its_first_event_was_queued(server: ServerProcess, home: Home) -> None:
    """As for the sync client: an event queued during a retry's wait goes once that wait ends."""
    faults = Faults()
    faults.script = [error_response(429, "rate_limited", "slow down", headers={"Retry-After": "2"})]

    async def main() -> AsyncClient:
        transport = AsyncFaultTransport(faults)
        async with AsyncClient(server.url, home.app_key, transport=transport, flush_interval=1.0) as client:
            s = uuid.uuid4().hex
            client.turn(s, "user", "first")
            while not faults.posts:
                await asyncio.sleep(0.01)
            client.turn(s, "user", "second")
            started = time.monotonic()
            while client.sent < 2 and time.monotonic() - started < 10:
                await asyncio.sleep(0.01)
        return client

    client = asyncio.run(main())
    assert client.sent == 2
    (_, _, s0), (retried, _, s1), (second, ids, s2) = faults.posts
    assert (s0, s1, s2, len(ids)) == (429, -1, -1, 1)
    assert second - retried < 0.5
