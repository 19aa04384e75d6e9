"""``GET /health``: up with a store that answers, 503 (and no details of why) without one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from thresher._version import __version__
from thresher.server import create_app
from thresher.store import Store
from thresher.store.blobs import BlobStore

if TYPE_CHECKING:
    from tests.server.conftest import Api


def test_health_answers_without_a_login(api: Api) -> None:
    r = api.anonymous().get("/api/v1/health")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "version": __version__, "store": api.store.backend}


def test_health_is_503_when_the_store_does_not_answer(tmp_path: Path) -> None:
    # A database file in a folder that does not exist: SQLite cannot open it.
    engine = create_engine(f"sqlite:///{tmp_path / 'gone' / 'thresher.db'}")
    app = create_app(Store(engine, BlobStore(str(tmp_path / "blobs"))))
    r = TestClient(app).get("/api/v1/health")
    assert r.status_code == 503
    assert r.json()["error"] == {"code": "unavailable", "message": "the store does not answer", "details": []}
    assert "sqlite" not in r.text.lower()  # nothing of the cause reaches the client
