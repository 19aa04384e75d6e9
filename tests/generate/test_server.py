"""The generation job API: an engineer starts a job against the model server and reads its
progress; a reviewer may watch but not start; only openai: models; cancel, then resume."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from generate_support import make_dataset, prompt_records

from thresher.evals.fake_server import FakeModelServer
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store

API = "/api/v1/projects/p/generate/jobs"


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer(latency_ms=20) as srv:
        yield srv


def client(store: Store, role: str) -> TestClient:
    pid = store.ensure_project("p").id
    assert pid is not None
    _, secret = store.accounts.create_key(pid, role, f"{role}-key")
    return TestClient(create_app(store, Settings()), headers={"Authorization": f"Bearer {secret}"})


def wait(c: TestClient, job_id: str, until: tuple[str, ...] = ("done", "failed", "cancelled")) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = c.get(f"{API}/{job_id}").json()
        if job["status"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job['status']}")


def body(server: FakeModelServer, **extra: Any) -> dict[str, Any]:
    return {
        "source": "prompts",
        "target": "candidates",
        "models": [
            {"model": f"openai:{server.url}#small", "params": {"temperature": 0.7}, "n": 2},
            {"model": f"openai:{server.url}#large", "n": 1},
        ],
        **extra,
    }


def test_an_engineer_starts_a_job_and_reads_its_progress(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "prompts", prompt_records(12))
    eng = client(store, "engineer")
    r = eng.post(API, json=body(server, concurrency=4))
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running") and job["models"][0]["n"] == 2
    done = wait(eng, job["id"])
    assert done["status"] == "done", done
    assert done["progress"] == done["total"] == 12
    result = done["result"]
    assert result["written"] == 12 and result["candidates"] == 36 and result["version"] == "v1"
    assert server.requests == 36
    assert [j["id"] for j in eng.get(API).json()] == [job["id"]]
    records = eng.get("/api/v1/projects/p/datasets/candidates/records").json()["items"]
    assert len(records) == 12 and all(len(r["content"]["candidates"]) == 3 for r in records)

    reviewer = client(store, "reviewer")
    assert reviewer.get(f"{API}/{job['id']}").status_code == 200
    assert reviewer.post(API, json=body(server)).status_code == 403


def test_only_openai_models_and_checked_names(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "prompts", prompt_records(2))
    eng = client(store, "engineer")
    r = eng.post(API, json={**body(server), "models": [{"model": "callable:os:system"}]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "models", 0, "model"]
    r = eng.post(API, json={**body(server), "models": [{"model": f"openai:{server.url}"}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["models", 0, "model"]
    r = eng.post(API, json={**body(server), "models": [{"model": "openai:http://169.254.169.254/v1#x"}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "refused_address"
    # A host no DNS could hold (found by schemathesis): refused, not a server error.
    r = eng.post(API, json={**body(server), "models": [{"model": "openai:http://\U000de1e9t;/v1#x"}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "refused_address"
    assert eng.post(API, json=body(server, source="nope")).status_code == 404
    r = eng.post(API, json=body(server, target="prompts"))
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["target"]
    assert eng.get(f"{API}/nope").status_code == 404


def test_cancel_then_start_again_resumes_without_asking_twice(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "prompts", prompt_records(80))  # about 2 s at one prompt at a time
    eng = client(store, "engineer")
    job = eng.post(API, json=body(server, concurrency=1)).json()
    wait(eng, job["id"], ("running",))
    while eng.get(f"{API}/{job['id']}").json()["progress"] < 3:
        time.sleep(0.02)
    cancelled = eng.post(f"{API}/{job['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    time.sleep(0.6)  # the runner notices within 0.25 s and stops after the prompt in hand
    asked = server.requests
    assert 0 < asked < 240 and asked % 3 == 0  # whole prompts only

    again = eng.post(API, json=body(server, concurrency=8)).json()
    done = wait(eng, again["id"])
    assert done["status"] == "done" and done["result"]["cache_hits"] == asked
    assert server.requests == 240 and store.count_records(store.get_dataset("p", "candidates")) == 80


def test_a_failing_model_server_is_reported_by_status_not_body(store: Store) -> None:
    make_dataset(store, "prompts", prompt_records(3))
    eng = client(store, "engineer")
    with FakeModelServer(error_rate=1.0) as failing:
        models = [{"model": f"openai:{failing.url}#m"}]
        job = eng.post(API, json={"source": "prompts", "target": "candidates", "models": models}).json()
        done = wait(eng, job["id"])
    assert done["status"] == "done" and done["result"]["errors"] == 3 and done["result"]["written"] == 0
    assert done["result"]["first_error"].endswith("HTTP 500") and "injected fault" not in done["result"]["first_error"]
