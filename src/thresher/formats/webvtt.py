"""WebVTT captions and transcripts: one ``<name>.vtt`` per audio or video record.

Cues come from the first transcript question (or else a timeline-segment question's segment
texts or labels); a segment's speaker becomes a voice span, ``<v Speaker>text``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.formats._media import MediaFormat, media_name, seconds, stem_of, timed_segments, unique
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.registry import register_format


def cue_text(seg: dict[str, Any]) -> str:
    """The cue's text on one or more lines; never an empty line (that would end the cue) nor ``-->``."""
    text = str(seg.get("text") or seg.get("label") or "").replace("-->", "->")
    lines = [line.strip() for line in text.splitlines() if line.strip()] or ["…"]
    return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@register_format
class WebVtt(MediaFormat):
    name = "webvtt"
    description = "WebVTT captions / transcripts: one .vtt per audio or video (transcript or segment answers)"
    question_types = ("transcript", "timeline_segment")
    media_types = ("audio", "video")
    extension = ".vtt"

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        if item.content().get("media_type") not in self.media_types:
            return
        segs = timed_segments(item, ctx)
        if segs:
            yield {"name": stem_of(media_name(item)), "segments": segs}

    def render(self, segments: list[dict[str, Any]]) -> str:
        cues = []
        for s in segments:
            text = _escape(cue_text(s))
            if s.get("speaker"):
                text = f"<v {_escape(str(s['speaker']))}>{text}"
            cues.append(f"{seconds(s['start'])} --> {seconds(s['end'])}\n{text}\n")
        return "WEBVTT\n\n" + "\n".join(cues)

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        target.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        for row in rows:
            name = unique(row["name"] + self.extension, taken)
            (target / name).write_text(self.render(row["segments"]), encoding="utf-8")
