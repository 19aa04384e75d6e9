"""Helpers of the SDK tests (imported by name: ``conftest`` is ambiguous across test folders).

A real server: ``thresher serve`` in a subprocess on 127.0.0.1, over a home made by
``thresher init`` with keys made through the store. What arrived is read back through the
store, opening the same home."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from live_server import THRESHER
from thresher.model import Record, Response
from thresher.store import Store

PROJECT = "default"


def _cli(*args: str) -> str:
    out = subprocess.run([THRESHER, *args], check=True, capture_output=True, text=True, timeout=60)
    return out.stdout


@dataclass
class Home:
    path: Path
    app_key: str
    engineer_key: str

    def store(self) -> Store:
        return Store.open(self.path)

    def records(self, kind: str | None = None, dataset: str = "capture") -> list[Record]:
        store = self.store()
        try:
            project_id = store.get_project(PROJECT).id
            assert project_id is not None
            assert store.capture.wait(project_id)  # the server's capture worker makes the records
            ds = store.get_dataset(PROJECT, dataset)
            rows = [r.to_record() for page in store.iter_records(ds) for r in page]
        finally:
            store.close()
        return [r for r in rows if kind is None or r.kind == kind]

    def responses(self, record_id: str) -> list[Response]:
        store = self.store()
        try:
            return store.responses_for([record_id]).get(record_id, [])
        finally:
            store.close()

    def event_counts(self) -> dict[str, int]:
        store = self.store()
        try:
            project_id = store.get_project(PROJECT).id
            assert project_id is not None
            return store.capture.event_counts(project_id)
        finally:
            store.close()


def make_home(path: Path) -> Home:
    """``thresher init``, then an ``app`` key (capture only) and an ``engineer`` key (notebooks)."""
    _cli("init", str(path))
    store = Store.open(path)
    try:
        project_id = store.get_project(PROJECT).id
        assert project_id is not None
        _, app = store.accounts.create_key(project_id, "app", "app")
        _, engineer = store.accounts.create_key(project_id, "engineer", "notebook")
    finally:
        store.close()
    return Home(path, app, engineer)


# -- a transport that injects faults (the client is real; the network misbehaves) ---------------


class Faults:
    """Shared by the sync and async fault transports: what to do with the next capture POSTs."""

    def __init__(self) -> None:
        self.script: list[httpx.Response | Exception] = []  # one entry per capture POST, in order
        self.reject: set[str] = set()  # event ids answered with 422 (a batch holding one is refused)
        self.posts: list[tuple[float, list[str], int]] = []  # (time, event ids, status) of capture POSTs

    def before(self, request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST" or not request.url.path.endswith("/capture"):
            return None
        ids = [e["id"] for e in json.loads(request.content)["events"]]
        if self.reject & set(ids):
            return self._log(ids, error_response(422, "data_error", "event rejected by the test"))
        if self.script:
            fault = self.script.pop(0)
            if isinstance(fault, Exception):
                self.posts.append((time.monotonic(), ids, 0))
                raise fault
            return self._log(ids, fault)
        self.posts.append((time.monotonic(), ids, -1))  # passed through
        return None

    def _log(self, ids: list[str], response: httpx.Response) -> httpx.Response:
        self.posts.append((time.monotonic(), ids, response.status_code))
        return response


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message, "details": []}}
    return httpx.Response(status, json=body, headers=headers)


class FaultTransport(httpx.BaseTransport):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self.faults.before(request) or self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class AsyncFaultTransport(httpx.AsyncBaseTransport):
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.faults.before(request) or await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def by_meta(records: list[Record], key: str, value: Any) -> list[Record]:
    return [r for r in records if r.metadata.get(key) == value]
