"""Deleting a project removes its export files from disk, and only its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from thresher.model import Record
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store


@pytest.fixture(autouse=True)
def no_worker_left_running() -> Iterator[None]:
    yield
    assert not [t.name for t in threading.enumerate() if t.name.startswith("thresher-")]


def owner_key(store: Store, project: str) -> dict[str, str]:
    pid = store.get_project(project).id
    assert pid is not None
    _, secret = store.accounts.create_key(pid, "owner", f"{project}-owner")
    return {"Authorization": f"Bearer {secret}"}


def finished_export(client: TestClient, project: str) -> Path:
    r = client.post(f"/api/v1/projects/{project}/datasets/d/exports", json={"format": "thresher"})
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 60
    url = f"/api/v1/projects/{project}/exports/{job_id}"
    while (job := client.get(url).json())["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, "export still running"
        time.sleep(0.05)
    assert job["status"] == "done", job
    r = client.get(f"/api/v1/projects/{project}/exports/{job_id}/file")
    assert r.status_code == 200 and b"Document 0" in r.content
    folders = [p for p in _exports_dirs(client) if p.name == job_id]
    assert len(folders) == 1 and folders[0].is_dir()
    return folders[0]


def _exports_dirs(client: TestClient) -> list[Path]:
    runner: Any = client.app.state.exports  # type: ignore[attr-defined]
    root: Path = runner.root
    return sorted(root.iterdir()) if root.is_dir() else []


def test_deleting_a_project_removes_its_export_folders(store: Store) -> None:
    for name in ("p", "q"):
        store.create_project(name)
        ds = store.create_dataset(name, "d")
        store.add_records(ds, [Record(content={"kind": "text", "text": f"Document {i}."}) for i in range(20)])
    app = create_app(store, Settings(cookie_secure=False))
    with TestClient(app, headers=owner_key(store, "p")) as p_client:
        p_folders = [finished_export(p_client, "p") for _ in range(2)]
        q_client = TestClient(app, headers=owner_key(store, "q"))
        q_folder = finished_export(q_client, "q")
        queued = p_client.post("/api/v1/projects/p/datasets/d/exports", json={"format": "thresher"}).json()["id"]

        assert p_client.delete("/api/v1/projects/p").status_code == 204

        assert not any(f.exists() for f in p_folders)
        assert queued not in {f.name for f in _exports_dirs(p_client)}  # queued or running: never left behind
        assert q_folder.is_dir()  # another project's export is untouched
        assert q_client.get(f"/api/v1/projects/q/exports/{q_folder.name}/file").status_code == 200
        assert p_client.get("/api/v1/projects/p").status_code in (401, 404)
        # The runner keeps working for the other projects.
        assert finished_export(q_client, "q").is_dir()
