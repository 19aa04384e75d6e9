"""Intake stores events; the records step (``Capture.materialize``) makes their records behind a
cursor, exactly once, whoever runs it and however often."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from thresher.model import CaptureBatch, CaptureEvent
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store


def events(raw: list[dict[str, Any]]) -> list[CaptureEvent]:
    return list(CaptureBatch.model_validate({"events": raw}).events)


def traffic(seed: int, n: int) -> list[dict[str, Any]]:
    """Chat turns over a few sessions, feedback, picks from a session's history and agent runs."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        sid = f"s{rng.randrange(6)}"
        k = rng.random()
        if k < 0.6:
            role = "user" if i % 2 == 0 else "assistant"
            out.append({"type": "turn", "id": f"t{i}", "session_id": sid, "timestamp": float(i),
                        "message": {"role": role, "content": f"turn {i}"}})  # fmt: skip
        elif k < 0.8:
            out.append({"type": "feedback", "id": f"f{i}", "session_id": sid, "thumbs": rng.choice(["up", "down"]),
                        "ratings": {"helpfulness": rng.randrange(1, 6)}})  # fmt: skip
        elif k < 0.9:
            cands = [{"id": c, "messages": [{"role": "assistant", "content": f"{c}{i}"}]} for c in "ab"]
            out.append({"type": "preference", "id": f"p{i}", "session_id": sid, "chosen": "a", "reason": "clearer",
                        "candidates": cands})  # fmt: skip
        else:
            steps = [{"type": "message", "content": "done"}]
            out.append({"type": "agent_run", "id": f"r{i}", "run_id": f"r{i}", "task": f"task {i}", "steps": steps,
                        "outcome": {"status": "success"}})  # fmt: skip
    return out


def snapshot(store: Store, project: str) -> list[tuple[str, str]]:
    """(kind, content hash) of every record of the project's capture dataset, sorted."""
    ds = store.get_dataset(project, "capture")
    return sorted((r.kind, r.content_hash) for page in store.iter_records(ds) for r in page)


def test_ingest_stores_events_and_materialize_makes_their_records_once(store: Store) -> None:
    raw = traffic(1, 120)
    inline = store.create_project("inline")
    behind = store.create_project("behind")
    assert inline.id is not None and behind.id is not None
    for i in range(0, len(raw), 10):  # the same traffic, in the same requests, both ways
        store.capture.apply("inline", events(raw[i : i + 10]))
        counts = store.capture.ingest("behind", events(raw[i : i + 10]))
        assert counts.accepted == 10 and counts.record_ids == []
    assert store.capture.records_cursor(behind.id) == 0
    assert store.list_datasets("behind") == []  # no record yet: the dataset comes with the first
    assert store.capture.status(behind.id)["last_event"] > 0

    assert store.capture.materialize(behind.id, limit=25) == 25  # one transaction, 25 events
    assert store.capture.materialize_all(behind.id) == 95
    assert store.capture.materialize(behind.id) == 0  # caught up: nothing is made twice
    assert store.capture.records_cursor(behind.id) == store.capture.last_event_seq(behind.id)
    assert snapshot(store, "behind") == snapshot(store, "inline")  # same records as made inline
    assert len(snapshot(store, "behind")) > 20


def test_two_workers_racing_make_the_records_one_worker_makes(store: Store) -> None:
    """Workers in parallel (threads with a store each, as two processes would be) never make a
    record twice nor skip an event: the cursor is locked by each records transaction."""
    raw = traffic(2, 300)
    alone = store.create_project("alone")
    raced = store.create_project("raced")
    assert alone.id is not None and raced.id is not None
    for i in range(0, len(raw), 20):
        store.capture.ingest("alone", events(raw[i : i + 20]))
        store.capture.ingest("raced", events(raw[i : i + 20]))
    store.capture.materialize_all(alone.id)

    url = store.engine.url.render_as_string(hide_password=False)
    others = [_reopen(store, url) for _ in range(3)]
    done: list[int] = []

    def work(s: Store) -> None:
        assert raced.id is not None
        while n := s.capture.materialize(raced.id, limit=7):
            done.append(n)

    threads = [threading.Thread(target=work, args=(s,)) for s in others]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for s in others:
        s.close()
    assert sum(done) == 300  # every event done once, by one of them
    assert snapshot(store, "raced") == snapshot(store, "alone")


def _reopen(store: Store, url: str) -> Store:
    from thresher.store.blobs import BlobStore
    from thresher.store.engine import make_engine

    return Store(make_engine(url), BlobStore(store.blobs.fs.unstrip_protocol(store.blobs.root)))


def test_an_event_that_fails_to_apply_is_skipped_and_kept(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in making one record must not stop the records of every later event: that event is
    logged and left in the ledger, the others go on."""
    from thresher.store import capture as capture_module

    project = store.create_project("shop")
    assert project.id is not None
    raw = [e for e in traffic(3, 60) if e["type"] == "agent_run"][:4]
    assert len(raw) == 4
    store.capture.ingest("shop", events(raw))
    real = capture_module._Batch._agent_run

    def broken(self: Any, seq: int, e: Any) -> None:
        if e.id == raw[1]["id"]:
            raise RuntimeError("a bug")
        real(self, seq, e)

    monkeypatch.setattr(capture_module._Batch, "_agent_run", broken)
    assert store.capture.materialize_all(project.id) == 4
    assert store.capture.records_cursor(project.id) == store.capture.last_event_seq(project.id)
    assert len(snapshot(store, "shop")) == 3  # the three others made their records
    assert store.capture.event_counts(project.id) == {"agent_run": 4}  # the failed one is kept


@pytest.mark.parametrize(
    ("event", "says"),
    [
        (
            {"type": "preference", "id": "p", "chosen": "c", "prompt": [{"role": "user", "content": "q"}],
             "candidates": [{"id": "a", "messages": [{"role": "assistant", "content": "x"}]},
                            {"id": "b", "messages": [{"role": "assistant", "content": "y"}]}]},
            "not one of the candidates",
        ),
        ({"type": "feedback", "id": "f", "session_id": "s", "ratings": {"Tone!": 3}}, "rating dimension"),
        ({"type": "feedback", "id": "f", "session_id": "s", "ratings": {"tone": 9}}, "from 1 to 5"),
        ({"type": "agent_end", "id": "e", "run_id": "nobody-started-it"}, "has no task"),
    ],
)  # fmt: skip
def test_what_could_not_become_a_record_is_refused_on_arrival(store: Store, event: dict[str, Any], says: str) -> None:
    """Records are made after the response, so what cannot make one is a 422 when it arrives,
    and nothing of its request is stored."""
    project = store.create_project("shop")
    assert project.id is not None
    _, secret = store.accounts.create_key(project.id, "app", "web")
    client = TestClient(create_app(store, Settings(cookie_secure=False)))
    ok = {"type": "turn", "id": "t", "session_id": "s", "message": {"role": "user", "content": "hi"}}
    r = client.post(
        "/api/v1/projects/shop/capture", json={"events": [ok, event]}, headers={"Authorization": f"Bearer {secret}"}
    )
    assert r.status_code == 422, r.text
    assert says in r.text
    assert store.capture.event_counts(project.id) == {}


def test_a_database_error_skips_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the database fails (locked too long, a dropped connection), no event is skipped: the
    error reaches the worker, which tries again later, and the cursor stays where it was."""
    from sqlalchemy.exc import OperationalError

    from thresher.store import capture as capture_module

    project = store.create_project("shop")
    assert project.id is not None
    store.capture.ingest("shop", events([e for e in traffic(4, 60) if e["type"] == "agent_run"][:3]))
    real = capture_module._Batch._agent_run

    def unavailable(self: Any, seq: int, e: Any) -> None:
        raise OperationalError("INSERT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(capture_module._Batch, "_agent_run", unavailable)
    with pytest.raises(OperationalError):
        store.capture.materialize(project.id)
    assert store.capture.records_cursor(project.id) == 0
    monkeypatch.setattr(capture_module._Batch, "_agent_run", real)
    assert store.capture.materialize_all(project.id) == 3
    assert len(snapshot(store, "shop")) == 3
