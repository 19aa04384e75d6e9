"""Uploading media and serving it back: content types, range requests, previews, access per project."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store

BASE = "/api/v1/projects/p/datasets/media"


_apps: dict[int, object] = {}


def _client(store: Store, project: str, role: str) -> TestClient:
    p = store.ensure_project(project)
    assert p.id is not None
    _, secret = store.accounts.create_key(p.id, role, f"{role}-key")
    app = _apps.setdefault(id(store), create_app(store, Settings(cookie_secure=False)))
    client = TestClient(app)  # type: ignore[arg-type]
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


@pytest.fixture
def uploaded(sqlite_store: Store, media_dir: Path) -> tuple[TestClient, dict[str, str]]:
    _apps.clear()
    sqlite_store.ensure_project("p")
    sqlite_store.create_dataset("p", "media")
    client = _client(sqlite_store, "p", "engineer")
    names = ["upright.png", "clip.mp4", "tone.wav", "broken.png"]
    files = [("file", (n, (media_dir / n).read_bytes())) for n in names]
    r = client.post(f"{BASE}/media", files=files, data={"split": "train"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["added"], body["duplicates"], len(body["ids"])) == (3, 0, 3)
    assert body["rejected"][0]["loc"] == ["broken.png"] and body["rejected"][0]["type"] == "invalid_media"
    return client, dict(zip(names, body["ids"], strict=False))


def test_serve_with_content_type_and_ranges(uploaded: tuple[TestClient, dict[str, str]], media_dir: Path) -> None:
    client, ids = uploaded
    data = (media_dir / "clip.mp4").read_bytes()
    r = client.get(f"{BASE}/records/{ids['clip.mp4']}/media")
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4" and r.content == data
    assert r.headers["accept-ranges"] == "bytes" and r.headers["etag"]
    r = client.get(f"{BASE}/records/{ids['clip.mp4']}/media", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == data[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(data)}"
    r = client.get(f"{BASE}/records/{ids['clip.mp4']}/media", headers={"Range": "bytes=-10"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = client.get(f"{BASE}/records/{ids['clip.mp4']}/media", headers={"Range": f"bytes={len(data)}-"})
    assert r.status_code == 416
    assert client.get(f"{BASE}/records/{ids['tone.wav']}/media").headers["content-type"] == "audio/wav"


def test_previews(uploaded: tuple[TestClient, dict[str, str]]) -> None:
    client, ids = uploaded
    r = client.get(f"{BASE}/records/{ids['upright.png']}/thumbnail", params={"size": 32})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (32, 24)
    assert client.get(f"{BASE}/records/{ids['clip.mp4']}/thumbnail").status_code == 200
    peaks = client.get(f"{BASE}/records/{ids['tone.wav']}/peaks", params={"buckets": 50}).json()
    assert len(peaks["peaks"]) == 100 and peaks["sample_rate"] == 16000
    assert client.get(f"{BASE}/records/{ids['tone.wav']}/thumbnail").status_code == 422


def test_access_follows_the_project(sqlite_store: Store, uploaded: tuple[TestClient, dict[str, str]]) -> None:
    _, ids = uploaded
    annotator = _client(sqlite_store, "p", "annotator")
    assert annotator.get(f"{BASE}/records/{ids['upright.png']}/media").status_code == 200
    assert annotator.post(f"{BASE}/media", files=[("file", ("a.png", b"x"))]).status_code == 403
    stranger = _client(sqlite_store, "q", "owner")
    assert stranger.get(f"{BASE}/records/{ids['upright.png']}/media").status_code == 404
    sqlite_store.create_dataset("q", "media")
    other = stranger.get(f"/api/v1/projects/q/datasets/media/records/{ids['upright.png']}/media")
    assert other.status_code == 404  # a record of another project's dataset is not reachable by id
    forged = f"{BASE}/records/{ids['upright.png']}/media?blob=blob://sha256/{'0' * 64}"
    assert _client(sqlite_store, "p", "reviewer").get(forged).status_code == 422


def test_sdk_upload_creates_the_dataset(sqlite_store: Store, media_dir: Path) -> None:
    from thresher.sdk import Client

    _apps.clear()
    tc = _client(sqlite_store, "p", "engineer")
    secret = tc.headers["Authorization"].removeprefix("Bearer ")

    class Through(httpx.BaseTransport):  # the test client's in-process transport, with plain byte bodies
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            r = tc._transport.handle_request(request)  # type: ignore[arg-type]
            return httpx.Response(r.status_code, headers=r.headers, content=r.read())

    with Client("http://testserver", secret, transport=Through()) as client:
        files = [media_dir / "upright.png", media_dir / "tone.wav", media_dir / "broken.mp4"]
        up = client.upload_media("fresh", files, split="train")
        assert (up.added, up.duplicates, len(up.ids)) == (2, 0, 2)
        assert up.rejected[0]["loc"] == ["broken.mp4"]
        assert client.upload_media("fresh", files[:1]).duplicates == 1
        kinds = {r.content.media_type for r in client.records("fresh")}  # type: ignore[union-attr]
        assert kinds == {"image", "audio"}
