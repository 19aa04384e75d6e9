"""Takes of a recording question: upload (annotate access, real audio only, a size limit), then
playback only through an answer the caller may see."""

from __future__ import annotations

import io
import math
import wave
from fractions import Fraction
from typing import TYPE_CHECKING

import av
import numpy as np
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from thresher.model import Record, RecordingQuestion, TextContent
from thresher.server.routers import recordings

if TYPE_CHECKING:
    from tests.server.conftest import Api

API = "/api/v1"
P = f"{API}/projects/studio"
D = f"{P}/datasets/scripts"
SCRIPT = "The quick brown fox jumps over the lazy dog."


def webm_opus(seconds: float, rate: int = 48_000) -> bytes:
    """A sine tone as WebM/Opus, what Chromium's MediaRecorder sends."""
    out = io.BytesIO()
    with av.open(out, "w", format="webm") as c:
        s = c.add_stream("libopus", rate=rate)
        s.layout = "mono"
        n, frame_size = int(seconds * rate), 960
        t = np.arange(n) / rate
        pcm = (0.3 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
        for i in range(0, n, frame_size):
            chunk = pcm[i : i + frame_size]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode(None):
            c.mux(packet)
    return out.getvalue()


def wav(seconds: float, rate: int = 16_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10" * int(seconds * rate))
    return out.getvalue()


def _seed(api: Api) -> tuple[TestClient, TestClient, str]:
    """Project `studio`, dataset `scripts` with one script; the owner and an annotator holding its task."""
    owner = api.member("studio", "owner", "olga")
    question = RecordingQuestion(name="take", tags={"emotion": ["neutral", "happy"]}, max_seconds=10)
    ds = api.store.create_dataset("studio", "scripts", questions=[question])
    api.store.add_records(ds, [Record(content=TextContent(text=SCRIPT))])
    assert owner.put(f"{D}/workflow", json={"overlap": 1}).status_code == 200
    ann = api.member("studio", "annotator", "ann")
    task = ann.post(f"{D}/queue/next").json()
    return owner, ann, task["assignment"]["id"]


def _upload(client: TestClient, rid: str, data: bytes, name: str = "take.webm") -> Response:
    return client.post(f"{D}/records/{rid}/takes", files={"file": (name, data, "audio/webm")})


def test_an_annotator_uploads_takes_submits_one_and_plays_it_back(api: Api) -> None:
    owner, ann, aid = _seed(api)
    rid = ann.get(f"{P}/assignments/{aid}").json()["record"]["id"]
    sent = webm_opus(3.0)  # the muxer writes a random segment uid: keep one copy
    first = ann.post(f"{D}/records/{rid}/takes", files={"file": ("take.webm", sent, "audio/webm")})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["blob"]["uri"].startswith("blob://sha256/") and body["blob"]["mime_type"] == "audio/webm"
    assert body["blob"]["size"] > 1000 and body["duration_s"] == pytest.approx(3.0, abs=0.05)
    second = ann.post(f"{D}/records/{rid}/takes", files={"file": ("t.wav", wav(2.5), "audio/wav")}).json()
    assert second["blob"]["mime_type"] == "audio/wav" and second["duration_s"] == pytest.approx(2.5, abs=0.01)
    # The bytes stored are the bytes sent, by content hash.
    with api.store.blobs.open(body["blob"]["uri"]) as f:
        assert f.read() == sent

    sha = body["blob"]["sha256"]
    take_url = f"{D}/records/{rid}/takes/{sha}"
    assert ann.get(take_url).status_code == 404  # in no answer yet: a hash alone opens nothing
    answer = {"take": {"takes": [body, second], "selected": 0, "tags": {"emotion": "happy"}}}
    assert ann.put(f"{P}/assignments/{aid}/draft", json={"answers": answer}).status_code == 204
    played = ann.get(take_url)
    assert played.status_code == 200 and played.headers["content-type"] == "audio/webm"
    assert played.content == sent
    assert owner.get(take_url).status_code == 404  # someone else's draft stays theirs

    done = ann.post(f"{P}/assignments/{aid}/submit", json={"answers": answer})
    assert done.status_code == 200, done.text
    assert done.json()["answers"]["take"]["takes"][0]["duration_s"] == pytest.approx(3.0, abs=0.05)
    assert owner.get(take_url).content == sent  # a reviewer sees every response
    reviewer = api.member("studio", "reviewer", "rita")
    assert reviewer.get(f"{D}/records/{rid}/takes/{second['blob']['sha256']}").status_code == 200


def test_takes_follow_the_project_roles(api: Api) -> None:
    _, ann, aid = _seed(api)
    rid = ann.get(f"{P}/assignments/{aid}").json()["record"]["id"]
    data = wav(1.0)
    # Another project's annotator does not see this project at all.
    api.store.ensure_project("elsewhere")
    stranger = api.member("elsewhere", "annotator", "sam")
    assert _upload(stranger, rid, data).status_code == 404
    # A take that is in no answer yet is served to no one, a reviewer included.
    reviewer = api.member("studio", "reviewer", "rita")
    sha = _upload(ann, rid, data).json()["blob"]["sha256"]
    assert reviewer.get(f"{D}/records/{rid}/takes/{sha}").status_code == 404
    assert stranger.get(f"{D}/records/{rid}/takes/{sha}").status_code == 404
    # An app key may only capture.
    app = api.key("studio", "app")
    assert _upload(app, rid, data).status_code == 403
    assert api.anonymous().post(f"{D}/records/{rid}/takes", files={"file": ("t.wav", data)}).status_code == 401
    # An engineer may browse records, so needs no task.
    eng = api.member("studio", "engineer", "eve")
    assert _upload(eng, rid, data).status_code == 200
    assert _upload(eng, "nope", data).status_code == 404


def test_unreadable_or_unusable_audio_is_a_422_naming_the_file(api: Api) -> None:
    _, ann, aid = _seed(api)
    rid = ann.get(f"{P}/assignments/{aid}").json()["record"]["id"]
    for data, name, says in (
        (b"not audio at all" * 100, "noise.webm", "cannot decode the audio"),
        (webm_opus(2.0)[:300], "cut.webm", ""),  # truncated in its header
        (wav(0.0), "empty.wav", "no samples"),
        (wav(12.0), "long.wav", "expected at most 10.0 s"),
    ):
        r = ann.post(f"{D}/records/{rid}/takes", files={"file": (name, data, "audio/webm")})
        assert r.status_code == 422, (name, r.text)
        (detail,) = r.json()["error"]["details"]
        assert detail["loc"] == ["file", name] and says in detail["msg"]


def test_a_take_over_the_size_limit_is_a_413(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    _, ann, aid = _seed(api)
    rid = ann.get(f"{P}/assignments/{aid}").json()["record"]["id"]
    monkeypatch.setattr(recordings, "MAX_TAKE_BYTES", 10_000)
    assert _upload(ann, rid, wav(1.0), "t.wav").status_code == 413


def test_a_dataset_without_a_recording_question_takes_no_audio(api: Api) -> None:
    owner = api.member("studio", "owner", "olga")
    ds = api.store.create_dataset("studio", "scripts")
    api.store.add_records(ds, [Record(content=TextContent(text=SCRIPT))])
    (rid,) = [r.id for r in api.store.page_records(ds)]
    r = owner.post(f"{D}/records/{rid}/takes", files={"file": ("t.wav", wav(1.0), "audio/wav")})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["type"] == "no_recording_question"
