"""The media task views in Chromium, on media the tests make (Pillow, PyAV H.264, espeak-ng speech
or numpy tones), uploaded through the API: draw a box and a polygon on an image (and correct a
model's suggested box), segment a video by keyboard, follow an object across frames, mark two
speakers on a waveform and transcribe them. Each answer is submitted and read back from the
server, which validated it on submit; then the `make demo` media datasets open in each view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from web_support import Api, WebServer, login, page_errors, shot

pytest.importorskip("PIL")
pytest.importorskip("av")
pytest.importorskip("soundfile")

from thresher.media import synth

PROJECT = "mediaviews"
IMAGE = (320, 240)
VIDEO = {"seconds": 3.0, "fps": 10, "size": (160, 120)}
SPEECH = [("A", "en", "Good morning, the train leaves at nine."), ("B", "en+f3", "Is there a seat by the window?")]
PAD, GAP = 0.3, 0.6  # silence before the first speaker and between the two

DATASETS: dict[str, list[dict[str, Any]]] = {
    "images": [{"type": "region", "name": "objects", "labels": ["car", "person"], "shapes": ["box", "polygon"]}],
    "masks": [{"type": "region", "name": "objects", "labels": ["road", "sky"], "shapes": ["mask"]}],
    "clips": [{"type": "timeline_segment", "name": "events", "labels": ["walk", "jump"], "with_text": True}],
    "tracks": [{"type": "track", "name": "objects", "labels": ["box", "ball"]}],
    "speech": [{"type": "transcript", "name": "transcript", "speakers": ["A", "B"]}],
}


def _speech(d: Path) -> tuple[Path, list[tuple[float, float]]]:
    """Two speakers in turn (espeak-ng voices, or tones without it), and the span each speaks."""
    import numpy as np
    import soundfile as sf

    rate = 16000
    parts, spans, t = [np.zeros(int(PAD * rate), dtype="float32")], [], PAD
    for i, (_, voice, text) in enumerate(SPEECH):
        wav = synth.make_speech(d / f"part-{i}.wav", text, voice=voice, rate=rate)
        if wav is not None:
            data, got = sf.read(wav, dtype="float32", always_2d=True)
            data = data.mean(axis=1)
            assert got == rate
        else:
            data = synth.tone(1.2, rate, 220.0 if i == 0 else 330.0)
        spans.append((t, t + len(data) / rate))
        parts += [data, np.zeros(int(GAP * rate), dtype="float32")]
        t += len(data) / rate + GAP
    path = d / "dialogue.wav"
    sf.write(path, np.concatenate(parts), rate)
    return path, spans


@pytest.fixture(scope="module")
def media(web_server: WebServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("media-views")
    api = Api(web_server.url)
    api.project(PROJECT)
    files = {
        "images": synth.make_image(d / "street.png", IMAGE, boxes=[(30, 40, 100, 60), (200, 50, 60, 120)]),
        "masks": synth.make_image(d / "field.png", IMAGE, boxes=[(0, 150, 320, 90)]),
        "clips": synth.make_video(d / "clip.mp4", VIDEO["seconds"], fps=VIDEO["fps"], size=VIDEO["size"], shots=2),
        "tracks": synth.make_video(d / "moving.mp4", VIDEO["seconds"], fps=VIDEO["fps"], size=VIDEO["size"]),
    }
    files["speech"], spans = _speech(d)
    ids: dict[str, str] = {}
    for name, questions in DATASETS.items():
        api.send("POST", f"/projects/{PROJECT}/datasets", {"name": name, "questions": questions})
        path = files[name]
        r = api.http.post(f"/projects/{PROJECT}/datasets/{name}/media", files={"file": (path.name, path.read_bytes())})
        assert r.is_success, r.text
        (ids[name],) = r.json()["ids"]
    # A detector's pre-annotation of the image: one box, a little off the first object.
    suggestion = {"question": "objects", "value": [{"label": "car", "box": [20, 30, 100, 60]}], "agent": "detector-v1"}
    api.send("POST", f"/projects/{PROJECT}/datasets/images/records/{ids['images']}/suggestions", suggestion)
    return {"api": api, "ids": ids, "spans": spans}


def _stored(api: Api, dataset: str) -> dict[str, Any]:
    (row,) = api.get(f"/projects/{PROJECT}/datasets/{dataset}/queue/history")
    answers: dict[str, Any] = row["answers"]
    return answers


def _open(page: Page, dataset: str) -> Locator:
    login(page)
    page.goto(f"/projects/{PROJECT}/datasets/{dataset}/annotate")
    expect(page.locator(".annotate")).to_have_attribute("data-phase", "ready")
    return page.locator(".task").first


def _submit(page: Page) -> None:
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()


def _close(got: list[float], want: list[float], tol: float) -> bool:
    return len(got) == len(want) and all(abs(a - b) <= tol for a, b in zip(got, want, strict=True))


def test_draw_a_box_and_a_polygon_and_correct_a_suggestion(page: Page, media: dict[str, Any]) -> None:
    errors = page_errors(page)
    task = _open(page, "images")
    expect(task).to_have_attribute("data-width", str(IMAGE[0]))
    img = task.locator(".stage img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    # The suggestion is drawn dashed and is not an answer until accepted (a).
    expect(task.get_by_test_id("suggestion")).to_contain_text("detector-v1")
    expect(task.locator("g.shape.preview")).to_have_count(1)
    page.keyboard.press("a")
    expect(task.locator("ul.list li")).to_have_count(1)

    stage = task.locator(".stage svg").bounding_box()
    assert stage is not None
    scale = stage["width"] / IMAGE[0]  # CSS px per image px: the drawing is shown scaled

    def at(x: float, y: float) -> tuple[float, float]:
        return stage["x"] + x * scale, stage["y"] + y * scale

    def drag(a: tuple[float, float], b: tuple[float, float]) -> None:
        page.mouse.move(*at(*a))
        page.mouse.down()
        page.mouse.move(*at((a[0] + b[0]) / 2, (a[1] + b[1]) / 2), steps=3)
        page.mouse.move(*at(*b), steps=3)
        page.mouse.up()

    # Correct the suggested box: drag it 10 px right and 10 px down onto the car.
    drag((60, 50), (70, 60))
    # A new box, then 2 relabels it (the drawn box is selected).
    drag((200, 50), (260, 170))
    page.keyboard.press("2")
    # A polygon: p, three clicks, Enter.
    page.keyboard.press("p")
    for x, y in ((150, 150), (190, 150), (170, 200)):
        page.mouse.click(*at(x, y))
    page.wait_for_timeout(900)  # the shell counts changes within 0.8 s as one undo step
    page.keyboard.press("Enter")
    expect(task.locator("ul.list li")).to_have_count(3)
    # Undo and redo are the shell's: the polygon goes, and comes back.
    page.keyboard.press("Control+z")
    expect(task.locator("ul.list li")).to_have_count(2)
    page.keyboard.press("Control+Shift+z")
    expect(task.locator("ul.list li")).to_have_count(3)
    shot(page, "task-media-regions")
    _submit(page)

    regions = _stored(media["api"], "images")["objects"]
    assert [r["label"] for r in regions] == ["car", "person", "person"]  # 2 also chose the next shapes' label
    assert _close(regions[0]["box"], [30, 40, 100, 60], 1.5), regions[0]
    assert _close(regions[1]["box"], [200, 50, 60, 120], 1.5), regions[1]
    assert len(regions[2]["polygon"]) == 3
    for got, want in zip(regions[2]["polygon"], ((150, 150), (190, 150), (170, 200)), strict=True):
        assert _close(got, list(want), 1.5), regions[2]
    assert errors == []


def test_paint_a_mask_stored_as_coco_rle(page: Page, media: dict[str, Any]) -> None:
    import numpy as np
    from pycocotools import mask as coco_mask

    errors = page_errors(page)
    task = _open(page, "masks")
    expect(task).to_have_attribute("data-tool", "mask")  # the question's only shape
    stage = task.locator(".stage svg").bounding_box()
    assert stage is not None
    scale = stage["width"] / IMAGE[0]
    brush = 8  # the default radius, in image pixels
    page.keyboard.press("2")  # sky
    # One horizontal stroke from (60, 60) to (200, 60), then Enter saves it.
    page.mouse.move(stage["x"] + 60 * scale, stage["y"] + 60 * scale)
    page.mouse.down()
    page.mouse.move(stage["x"] + 200 * scale, stage["y"] + 60 * scale, steps=10)
    page.mouse.up()
    page.keyboard.press("Enter")
    expect(task.locator("ul.list li")).to_contain_text("mask 320×240")
    shot(page, "task-media-mask")
    _submit(page)

    (region,) = _stored(media["api"], "masks")["objects"]
    assert region["label"] == "sky" and region["mask"]["size"] == [IMAGE[1], IMAGE[0]]
    # pycocotools reads the RLE (column-major counts) back into the painted stroke.
    rle = coco_mask.frPyObjects(region["mask"], IMAGE[1], IMAGE[0])
    m = coco_mask.decode(rle)
    ys, xs = np.nonzero(m)
    assert abs(xs.min() - (60 - brush)) <= 2 and abs(xs.max() - (200 + brush)) <= 2
    assert abs(ys.min() - (60 - brush)) <= 2 and abs(ys.max() - (60 + brush)) <= 2
    want = 140 * 2 * brush + np.pi * brush**2  # a capsule: the stroke and its round ends
    assert abs(float(coco_mask.area(rle)) - want) / want < 0.1
    assert errors == []


# In about one run in twelve here, headless Chromium's player stays seeking (readyState 1) after
# the frame steps below and never plays; waiting for the seek to land first did not change that
# rate, and h11 or httptools serving the ranges made no difference either. Known, not understood:
# a rerun must pass whole.
@pytest.mark.flaky(reruns=2, only_rerun=["AssertionError", "TimeoutError"])
def test_segment_a_video_by_keyboard(page: Page, media: dict[str, Any]) -> None:
    errors = page_errors(page)
    # A rerun (see the mark) starts from an empty draft, not from the failed attempt's segments.
    held = media["api"].send("POST", f"/projects/{PROJECT}/datasets/clips/queue/next")
    media["api"].send("PUT", f"/projects/{PROJECT}/assignments/{held['assignment']['id']}/draft", {"answers": {}})
    task = _open(page, "clips")
    expect(task).to_have_attribute("data-ready", "true")
    video = task.locator("video")
    # H.264 plays in this Chromium: the first frame decodes at the video's size.
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth === 160", arg=video.element_handle())

    def press(key: str, times: int = 1) -> None:
        for _ in range(times):
            page.keyboard.press(key)

    press(".", 5)  # frame 5 at 10 fps
    expect(task).to_have_attribute("data-time", "0.5")
    press("[")
    press(".", 10)
    press("]")
    press("2")  # the new segment is selected: 2 makes it a jump
    press("t")
    page.keyboard.type("jumps over the bench")
    press("Enter")
    press("Shift+.")  # a second on
    press("[")
    press(".", 3)
    press(",")
    press("]")  # 2.5 .. 2.7, with the current label (jump), then 1 relabels it
    press("1")
    expect(task.locator("ol.list li")).to_have_count(2)
    expect(task.locator(".strip .seg")).to_have_count(2)
    # Space plays, and the clock moves; space pauses.
    before = float(task.get_attribute("data-time") or 0)
    press(" ")
    # A loaded machine can take seconds to start playback in headless Chromium.
    try:
        page.wait_for_function(f"el => Number(el.dataset.time) !== {before}", arg=task.element_handle(), timeout=20_000)
    except PlaywrightTimeout:  # (seen once in a while: say what the player was doing, for the next look)
        state = video.evaluate("v => ({paused: v.paused, t: v.currentTime, ready: v.readyState, seeking: v.seeking})")
        focus = page.evaluate("document.activeElement && document.activeElement.outerHTML.slice(0, 120)")
        raise AssertionError(f"space did not start the clock at {before}: video {state}, focus {focus}") from None
    press(" ")
    shot(page, "task-media-timeline")
    _submit(page)
    events = _stored(media["api"], "clips")["events"]
    assert events == [
        {"start": 0.5, "end": 1.5, "label": "jump", "text": "jumps over the bench"},
        {"start": 2.5, "end": 2.7, "label": "walk", "text": ""},
    ]
    assert errors == []


def test_follow_an_object_across_frames(page: Page, media: dict[str, Any]) -> None:
    errors = page_errors(page)
    task = _open(page, "tracks")
    expect(task).to_have_attribute("data-ready", "true")
    w = VIDEO["size"][0]
    svg = task.locator(".stage svg").bounding_box()
    assert svg is not None
    scale = svg["width"] / w

    def at(x: float, y: float) -> tuple[float, float]:
        return svg["x"] + x * scale, svg["y"] + y * scale

    def drag(a: tuple[float, float], b: tuple[float, float]) -> None:
        page.mouse.move(*at(*a))
        page.mouse.down()
        page.mouse.move(*at(*b), steps=4)
        page.mouse.up()

    # make_video's box is 64 px at frame 0 (x=0) and moves 4 px a frame.
    x0, y0, bw, bh = synth.box_at(0, VIDEO["fps"], VIDEO["size"])
    drag((x0 + 2, y0 + 2), (x0 + bw - 2, y0 + bh - 2))
    for _ in range(10):
        page.keyboard.press(".")
    expect(task).to_have_attribute("data-frame", "10")
    x10 = synth.box_at(10, VIDEO["fps"], VIDEO["size"])[0]
    drag((x0 + 30, y0 + 30), (x10 + 30, y0 + 30))  # move the box with the object: a keyframe at 10
    # Halfway, the box is interpolated: its x is halfway between the keyframes.
    for _ in range(5):
        page.keyboard.press(",")
    expect(task).to_have_attribute("data-frame", "5")
    rect = task.locator("g.obj rect").first
    assert abs(float(rect.get_attribute("x") or 0) - (x0 + 2 + (x10 - x0) / 2)) <= 1.5
    # At frame 25 the object leaves the view (o).
    page.keyboard.press("Shift+.")
    page.keyboard.press("Shift+.")
    expect(task).to_have_attribute("data-frame", "25")
    page.keyboard.press("o")
    expect(task.locator("g.obj")).to_have_count(0)
    shot(page, "task-media-track")
    _submit(page)
    (track,) = _stored(media["api"], "tracks")["objects"]
    assert track["track_id"] == "1" and track["label"] == "box"
    frames = [(k["frame"], k["outside"]) for k in track["keyframes"]]
    assert frames == [(0, False), (10, False), (25, True)]
    assert _close(track["keyframes"][0]["box"], [x0 + 2, y0 + 2, bw - 4, bh - 4], 1.5)
    assert _close(track["keyframes"][1]["box"], [x10 + 2, y0 + 2, bw - 4, bh - 4], 1.5)
    assert errors == []


def test_mark_two_speakers_on_a_waveform_and_transcribe(page: Page, media: dict[str, Any]) -> None:
    errors = page_errors(page)
    task = _open(page, "speech")
    expect(task).to_have_attribute("data-ready", "true")
    # The waveform is drawn from the peaks: the canvas has ink on it.
    inked = page.evaluate(
        """c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""",
        task.locator(".wave canvas").element_handle(),
    )
    assert inked > 500
    wave = task.locator(".wave").bounding_box()
    assert wave is not None
    duration = float(page.locator("audio").evaluate("a => a.duration"))

    def x_of(t: float) -> float:
        return wave["x"] + wave["width"] * t / duration

    y = wave["y"] + wave["height"] / 2
    texts = ["Good morning, the train leaves at nine.", "Is there a seat by the window?"]
    for (start, end), key, text in zip(media["spans"], ("1", "2"), texts, strict=True):
        page.mouse.move(x_of(start), y)
        page.mouse.down()
        page.mouse.move(x_of(end), y, steps=5)
        page.mouse.up()
        page.keyboard.press(key)
        page.keyboard.press("t")
        page.keyboard.type(text)
        page.keyboard.press("Enter")
    expect(task.locator(".wave .seg")).to_have_count(2)
    # p plays the selected segment from its start.
    page.keyboard.press("p")
    page.wait_for_function("() => !document.querySelector('audio').paused", timeout=5000)
    page.keyboard.press(" ")
    shot(page, "task-media-transcript")
    _submit(page)

    segments = _stored(media["api"], "speech")["transcript"]
    assert [(s["speaker"], s["text"]) for s in segments] == list(zip(("A", "B"), texts, strict=True))
    per_px = duration / wave["width"]
    for s, (start, end) in zip(segments, media["spans"], strict=True):
        assert abs(s["start"] - start) <= 2 * per_px + 0.01 and abs(s["end"] - end) <= 2 * per_px + 0.01, s
    assert errors == []


def test_the_demo_media_datasets_open_in_their_views(page: Page, web_server: WebServer) -> None:
    from thresher.media.demo import seed_demo_media
    from thresher.store import Store

    store = Store.open(web_server.home)
    try:
        seed_demo_media(store, "media-demo", images=2)
    finally:
        store.close()
    # The speech records are in English: the queue gives them to members who speak it.
    Api(web_server.url).send("PUT", "/projects/media-demo/members/admin", {"role": "owner", "languages": ["en"]})
    errors = page_errors(page)
    login(page)
    for dataset, views in (("images", [".region"]), ("videos", [".timeline", ".track"]), ("speech", [".transcript"])):
        page.goto(f"/projects/media-demo/datasets/{dataset}/annotate")
        expect(page.locator(".annotate")).to_have_attribute("data-phase", "ready")
        for view in views:
            task = page.locator(f".task{view}")
            expect(task).to_be_visible()
            if view != ".region":
                expect(task).to_have_attribute("data-ready", "true")
        if dataset == "images":
            img = page.locator(".task.region .stage img")
            page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=img.element_handle())
        shot(page, f"task-media-demo-{dataset}")
    assert errors == []


def test_the_record_page_shows_the_media_itself(page: Page, media: dict[str, Any]) -> None:
    """The record page previews an image (decoded at its size), a video and an audio file (playable)."""
    errors = page_errors(page)
    login(page)
    page.goto(f"/projects/{PROJECT}/datasets/images/records/{media['ids']['images']}")
    img = page.locator(".record-view img.preview")
    expect(img).to_be_visible()
    page.wait_for_function("() => document.querySelector('img.preview')?.naturalWidth > 0")
    assert img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == list(IMAGE)
    for dataset, tag in (("clips", "video"), ("speech", "audio")):
        page.goto(f"/projects/{PROJECT}/datasets/{dataset}/records/{media['ids'][dataset]}")
        el = page.locator(f".record-view {tag}.preview")
        expect(el).to_be_attached()
        page.wait_for_function(f"() => document.querySelector('{tag}.preview')?.duration > 0")
        assert el.evaluate("e => e.duration") > 2.0
    assert errors == []
