"""Annotation files in: COCO (boxes, polygons, RLE masks, captions) with its images; WebVTT, SRT and RTTM
transcripts for media records already in the dataset.

Each image becomes a ``media`` record and its objects a response by the ``import`` user to the
dataset's region question (``objects``, made from the file's categories when the dataset has
none); captions (a COCO Captions file) answer a ``caption`` text question. An image that is
missing or unreadable, or whose objects do not fit the question, is rejected alone.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import orjson

from thresher.errors import DataError, ErrorDetail
from thresher.formats.base import IMPORT_USER
from thresher.media.ingest import MediaImportResult, ingest
from thresher.model import Dataset, Question, Record, RegionQuestion, Response, Source, TextQuestion
from thresher.store import Store

COCO_FORMAT = "coco"


def _regions(anns: list[dict[str, Any]], names: dict[int, str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a in anns:
        label = names.get(a.get("category_id", -1))
        if label is None:
            raise ValueError(f"annotation {a.get('id')}: unknown category_id {a.get('category_id')}")
        seg, bbox = a.get("segmentation"), a.get("bbox")
        frame = {"frame": a["frame"]} if isinstance(a.get("frame"), int) else {}
        if isinstance(seg, dict):
            out.append({"label": label, "mask": seg, **frame})
            continue
        polygons = [p for p in seg or [] if isinstance(p, list) and len(p) >= 6]
        if bbox and (not polygons or _is_box(polygons, bbox)):
            out.append({"label": label, "box": [float(v) for v in bbox], **frame})
            continue
        for p in polygons:
            out.append(
                {"label": label, "polygon": [[float(p[i]), float(p[i + 1])] for i in range(0, len(p) - 1, 2)], **frame}
            )
    return out


def _is_box(polygons: list[list[float]], bbox: list[float]) -> bool:
    """A polygon that is the box's own four corners (as Thresher and many tools write boxes)."""
    x, y, w, h = bbox
    corners = [x, y, x + w, y, x + w, y + h, x, y + h]
    return (
        len(polygons) == 1
        and len(polygons[0]) == 8
        and all(abs(a - b) < 1e-3 for a, b in zip(polygons[0], corners, strict=True))
    )


def import_coco(
    store: Store,
    dataset: Dataset,
    annotations: Path,
    images: Path | None = None,
    captions: Path | None = None,
) -> MediaImportResult:
    """Import a COCO file (and optionally its captions file); ``images`` defaults to ``images/`` beside it."""
    try:
        doc = orjson.loads(annotations.read_bytes())
    except (OSError, orjson.JSONDecodeError) as e:
        raise DataError(f"{annotations}: not a readable COCO JSON file ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise DataError(f"{annotations}: expected a COCO object with an `images` list")
    folder = images or annotations.parent / "images"
    names = {c["id"]: c["name"] for c in doc.get("categories", [])}
    by_image: dict[int, list[dict[str, Any]]] = {}
    for a in doc.get("annotations", []):
        by_image.setdefault(a.get("image_id"), []).append(a)
    caps: dict[int, str] = {}
    if captions is not None:
        for a in orjson.loads(captions.read_bytes()).get("annotations", []):
            caps.setdefault(a["image_id"], a["caption"])

    new_questions: list[Question] = []
    region_q = next((q for q in dataset.questions if isinstance(q, RegionQuestion)), None)
    if region_q is None and names:
        region_q = RegionQuestion(name="objects", labels=list(names.values()), shapes=["box", "polygon", "mask"])
        new_questions.append(region_q)
    elif region_q is not None and (missing := [n for n in names.values() if n not in region_q.labels]):
        raise DataError(f"{annotations}: categories {missing} are not labels of question {region_q.name!r}")
    caption_q = next((q for q in dataset.questions if q.type == "text" and "caption" in q.name), None)
    if caption_q is None and caps:
        caption_q = TextQuestion(name="caption", required=False)
        new_questions.append(caption_q)

    result = MediaImportResult(folder=str(folder), import_id=uuid.uuid4().hex[:16])
    with store.writer(dataset, import_id=result.import_id) as writer:
        for i, img in enumerate(doc["images"], 1):
            result.files += 1
            name = str(img.get("file_name", ""))
            try:
                if not name or Path(name).is_absolute() or ".." in Path(name).parts:
                    raise DataError(name, [ErrorDetail("invalid_media", (name,), "expected a relative file_name")])
                content = ingest(store.blobs, folder / name, name)
                record = Record(
                    content=content,
                    metadata={"file_name": name, "coco_id": img.get("id")},
                    source=Source(file=annotations.name, line=i, format=COCO_FORMAT, import_id=result.import_id),
                )
                answers: dict[str, Any] = {}
                if region_q is not None and by_image.get(img.get("id")):
                    answers[region_q.name] = region_q.validate_value(_regions(by_image[img["id"]], names), record)
                if caption_q is not None and img.get("id") in caps:
                    answers[caption_q.name] = caption_q.validate_value(caps[img["id"]], record)
            except DataError as e:
                result.rejected.append(e.details[0] if e.details else ErrorDetail("invalid_media", (name,), e.message))
                continue
            except ValueError as e:  # objects that do not fit the question (pydantic's errors are ValueErrors)
                result.rejected.append(
                    ErrorDetail("invalid_answer", (annotations.name, i, name), str(e).splitlines()[0])
                )
                continue
            writer.add(record, [Response(user=IMPORT_USER, answers=answers)] if answers else [])
        writer.flush()
        result.added, result.duplicates = writer.added, writer.duplicates
    if new_questions:
        store.add_questions(store.get_dataset(dataset.project, dataset.name), new_questions)
    return result


# -- transcripts: WebVTT, SRT, RTTM ------------------------------------------------------------

TRANSCRIPT_EXTENSIONS = (".vtt", ".srt", ".rttm")


def read_transcript(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Segments ``{start, end, text?, speaker?}`` by media file stem: WebVTT (voice spans are speakers) and SRT
    with webvtt-py, RTTM by its ten fields (the file id names the media). The kind is read from the content."""
    name = path.name
    head = path.read_text(encoding="utf-8-sig", errors="replace")[:4096].lstrip()
    kind = "rttm" if head.startswith("SPEAKER ") else "vtt" if head.startswith("WEBVTT") else "srt"
    if kind == "rttm":
        out: dict[str, list[dict[str, Any]]] = {}
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            f = line.split()
            if not f or f[0] != "SPEAKER":
                continue
            if len(f) != 10:
                raise DataError(
                    f"{name}: line {n} has {len(f)} fields",
                    [ErrorDetail("invalid_row", (name, n), "expected 10 fields")],
                )
            try:
                start, dur = float(f[3]), float(f[4])
            except ValueError:
                raise DataError(
                    f"{name}: line {n}",
                    [ErrorDetail("invalid_row", (name, n), "expected onset and duration in seconds")],
                ) from None
            out.setdefault(f[1], []).append({"start": start, "end": round(start + dur, 6), "speaker": f[7], "text": ""})
        return out
    from thresher.media._deps import need

    webvtt = need("webvtt")
    try:
        captions = webvtt.from_srt(str(path)) if kind == "srt" else webvtt.read(str(path))
    except Exception as e:
        msg = f"{name}: not a valid {kind.upper()} file"
        raise DataError(msg, [ErrorDetail("invalid_file", (name,), str(e) or "unreadable cues")]) from None
    segments = []
    for c in captions:
        seg: dict[str, Any] = {"start": _secs(c.start), "end": _secs(c.end), "text": c.text}
        if getattr(c, "voice", None):
            seg["speaker"] = c.voice
        segments.append(seg)
    return {path.stem: segments}


def _secs(stamp: str) -> float:
    h, m, s = stamp.replace(",", ".").split(":")
    return round(int(h) * 3600 + int(m) * 60 + float(s), 3)


def import_transcripts(store: Store, dataset: Dataset, files: list[Path]) -> MediaImportResult:
    """Answer the dataset's transcript question (``transcript``, made if missing) for the media records whose
    file name (``metadata.file_name``) has the transcript's stem, as responses by the ``import`` user. What a
    format lacks (SRT: speakers; RTTM: text) is taken from another response's segment with the same times,
    else RTTM turns get ``…`` as text, for annotators to transcribe."""
    from thresher.model import TranscriptQuestion

    result = MediaImportResult(folder=", ".join(str(f) for f in files), import_id=uuid.uuid4().hex[:16])
    by_stem: dict[str, str] = {}
    for batch in store.iter_records(dataset):
        for r in batch:
            if r.kind == "media":
                file_name = orjson.loads(r.metadata).get("file_name")
                if isinstance(file_name, str):
                    by_stem.setdefault(Path(file_name).stem, r.id)
    q = next((q for q in dataset.questions if isinstance(q, TranscriptQuestion)), None)
    if q is None:
        q = TranscriptQuestion(name="transcript")
        dataset = store.add_questions(store.get_dataset(dataset.project, dataset.name), [q])
    for path in files:
        for stem, segments in read_transcript(path).items():
            result.files += 1
            record_id = by_stem.get(stem)
            if record_id is None:
                result.rejected.append(ErrorDetail("no_media", (path.name, stem), f"no media record named {stem}.*"))
                continue
            known = {  # what other responses say about the same time spans: SRT has no speakers, RTTM no text
                (round(s["start"], 2), round(s["end"], 2)): s
                for r in store.list_responses(record_id)
                for s in r.answers.get(q.name, [])
            }
            for seg in segments:
                other = known.get((round(seg["start"], 2), round(seg["end"], 2)), {})
                seg["text"] = seg.get("text") or other.get("text") or "…"
                if not seg.get("speaker") and other.get("speaker"):
                    seg["speaker"] = other["speaker"]
            try:
                store.save_response(Response(record_id=record_id, user=IMPORT_USER, answers={q.name: segments}))
            except DataError as e:
                detail = e.details[0] if e.details else ErrorDetail("invalid_answer", (path.name,), e.message)
                result.rejected.append(ErrorDetail(detail.type, (path.name, stem, *detail.loc), detail.msg))
                continue
            result.added += 1
    return result
