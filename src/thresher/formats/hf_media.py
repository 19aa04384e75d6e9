"""Hugging Face datasets with ``Image`` / ``Audio`` / ``Video`` features, as the Hub stores them: Parquet
whose schema carries the ``datasets`` features (``datasets.load_dataset("parquet", data_files=...)``
gives the columns back as ``Image`` / ``Audio`` / ``Video``). Written with pyarrow alone.

Columns: ``image`` / ``audio`` / ``video`` (``{bytes, path}``: the stored file's own bytes, under its
name; columns no record uses are left out), ``file_name``, ``caption``, ``answers`` (the latest
submitted response's answers as JSON text: boxes, segments, transcripts...) and ``split``.
Imported by ``thresher media import-hf`` (this Parquet or a ``save_to_disk`` folder).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from thresher.formats._media import MediaFormat, media_name
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.registry import register_format

MEDIA = {"image": "Image", "audio": "Audio", "video": "Video"}
TEXT = ("file_name", "caption", "answers", "split")
_BATCH = 256


def _latest_answers(item: ExportItem) -> dict[str, Any] | None:
    submitted = [r for r in item.responses if r.status == "submitted"]
    if not submitted:
        return None
    return max(submitted, key=lambda r: str(r.updated_at or r.created_at or "")).answers


@register_format
class HfMedia(MediaFormat):
    name = "hf-media"
    description = "Hugging Face dataset Parquet with Image / Audio / Video features, captions and answers"
    default_container = "parquet"

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        c = item.content()
        if c.get("media_type") not in MEDIA:
            return
        answers = _latest_answers(item)
        yield {
            "media_type": c["media_type"],
            "uri": c["blob"]["uri"],
            "file_name": media_name(item),
            "caption": c.get("caption"),
            "answers": orjson.dumps(answers).decode() if answers is not None else None,
            "split": item.split,
        }

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return "hf-media holds image, audio and video records only"

    def write_files(self, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext) -> None:
        import pyarrow as pa

        blob = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        full = pa.schema([*((t, blob) for t in MEDIA), *((c, pa.string()) for c in TEXT)])
        used: set[str] = set()
        draft = target.with_name(target.name + ".all")
        try:
            self._write(draft, target, rows, ctx, full, used)
        finally:
            if draft.exists():
                os.remove(draft)

    def _write(
        self, draft: Path, target: Path, rows: Iterator[dict[str, Any]], ctx: ExportContext, full: Any, used: set[str]
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(draft, full) as writer:
            batch: list[dict[str, Any]] = []
            for row in rows:
                data = b""
                if ctx.open_blob is not None and row["uri"].startswith("blob://"):
                    with ctx.open_blob(row["uri"]) as f:
                        data = f.read()
                used.add(row["media_type"])
                out: dict[str, Any] = dict.fromkeys(MEDIA) | {k: row[k] for k in TEXT}
                out[row["media_type"]] = {"bytes": data, "path": row["file_name"]}
                batch.append(out)
                if len(batch) >= _BATCH:
                    writer.write_table(pa.Table.from_pylist(batch, full))
                    batch = []
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, full))
        keep = [t for t in MEDIA if t in used] or ["image"]
        features = {t: {"_type": MEDIA[t]} for t in keep} | {c: {"dtype": "string", "_type": "Value"} for c in TEXT}
        schema = pa.schema([full.field(n) for n in [*keep, *TEXT]]).with_metadata(
            {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
        )
        source = pq.ParquetFile(draft)
        with pq.ParquetWriter(target, schema) as writer:  # row group by row group: memory stays one batch
            for i in range(source.num_row_groups):
                writer.write_table(source.read_row_group(i, columns=[*keep, *TEXT]).cast(schema))
