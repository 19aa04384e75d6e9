"""RTTM speaker turns (NIST): one file, one ``SPEAKER`` line per transcript segment with a speaker.

``SPEAKER <file-id> 1 <onset> <duration> <NA> <NA> <speaker> <NA> <NA>``: ten space-separated
fields, times in seconds; the file id is the media's file name without extension or spaces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.formats._media import MediaFormat, media_name, stem_of, timed_segments
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.registry import register_format


@register_format
class Rttm(MediaFormat):
    name = "rttm"
    description = "RTTM speaker turns (diarization), one file (transcript answers with speakers)"
    question_types = ("transcript", "timeline_segment")
    media_types = ("audio", "video")
    default_container = "txt"

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        if item.content().get("media_type") not in self.media_types:
            return
        turns = [s for s in timed_segments(item, ctx) or [] if s.get("speaker")]
        if turns:
            yield {"file_id": stem_of(media_name(item)), "turns": turns}

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        with target.open("w", encoding="utf-8") as out:
            for row in rows:
                for s in row["turns"]:
                    speaker = "_".join(str(s["speaker"]).split()) or "unknown"
                    dur = s["end"] - s["start"]
                    out.write(f"SPEAKER {row['file_id']} 1 {s['start']:.3f} {dur:.3f} <NA> <NA> {speaker} <NA> <NA>\n")
