"""Captured events become records, and are triaged, behind intake: a worker follows the capture
ledger behind cursors kept in the store, and group commits stay bounded so no request waits
behind a huge one."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import select

from thresher.curate.capture_worker import CaptureWorker, CaptureWorkerProcess
from thresher.model import CaptureBatch, CaptureEvent
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store
from thresher.store import tables as t
from thresher.store.capture import Capture, CaptureCounts, _Request
from thresher.store.engine import begin_write


def failed_run(rid: str) -> dict[str, Any]:
    steps = [{"type": "message", "content": f"wrong answer {rid}"}]
    return {
        "type": "agent_run",
        "id": rid,
        "run_id": rid,
        "task": f"task {rid}",
        "steps": steps,
        "outcome": {"status": "failure"},
        "failure": {"step": 0, "cause": "model_output"},
    }


def events(raw: list[dict[str, Any]]) -> list[CaptureEvent]:
    return list(CaptureBatch.model_validate({"events": raw}).events)


def count(store: Store, dataset: str) -> int:
    try:
        ds = store.get_dataset("shop", dataset)
    except Exception:
        return 0
    return sum(len(page) for page in store.iter_records(ds))


def test_the_worker_catches_up_on_records_captured_while_it_was_down(store: Store) -> None:
    project = store.create_project("shop")
    assert project.id is not None
    # Captured with no worker running: nothing is triaged yet.
    store.capture.apply("shop", events([failed_run("r1"), failed_run("r2")]))
    assert count(store, "agent-sft-fixes") == 0 and store.capture.triage_cursor(project.id) == 0

    assert CaptureWorker(store, batch=1).drain() == 2  # one event per batch: the cursor moves batch by batch
    assert count(store, "agent-sft-fixes") == 2 and count(store, "evals-model-steps") == 2
    assert store.capture.triage_cursor(project.id) == store.capture.last_event_seq(project.id)

    # A restarted worker (a new instance: the cursor comes from the store) takes only what is new.
    store.capture.apply("shop", events([failed_run("r3")]))
    assert CaptureWorker(store).drain() == 1
    assert count(store, "agent-sft-fixes") == 3
    assert CaptureWorker(store).drain() == 0

    # A cursor set back (two workers overlapping for a moment) repeats no action.
    store.capture.advance_triage_cursor(project.id, 1)
    assert store.capture.triage_cursor(project.id) > 1  # the cursor never moves back
    assert len(store.curation.triage_for(_captured_ids(store))) == 6  # 3 runs x 2 actions


def _captured_ids(store: Store) -> list[str]:
    ds = store.get_dataset("shop", "capture")
    return [r.id for page in store.iter_records(ds) for r in page]


def test_the_server_triages_in_a_worker_process_that_ends_with_it(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    try:
        project = store.create_project("shop")
        assert project.id is not None
        _, secret = store.accounts.create_key(project.id, "app", "web")
        app = create_app(store, Settings(cookie_secure=False, capture_idle_seconds=0.1))
        with TestClient(app) as client:
            assert app.state.capture_worker.pid is None  # nothing captured yet: no process
            r = client.post(
                "/api/v1/projects/shop/capture",
                json={"events": [failed_run("r1")]},
                headers={"Authorization": f"Bearer {secret}"},
            )
            assert r.status_code == 200, r.text
            worker = app.state.capture_worker
            assert isinstance(worker, CaptureWorkerProcess)
            assert worker.pid is not None and worker.pid != os.getpid()
            deadline = time.monotonic() + 60
            while count(store, "agent-sft-fixes") == 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert count(store, "agent-sft-fixes") == 1
            pid = worker.pid
        assert not _alive(pid)
    finally:
        store.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is gone for our purpose.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:  # reaped meanwhile
        return False


def test_a_group_takes_no_more_than_its_size_and_time_bounds(sqlite_store: Store) -> None:
    capture = Capture(sqlite_store)
    batch = events([failed_run(f"r{i}") for i in range(100)])

    capture._pending = [_Request("shop", batch) for _ in range(10)]
    capture.group_events, capture.group_seconds = 250, 10.0  # the size bound alone
    assert sum(len(r.events) for r in capture._take()) == 200  # a third request would pass 250
    capture._per_event = 0.001  # 1 ms per event: 30 ms of work is 30 events
    capture.group_seconds = 0.03
    assert capture.group_limit() == 30
    assert [len(r.events) for r in capture._take()] == [100]  # always at least one request


def test_a_request_whose_client_hung_up_is_dropped_and_the_committer_goes_on(sqlite_store: Store) -> None:
    """A cancelled request (its client hung up) must not stop the committer: the requests after
    it are committed, and its own events are not."""
    sqlite_store.create_project("shop")
    capture = Capture(sqlite_store)
    gone = _Request("shop", events([failed_run("gone")]))
    assert gone.future.cancel()
    with capture._cv:
        capture._pending.append(gone)
    counts = capture.submit("shop", events([failed_run("kept")])).result(timeout=30)
    assert counts.accepted_ids == ["kept"]
    ce = t.capture_events
    with sqlite_store.engine.connect() as conn:
        stored = set(conn.execute(select(ce.c.client_id)).scalars())
    assert stored == {"kept"}
    assert capture.ingest("shop", events([failed_run("later")])).accepted_ids == ["later"]  # still committing


class _Recording(Capture):
    """A real Capture that notes the size of each group it commits."""

    sizes: list[int]

    def _commit(self, group: list[Any], *, top_up: bool = True) -> list[CaptureCounts]:
        time.sleep(0.01)  # a slow commit, so requests pile up behind it
        results = super()._commit(group, top_up=top_up)
        self.sizes.append(sum(len(r.events) for r in group))  # with the requests that joined it
        return results


def test_concurrent_requests_are_committed_in_bounded_groups_exactly_once(sqlite_store: Store) -> None:
    sqlite_store.create_project("shop")
    capture = _Recording(sqlite_store)
    capture.sizes = []
    capture.group_events, capture.group_seconds = 120, 10.0
    results: list[CaptureCounts] = []

    def send(i: int) -> None:
        turns = [
            {"type": "turn", "id": f"{i}-{j}", "session_id": f"s{i}", "timestamp": float(j),
             "message": {"role": "user" if j % 2 == 0 else "assistant", "content": f"turn {j}"}}
            for j in range(50)
        ]  # fmt: skip
        results.append(capture.apply("shop", events(turns)))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(r.accepted for r in results) == 16 * 50
    assert max(capture.sizes) <= 120 and len(capture.sizes) >= 16 * 50 // 120
    assert any(size > 50 for size in capture.sizes)  # requests that waited did share a commit
    assert sum(capture.event_counts(sqlite_store.get_project("shop").id or 0).values()) == 800


def test_requests_that_arrive_while_the_write_lock_is_awaited_join_that_commit(sqlite_store: Store) -> None:
    """While the committer waits for the write lock (the worker writing records), requests that
    arrive join its group: one commit for all, not this one and then theirs."""
    sqlite_store.create_project("shop")
    capture = Capture(sqlite_store)
    with sqlite_store.engine.connect() as other, other.begin():
        begin_write(other)  # another writer holds the lock, as the worker does
        first = capture.submit("shop", events([failed_run("first")]))
        deadline = time.monotonic() + 10
        while capture._pending and time.monotonic() < deadline:  # the committer took it, and waits
            time.sleep(0.01)
        assert not capture._pending and not first.done()
        later = [capture.submit("shop", events([failed_run(f"later{i}")])) for i in range(3)]
        time.sleep(0.1)
    assert [f.result(timeout=30).accepted for f in (first, *later)] == [1, 1, 1, 1]
    ce = t.capture_events
    with sqlite_store.engine.connect() as conn:
        stamps = set(conn.execute(select(ce.c.created_at)).scalars())
    assert len(stamps) == 1  # one transaction stored all four


def test_the_worker_process_exits_when_its_server_is_killed(tmp_path: Path) -> None:
    """A SIGKILLed server cannot stop its worker: the worker notices it lost its parent and exits,
    so a restarted server never finds a stray worker from before."""
    import signal
    import subprocess
    import sys

    Store.open(tmp_path).close()
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from thresher.curate.capture_worker import CaptureWorkerProcess\n"
        "from thresher.store import Store\n"
        f"store = Store.open(Path({str(tmp_path)!r}))\n"
        "w = CaptureWorkerProcess(store, store.engine.url.render_as_string(hide_password=False), "
        "str(Path(sys.argv[1])), idle_seconds=0.1)\n"
        "w.wake()\n"
        "print(w.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    server = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "blobs")], stdout=subprocess.PIPE)
    assert server.stdout is not None
    pid = int(server.stdout.readline())
    assert _alive(pid)
    time.sleep(3)  # the worker is up (imports done) and polling
    server.send_signal(signal.SIGKILL)
    server.wait()
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_the_thread_worker_triages_as_captures_arrive(store: Store) -> None:
    """``capture_worker = "thread"`` (and any store a second process cannot open): the same
    worker as a thread of the server, woken by each capture."""
    project = store.create_project("shop")
    assert project.id is not None
    _, secret = store.accounts.create_key(project.id, "app", "web")
    app = create_app(store, Settings(cookie_secure=False, capture_worker="thread", capture_idle_seconds=5))
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/projects/shop/capture",
            json={"events": [failed_run("r1")]},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 30  # well under the idle poll: the capture woke it
        while count(store, "agent-sft-fixes") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count(store, "agent-sft-fixes") == 1
    assert store.capture.triage_cursor(project.id) == store.capture.last_event_seq(project.id)


def test_the_cursor_query_reads_a_range_of_the_primary_key(sqlite_store: Store) -> None:
    """Each batch is a seek, not a sort of all the project's events."""
    from sqlalchemy import text

    from thresher.store.capture import captured_after_query

    q = captured_after_query(1, 5, 100, 9)
    sql = str(q.compile(sqlite_store.engine, compile_kwargs={"literal_binds": True}))
    with sqlite_store.engine.connect() as conn:
        plan = " ".join(row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "PRIMARY KEY" in plan and "TEMP B-TREE" not in plan


def test_a_worker_asked_to_stop_first_makes_the_records_of_what_was_stored(store: Store) -> None:
    """A server shut down right after accepting events leaves them as records, not just in the
    ledger (the CLI, which runs no worker, reads the datasets next); triage waits for the next start."""
    project = store.create_project("shop")
    assert project.id is not None
    store.capture.ingest("shop", events([failed_run("r1"), failed_run("r2")]))
    assert store.capture.records_cursor(project.id) == 0
    CaptureWorker(store).run(stop=lambda: True, wait=lambda _: None, idle_seconds=0)
    assert count(store, "capture") == 2
    assert store.capture.records_cursor(project.id) == store.capture.last_event_seq(project.id)
    assert store.capture.triage_cursor(project.id) == 0


def test_webhooks_hear_of_captured_records_once_they_exist(store: Store) -> None:
    """``records.added`` is queued by the worker that made the records, not when intake took the
    events: a receiver that reads the dataset on the webhook finds them."""
    project = store.create_project("shop")
    assert project.id is not None
    hook = store.webhooks.create(project.id, "https://example.com/hook", ["records.added"], "s" * 32)
    turns = [
        {"type": "turn", "id": f"t{i}", "session_id": f"s{i % 2}", "message": {"role": "user", "content": f"hi {i}"}}
        for i in range(4)
    ]
    store.capture.ingest("shop", events([*turns, {**failed_run("r1"), "dataset": "runs"}]))
    assert store.webhooks.deliveries(hook.id) == []  # stored, no record yet: nothing to tell

    CaptureWorker(store, triage=False).drain()
    told = {}
    for delivery in store.webhooks.deliveries(hook.id):
        body = orjson.loads(delivery.payload)
        assert body["event"] == "records.added" and body["project"] == "shop"
        told[body["data"]["dataset"]] = body["data"]["added"]
    assert told == {"capture": count(store, "capture"), "runs": 1}
    assert told["capture"] >= 2  # one record per session (a session's later turns may add versions)
    CaptureWorker(store, triage=False).drain()  # nothing new: nothing more to tell
    assert len(store.webhooks.deliveries(hook.id)) == 2


def test_apply_counts_the_records_it_made_by_dataset(store: Store) -> None:
    """Without a worker (an app run without its lifespan), the request makes the records and
    tells webhooks what ``apply`` counted."""
    store.create_project("shop")
    counts = store.capture.apply("shop", events([failed_run("r1"), {**failed_run("r2"), "dataset": "runs"}]))
    assert counts.made == {"capture": 1, "runs": 1}
    assert store.capture.apply("shop", events([failed_run("r1")])).made == {}  # a retry makes nothing
