"""TTS dataset for Hugging Face ``datasets``: Parquet with an ``Audio`` feature, as the Hub stores it.

``datasets.load_dataset("parquet", data_files=...)`` gives ``audio`` back as an ``Audio`` column
(``{bytes, path}``: mono 16-bit PCM WAV at 22,050 Hz, see ``formats/_tts.py``), with ``text`` (the
script), ``normalized_text``, ``speaker`` (who recorded it), ``duration_s``, one string column per tag
set of the recording question (``emotion``, ``style``...; ``tag_<name>`` if the name is taken), ``id``,
``record_id`` and ``split``. Written with pyarrow alone, a few clips per row group.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.formats._tts import clips, recording_question, skip_reason, transcode
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format

TEXT = ("id", "text", "normalized_text", "speaker", "record_id", "split")
_BATCH_ROWS = 64
_BATCH_BYTES = 32 << 20  # a row group's audio: memory stays about this, whatever the dataset's size


def tag_columns(ctx: ExportContext) -> dict[str, str]:
    """Tag name -> its column: the name itself, or ``tag_<name>`` when another column has it."""
    q = recording_question(ctx)
    taken = {"audio", "duration_s", *TEXT}
    return {t: (f"tag_{t}" if t in taken else t) for t in (q.tags if q is not None else {})}


@register_format
class HfTts(Format):
    name = "hf-tts"
    description = "TTS dataset Parquet with an Audio feature (16-bit PCM WAV), text, speaker and tag columns"
    kinds = ("text",)
    training = False  # audio clips, not chat rows: the text leakage guard does not apply
    writes_files = True
    default_container = "parquet"

    def sniff(self, row: dict[str, Any]) -> bool:
        return False

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise RowError("hf-tts files are written only; import audio with `thresher media import-hf`", type="bad_option")

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        yield from clips(item, ctx)

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return skip_reason(item, ctx, self.name)

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        tags = tag_columns(ctx)
        blob = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        features: dict[str, Any] = {"audio": {"_type": "Audio"}, "duration_s": {"dtype": "float64", "_type": "Value"}}
        features |= {c: {"dtype": "string", "_type": "Value"} for c in [*TEXT, *tags.values()]}
        schema = pa.schema(
            [("audio", blob), ("duration_s", pa.float64()), *((c, pa.string()) for c in [*TEXT, *tags.values()])]
        ).with_metadata({b"huggingface": json.dumps({"info": {"features": features}}).encode()})
        with pq.ParquetWriter(target, schema) as writer:
            batch: list[dict[str, Any]] = []
            size = 0
            for clip in rows:
                buf = io.BytesIO()
                seconds = transcode(ctx, clip, buf)
                out = {c: clip[c] for c in TEXT} | {"duration_s": round(seconds, 3)}
                out["audio"] = {"bytes": buf.getvalue(), "path": f"{clip['id']}.wav"}
                out |= {col: clip["tags"].get(t) for t, col in tags.items()}
                batch.append(out)
                size += len(out["audio"]["bytes"])
                if len(batch) >= _BATCH_ROWS or size >= _BATCH_BYTES:
                    writer.write_table(pa.Table.from_pylist(batch, schema))
                    batch, size = [], 0
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema))
