"""The demo seed: users of each role log in, and every dataset has fitting work in the demo annotator's queue."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from thresher import annotate
from thresher.annotate.demo import seed_demo_annotation
from thresher.store import Store, accounts


def test_demo_seed_queues_work_of_each_task_type(sqlite_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    store = sqlite_store
    out = seed_demo_annotation(store, "demo")
    assert {u["role"] for u in out["users"]} == {"annotator", "reviewer", "engineer"}
    for u in out["users"]:
        assert store.accounts.authenticate(u["name"], u["password"]) is not None
    assert all(n > 0 for n in out["datasets"].values()) and len(out["datasets"]) == 11
    types = set()
    for name in out["datasets"]:
        ds = store.get_dataset("demo", name)
        types |= {q.type for q in ds.questions}
        task = annotate.next_task(store, ds, "demo-annotator", ["general", "coding"], ["en"])
        assert task is not None, name
    assert types >= {"text", "rating", "ranking", "choice", "multi_choice", "span", "step_verdict"}
    assert types >= {"conversation", "trajectory", "step_preference", "recording"}
    rewrite = store.get_dataset("demo", "demo-rewrite")
    task = annotate.next_task(store, rewrite, "demo-annotator", ["general"], ["en"])
    assert task is not None and [s.agent for s in task.suggestions] == ["draft-model-7b"]
    assert seed_demo_annotation(store, "demo")["datasets"] == out["datasets"]  # a second run adds nothing
