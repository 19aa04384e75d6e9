"""LJSpeech-style TTS folder from recorded scripts: ``wavs/<id>.wav`` and ``metadata.csv``.

``metadata.csv`` has no header, one clip per line, ``id|text|normalized text`` as LJSpeech 1.1 has it
(the script on one line; normalized: NFKC with ASCII punctuation). Audio is mono 16-bit PCM WAV at
22,050 Hz, transcoded from whatever the browser recorded (see ``formats/_tts.py``). When the recording
question has tag sets (emotion, style), ``tags.csv`` beside it gives ``id,speaker,<tag>...`` per clip
(a separate file: tools that read ``metadata.csv`` expect exactly three columns).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from thresher.formats._tts import clips, recording_question, skip_reason, transcode
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format


@register_format
class LJSpeech(Format):
    name = "ljspeech"
    description = "TTS dataset, LJSpeech layout: wavs/<id>.wav (16-bit PCM) and metadata.csv id|text|normalized"
    kinds = ("text",)
    training = False  # audio clips, not chat rows: the text leakage guard does not apply
    writes_files = True
    default_container = "json"

    def sniff(self, row: dict[str, Any]) -> bool:
        return False

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise RowError(
            "ljspeech folders are written only; import audio with `thresher media import`", type="bad_option"
        )

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        yield from clips(item, ctx)

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return skip_reason(item, ctx, self.name)

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        q = recording_question(ctx)
        tag_names = list(q.tags) if q is not None else []
        (target / "wavs").mkdir(parents=True, exist_ok=True)
        with ExitStack() as files:
            meta = files.enter_context((target / "metadata.csv").open("w", encoding="utf-8", newline=""))
            tags = None
            if tag_names:
                tags = csv.writer(files.enter_context((target / "tags.csv").open("w", encoding="utf-8", newline="")))
                tags.writerow(["id", "speaker", *tag_names])
            for clip in rows:
                with (target / "wavs" / f"{clip['id']}.wav").open("wb") as wav:
                    transcode(ctx, clip, wav)
                meta.write(f"{clip['id']}|{clip['text']}|{clip['normalized_text']}\n")
                if tags is not None:
                    tags.writerow([clip["id"], clip["speaker"], *(clip["tags"].get(t, "") for t in tag_names)])
