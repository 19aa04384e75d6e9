"""Capture events through the HTTP API become records of the right kind, each exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import RecordFilter, Store


@pytest.fixture
def app_key(store: Store) -> Iterator[tuple[TestClient, str, Store]]:
    project = store.create_project("shop")
    assert project.id is not None
    _, secret = store.accounts.create_key(project.id, "app", "web")
    client = TestClient(create_app(store, Settings(cookie_secure=False)))
    client.headers["Authorization"] = f"Bearer {secret}"
    yield client, "shop", store


def send(client: TestClient, events: list[dict[str, Any]]) -> dict[str, Any]:
    r = client.post("/api/v1/projects/shop/capture", json={"events": events})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def turn(eid: str, role: str, text: str, ts: float, session: str = "s1") -> dict[str, Any]:
    return {
        "type": "turn",
        "id": eid,
        "session_id": session,
        "timestamp": ts,
        "message": {"role": role, "content": text},
    }


def records(store: Store, kind: str) -> list[Any]:
    ds = store.get_dataset("shop", "capture")
    return [r.to_record() for b in store.iter_records(ds, flt=RecordFilter(kinds=[kind])) for r in b]


def test_a_session_is_one_conversation_kept_current(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    assert send(client, [turn("t1", "user", "Do you ship to Norway?", 1.0)]) == {"accepted": 1, "duplicates": 0}
    send(client, [turn("t2", "assistant", "Yes, in 3-5 days.", 2.0), turn("t3", "user", "Cost?", 3.0)])
    # A retried batch (same ids) stores nothing new.
    assert send(client, [turn("t2", "assistant", "Yes, in 3-5 days.", 2.0)]) == {"accepted": 0, "duplicates": 1}
    send(client, [turn("t4", "assistant", "9 EUR.", 4.0)])
    convs = records(store, "conversation")
    assert len(convs) == 1  # earlier versions of the session, unreferenced, were replaced
    assert [m.text() for m in convs[0].content.messages] == [
        "Do you ship to Norway?",
        "Yes, in 3-5 days.",
        "Cost?",
        "9 EUR.",
    ]
    assert convs[0].metadata["session_id"] == "s1"


def test_turns_delivered_out_of_order_are_ordered_by_client_time(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    send(client, [turn("b", "assistant", "Hello!", 2.0), turn("a", "user", "Hi", 1.0)])
    (conv,) = records(store, "conversation")
    assert [m.role for m in conv.content.messages] == ["user", "assistant"]


def test_preference_with_reason_is_a_comparison_with_a_choice(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    send(client, [turn("t1", "user", "Name for a cat?", 1.0)])
    event = {
        "type": "preference", "id": "p1", "session_id": "s1", "chosen": "b", "reason": "funnier", "user": "u42",
        "candidates": [
            {"id": "a", "messages": [{"role": "assistant", "content": "Tom"}], "model": "m1"},
            {"id": "b", "messages": [{"role": "assistant", "content": "Sir Purrcival"}], "model": "m2"},
        ],
    }  # fmt: skip
    send(client, [event])
    (comp,) = records(store, "comparison")
    assert [m.text() for m in comp.content.prompt] == ["Name for a cat?"]
    responses = store.responses_for([comp.id])[comp.id]
    assert responses[0].user == "app:u42"
    assert responses[0].answers == {"preferred": {"choice": "b", "rationale": "funnier"}}


def test_thumbs_and_ratings_label_the_rated_turn(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    send(client, [turn("t1", "user", "2+2?", 1.0), turn("t2", "assistant", "5", 2.0), turn("t3", "user", "sure?", 3.0)])
    fb = {"type": "feedback", "id": "f1", "session_id": "s1", "turn_id": "t2", "thumbs": "down", "comment": "wrong",
          "ratings": {"correctness": 1}, "scale": [1, 5]}  # fmt: skip
    send(client, [fb])
    convs = records(store, "conversation")
    rated = [c for c in convs if store.responses_for([c.id])]
    assert len(rated) == 1 and [m.text() for m in rated[0].content.messages] == ["2+2?", "5"]
    (resp,) = store.responses_for([rated[0].id])[rated[0].id]
    assert resp.answers == {"correctness": 1, "feedback": {"choice": "down", "rationale": "wrong"}}
    # The dataset grew a rating question for the new dimension; thumbs are KTO-ready.
    assert store.get_dataset("shop", "capture").question("correctness") is not None


def test_agent_run_step_by_step_and_whole(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    steps = [
        {"type": "agent_step", "id": "r1-0", "run_id": "r1", "index": 0, "task": "refund order 7",
         "step": {"type": "tool_call", "tool_call": {"id": "c", "name": "refund", "arguments": {"order": 7}}}},
        {"type": "agent_step", "id": "r1-1", "run_id": "r1", "index": 1,
         "step": {"type": "tool_result", "tool_call_id": "c", "content": "timeout", "is_error": True}},
    ]  # fmt: skip
    send(client, steps)
    assert records(store, "agent_run") == []  # still running: kept as events
    end = {"type": "agent_end", "id": "r1-end", "run_id": "r1", "outcome": {"status": "failure"},
           "failure": {"step": 1, "cause": "system", "reason": "payments API timeout"}}  # fmt: skip
    whole = {"type": "agent_run", "id": "r2", "run_id": "r2", "task": "say hi",
             "steps": [{"type": "message", "content": "hi"}], "outcome": {"status": "success"}}  # fmt: skip
    send(client, [end, whole])
    runs = {r.content.task: r for r in records(store, "agent_run")}
    assert runs["refund order 7"].content.failure.cause == "system"
    assert [s.type for s in runs["refund order 7"].content.steps] == ["tool_call", "tool_result"]
    assert runs["say hi"].content.outcome.status == "success"


def test_bad_events_get_422_with_the_field_path_and_change_nothing(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    bad = {"type": "turn", "id": "x", "session_id": "s", "message": {"role": "wizard", "content": "hi"}}
    r = client.post("/api/v1/projects/shop/capture", json={"events": [turn("ok", "user", "hi", 1.0), bad]})
    assert r.status_code == 422
    assert any("role" in d["loc"] for d in r.json()["detail"])
    assert store.list_datasets("shop") == []  # the valid event in the same batch was not stored either


def test_app_keys_capture_but_cannot_read(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, _ = app_key
    assert client.get("/api/v1/auth/me").json()["role"] == "app"
    send(client, [turn("t1", "user", "hi", 1.0)])
    assert client.get("/api/v1/projects/shop/datasets").status_code == 403


def test_two_sessions_that_said_the_same_thing_share_a_record_safely(app_key: tuple[TestClient, str, Store]) -> None:
    client, _, store = app_key
    for sid in ("a", "b"):  # identical content: one record, two sessions pointing at it
        send(client, [turn(f"{sid}1", "user", "Hi", 1.0, sid), turn(f"{sid}2", "assistant", "Hello!", 2.0, sid)])
    assert len(records(store, "conversation")) == 1
    send(client, [turn("b3", "user", "Bye", 3.0, "b")])  # session b moves on
    texts = sorted(tuple(m.text() for m in c.content.messages) for c in records(store, "conversation"))
    assert texts == [("Hi", "Hello!"), ("Hi", "Hello!", "Bye")]  # session a keeps its conversation


def test_a_session_grown_turn_by_turn_equals_the_same_session_sent_at_once(
    app_key: tuple[TestClient, str, Store],
) -> None:
    """Turns appended to the stored record (the fast path) give the record a full rebuild gives."""
    client, _, store = app_key
    said = [("user", "Hi"), ("assistant", "Hello! How can I help?"), ("user", "Refund?"), ("assistant", "Sure.")]
    for i, (role, text) in enumerate(said):  # one batch per turn: each appends to the last record
        send(client, [turn(f"g{i}", role, text, float(i), session="grown")])
    whole = [
        {**turn(f"w{i}", role, text, float(i), session="whole"), "dataset": "other"}
        for i, (role, text) in enumerate(said)
    ]
    send(client, whole)
    (grown,) = records(store, "conversation")  # one record: the superseded versions went
    other = store.get_dataset("shop", "other")
    (at_once,) = [r.to_record() for b in store.iter_records(other) for r in b]
    assert grown.content_hash == at_once.content_hash
    assert [m.text() for m in grown.content.messages] == [text for _, text in said]


def test_a_late_retry_of_an_earlier_turn_rebuilds_the_session_in_client_order(
    app_key: tuple[TestClient, str, Store],
) -> None:
    client, _, store = app_key
    send(client, [turn("t1", "user", "Hi", 1.0), turn("t3", "user", "Still there?", 3.0)])
    send(client, [turn("t2", "assistant", "Hello!", 2.0)])  # lost once, retried after t3 arrived
    send(client, [turn("t4", "assistant", "Yes.", 4.0)])
    (conv,) = records(store, "conversation")
    assert [m.text() for m in conv.content.messages] == ["Hi", "Hello!", "Still there?", "Yes."]


def test_concurrent_requests_commit_together_and_a_bad_one_fails_alone(store: Store) -> None:
    """Group commit: many threads at once; each gets its own counts, and one request that
    cannot be applied fails without taking the others' events with it."""
    from concurrent.futures import ThreadPoolExecutor

    from thresher.errors import DataError
    from thresher.model import CaptureBatch

    store.create_project("busy")

    def batch(n: int) -> list[Any]:
        events: list[dict[str, Any]] = [turn(f"c{n}-{i}", "user", f"msg {i}", float(i), f"s{n % 4}") for i in range(5)]
        if n == 7:  # the end of a run that never said its task: refused when stored
            events.append({"type": "agent_end", "id": "bad-end", "run_id": "no-such-run"})
        return CaptureBatch.model_validate({"events": events}).events

    def send_batch(n: int) -> Any:
        try:
            return store.capture.apply("busy", batch(n))
        except DataError as e:
            return e

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send_batch, range(32)))
    assert isinstance(results[7], DataError) and "has no task" in str(results[7])
    assert all(r.accepted == 5 and r.duplicates == 0 for i, r in enumerate(results) if i != 7)
    project_id = store.get_project("busy").id
    assert project_id is not None
    assert store.capture.event_counts(project_id) == {"turn": 31 * 5}  # request 7 left nothing behind
    # A retry of everything stores nothing twice.
    again = [store.capture.apply("busy", batch(n)) for n in range(32) if n != 7]
    assert all(r.accepted == 0 and r.duplicates == 5 for r in again)


def test_the_ledger_row_reads_back_as_stored(store: Store) -> None:
    """On SQLite the ledger is inserted through the driver: its row must read back through the
    table's types exactly as one written through SQLAlchemy (the time, the payload)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from thresher.model import CaptureBatch
    from thresher.store import tables as t

    store.create_project("ledger")
    before = datetime.now(UTC)
    event = turn("l1", "user", "hello", 12.5, "s1")
    store.capture.ingest("ledger", CaptureBatch.model_validate({"events": [event]}).events)
    ce = t.capture_events
    with store.engine.connect() as conn:
        row = conn.execute(select(ce.c.client_id, ce.c.type, ce.c.key, ce.c.client_ts, ce.c.created_at)).one()
    assert (row.client_id, row.type, row.key, row.client_ts) == ("l1", "turn", "s1", 12.5)
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)


def test_captured_records_are_triaged_by_the_shipped_rules(app_key: tuple[TestClient, str, Store]) -> None:
    """A run that failed through the model's output becomes SFT work and a step eval as it
    arrives; one that failed through the system becomes a system eval; a success goes nowhere."""
    client, _, store = app_key

    def run(rid: str, cause: str | None) -> dict[str, Any]:
        steps = [{"type": "tool_call", "tool_call": {"id": "c1", "name": "search", "arguments": {"q": rid}}}]
        steps += [{"type": "tool_result", "tool_call_id": "c1", "content": "found"}]
        steps += [{"type": "message", "content": f"done {rid}"}]
        event: dict[str, Any] = {"type": "agent_run", "id": rid, "run_id": rid, "task": f"task {rid}", "steps": steps}
        event["outcome"] = {"status": "failure" if cause else "success"}
        if cause:
            event["failure"] = {"step": 2, "cause": cause}
        return event

    send(client, [run("bad-answer", "model_output"), run("tool-down", "system"), run("fine", None)])

    def count(dataset: str) -> int:
        try:
            ds = store.get_dataset("shop", dataset)
        except Exception:
            return 0
        return sum(len(page) for page in store.iter_records(ds))

    assert count("agent-sft-fixes") == 1 and count("evals-model-steps") == 1
    assert count("evals-system") == 1
    # Resending is a duplicate: no second round of triage work.
    send(client, [run("bad-answer", "model_output")])
    assert count("agent-sft-fixes") == 1
