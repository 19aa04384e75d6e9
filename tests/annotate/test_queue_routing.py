"""Routing into the queue never runs whole inside a request: one batch now, the rest in the
background, and the queue hands out work from the first batch at once."""

from __future__ import annotations

import time

import pytest

from thresher import annotate
from thresher.annotate import queue as queue_module
from thresher.errors import Conflict
from thresher.model import RatingQuestion, Record, TextContent
from thresher.store import Store


def wait_routed(store: Store, dataset_id: int) -> None:
    deadline = time.monotonic() + 30
    while store.annotation.routing_behind(dataset_id) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_first_next_task_routes_one_batch_and_the_rest_in_the_background(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue_module, "ROUTE_BATCH", 10)
    store.create_project("p")
    ds = store.create_dataset("p", "work", questions=[RatingQuestion(name="quality", min=1, max=5)])
    store.add_records(ds, [Record(content=TextContent(text=f"text {i}")) for i in range(35)])
    assert ds.id is not None

    assert queue_module.sync_soon(store, ds) == 10  # the request's share: one batch
    wait_routed(store, ds.id)
    assert store.annotation.queue_counts(ds.id, 1).records == 35

    # Records added later: the next task comes from what is routed, the rest follows.
    store.add_records(ds, [Record(content=TextContent(text=f"more {i}")) for i in range(25)])
    assert store.annotation.routing_behind(ds.id)
    task = annotate.next_task(store, ds, "ann", [], [])
    assert task is not None
    wait_routed(store, ds.id)
    assert store.annotation.queue_counts(ds.id, 1).records == 60


def test_a_response_sent_straight_to_a_record_goes_through_the_queue(store: Store) -> None:
    """``respond`` (behind ``PUT .../responses/me``): only the holder of a record's task answers it,
    so overlap, leases and review hold for responses that do not come through ``submit``."""
    store.create_project("p")
    ds = store.create_dataset("p", "work", questions=[RatingQuestion(name="quality", min=1, max=5)])
    store.add_records(ds, [Record(content=TextContent(text=f"text {i}")) for i in range(2)])
    assert ds.id is not None
    assert queue_module.respond(store, ds, "any", "ann", {"quality": 3}, "submitted") is None  # no queue yet

    annotate.set_workflow(store, ds, annotate.Workflow(overlap=1))
    task = annotate.next_task(store, ds, "ann", [], [])
    assert task is not None
    held, other = task.record.id, next(r.id for page in store.iter_records(ds) for r in page if r.id != task.record.id)

    with pytest.raises(Conflict, match="not assigned to you"):
        queue_module.respond(store, ds, other, "ann", {"quality": 3}, "submitted")
    draft = queue_module.respond(store, ds, held, "ann", {"quality": 2}, "draft")
    assert draft is not None and draft.status == "draft"
    assert store.annotation.assignment_for(held, "ann").draft == {"quality": 2}  # type: ignore[union-attr]

    saved = queue_module.respond(store, ds, held, "ann", {"quality": 4}, "submitted")
    assert saved is not None and saved.status == "submitted"
    assert store.annotation.queue_counts(ds.id, 1).submitted == 1
    amended = queue_module.respond(store, ds, held, "ann", {"quality": 5}, "submitted")
    assert amended is not None and amended.answers == {"quality": 5}
    assert store.annotation.queue_counts(ds.id, 1).submitted == 1  # an amendment, not a second response

    # Overlap 1 is reached: someone else cannot answer the record on the side.
    with pytest.raises(Conflict):
        queue_module.respond(store, ds, held, "other", {"quality": 1}, "submitted")
    assert [r.user for r in store.list_responses(held)] == ["ann"]
