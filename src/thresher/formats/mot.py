"""MOTChallenge ground truth for object tracks: ``<sequence>/gt/gt.txt`` and ``seqinfo.ini`` per video.

``gt.txt`` has one line per object per frame: ``frame, id, left, top, width, height, conf, class,
visibility`` (frames from 1, pixels; conf 1 = counted; class = 1-based index of the label in the
track question). Boxes between keyframes are interpolated linearly; an ``outside`` keyframe hides
the object until the next keyframe. The video's frames are decoded (PyAV, one at a time, so memory
is bounded by a frame, not the video) into ``img1/000001.jpg ...`` as the MOTChallenge layout has
them; ``seqLength`` and the image size in ``seqinfo.ini`` are those of the decoded frames. A video
that is a URL rather than a stored blob gets no ``img1/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from thresher.errors import DataError, ErrorDetail, MissingExtra
from thresher.formats._media import MediaFormat, answer, interpolate_track, media_name, question_of, stem_of, unique
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.registry import register_format
from thresher.model import TrackQuestion


@register_format
class Mot(MediaFormat):
    name = "mot"
    description = "MOTChallenge tracks: <sequence>/gt/gt.txt + seqinfo.ini per video (track answers)"
    question_types = ("track",)
    media_types = ("video",)

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        c = item.content()
        q = question_of(ctx, "track")
        if c.get("media_type") != "video" or q is None:
            return
        tracks = answer(item, q.name)
        if tracks is None:
            return
        uri = c.get("blob", {}).get("uri", "")
        yield {"name": stem_of(media_name(item)), "info": c.get("info", {}), "tracks": tracks, "uri": uri}

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        q = question_of(ctx, "track")
        labels = list(q.labels) if isinstance(q, TrackQuestion) else []
        taken: set[str] = set()
        target.mkdir(parents=True, exist_ok=True)
        for row in rows:
            seq = unique(row["name"], taken)
            info = row["info"]
            frame_count = info.get("frame_count")
            ids = {t["track_id"]: i for i, t in enumerate(row["tracks"], 1)}
            if all(str(k).isdigit() and int(k) > 0 for k in ids) and len({int(k) for k in ids}) == len(ids):
                ids = {k: int(k) for k in ids}  # numeric ids are kept as they are
            lines: list[tuple[int, int, str]] = []
            for t in row["tracks"]:
                cls = labels.index(t["label"]) + 1 if t["label"] in labels else 0
                for frame, (x, y, w, h) in interpolate_track(t["keyframes"]):
                    if frame_count is not None and frame >= frame_count:
                        break
                    tid = ids[t["track_id"]]
                    lines.append((frame + 1, tid, f"{frame + 1},{tid},{x:g},{y:g},{w:g},{h:g},1,{cls},1"))
            gt = target / seq / "gt" / "gt.txt"
            gt.parent.mkdir(parents=True)
            gt.write_text("".join(line + "\n" for _, _, line in sorted(lines)))
            width, height = info.get("width") or 0, info.get("height") or 0
            if ctx.open_blob is not None and str(row.get("uri", "")).startswith("blob://"):
                with ctx.open_blob(row["uri"]) as src:
                    frame_count, width, height = _write_frames(src, target / seq / "img1", seq)
            fps = info.get("fps") or 25
            ini = [
                "[Sequence]",
                f"name={seq}",
                "imDir=img1",
                f"frameRate={round(fps) if float(fps).is_integer() else fps}",
                f"seqLength={frame_count or (max((f for f, _, _ in lines), default=0))}",
                f"imWidth={width}",
                f"imHeight={height}",
                "imExt=.jpg",
            ]
            (target / seq / "seqinfo.ini").write_text("\n".join(ini) + "\n")
        if labels:
            (target / "labels.txt").write_text("".join(f"{i} {name}\n" for i, name in enumerate(labels, 1)))


def _write_frames(src: IO[bytes], folder: Path, seq: str) -> tuple[int, int, int]:
    """Decode every frame of the video into ``folder/000001.jpg ...``; the frame count and size."""
    try:
        av: Any = importlib.import_module("av")  # untyped where it matters (frame.to_image)
    except ImportError:
        raise MissingExtra("av", "media") from None
    folder.mkdir(parents=True, exist_ok=True)
    n, width, height = 0, 0, 0
    try:
        with av.open(src, mode="r") as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                n += 1
                image = frame.to_image()  # one frame in memory at a time
                width, height = image.size
                image.save(folder / f"{n:06d}.jpg", quality=95)
    except (av.error.FFmpegError, IndexError) as e:  # IndexError: the file has no video stream
        detail = ErrorDetail("invalid_media", (seq, "img1", n + 1), f"cannot decode the video's frames: {e}")
        raise DataError(f"{seq}: the video cannot be decoded into frames", [detail]) from None
    return n, width, height
