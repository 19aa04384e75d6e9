"""Eval runs started from the server (background jobs against the fake model server), and the
read-only training API: runs with their lineage and loss curve, stages with their eval runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

from thresher.evals.fake_server import FakeModelServer
from thresher.evals.suites import Suite
from thresher.model import EvalItemContent, GradingRule, Message, Record
from thresher.server.routers.evals import EvalWorker
from thresher.store import Store
from thresher.store.evals import EvalResult
from thresher.store.training import TrainingRun

if TYPE_CHECKING:
    from tests.server.conftest import Api

API = "/api/v1"
QUESTIONS = {f"What is {i} plus {i + 1}?": str(2 * i + 1) for i in range(24)}


def make_suite(store: Store) -> Suite:
    """Eval dataset ``arith`` of project p, frozen as v1: numeric answers."""
    store.ensure_project("p")
    ds = store.ensure_dataset("p", "arith")
    rule = GradingRule(type="numeric")
    items = [
        Record(content=EvalItemContent(input=[Message(role="user", content=q)], reference=a, grader=rule))
        for q, a in QUESTIONS.items()
    ]
    store.add_records(ds, items)
    return Suite(ds, store.create_version(ds, "v1"))


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    answers = {q: f"The answer is {a}." for q, a in QUESTIONS.items()}
    with FakeModelServer(answers=answers, accuracy={"good": 1.0, "bad": 0.0}, latency_ms=20) as srv:
        yield srv


def wait_job(client: TestClient, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"{API}/projects/p/evals/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_an_engineer_starts_eval_runs_that_finish_in_the_background(api: Api, model_server: FakeModelServer) -> None:
    make_suite(api.store)
    eng = api.member("p", "engineer")
    started = []
    for model, stage in (("good", "sft"), ("bad", "base")):
        body = {"suite": "arith", "model": f"openai:{model_server.url}#{model}", "stage": stage, "concurrency": 8}
        r = eng.post(f"{API}/projects/p/evals/runs", json=body)
        assert r.status_code == 202, r.text
        assert r.json()["status"] in ("queued", "running") and r.json()["suite"] == "arith@v1"
        started.append(r.json()["id"])
    jobs = [wait_job(eng, j) for j in started]
    assert [j["status"] for j in jobs] == ["done", "done"], jobs
    assert [j["progress"] for j in jobs] == [len(QUESTIONS)] * 2 and jobs[0]["total"] == len(QUESTIONS)
    runs = {r["id"]: r for r in eng.get(f"{API}/projects/p/evals/runs").json()}
    good, bad = runs[jobs[0]["run_id"]], runs[jobs[1]["run_id"]]
    assert (good["model"], good["stage"], good["summary"]["mean"]) == ("good", "sft", 1.0)
    assert (bad["model"], bad["stage"], bad["summary"]["mean"]) == ("bad", "base", 0.0)
    listed = eng.get(f"{API}/projects/p/evals/jobs").json()
    assert {j["id"] for j in listed} == set(started)


def test_only_engineers_and_owners_start_runs_and_only_openai_models(api: Api, model_server: FakeModelServer) -> None:
    make_suite(api.store)
    body = {"suite": "arith", "model": f"openai:{model_server.url}#good"}
    for role in ("reviewer", "annotator"):
        assert api.member("p", role).post(f"{API}/projects/p/evals/runs", json=body).status_code == 403
    owner = api.member("p", "owner")
    r = owner.post(f"{API}/projects/p/evals/runs", json={**body, "model": "callable:os:getcwd"})
    assert r.status_code == 400 and "callable" in r.json()["error"]["message"]
    r = owner.post(f"{API}/projects/p/evals/runs", json={**body, "model": "openai:ftp://x#m"})
    assert r.status_code == 400 and "http://" in r.json()["error"]["message"]
    r = owner.post(f"{API}/projects/p/evals/runs", json={**body, "suite": "nope"})
    assert r.status_code == 404 and "nope" in r.json()["error"]["message"]
    assert owner.get(f"{API}/projects/p/evals/jobs").json() == []  # nothing was queued


def test_cancelling_a_running_job_stops_its_run(api: Api) -> None:
    make_suite(api.store)
    answers = {q: f"The answer is {a}." for q, a in QUESTIONS.items()}
    with FakeModelServer(answers=answers, latency_ms=400) as slow:
        eng = api.member("p", "engineer")
        body = {"suite": "arith", "model": f"openai:{slow.url}#good", "concurrency": 1}
        job = eng.post(f"{API}/projects/p/evals/runs", json=body).json()
        deadline = time.monotonic() + 30
        while eng.get(f"{API}/projects/p/evals/jobs/{job['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.2)  # a couple of items in: the next progress write learns of the cancel
        r = eng.delete(f"{API}/projects/p/evals/jobs/{job['id']}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        EvalWorker.of(api.store).join(30)
    runs = eng.get(f"{API}/projects/p/evals/runs").json()
    assert [r["status"] for r in runs] == ["failed"]  # stopped, not run to the end
    assert runs[0]["summary"]["items"] < len(QUESTIONS)
    assert eng.get(f"{API}/projects/p/evals/jobs/{job['id']}").json()["status"] == "cancelled"


def seed_training(store: Store) -> None:
    """base -> sft (trained by a recorded run on sft@v1) with an eval run of each stage."""
    suite = make_suite(store)
    ds = store.ensure_dataset("p", "sft")
    version = store.create_version(ds, "v1")
    store.training.create_stage("p", "base", "base", model_path="/models/tiny")
    run = TrainingRun(
        id="tr_0001",
        project="p",
        method="sft",
        recipe={"method": "sft", "lora": {"r": 8}},
        base_model="/models/tiny",
        base_stage="base",
        dataset="p/sft",
        version="v1",
        manifest_hash=version.manifest_hash,
        seed=7,
        output_path="/runs/tr_0001",
        status="done",
        step=30,
        loss_curve=[{"step": 10, "loss": 2.5}, {"step": 20, "loss": 1.5}, {"step": 30, "loss": 0.9}],
        libraries={"trl": "1.16.0"},
    )
    store.training.create_run(run)
    store.training.create_stage("p", "sft-1", "sft", parent="base", model_path="/runs/tr_0001/model", run_id=run.id)
    pid = store.get_project("p").id
    assert pid is not None and suite.version.id is not None
    for stage, score in (("base", 0.0), ("sft-1", 1.0)):
        r = store.evals.create_run(
            project_id=pid,
            suite_version_id=suite.version.id,
            suite=suite.name,
            model=f"/models/{stage}",
            adapter="hf",
            params={},
            stage=stage,
            training_version="sft@v1" if stage != "base" else None,
        )
        store.evals.add_results(r.id, [EvalResult("x", "out", score, score == 1.0)])
        store.evals.finish_run(r.id, "done", {"mean": score, "ci": [score, score], "items": 1})


def test_training_runs_and_stages_show_their_lineage(api: Api) -> None:
    seed_training(api.store)
    reviewer = api.member("p", "reviewer")
    runs = reviewer.get(f"{API}/projects/p/training/runs").json()
    assert len(runs) == 1
    run = runs[0]
    version = api.store.get_version(api.store.get_dataset("p", "sft"), "v1")
    assert (run["dataset"], run["version"], run["manifest_hash"]) == ("p/sft", "v1", version.manifest_hash)
    assert (run["base_stage"], run["stage"], run["seed"], run["status"]) == ("base", "sft-1", 7, "done")
    assert [p["loss"] for p in run["loss_curve"]] == [2.5, 1.5, 0.9]
    stages = reviewer.get(f"{API}/projects/p/training/stages").json()
    chain = [(s["name"], s["parent"], s["run_id"]) for s in stages]
    assert chain == [("base", None, None), ("sft-1", "base", "tr_0001")]
    assert [e["mean"] for e in stages[1]["eval_runs"]] == [1.0]
    assert stages[0]["eval_runs"][0]["model"] == "/models/base"
    annotator = api.member("p", "annotator")
    assert annotator.get(f"{API}/projects/p/training/runs").status_code == 403
    assert api.user("outsider").get(f"{API}/projects/p/training/stages").status_code == 404
