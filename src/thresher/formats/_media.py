"""Shared by the media annotation formats (COCO, YOLO, VOC, MOT, WebVTT, SRT, RTTM).

These formats write files of their own (``Format.writes_files``): ``to_rows`` turns a media record
and its answers into an intermediate row, and ``write_files`` lays the rows out as the format
wants them, copying the media bytes where the format carries them. Which answers: the first
question of the type the format needs, and per record the latest submitted response answering it
(``--answers consensus`` gives one merged response per record instead).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.model import Question

_EXT = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "audio/wav": ".wav",
    "audio/flac": ".flac",
    "audio/mpeg": ".mp3",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "video/quicktime": ".mov",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def question_of(ctx: ExportContext, *types: str) -> Question | None:
    """The first of the dataset's questions of one of ``types``."""
    return next((q for q in ctx.questions if q.type in types), None)


def answer(item: ExportItem, qname: str) -> Any:
    """The latest submitted answer to ``qname`` among the record's responses, or None."""
    best: tuple[datetime | str, Any] | None = None
    for r in item.responses:
        if r.status != "submitted" or qname not in r.answers:
            continue
        when = r.updated_at or r.created_at or ""
        if best is None or str(when) >= str(best[0]):
            best = (when, r.answers[qname])
    return best[1] if best else None


def media_name(item: ExportItem, default_ext: str = "") -> str:
    """A file name for the record's media: its imported name (``metadata.file_name``), else its hash."""
    import orjson

    meta = orjson.loads(item.metadata_json) if item.metadata_json not in ("{}", "") else {}
    name = meta.get("file_name") if isinstance(meta.get("file_name"), str) else None
    blob = item.content().get("blob", {})
    ext = _EXT.get(blob.get("mime_type") or "", default_ext)
    if name:
        parts = [_UNSAFE.sub("_", p) for p in PurePosixPath(name).parts if p not in ("", ".", "..", "/")]
        if parts:
            return "/".join(parts)
    digest = blob.get("sha256") or str(blob.get("uri", "")).rsplit("/", 1)[-1] or item.id
    return f"{digest[:16]}{ext}"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``... when another file already has it (case-insensitive)."""
    p = PurePosixPath(name)
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = str(p.with_name(f"{p.stem}-{n}{p.suffix}"))
    taken.add(candidate.lower())
    return candidate


def copy_blob(ctx: ExportContext, uri: str, dst: Path) -> None:
    """Copy a blob's bytes to ``dst``; a reference that is not a stored blob (a URL) is skipped."""
    if ctx.open_blob is None or not uri.startswith("blob://"):
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    with ctx.open_blob(uri) as src, dst.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def seconds(t: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` (WebVTT) or ``HH:MM:SS,mmm`` (SRT)."""
    ms = round(t * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


class MediaFormat(Format):
    """A media annotation format: written as files by ``write_files``; read by ``thresher media`` commands."""

    kinds = ("media",)
    training = False  # annotation files, not chat training rows: the text leakage guard does not apply
    writes_files = True
    default_container = "json"
    question_types: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ("image", "video", "audio")

    def sniff(self, row: dict[str, Any]) -> bool:
        return False  # never auto-detected among row formats

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise RowError(f"{self.name} files are imported with `thresher media import-annotations`", type="bad_option")

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if item.content().get("media_type") not in self.media_types:
            return f"{self.name} holds {' / '.join(self.media_types)} only"
        if question_of(ctx, *self.question_types) is None:
            return f"the dataset has no {' or '.join(self.question_types)} question for {self.name}"
        return f"no submitted answer for {self.name}"


def interpolate_track(
    keyframes: list[dict[str, Any]], last_frame: int | None = None
) -> Iterator[tuple[int, list[float]]]:
    """Every frame's box of a track: linear between keyframes, none while a keyframe says ``outside``.

    The last keyframe (when not outside) holds to ``last_frame`` if given, else for its own frame only.
    """
    for k, nxt in zip(keyframes, [*keyframes[1:], None], strict=True):
        if k.get("outside"):
            continue
        a, box = k["frame"], k["box"]
        if nxt is None:
            for f in range(a, (last_frame if last_frame is not None else a) + 1):
                yield f, list(box)
            continue
        b, box2 = nxt["frame"], nxt["box"]
        for f in range(a, b):
            t = (f - a) / (b - a)
            yield f, [round(v + (w - v) * t, 3) for v, w in zip(box, box2, strict=True)]


def timed_segments(item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]] | None:
    """Transcript segments, or else text-carrying timeline segments, sorted by start."""
    q = question_of(ctx, "transcript") or question_of(ctx, "timeline_segment")
    if q is None:
        return None
    segs = answer(item, q.name)
    if not segs:
        return None
    return sorted(segs, key=lambda s: (s["start"], s["end"]))


def stem_of(name: str) -> str:
    """A file id without folders or extension and with no spaces (RTTM, MOT sequence names)."""
    return _UNSAFE.sub("_", PurePosixPath(name).stem) or "media"


# -- media in chat rows (LLaMA-Factory's `images` / `videos` / `audios` columns) -------------------

PLACEHOLDERS = {"image": "<image>", "video": "<video>", "audio": "<audio>"}
MEDIA_COLUMNS = {"images": "image", "videos": "video", "audios": "audio"}
_PLACEHOLDER = re.compile(r"(<image>|<video>|<audio>)")
MEDIA_DIR = "media"


def with_media_parts(messages: list[dict[str, Any]], row: dict[str, Any]) -> list[dict[str, Any]]:
    """Turn ``<image>`` / ``<video>`` / ``<audio>`` placeholders into media parts, taking the files from the
    row's ``images`` / ``videos`` / ``audios`` lists in order (as LLaMA-Factory does); counts must match."""
    queues: dict[str, list[str]] = {}
    for column, kind in MEDIA_COLUMNS.items():
        files = row.get(column)
        if files is None:
            continue
        if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
            raise RowError(f"expected a list of file paths or URLs in {column}", (column,), "wrong_type", files)
        queues[kind] = list(files)
    if not queues:
        return messages
    used = dict.fromkeys(queues, 0)
    out = []
    for m in messages:
        text = m.get("content")
        if not isinstance(text, str) or not _PLACEHOLDER.search(text):
            out.append(m)
            continue
        parts: list[dict[str, Any]] = []
        for piece in _PLACEHOLDER.split(text):
            found = next((k for k, tag in PLACEHOLDERS.items() if tag == piece), None)
            if found is None:
                if piece:
                    parts.append({"type": "text", "text": piece})
                continue
            kind = found
            files = queues.get(kind, [])
            if used.get(kind, 0) >= len(files):
                column = f"{kind}s"
                raise RowError(f"more {piece} placeholders than files in {column}", (column,), "media_mismatch")
            parts.append({"type": kind, kind: {"uri": files[used[kind]]}})
            used[kind] += 1
        out.append({**m, "content": parts})
    for kind, files in queues.items():
        if used[kind] != len(files):
            column = f"{kind}s"
            msg = (
                f"{column} has {len(files)} file(s) but the turns hold {used[kind]} {PLACEHOLDERS[kind]} placeholder(s)"
            )
            raise RowError(msg, (column,), "media_mismatch")
    return out


def media_placeholders(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """The reverse: media parts become placeholders in the text and files in ``images`` / ``videos`` / ``audios``.

    A stored blob is written as ``media/<sha256><ext>`` (``copy_media_files`` puts the file there); a path or
    URL stays as it was."""
    columns: dict[str, list[str]] = {}
    out = []
    for m in messages:
        content = m.get("content")
        if not isinstance(content, list) or all(p.get("type") == "text" for p in content):
            out.append(m)
            continue
        text = []
        for p in content:
            kind = p.get("type")
            if kind == "text":
                text.append(p.get("text", ""))
                continue
            ref = p[kind]
            uri = ref["uri"]
            if uri.startswith("blob://sha256/"):
                uri = f"{MEDIA_DIR}/{uri.rsplit('/', 1)[-1]}{_EXT.get(ref.get('mime_type') or '', '')}"
            columns.setdefault(f"{kind}s", []).append(uri)
            text.append(PLACEHOLDERS[kind])
        out.append({**m, "content": "".join(text)})
    return out, columns


def copy_media_files(rows: Iterator[dict[str, Any]], folder: Path, ctx: ExportContext) -> int:
    """Copy the stored blobs that exported rows name as ``media/<sha256><ext>`` into ``folder/media/``."""
    n = 0
    for row in rows:
        for column in MEDIA_COLUMNS:
            for path in row.get(column) or []:
                if isinstance(path, str) and path.startswith(f"{MEDIA_DIR}/"):
                    dst = folder / path
                    if not dst.exists():
                        copy_blob(ctx, "blob://sha256/" + PurePosixPath(path).stem, dst)
                        n += 1
    return n
