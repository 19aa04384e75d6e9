"""Demo media datasets, made on the spot: images with objects, videos with shots and a moving box,
speech recordings with two speakers (espeak-ng when installed, tones otherwise)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from thresher.media import synth
from thresher.media.ingest import ingest
from thresher.model import (
    ChoiceQuestion,
    Question,
    RatingQuestion,
    Record,
    RegionQuestion,
    Response,
    Source,
    TextQuestion,
    TimelineSegmentQuestion,
    TrackQuestion,
    TranscriptQuestion,
)
from thresher.store import Store

OBJECTS = ["vehicle", "person", "sign"]
SCENES = ["street", "park", "indoor"]
SENTENCES = [
    ("A", "en", "Good morning, the train to the coast leaves at nine."),
    ("B", "en+f3", "Thank you. Is there a seat by the window?"),
]


def _images(tmp: Path, n: int) -> list[tuple[Path, list[tuple[int, int, int, int]]]]:
    out = []
    for i in range(n):
        boxes = [(20 + 15 * i, 30, 80, 60), (180, 100 + 5 * i, 50, 90)]
        out.append((synth.make_image(tmp / f"street-{i:02d}.png", (320, 240), boxes=boxes, seed=i), boxes))
    return out


def _speech(tmp: Path, i: int) -> tuple[Path, list[dict[str, Any]]]:
    """Two speakers in turn, with the segments each one speaks."""
    from thresher.media.audio import load_audio, save_audio

    np = __import__("numpy")
    rate, parts, segments, t = 16000, [], [], 0.0
    for speaker, voice, text in SENTENCES[i % 2 :] + SENTENCES[: i % 2]:
        wav = synth.make_speech(tmp / f"part-{i}-{speaker}.wav", text, voice=voice, rate=rate)
        if wav is not None:
            data, _ = load_audio(wav, mono=True)
        else:  # no espeak-ng: a tone per speaker stands in
            data = synth.tone(1.5, rate, 220.0 if speaker == "A" else 330.0)
        segments.append({"start": round(t, 3), "end": round(t + len(data) / rate, 3), "text": text, "speaker": speaker})
        parts += [data, np.zeros(int(0.4 * rate), dtype="float32")]
        t += len(data) / rate + 0.4
    path = tmp / f"dialogue-{i:02d}.wav"
    save_audio(path, np.concatenate(parts), rate)
    return path, segments


def seed_demo_media(store: Store, project: str, *, images: int = 6, answers: bool = True) -> dict[str, Any]:
    """Create ``images``, ``videos`` and ``speech`` datasets in ``project`` with generated media.

    With ``answers`` a few records carry a submitted response by the user ``demo`` (so every media
    export has rows) and the rest are left for the queues. Returns the datasets and their counts.
    """
    store.ensure_project(project)
    made: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="thresher-media-demo-") as tmpdir:
        tmp = Path(tmpdir)

        img_q: list[Question] = [
            RegionQuestion(name="objects", labels=OBJECTS, shapes=["box", "polygon", "mask"]),
            ChoiceQuestion(name="scene", options=SCENES),
            TextQuestion(name="caption", required=False),
        ]
        ds = store.create_dataset(project, "images", description="object detection, classes, captions", questions=img_q)
        records: list[Record] = []
        labelled: list[tuple[Record, dict[str, Any]]] = []
        for i, (path, boxes) in enumerate(_images(tmp, images)):
            content = ingest(store.blobs, path)
            rec = Record(content=content, metadata={"file_name": path.name}, source=Source(file=path.name))
            records.append(rec)
            x, y, w, h = boxes[1]
            regions = [
                {"label": "vehicle", "box": list(boxes[0])},
                {"label": "person", "polygon": [[x, y], [x + w, y], [x + w // 2, y + h]]},
            ]
            if i < images // 2:
                labelled.append((rec, {"objects": regions, "scene": {"choice": "street"}, "caption": "A street."}))
        made["images"] = _write(store, ds, records, labelled if answers else [])

        vid_q: list[Question] = [
            TimelineSegmentQuestion(name="events", labels=["shot", "action"], with_text=True),
            TrackQuestion(name="tracks", labels=["box"]),
        ]
        ds = store.create_dataset(project, "videos", description="segments and tracks", questions=vid_q)
        records, labelled = [], []
        for i in range(2):
            path = synth.make_video(tmp / f"clip-{i}.mp4", 4.0, fps=10, size=(320, 240), shots=2 + i)
            rec = Record(content=ingest(store.blobs, path), metadata={"file_name": path.name})
            records.append(rec)
            last = 39
            keyframes = [
                {"frame": f, "box": [float(v) for v in synth.box_at(f, 10, (320, 240))], "outside": False}
                for f in (0, 20, last)
            ]
            events = [
                {"start": 0.0, "end": 2.0, "label": "shot", "text": "Blue background."},
                {"start": 2.0, "end": 4.0, "label": "shot", "text": "Red background."},
            ]
            if i == 0:
                labelled.append(
                    (rec, {"events": events, "tracks": [{"track_id": "1", "label": "box", "keyframes": keyframes}]})
                )
        made["videos"] = _write(store, ds, records, labelled if answers else [])

        aud_q: list[Question] = [
            TranscriptQuestion(name="transcript", speakers=["A", "B"]),
            RatingQuestion(name="naturalness", dimension="naturalness", min=1, max=5, required=False),
        ]
        ds = store.create_dataset(project, "speech", description="transcripts and speaker turns", questions=aud_q)
        records, labelled = [], []
        for i in range(2):
            path, segments = _speech(tmp, i)
            rec = Record(content=ingest(store.blobs, path), metadata={"file_name": path.name, "language": "en"})
            records.append(rec)
            if i == 0:
                labelled.append((rec, {"transcript": segments, "naturalness": 4}))
        made["speech"] = _write(store, ds, records, labelled if answers else [])
    return made


def _write(
    store: Store, ds: Any, records: list[Record], labelled: list[tuple[Record, dict[str, Any]]]
) -> dict[str, Any]:
    added = store.add_records(ds, records)
    ids = {r.content_hash: r for r in store.page_records(ds, limit=len(records) + 10)}
    n = 0
    for rec, answers in labelled:
        row = ids.get(rec.content_hash or "")
        if row is not None:
            store.save_response(Response(record_id=row.id, user="demo", answers=answers))
            n += 1
    return {"dataset": f"{ds.project}/{ds.name}", "records": added, "responses": n}
