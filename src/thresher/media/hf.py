"""Hugging Face datasets with ``Image`` / ``Audio`` / ``Video`` columns in (a ``save_to_disk`` folder, or
Parquet carrying the features, as the Hub and the ``hf-media`` export write it).

Each row's first media column becomes a ``media`` record (read undecoded: the file's own
bytes are stored, never a re-encoded copy); a text column named like a caption fills ``caption``;
``ClassLabel`` and other scalar columns go to ``metadata``.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from thresher.errors import DataError, ErrorDetail, MissingExtra
from thresher.media.ingest import MediaImportResult
from thresher.media.probe import probe
from thresher.model import Dataset, MediaContent, Record, Source
from thresher.store import Store

_KINDS = {"Image": "image", "Audio": "audio", "Video": "video"}
_EXT = {"image": ".png", "audio": ".wav", "video": ".mp4"}
CAPTION_COLUMNS = ("caption", "text", "sentence", "transcription", "description")


def _datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingExtra("datasets", "hf") from None
    return datasets


def import_hf(store: Store, dataset: Dataset, path: Path, split: str | None = None) -> MediaImportResult:
    """Import a ``save_to_disk`` folder (a Dataset or a DatasetDict); unreadable media are rejected per row."""
    datasets = _datasets()
    try:
        if path.is_file():  # Parquet with the features in its schema (as the Hub and `hf-media` write it)
            loaded = datasets.load_dataset("parquet", data_files=str(path), split="train")
        else:
            loaded = datasets.load_from_disk(str(path))
    except Exception as e:
        raise DataError(f"{path}: not a saved Hugging Face dataset nor its Parquet ({e})") from None
    parts = loaded.items() if isinstance(loaded, datasets.DatasetDict) else [(split, loaded)]
    result = MediaImportResult(folder=str(path), import_id=uuid.uuid4().hex[:16])
    with store.writer(dataset, import_id=result.import_id) as writer:
        for part_split, ds in parts:
            media_cols = {c: _KINDS[type(f).__name__] for c, f in ds.features.items() if type(f).__name__ in _KINDS}
            if not media_cols:
                raise DataError(f"{path}: no Image, Audio or Video column; columns are {list(ds.features)}")
            col, kind = next(iter(media_cols.items()))
            ds = ds.cast_column(col, type(ds.features[col])(decode=False))
            labels = {c: f.names for c, f in ds.features.items() if type(f).__name__ == "ClassLabel"}
            for i, row in enumerate(ds):
                result.files += 1
                value = row[col] or {}
                name = PurePosixPath(value.get("path") or f"{part_split or 'row'}-{i}{_EXT[kind]}").name
                data = value.get("bytes")
                if data is None and value.get("path") and Path(value["path"]).is_file():
                    data = Path(value["path"]).read_bytes()
                try:
                    if data is None:
                        raise DataError(name, [ErrorDetail("missing_media", (name,), "the row has no media bytes")])
                    probed = probe(io.BytesIO(data), name, kind)  # type: ignore[arg-type]
                except DataError as e:
                    detail = e.details[0] if e.details else ErrorDetail("invalid_media", (name,), e.message)
                    result.rejected.append(ErrorDetail(detail.type, (str(path), i + 1, col), detail.msg))
                    continue
                ref = store.blobs.put_bytes(data, probed.mime_type)
                content = MediaContent(media_type=probed.media_type, blob=ref, info=probed.info)
                meta: dict[str, Any] = {"file_name": name}
                for c, v in row.items():
                    if c in media_cols:
                        continue
                    if c in CAPTION_COLUMNS and isinstance(v, str) and content.caption is None:
                        content.caption = v
                    elif c in labels and isinstance(v, int) and 0 <= v < len(labels[c]):
                        meta[c] = labels[c][v]
                    elif isinstance(v, str | int | float | bool) or v is None:
                        meta[c] = v
                source = Source(file=str(path), line=i + 1, format="hf-media", import_id=result.import_id)
                writer.add(Record(content=content, metadata=meta, source=source, split=part_split))
        writer.flush()
        result.added, result.duplicates = writer.added, writer.duplicates
    return result
