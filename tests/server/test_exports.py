"""Exports as background jobs: queued, run with progress, downloaded, still there after a restart, cancelled."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from thresher.model import Record
from thresher.pipeline import export_dataset, import_file
from thresher.server import create_app
from thresher.server.jobs import INTERRUPTED, ExportRunner
from thresher.settings import Settings
from thresher.store import Store

API = "/api/v1/projects/p"
FORMATS_DATA = Path(__file__).parents[1] / "data" / "formats"


@pytest.fixture(autouse=True)
def no_worker_left_running() -> Iterator[None]:
    yield
    assert not [t.name for t in threading.enumerate() if t.name.startswith("thresher-")]


def make_app(store: Store) -> FastAPI:
    return create_app(store, Settings(cookie_secure=False, webhook_retry_seconds=0.05))


def key(store: Store, role: str) -> str:
    project = store.get_project("p")
    assert project.id is not None
    _, secret = store.accounts.create_key(project.id, role, f"{role}-key")
    return f"Bearer {secret}"


@pytest.fixture
def data(store: Store) -> Store:
    """Project p, dataset d: chats, documents and an eval item (which training formats leave out)."""
    store.create_project("p")
    ds = store.create_dataset("p", "d")
    import_file(store, ds, FORMATS_DATA / "openai" / "chat.jsonl")
    docs = [Record(content={"kind": "text", "text": f"Document number {i}."}, split="train") for i in range(40)]
    evals = [Record(content={"kind": "eval_item", "input": [{"role": "user", "content": "2+2?"}], "reference": "4"})]
    store.add_records(store.get_dataset("p", "d"), [*docs, *evals])
    return store


@pytest.fixture
def engineer(data: Store) -> Iterator[TestClient]:
    """A client with an engineer's key, the app's workers running (lifespan)."""
    with TestClient(make_app(data), headers={"Authorization": key(data, "engineer")}) as client:
        yield client


def wait_for(client: TestClient, job_id: str, statuses: set[str], timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"{API}/exports/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout} s"
        time.sleep(0.05)


def test_an_export_job_runs_to_done_and_its_file_is_the_direct_export(
    data: Store, engineer: TestClient, tmp_path: Path
) -> None:
    r = engineer.post(f"{API}/datasets/d/exports", json={"format": "trl-conversational"})
    assert r.status_code == 202, r.text
    queued = r.json()
    assert (
        queued["status"] in {"queued", "running"}
        and queued["file"] is None
        and queued["created_by"] == "key:engineer-key"
    )

    job = wait_for(engineer, queued["id"], {"done", "failed"})
    assert job["status"] == "done", job["error"]
    ds = data.get_dataset("p", "d")
    conversations = data.count_records(ds) - 41  # the documents and the eval item are not conversations
    assert job["total"] == job["progress"] == conversations > 0
    assert job["file"] == "d.jsonl"
    assert job["manifest"]["counts"]["records"] == conversations
    assert job["manifest"]["excluded"] == ["eval_item"]

    download = engineer.get(job["download"])
    assert download.status_code == 200
    assert 'filename="d.jsonl"' in download.headers["content-disposition"]
    direct = export_dataset(data, ds, tmp_path / "direct.jsonl", "trl-conversational")
    assert download.content == direct.path.read_bytes()
    assert hashlib.sha256(download.content).hexdigest() == job["manifest"]["sha256"]
    assert [j["id"] for j in engineer.get(f"{API}/exports").json()] == [job["id"]]


def test_a_restart_still_shows_the_job_and_serves_its_file(data: Store) -> None:
    auth = {"Authorization": key(data, "engineer")}
    body = {"format": "text", "filters": {"splits": ["train"]}}
    with TestClient(make_app(data), headers=auth) as client:
        job_id = client.post(f"{API}/datasets/d/exports", json=body).json()["id"]
        before = wait_for(client, job_id, {"done", "failed"})
        assert before["status"] == "done" and before["total"] == 40
    with TestClient(make_app(data), headers=auth) as again:  # a new server on the same store
        after = again.get(f"{API}/exports/{job_id}").json()
        assert {k: after[k] for k in ("status", "progress", "total", "manifest")} == {
            k: before[k] for k in ("status", "progress", "total", "manifest")
        }
        text = again.get(after["download"]).text
        assert text.count("Document number") == 40


def test_a_job_running_when_the_server_died_comes_back_failed(data: Store) -> None:
    auth = {"Authorization": key(data, "engineer")}
    queued = TestClient(make_app(data), headers=auth).post(f"{API}/datasets/d/exports", json={"format": "thresher"})
    job_id = queued.json()["id"]  # no lifespan, so no runner: the job waits
    claimed = data.jobs.claim_next("export")  # a runner took it ... and the process died
    assert claimed is not None and claimed.id == job_id
    with TestClient(make_app(data), headers=auth) as client:
        job = client.get(f"{API}/exports/{job_id}").json()
        assert job["status"] == "failed" and job["error"] == INTERRUPTED
        assert client.get(f"{API}/exports/{job_id}/file").status_code == 409
        # The queue still works: the next job runs.
        second = client.post(f"{API}/datasets/d/exports", json={"format": "thresher"}).json()
        assert wait_for(client, second["id"], {"done", "failed"})["status"] == "done"


def test_cancel_a_queued_job_then_remove_it(data: Store) -> None:
    client = TestClient(make_app(data), headers={"Authorization": key(data, "engineer")})  # no runner
    job_id = client.post(f"{API}/datasets/d/exports", json={"format": "thresher"}).json()["id"]
    assert client.delete(f"{API}/exports/{job_id}").status_code == 204
    job = client.get(f"{API}/exports/{job_id}").json()
    assert job["status"] == "cancelled" and job["download"] is None
    assert client.get(f"{API}/exports/{job_id}/file").status_code == 409
    assert data.jobs.claim_next("export") is None  # a runner will not pick it up
    assert client.delete(f"{API}/exports/{job_id}").status_code == 204  # an ended job: removed
    assert client.get(f"{API}/exports/{job_id}").status_code == 404


def test_cancel_a_running_job_stops_it_and_leaves_no_file(data: Store, tmp_path: Path) -> None:
    client = TestClient(make_app(data), headers={"Authorization": key(data, "engineer")})  # no runner
    job_id = client.post(f"{API}/datasets/d/exports", json={"format": "thresher"}).json()["id"]
    runner = ExportRunner(data, tmp_path / "exports", batch_size=5)
    job = data.jobs.claim_next("export")
    assert job is not None and job.id == job_id
    assert client.delete(f"{API}/exports/{job_id}").status_code == 204  # cancelled while running
    runner.run_job(job)  # stops at its first progress check
    assert client.get(f"{API}/exports/{job_id}").json()["status"] == "cancelled"
    assert not (tmp_path / "exports" / job_id).exists()


def test_a_job_cut_short_by_a_shutdown_is_failed_saying_so(data: Store, tmp_path: Path) -> None:
    client = TestClient(make_app(data), headers={"Authorization": key(data, "engineer")})  # no runner
    job_id = client.post(f"{API}/datasets/d/exports", json={"format": "thresher"}).json()["id"]
    runner = ExportRunner(data, tmp_path / "exports", batch_size=5)
    job = data.jobs.claim_next("export")
    assert job is not None
    runner.stop()  # the server is shutting down (the runner never started a thread here)
    runner.run_job(job)  # stops after its first batch
    after = client.get(f"{API}/exports/{job_id}").json()
    assert after["status"] == "failed" and after["error"] == INTERRUPTED
    assert after["progress"] == 0 and after["total"] == data.count_records(data.get_dataset("p", "d"))
    assert not (tmp_path / "exports" / job_id).exists()


def test_a_finished_job_deleted_takes_its_files(data: Store, engineer: TestClient) -> None:
    job_id = engineer.post(f"{API}/datasets/d/exports", json={"format": "thresher"}).json()["id"]
    job = wait_for(engineer, job_id, {"done", "failed"})
    folder = Path(data.jobs.get(job_id).result or "").parent
    assert job["status"] == "done" and folder.name == job_id and folder.is_dir()
    assert engineer.delete(f"{API}/exports/{job_id}").status_code == 204
    assert not folder.exists()
    assert engineer.get(f"{API}/exports/{job_id}").status_code == 404


def test_bundle_zips_the_file_its_manifest_and_companions(data: Store, engineer: TestClient) -> None:
    job_id = engineer.post(f"{API}/datasets/d/exports", json={"format": "sharegpt"}).json()["id"]
    job = wait_for(engineer, job_id, {"done", "failed"})
    assert job["status"] == "done", job["error"]
    r = engineer.get(f"{API}/exports/{job_id}/file", params={"bundle": True})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        names = sorted(n.split("/", 1)[1] for n in zf.namelist())
        assert names == ["d.json", "d.json.manifest.json", "dataset_info.json"]
        prefix = zf.namelist()[0].split("/", 1)[0]
        rows = json.loads(zf.read(f"{prefix}/d.json"))
    assert rows == engineer.get(job["download"]).json()


def test_a_folder_result_downloads_as_a_zip(sqlite_store: Store) -> None:
    pytest.importorskip("datasets")
    sqlite_store.create_project("p")
    sqlite_store.add_records(
        sqlite_store.create_dataset("p", "d"), [Record(content={"kind": "text", "text": f"doc {i}"}) for i in range(5)]
    )
    with TestClient(make_app(sqlite_store), headers={"Authorization": key(sqlite_store, "owner")}) as client:
        job_id = client.post(f"{API}/datasets/d/exports", json={"format": "text", "container": "hf"}).json()["id"]
        job = wait_for(client, job_id, {"done", "failed"})
        assert job["status"] == "done", job["error"]
        assert job["file"] == "d"
        r = client.get(job["download"])
    assert r.status_code == 200 and 'filename="d.zip"' in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert "d/dataset_info.json" in zf.namelist() and zf.testzip() is None


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_annotators_and_reviewers_cannot_export(data: Store, role: str) -> None:
    client = TestClient(make_app(data), headers={"Authorization": key(data, role)})
    r = client.post(f"{API}/datasets/d/exports", json={"format": "thresher"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get(f"{API}/exports").status_code == 403
    assert data.jobs.list_jobs(data.get_project("p").id or 0) == []


def test_bad_requests_are_refused_before_queueing(data: Store) -> None:
    client = TestClient(make_app(data), headers={"Authorization": key(data, "engineer")})
    assert client.post(f"{API}/datasets/d/exports", json={"format": "no-such"}).status_code == 400
    r = client.post(f"{API}/datasets/d/exports", json={"format": "thresher", "container": "zip"})
    assert r.status_code == 400
    assert client.post(f"{API}/datasets/d/exports", json={"format": "thresher", "version": "v9"}).status_code == 404
    assert client.post(f"{API}/datasets/nope/exports", json={"format": "thresher"}).status_code == 404
    r = client.post(f"{API}/datasets/d/exports", json={"format": "thresher", "options": {"pairs": "some"}})
    assert r.status_code == 422
    assert client.get(f"{API}/exports/0123456789abcdef").status_code == 404
    assert client.get(f"{API}/exports").json() == []
