"""Pre-annotations from a model endpoint: a real detector stub on 127.0.0.1 finds the drawn box in each image
(the bounding box of its non-white pixels) and answers over HTTP; its answers become suggestions."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from typer.testing import CliRunner

from thresher.cli import app
from thresher.media import ingest, synth
from thresher.media.prelabel import Prelabeler
from thresher.model import Record, RegionQuestion
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store

SIZE = (120, 80)
BLUE, RED, GREEN = (30, 60, 200), (220, 20, 20), (20, 180, 40)
# (file, colour, box [x, y, w, h]); the stub answers garbage for red and a box off the image for green.
IMAGES = [
    ("a.png", BLUE, (10, 12, 30, 20)),
    ("b.png", BLUE, (50, 30, 40, 25)),
    ("c.png", BLUE, (0, 0, 16, 16)),
    ("broken-answer.png", RED, (20, 20, 10, 10)),
    ("outside.png", GREEN, (70, 40, 30, 30)),
]


@dataclass
class Detector:
    """What the stub saw: requests per record, the most in flight at once, failures still to serve."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    fail_first: int = 0  # answer 503 to this many requests first (retries)
    delay: float = 0.02
    lock: threading.Lock = field(default_factory=threading.Lock)


def found_box(image: Image.Image) -> tuple[list[int], tuple[int, int, int]]:
    """The bounding box of the non-white pixels and the colour at its centre."""
    rgb = image.convert("RGB")
    mask = Image.eval(rgb.convert("L"), lambda v: 255 if v < 250 else 0)
    left, top, right, bottom = mask.getbbox() or (0, 0, 0, 0)
    colour = rgb.getpixel(((left + right) // 2, (top + bottom) // 2))
    assert isinstance(colour, tuple)
    return [left, top, right - left, bottom - top], (colour[0], colour[1], colour[2])


@pytest.fixture
def detector() -> Iterator[Detector]:
    state = Detector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests.append(body)
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                fail = state.fail_first > 0
                state.fail_first -= 1 if fail else 0
            try:
                time.sleep(state.delay)  # long enough for requests to overlap
                status, out = (503, b'{"error": "warming up"}') if fail else self._detect(body)
            finally:
                with state.lock:  # before answering: the client may send its next request at once
                    state.in_flight -= 1
            self._send(status, out)

        def _detect(self, body: dict[str, Any]) -> tuple[int, bytes]:
            if "url" in body:  # sent by URL: fetch it from Thresher, as a remote model server would
                got = httpx.get(body["url"], headers=body.get("headers"), timeout=10)
                if got.status_code != 200:
                    return 502, f"fetching the media: HTTP {got.status_code}".encode()
                data = got.content
            else:
                data = base64.b64decode(body["data"])
            box, colour = found_box(Image.open(io.BytesIO(data)))
            if colour == RED:
                return 200, b'{"boxes": "no idea what the protocol is"}'
            if colour == GREEN:
                box[2] += 60  # runs off the right edge
            if self.path == "/value":  # the answer in the question's own shape
                answer: dict[str, Any] = {"value": [{"label": "vehicle", "box": box}], "score": 0.5}
            else:
                dets = [{"bbox": box, "category_id": 3, "score": 0.9}, {"bbox": box, "category_id": 7, "score": 0.8}]
                answer = {"detections": dets, "categories": [{"id": 3, "name": "car"}, {"id": 7, "name": "dog"}]}
            return 200, json.dumps(answer).encode()

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Store, dict[str, str]]]:
    """A dataset of five images and one audio file; ``ids`` maps file names to record ids."""
    store = Store.open(tmp_path / "home")
    store.create_project("p")
    ds = store.create_dataset("p", "pics", questions=[RegionQuestion(name="objects", labels=["vehicle", "person"])])
    records = []
    for name, colour, (x, y, w, h) in IMAGES:
        img = Image.new("RGB", SIZE, "white")
        img.paste(colour, (x, y, x + w, y + h))
        img.save(tmp_path / name)
        records.append(Record(content=ingest(store.blobs, tmp_path / name), metadata={"file_name": name}))
    tone = synth.make_tone(tmp_path / "beep.wav", 0.5)
    records.append(Record(content=ingest(store.blobs, tone), metadata={"file_name": "beep.wav"}))
    store.add_records(ds, records)
    ids = {}
    for page in store.iter_records(ds):
        for row in page:
            ids[json.loads(row.metadata)["file_name"]] = row.id
    yield store, ids
    store.close()


def suggestions(store: Store, record_id: str) -> list[Any]:
    return [(s.agent, s.question, s.value, s.score) for s in store.suggestions_for(record_id)]


def test_detections_become_suggestions_and_bad_answers_are_reported(
    home: tuple[Store, dict[str, str]], detector: Detector
) -> None:
    store, ids = home
    done: list[int] = []
    with Prelabeler(store, detector.url + "/detect", agent="box-finder", label_map={"car": "vehicle"}) as p:
        result = p.run("p", "pics", progress=done.append)

    assert result.counts() == {
        "seen": 6,
        "suggested": 3,
        "already": 0,
        "not_applicable": 1,  # the audio file: a region question is about images
        "failed": 2,
        "dropped_detections": 3,  # the "dog" of each stored answer: no label for it
    }
    assert done == list(range(1, 7)) and len(detector.requests) == 5  # every record counts, the audio too
    for name, _, box in IMAGES[:3]:
        regions = [{"label": "vehicle", "box": list(box)}]
        assert suggestions(store, ids[name]) == [("box-finder", "objects", regions, 0.9)]
    # What went out: the file itself, what it is, and the question it is to answer.
    sent = detector.requests[0]
    assert sent["media_type"] == "image" and sent["mime_type"] == "image/png"
    assert sent["info"]["width"] == 120 and sent["question"]["labels"] == ["vehicle", "person"]

    errors = {e.loc[0]: e for e in result.errors}
    assert set(errors) == {ids["broken-answer.png"], ids["outside.png"]}
    garbled = errors[ids["broken-answer.png"]]
    assert garbled.type == "bad_answer" and '{"value": ...' in garbled.msg
    assert garbled.input == {"boxes": "no idea what the protocol is"}
    off = errors[ids["outside.png"]]
    assert off.type == "bad_answer" and off.loc[1] == "value" and "outside the 120x80 image" in off.msg
    assert suggestions(store, ids["broken-answer.png"]) == [] and suggestions(store, ids["outside.png"]) == []


def test_a_second_run_resumes_and_answers_in_the_value_shape_are_taken(
    home: tuple[Store, dict[str, str]], detector: Detector
) -> None:
    store, ids = home
    with Prelabeler(store, detector.url + "/detect", agent="box-finder", label_map={"car": "vehicle"}) as p:
        p.run("p", "pics")
        again = p.run("p", "pics")
    assert (again.already, again.suggested, again.failed) == (3, 0, 2)
    assert len(detector.requests) == 5 + 2  # only the two that failed were asked again

    # Another model is another agent: its suggestions sit beside the first one's.
    with Prelabeler(store, detector.url + "/value", agent="other-model") as p:
        other = p.run("p", "pics", question="objects")
    assert other.suggested == 3
    agents = [(a, score) for a, _, _, score in suggestions(store, ids["a.png"])]
    assert sorted(agents) == [("box-finder", 0.9), ("other-model", 0.5)]


def test_retries_and_a_bounded_number_of_requests_in_flight(
    home: tuple[Store, dict[str, str]], detector: Detector
) -> None:
    store, _ = home
    detector.fail_first = 3
    detector.delay = 0.1
    with Prelabeler(
        store, detector.url + "/value", agent="m", concurrency=2, retries=3, backoff=0.01, label_map={}
    ) as p:
        result = p.run("p", "pics")
    assert result.suggested == 3 and result.failed == 2  # the 503s were retried: only the bad answers failed
    assert len(detector.requests) == 5 + 3
    assert detector.max_in_flight == 2


def test_an_endpoint_that_is_down_fails_each_record_and_the_run_ends(home: tuple[Store, dict[str, str]]) -> None:
    store, _ = home
    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/detect"
    with Prelabeler(store, dead, agent="m", retries=1, backoff=0.01, timeout=2) as p:
        result = p.run("p", "pics")
    assert result.failed == 5 and result.suggested == 0
    assert all(e.type == "endpoint_error" and "gave up after 2 attempts" in e.msg for e in result.errors)


def test_cli(home: tuple[Store, dict[str, str]], detector: Detector, tmp_path: Path) -> None:
    store, ids = home
    args = ["media", "prelabel", detector.url + "/detect", "-d", "p/pics", "--model", "box-finder"]
    folder = Path(str(store.engine.url.database)).parent  # the fixture's store, made a home
    assert CliRunner().invoke(app, ["init", str(folder), "--project", "p"]).exit_code == 0
    args += ["--map", "car=vehicle", "--home", str(folder)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "3 suggested" in result.output and "2 failed" in result.output and "1 not applicable" in result.output
    assert ids["outside.png"] in result.output  # each failure names its record
    assert suggestions(store, ids["c.png"])[0][2] == [{"label": "vehicle", "box": [0, 0, 16, 16]}]


def test_media_sent_by_url_is_fetched_from_thresher_with_a_key(
    home: tuple[Store, dict[str, str]], detector: Detector
) -> None:
    store, ids = home
    pid = store.get_project("p").id
    assert pid is not None
    _, key = store.accounts.create_key(pid, "engineer", "detector")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thresher_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(store, Settings(cookie_secure=False)), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        options: dict[str, Any] = {"send": "url", "media_url": thresher_url, "retries": 0}
        with Prelabeler(store, detector.url + "/value", agent="by-url", **options) as p:
            keyless = p.run("p", "pics")
        assert keyless.suggested == 0 and keyless.failed == 5  # Thresher refused the endpoint without a key
        assert all(e.type == "endpoint_error" and "HTTP 502" in e.msg for e in keyless.errors)
        options["media_headers"] = {"Authorization": f"Bearer {key}"}
        with Prelabeler(store, detector.url + "/value", agent="by-url", **options) as p:
            result = p.run("p", "pics")
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert (result.suggested, result.failed) == (3, 2)
    assert "data" not in detector.requests[-1] and detector.requests[-1]["url"].startswith(thresher_url)
    assert suggestions(store, ids["b.png"])[0][2] == [{"label": "vehicle", "box": [50, 30, 40, 25]}]
