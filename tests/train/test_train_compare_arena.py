"""The comparison report built from recorded runs (no training): arena ratings of the compared
stages appear where human votes exist, and only theirs."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pytest
from train_support import PROJECT

from thresher.evals.suites import Suite
from thresher.model import EvalItemContent, Message, Record
from thresher.store import Store
from thresher.store.evals import EvalResult
from thresher.store.training import TrainingRun
from thresher.train import load_recipe
from thresher.train.compare import Side, build_report

ITEMS = 30
# Model folders as the HF adapter names them in eval runs (and so in arena battles).
MODELS = {"base": "/m/base", "raw@v1": "/runs/a/model", "clean@v1": "/runs/b/model"}


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Store, list[Side]]:
    """base, A (raw@v1) and B (clean@v1) as stages with training runs and finished eval runs."""
    store = Store.open(tmp_path / "home")
    p = store.create_project(PROJECT)
    assert p.id is not None
    ds = store.ensure_dataset(PROJECT, "evals")
    store.add_records(
        ds,
        [
            Record(content=EvalItemContent(input=[Message(role="user", content=f"q{i}")], reference=str(i)))
            for i in range(ITEMS)
        ],
    )
    suite = Suite(ds, store.create_version(ds, "v1"))
    assert suite.version.id is not None
    ids = [r.id for batch in store.iter_records(ds, version=suite.version) for r in batch]
    sides = []
    accuracy = {"base": 0.2, "raw@v1": 0.4, "clean@v1": 0.9}
    rng = random.Random(0)
    for label, model in MODELS.items():
        run = None
        if label == "base":
            stage = store.training.create_stage(PROJECT, "base", "base", model_path=model)
        else:
            run = store.training.create_run(
                TrainingRun(
                    id=f"tr_{label[:3]}",
                    project=PROJECT,
                    method="sft",
                    recipe={"method": "sft"},
                    base_model="/m/base",
                    base_stage="base",
                    dataset=f"{PROJECT}/{label.split('@')[0]}",
                    version="v1",
                    manifest_hash="0" * 64,
                    seed=0,
                    output_path=model,
                    status="done",
                    loss_curve=[{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.0}],
                )
            )
            stage = store.training.create_stage(
                PROJECT, f"sft-{label[:3]}", "sft", parent="base", model_path=model, run_id=run.id
            )
        er = store.evals.create_run(
            project_id=p.id,
            suite_version_id=suite.version.id,
            suite=suite.name,
            model=model,
            adapter="hf",
            params={},
            stage=stage.name,
            training_version=None if label == "base" else label,
        )
        results = []
        for rid in ids:
            ok = rng.random() < accuracy[label]
            results.append(EvalResult(rid, "answer", float(ok), ok, tags=["task:closed_qa"]))
        store.evals.add_results(er.id, results)
        mean = sum(r.score or 0 for r in results) / len(results)
        done = store.evals.finish_run(er.id, "done", {"mean": mean, "ci": [mean, mean], "items": ITEMS})
        sides.append(Side(label, stage, run, done))
    return store, sides


def vote(store: Store, winner_model: str, loser_model: str, n: int, outsider: bool = False) -> None:
    pid = store.get_project(PROJECT).id
    assert pid is not None
    rid = next(iter(store.iter_records(store.get_dataset(PROJECT, "evals"))))[0].id
    for i in range(n):
        a, b = (winner_model, loser_model) if i % 2 else (loser_model, winner_model)
        battle = store.evals.create_battle(
            project_id=pid,
            record_id=rid,
            prompt=[{"role": "user", "content": "q"}],
            model_a=a,
            model_b=b,
            output_a="x",
            output_b="y",
            created_by="voter",
        )
        store.evals.vote(battle.id, pid, "voter", "a" if a == winner_model else "b", "clearer")


def test_the_report_has_arena_ratings_of_the_compared_models_when_votes_exist(
    recorded: tuple[Store, list[Side]], tmp_path: Path
) -> None:
    store, sides = recorded
    recipe = load_recipe({"method": "sft", "base": "/m/base", "seed": 0})
    quiet = build_report(store, PROJECT, recipe, sides, tmp_path / "quiet.html")
    assert quiet.data["arena"] == []
    assert "No human votes for these stages yet." in quiet.path.read_text()

    vote(store, MODELS["clean@v1"], MODELS["raw@v1"], 12)
    vote(store, MODELS["raw@v1"], MODELS["base"], 12)
    vote(store, MODELS["clean@v1"], MODELS["base"], 6)
    vote(store, "someone-else", MODELS["base"], 4)  # a model outside this comparison
    report = build_report(store, PROJECT, recipe, sides, tmp_path / "voted.html")
    ratings = {r["model"]: r for r in report.data["arena"]}
    assert set(ratings) == set(MODELS.values())  # the outsider is left out
    assert ratings["/runs/b/model"]["rating"] > ratings["/runs/a/model"]["rating"] > ratings["/m/base"]["rating"]
    assert ratings["/runs/b/model"]["battles"] == 18
    lo, hi = ratings["/runs/b/model"]["ci"]
    assert lo <= ratings["/runs/b/model"]["rating"] <= hi
    page = report.path.read_text()
    arena = page.split("<h2>Arena ratings</h2>")[1]
    assert "No human votes" not in arena and "someone-else" not in arena
    for model in MODELS.values():
        assert f"<td>{model}</td>" in arena
    assert f"{round(ratings['/runs/b/model']['rating'])}" in arena
    assert report.verdict == "clean@v1 helped"  # the eval side of the report, from the same runs
    saved = orjson.loads(report.path.with_suffix(".json").read_bytes())
    assert {r["model"] for r in saved["arena"]} == set(MODELS.values())
