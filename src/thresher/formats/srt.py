"""SubRip (SRT) subtitles: one ``<name>.srt`` per audio or video record, numbered cues, ``HH:MM:SS,mmm``."""

from __future__ import annotations

from typing import Any

from thresher.formats._media import seconds
from thresher.formats.registry import register_format
from thresher.formats.webvtt import WebVtt, cue_text


@register_format
class Srt(WebVtt):
    name = "srt"
    description = "SRT subtitles: one .srt per audio or video (transcript or segment answers)"
    extension = ".srt"

    def render(self, segments: list[dict[str, Any]]) -> str:
        cues = [
            f"{i}\n{seconds(s['start'], ',')} --> {seconds(s['end'], ',')}\n{cue_text(s)}\n"
            for i, s in enumerate(segments, 1)
        ]
        return "\n".join(cues)
