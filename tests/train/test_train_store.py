"""The training repository on SQLite and PostgreSQL: stages with parents, runs that round-trip."""

from __future__ import annotations

import pytest

from thresher.errors import Conflict, NotFound
from thresher.store import Store
from thresher.store.training import TrainingRun, new_run_id


def test_stages_and_runs_round_trip(store: Store) -> None:
    store.create_project("p")
    base = store.training.create_stage("p", "base", "base", model_path="/models/base")
    sft = store.training.create_stage("p", "sft", "sft", parent="base", model_path="/runs/1/model", run_id="tr_1")
    assert (base.parent, sft.parent, sft.run_id) == (None, "base", "tr_1")
    with pytest.raises(Conflict):
        store.training.create_stage("p", "sft", "sft")
    with pytest.raises(NotFound):
        store.training.create_stage("p", "dpo", "dpo", parent="nope")
    with pytest.raises(Conflict, match="stage kind"):
        store.training.create_stage("p", "odd", "weird")
    assert [s.name for s in store.training.list_stages("p")] == ["base", "sft"]

    run = TrainingRun(
        id=new_run_id(),
        project="p",
        method="dpo",
        recipe={"method": "dpo", "train": {"max_steps": 3}},
        base_model="/runs/1/model",
        base_stage="sft",
        dataset="p/prefs",
        version="v1",
        manifest_hash="ab" * 32,
        seed=7,
        output_path="/runs/2",
        libraries={"trl": "1.16.0"},
    )
    store.training.create_run(run)
    store.training.update_run(run.id, loss_curve=[{"step": 1, "loss": 0.69}], step=1, checkpoint="/runs/2/c-1")
    store.training.update_run(run.id, status="done", metrics={"train_runtime": 1.5})
    got = store.training.get_run(run.id)
    assert (got.project, got.seed, got.status, got.step, got.checkpoint) == ("p", 7, "done", 1, "/runs/2/c-1")
    assert got.loss_curve == [{"step": 1, "loss": 0.69}] and got.metrics == {"train_runtime": 1.5}
    assert got.recipe["train"]["max_steps"] == 3 and got.libraries == {"trl": "1.16.0"}
    assert [r.id for r in store.training.list_runs("p")] == [run.id]
    with pytest.raises(NotFound):
        store.training.update_run("tr_missing", status="done")
