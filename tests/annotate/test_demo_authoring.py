"""The authoring demo: each dataset has work for the demo annotator, and the answers an author
would give are valid for its questions and records."""

from __future__ import annotations

from thresher import annotate
from thresher.annotate.demo_authoring import seed_demo_authoring
from thresher.store import Store

ANSWERS = {
    "demo-write-chat": {
        "chat": [
            {"role": "user", "content": "How do I keep pasta from sticking?"},
            {"role": "assistant", "content": "Stir."},
        ],
        "task_type": {"choice": "chat"},
        "domain": {"choice": "cooking"},
        "language": {"choice": "en"},
    },
    "demo-write-trajectory": {
        "trajectory": {
            "steps": [
                {"type": "plan", "content": "Search, then book."},
                {"type": "tool_call", "tool_call": {"id": "c1", "name": "search", "arguments": {"q": "Sushi Ko"}}},
            ],
            "final": "Booked.",
        }
    },
    "demo-step-preference": {"preferred": [{"step": 1, "choice": "b", "rationale": "more specific"}]},
    "demo-record-speech": {
        "take": {
            "takes": [
                {
                    "blob": {"uri": "blob://sha256/" + "0" * 64, "mime_type": "audio/webm"},
                    "duration_s": 2.5,
                }
            ],
            "selected": 0,
            "tags": {"emotion": "happy", "style": "announcer"},
        }
    },
}


def test_each_authoring_dataset_queues_work_that_an_author_can_answer(sqlite_store: Store) -> None:
    store = sqlite_store
    store.ensure_project("demo")
    made = seed_demo_authoring(store, "demo")
    assert [ds.name for ds in made] == list(ANSWERS)
    for ds in made:
        task = annotate.next_task(store, ds, "demo-annotator", ["general"], ["en"])
        assert task is not None, ds.name
        record = store.get_dataset_record(ds, task.assignment.record_id).to_record()
        for q in ds.questions:
            q.validate_value(ANSWERS[ds.name][q.name], record)
    assert [ds.id for ds in seed_demo_authoring(store, "demo")] == [ds.id for ds in made]  # a second run adds nothing
