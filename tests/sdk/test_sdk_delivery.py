"""Delivery never blocks or crashes the app, retries what can succeed, and stores each event once."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sdk_support import Faults, FaultTransport, Home, by_meta, error_response, make_home

from live_server import ServerProcess, free_port
from thresher.model import AgentRunContent, ConversationContent
from thresher.sdk import Client, _http
from thresher.sdk._client import FLUSH_JITTER, batch_deadline


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens here
    client = Client(down, "thr_unused", max_queue=5, batch_size=1, flush_interval=0)
    started = time.monotonic()
    for i in range(50):
        client.turn("s", "user", f"message {i}")
    assert time.monotonic() - started < 1.0  # never waits for the network
    # At most max_queue waiting and one batch in the sender's hands; the rest dropped, counted.
    assert client.dropped >= 50 - 5 - 1 and client.sent == 0
    assert client.dropped + client.pending == 50
    assert client.flush(timeout=0.2) is False  # the server is down: not drained
    client.close(timeout=0.2)
    assert (client.dropped, client.pending, client.sent) == (50, 0, 0)  # closing gave up the rest
    client.turn("s", "user", "after close")
    assert client.dropped == 51


def test_events_wait_for_a_server_that_comes_up(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    server = ServerProcess(home.path)
    client = Client(server.url, home.app_key, flush_interval=0.05)
    try:
        ids = [client.turn("late", "user", f"m{i}") for i in range(5)]
        time.sleep(0.5)  # a few failed tries
        assert client.sent == 0 and client.pending == 5
        server.start()
        assert client.flush(timeout=60)
        assert (client.sent, client.failed, client.dropped) == (5, 0, 0) and len(set(ids)) == 5
    finally:
        client.close(timeout=1)
        server.stop()
    assert home.event_counts() == {"turn": 5}


@pytest.fixture
def faults() -> Faults:
    return Faults()


def faulty_client(
    server: ServerProcess, home: Home, faults: Faults, *, batch_size: int = 200, flush_interval: float = 0.05
) -> Client:
    transport = FaultTransport(faults)
    return Client(server.url, home.app_key, transport=transport, batch_size=batch_size, flush_interval=flush_interval)


def test_5xx_and_connection_errors_are_retried(server: ServerProcess, home: Home, faults: Faults) -> None:
    faults.script = [
        error_response(503, "internal", "busy"),
        httpx.ConnectError("injected: connection refused"),
        httpx.ReadTimeout("injected: read timed out"),
        error_response(500, "internal", "internal server error"),
    ]
    with faulty_client(server, home, faults) as client:
        run = client.agent_run("retried run", [{"type": "message", "content": "done"}], outcome="success")
        assert client.flush(timeout=30)
        assert (client.sent, client.failed, client.dropped) == (1, 0, 0)
    assert [status for _, _, status in faults.posts] == [503, 0, 0, 500, -1]
    assert {tuple(ids) for _, ids, _ in faults.posts} == {(run,)}  # the same id every try
    assert sum(1 for r in home.records("agent_run") if r.source.client_id == run) == 1


def test_429_waits_as_long_as_retry_after_says(server: ServerProcess, home: Home, faults: Faults) -> None:
    faults.script = [error_response(429, "rate_limited", "slow down", headers={"Retry-After": "1"})]
    with faulty_client(server, home, faults) as client:
        client.turn(uuid.uuid4().hex, "user", "hi")
        assert client.flush(timeout=30)
        assert client.sent == 1
    (t0, _, s0), (t1, _, s1) = faults.posts
    assert (s0, s1) == (429, -1) and t1 - t0 >= 0.95


@pytest.mark.parametrize("status", [413, 422])
def test_one_bad_event_does_not_sink_its_batch(
    server: ServerProcess, home: Home, faults: Faults, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    s = uuid.uuid4().hex
    with faulty_client(server, home, faults, batch_size=100, flush_interval=0.5) as client:
        ids = [client.turn(s, "user", f"m{i}", id=f"{s}-{i}") for i in range(10)]
        faults.reject = {ids[6]}
        if status == 413:
            faults.reject = set()
            faults.script = [error_response(413, "too_large", "request body over 1 bytes")]
        assert client.flush(timeout=30)
    if status == 422:
        assert (client.sent, client.failed) == (9, 1)
        assert "1 events refused" in caplog.text and "event rejected by the test" in caplog.text
        assert home.event_counts()["turn"] >= 9
    else:
        assert (client.sent, client.failed) == (10, 0)  # halves fit
    assert len(faults.posts[0][1]) == 10 and len(faults.posts[1][1]) == 5


def test_refused_credentials_count_as_failed_and_never_raise(
    server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, "thresher.sdk")
    with Client(server.url, "thr_not-a-real-key", flush_interval=0.05) as client:
        for i in range(3):
            client.turn("s", "user", f"m{i}")
        assert client.flush(timeout=20)
        assert (client.sent, client.failed, client.dropped) == (0, 3, 0)
    assert "invalid or revoked API key" in caplog.text


def test_backoff_is_jittered_and_capped() -> None:
    for attempt in range(40):
        ceiling = min(_http.BACKOFF_CAP, _http.BACKOFF_BASE * 2**attempt)
        waits = [_http.backoff(attempt) for _ in range(50)]
        assert all(0 <= w <= ceiling for w in waits)
    assert max(_http.backoff(30) for _ in range(200)) > _http.BACKOFF_CAP / 2
    assert _http.retry_after(httpx.Response(429, headers={"Retry-After": "7"})) == 7
    assert _http.retry_after(httpx.Response(429, headers={"Retry-After": "100000"})) == _http.RETRY_AFTER_CAP
    assert _http.retry_after(httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0
    assert _http.retry_after(httpx.Response(503)) is None


def test_server_killed_mid_stream_every_event_arrives_once(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    server = ServerProcess(home.path).start()
    total = 2000
    client = Client(server.url, home.app_key, flush_interval=0.02, batch_size=50)
    ids: list[str] = []

    def produce() -> None:
        for i in range(total):
            ids.append(client.agent_run(f"task {i}", [{"type": "message", "content": f"answer {i}"}]))
            time.sleep(0.001)

    sender = threading.Thread(target=produce)
    try:
        sender.start()
        deadline = time.monotonic() + 30
        while client.sent < 300 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert client.sent >= 300, "the stream never got going"
        server.kill()  # SIGKILL: no graceful shutdown, a batch may be half-handled
        killed_at = client.sent
        time.sleep(0.5)
        assert client.sent == killed_at  # nothing goes through while it is down
        server.start()  # same port, same home
        sender.join(60)
        assert client.flush(timeout=120)
        assert (client.sent, client.failed, client.dropped) == (total, 0, 0)
    finally:
        client.close(timeout=1)
        server.stop()
    assert killed_at < total  # the kill happened mid-stream
    assert home.event_counts() == {"agent_run": total}
    runs = home.records("agent_run")
    assert len(runs) == total
    assert sorted(r.source.client_id or "" for r in runs) == sorted(ids)
    tasks = {r.content.task for r in runs if isinstance(r.content, AgentRunContent)}
    assert tasks == {f"task {i}" for i in range(total)}


def test_close_is_a_context_manager_and_flushes(server: ServerProcess, home: Home) -> None:
    s = uuid.uuid4().hex
    with Client(server.url, home.app_key, flush_interval=10) as client:  # would wait 10 s for a batch
        client.turn(s, "user", "sent on close")
        started = time.monotonic()
    assert client.sent == 1 and time.monotonic() - started < 5
    client.close()  # again: nothing happens
    assert "sent=1" in repr(client)


def test_a_forked_child_sends_its_own_events(server: ServerProcess, home: Home) -> None:
    s = uuid.uuid4().hex
    with Client(server.url, home.app_key, flush_interval=0.05) as client:
        client.turn(s, "user", f"{s}: from the parent")
        assert client.flush(timeout=20)  # the sender thread runs; a fork does not copy it
        pid = os.fork()
        if pid == 0:  # the child: a new sender, its own queue and connections
            ok = False
            try:
                client.turn(s, "user", f"{s}: from the child")
                ok = client.flush(timeout=20) and client.sent == 2
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        client.turn(s, "user", f"{s}: the parent again")
        assert client.flush(timeout=20) and client.sent == 2
    [rec] = by_meta(home.records("conversation"), "session_id", s)
    assert isinstance(rec.content, ConversationContent)
    assert sorted(m.text().split(": ")[1] for m in rec.content.messages) == [
        "from the child",
        "from the parent",
        "the parent again",
    ]


def test_a_full_batch_goes_at_once_and_a_partial_one_at_its_deadline(
    server: ServerProcess, home: Home, faults: Faults
) -> None:
    """The sender sleeps until its batch is full or its flush interval is up: not woken (and not
    sending) event by event."""
    with faulty_client(server, home, faults, batch_size=5, flush_interval=30) as client:
        s = uuid.uuid4().hex
        for i in range(4):
            client.turn(s, "user", f"turn {i}")
        time.sleep(1.0)
        assert faults.posts == []  # 4 of 5: waiting for the batch to fill (or 30 s)
        started = time.monotonic()
        client.turn(s, "user", "turn 4")
        while client.sent < 5 and time.monotonic() - started < 10:
            time.sleep(0.01)
        assert [len(ids) for _, ids, _ in faults.posts] == [5]  # full: sent without a flush
        assert client.sent == 5 and time.monotonic() - started < 10


def test_a_batch_is_due_a_flush_interval_after_its_first_event_was_queued(
    server: ServerProcess, home: Home, faults: Faults
) -> None:
    """An event queued while the sender waits out a retry has waited its interval by the time the
    sender gets to it: it goes at once, not a fresh interval later."""
    faults.script = [error_response(429, "rate_limited", "slow down", headers={"Retry-After": "2"})]
    with faulty_client(server, home, faults, batch_size=100, flush_interval=1.0) as client:
        s = uuid.uuid4().hex
        client.turn(s, "user", "first")
        while not faults.posts:  # the first try, answered 429: the sender waits 2 s
            time.sleep(0.01)
        client.turn(s, "user", "second")  # due within 1 s, while the sender still waits
        started = time.monotonic()
        while client.sent < 2 and time.monotonic() - started < 10:
            time.sleep(0.01)
        assert client.sent == 2
    (_, _, s0), (retried, _, s1), (second, ids, s2) = faults.posts
    assert (s0, s1, s2, len(ids)) == (429, -1, -1, 1)
    assert second - retried < 0.5  # counted from when it was queued (a fresh interval: ~1 s)


def test_batches_go_a_little_early_at_random_so_clients_started_together_drift_apart() -> None:
    deadlines = [batch_deadline(100.0, 1.0) for _ in range(200)]
    assert all(100.0 + 1.0 * (1 - FLUSH_JITTER) <= d <= 101.0 for d in deadlines)  # never late
    assert max(deadlines) - min(deadlines) > 0.1  # not in step
