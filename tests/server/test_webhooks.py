"""Webhooks: a real local receiver gets signed deliveries; failures are retried with backoff and logged."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from thresher.model import Record
from thresher.server import create_app
from thresher.server.events import emit
from thresher.server.outbound import Checked, pinned, resolve
from thresher.server.webhooks import DeliveryWorker, backoff, sign, verify_signature
from thresher.settings import Settings
from thresher.store import Store

API = "/api/v1/projects/p"
SECRET = "a-shared-secret-of-some-length"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records each POST and answers with the next scripted status."""

    url: str
    statuses: list[int]
    got: list[Received] = field(default_factory=list)


@pytest.fixture(autouse=True)
def no_worker_left_running() -> Iterator[None]:
    yield
    assert not [t.name for t in threading.enumerate() if t.name.startswith("thresher-")]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="", statuses=[])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                state.got.append(Received(dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def make_app(store: Store, *, allow_private: bool = True) -> FastAPI:
    # The receivers listen on 127.0.0.1, an address refused unless the setting allows it.
    settings = Settings(cookie_secure=False, webhook_retry_seconds=0.05, webhooks_allow_private=allow_private)
    return create_app(store, settings)


def auth(store: Store, role: str) -> dict[str, str]:
    project = store.get_project("p")
    assert project.id is not None
    _, secret = store.accounts.create_key(project.id, role, f"{role}-key")
    return {"Authorization": f"Bearer {secret}"}


def project_id(store: Store) -> int:
    pid = store.get_project("p").id
    assert pid is not None
    return pid


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def project(store: Store) -> Store:
    store.create_project("p")
    return store


def add_webhook(client: TestClient, url: str, events: list[str], **extra: Any) -> dict[str, Any]:
    r = client.post(f"{API}/webhooks", json={"url": url, "events": events, **extra})
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()
    return hook


def test_an_export_finishing_is_delivered_signed(project: Store, receiver: Receiver) -> None:
    ds = project.create_dataset("p", "d")
    project.add_records(ds, [Record(content={"kind": "text", "text": "hello"})])
    with TestClient(make_app(project), headers=auth(project, "owner")) as client:
        hook = add_webhook(client, receiver.url, ["export.finished"], secret=SECRET)
        assert hook["secret"] == SECRET
        assert "secret" not in client.get(f"{API}/webhooks").json()[0]  # shown once, at creation
        job = client.post(f"{API}/datasets/d/exports", json={"format": "text"}).json()
        eventually(lambda: len(receiver.got) == 1)
        eventually(lambda: client.get(f"{API}/webhooks/{hook['id']}/deliveries").json()[0]["status"] == "delivered")
        [log] = client.get(f"{API}/webhooks/{hook['id']}/deliveries").json()

    [got] = receiver.got
    assert verify_signature(SECRET, got.body, got.headers["X-Thresher-Signature"])
    assert got.headers["X-Thresher-Event"] == "export.finished"
    assert got.headers["X-Thresher-Delivery"] == log["id"]
    assert abs(int(got.headers["X-Thresher-Timestamp"]) - time.time()) < 60
    assert got.headers["Content-Type"] == "application/json"
    body = json.loads(got.body)
    assert body["id"] == log["id"] and body["event"] == "export.finished" and body["project"] == "p"
    assert body["data"] == {
        "job_id": job["id"], "status": "done", "dataset": "d", "version": None, "format": "text",
        "records": 1, "rows": 1, "file": "d.jsonl",
    }  # fmt: skip
    assert log["attempts"] == 1 and log["last_status"] == 200 and log["payload"] == body
    assert log["delivered_at"] is not None and log["next_attempt_at"] is None


def test_a_failing_receiver_gets_it_on_the_third_attempt(project: Store, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    with TestClient(make_app(project), headers=auth(project, "owner")) as client:
        hook = add_webhook(client, receiver.url, ["version.created"], secret=SECRET)
        emit(project, project_id(project), "version.created", {"dataset": "d", "version": "v1"})
        deliveries = f"{API}/webhooks/{hook['id']}/deliveries"
        eventually(lambda: client.get(deliveries).json()[0]["status"] == "delivered")
        [log] = client.get(deliveries).json()
    assert log["attempts"] == 3 and log["last_status"] == 200 and log["last_error"] is None
    assert len(receiver.got) == 3
    assert len({r.headers["X-Thresher-Delivery"] for r in receiver.got}) == 1  # the same delivery, retried
    assert len({r.body for r in receiver.got}) == 1
    assert all(verify_signature(SECRET, r.body, r.headers["X-Thresher-Signature"]) for r in receiver.got)


def test_a_receiver_that_never_answers_is_given_up_on_and_logged(project: Store) -> None:
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    client = TestClient(make_app(project), headers=auth(project, "owner"))
    hook = add_webhook(client, dead, ["records.added"])
    emit(project, project_id(project), "records.added", {"dataset": "d", "records": 3})
    worker = DeliveryWorker(project, retry_seconds=0.01, max_attempts=3, allow_private=True)  # by hand: no thread
    try:
        for _ in range(200):
            worker.run_once()
            log = client.get(f"{API}/webhooks/{hook['id']}/deliveries").json()[0]
            if log["status"] != "pending":
                break
            assert log["attempts"] >= 1 and log["last_error"] and log["next_attempt_at"]  # waiting to retry
            time.sleep(0.01)
    finally:
        worker.stop()
    assert log["status"] == "failed" and log["attempts"] == 3
    assert log["last_status"] is None and "ConnectError" in log["last_error"] and "gave up after 3" in log["last_error"]
    failed = client.get(f"{API}/webhooks/{hook['id']}/deliveries", params={"status": "failed"}).json()
    assert [d["id"] for d in failed] == [log["id"]]


def test_deliveries_queued_while_no_worker_runs_go_out_at_startup(project: Store, receiver: Receiver) -> None:
    headers = auth(project, "owner")
    hook = add_webhook(TestClient(make_app(project), headers=headers), receiver.url, ["dataset.created"])
    emit(project, project_id(project), "dataset.created", {"dataset": "d"})  # the server is down: a row waits
    assert receiver.got == []
    with TestClient(make_app(project), headers=headers) as client:
        eventually(lambda: len(receiver.got) == 1)
        eventually(lambda: client.get(f"{API}/webhooks/{hook['id']}/deliveries").json()[0]["status"] == "delivered")
    assert verify_signature(hook["secret"], receiver.got[0].body, receiver.got[0].headers["X-Thresher-Signature"])
    assert hook["secret"].startswith("whsec_")  # made by the server when none was given


def test_only_active_subscribed_webhooks_get_an_event(project: Store) -> None:
    client = TestClient(make_app(project), headers=auth(project, "owner"))
    wants = add_webhook(client, "http://127.0.0.1:9/a", ["records.added", "export.finished"])
    other = add_webhook(client, "http://127.0.0.1:9/b", ["version.created"])
    paused = add_webhook(client, "http://127.0.0.1:9/c", ["records.added"])
    r = client.patch(f"{API}/webhooks/{paused['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    emit(project, project_id(project), "records.added", {"records": 1})
    counts = {h["id"]: len(client.get(f"{API}/webhooks/{h['id']}/deliveries").json()) for h in (wants, other, paused)}
    assert counts == {wants["id"]: 1, other["id"]: 0, paused["id"]: 0}
    assert client.delete(f"{API}/webhooks/{wants['id']}").status_code == 204
    assert client.get(f"{API}/webhooks/{wants['id']}/deliveries").status_code == 404
    assert [h["id"] for h in client.get(f"{API}/webhooks").json()] == [other["id"], paused["id"]]


@pytest.mark.parametrize("role", ["engineer", "reviewer", "annotator"])
def test_only_owners_manage_webhooks(project: Store, role: str) -> None:
    client = TestClient(make_app(project), headers=auth(project, role))
    r = client.post(f"{API}/webhooks", json={"url": "http://127.0.0.1:9/", "events": ["records.added"]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert client.get(f"{API}/webhooks").status_code == 403


def test_bad_webhooks_are_refused(project: Store) -> None:
    client = TestClient(make_app(project), headers=auth(project, "owner"))
    for body in (
        {"url": "ftp://example.com/", "events": ["records.added"]},
        {"url": "http://example.com/", "events": []},
        {"url": "http://example.com/", "events": ["no.such.event"]},
        {"url": "http://example.com/", "events": ["records.added"], "secret": "short"},
    ):
        assert client.post(f"{API}/webhooks", json=body).status_code == 422, body


def test_verify_signature() -> None:
    body = b'{"event":"records.added"}'
    header = sign(SECRET, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(SECRET, body, header)
    assert not verify_signature("another-secret-entirely", body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "sha256=" + "0" * 64)


def test_backoff_doubles_with_jitter_and_a_cap() -> None:
    for attempt, nominal in [(1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0)]:
        assert 0.75 * nominal <= backoff(attempt, 1.0) <= 1.25 * nominal
    assert backoff(30, 1.0) <= 600.0


# -- internal addresses (SSRF) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost/hook", "localhost resolves to 127.0.0.1"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:127.0.0.1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("http://100.64.0.1/hook", "not a public address"),
        ("http://0.0.0.0:8000/hook", "unspecified"),
    ],
)
def test_webhooks_to_internal_addresses_are_refused(project: Store, url: str, why: str) -> None:
    client = TestClient(make_app(project, allow_private=False), headers=auth(project, "owner"))
    r = client.post(f"{API}/webhooks", json={"url": url, "events": ["records.added"]})
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["type"] == "internal_address" and detail["loc"] == ["body", "url"]
    assert why in detail["msg"] and "THRESHER_WEBHOOKS_ALLOW_PRIVATE" in detail["msg"]
    assert client.get(f"{API}/webhooks").json() == []


def test_a_webhook_cannot_be_moved_to_an_internal_address(project: Store) -> None:
    client = TestClient(make_app(project, allow_private=False), headers=auth(project, "owner"))
    hook = add_webhook(client, "https://93.184.216.34/hook", ["records.added"])  # a public address: kept
    r = client.patch(f"{API}/webhooks/{hook['id']}", json={"url": "http://169.254.169.254/"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "internal_address"
    assert client.get(f"{API}/webhooks/{hook['id']}").json()["url"] == "https://93.184.216.34/hook"


def test_delivery_checks_the_address_again(project: Store, receiver: Receiver) -> None:
    """A webhook saved while its name led elsewhere (or while the setting allowed it) is not posted to
    an internal address: the delivery is refused and logged; allowing private addresses lets it go."""
    if resolve("localhost", 80)[0] != "127.0.0.1":
        pytest.skip("localhost does not resolve to 127.0.0.1 first here")
    by_name = receiver.url.replace("127.0.0.1", "localhost")
    hook = project.webhooks.create(project_id(project), by_name, ["records.added"], SECRET)
    emit(project, project_id(project), "records.added", {"records": 1})
    strict = DeliveryWorker(project, retry_seconds=60, max_attempts=5)  # one attempt: the retry is a minute away
    try:
        assert strict.run_once() == 1
    finally:
        strict.stop()
    [log] = project.webhooks.deliveries(hook.id)
    assert receiver.got == [] and log.status == "pending" and log.last_status is None
    assert log.last_error is not None and "refused: localhost resolves to 127.0.0.1" in log.last_error
    project.webhooks.mark_retry(log.id, None, log.last_error, datetime.now(UTC))  # the backoff has run out
    allowed = DeliveryWorker(project, retry_seconds=0.01, allow_private=True)
    try:
        eventually(lambda: allowed.run_once() > 0 and project.webhooks.deliveries(hook.id)[0].status == "delivered")
    finally:
        allowed.stop()
    [got] = receiver.got
    # Sent to the address that was checked, with the name in Host.
    assert got.headers["Host"] == by_name.split("/")[2]
    assert verify_signature(SECRET, got.body, got.headers["X-Thresher-Signature"])


def test_a_checked_name_is_pinned_to_its_address() -> None:
    checked = Checked(httpx.URL("https://hooks.example.org:8443/in?x=1"), "93.184.216.34", ["93.184.216.34"])
    url, headers, extensions = pinned(checked)
    assert str(url) == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"Host": "hooks.example.org:8443"}
    assert extensions == {"sni_hostname": "hooks.example.org"}  # the certificate is checked against the name
