"""Media into a dataset: one file, a folder, or the files that a dataset file's rows reference.

Each file is probed first (a corrupt one never reaches blob storage), then stored by content
hash, so the same bytes are kept once. A file that cannot be read is a reject naming the file:
the rest of the import goes on, and the rejects are listed (and written to a rejects file).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import orjson

from thresher.errors import DataError, ErrorDetail
from thresher.formats import RowError
from thresher.media.probe import media_type_of, probe
from thresher.model import BlobRef, Dataset, MediaContent, Record, Source
from thresher.model.content import MediaType
from thresher.model.record import content_hash
from thresher.store import Store
from thresher.store.blobs import SCHEME, BlobStore

FOLDER_FORMAT = "media-folder"


def ingest(blobs: BlobStore, path: Path, name: str | None = None, media_type: MediaType | None = None) -> MediaContent:
    """Probe ``path`` and store it; the media content of a record. Raises ``DataError`` naming the file."""
    name = name or path.name
    if not path.is_file():
        raise DataError(f"{name}: no such file", [ErrorDetail("missing_media", (name,), "no such file")])
    probed = probe(path, name, media_type)
    ref = blobs.put_file(path, probed.mime_type)
    return MediaContent(media_type=probed.media_type, blob=ref, info=probed.info)


@dataclass
class MediaImportResult:
    folder: str
    import_id: str
    files: int = 0
    added: int = 0
    duplicates: int = 0
    ignored: int = 0  # files that are not media by their extension (sidecars, READMEs)
    rejected: list[ErrorDetail] = field(default_factory=list)
    rejects: Path | None = None

    def counts(self) -> dict[str, int]:
        return {
            "files": self.files,
            "added": self.added,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "rejected": len(self.rejected),
        }


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    files = folder.rglob("*") if recursive else folder.iterdir()
    for p in sorted(files):
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            yield p


def import_folder(
    store: Store,
    dataset: Dataset,
    folder: Path,
    *,
    recursive: bool = True,
    split: str | None = None,
    rejects: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> MediaImportResult:
    """Import every image, video and audio file under ``folder`` as a ``media`` record.

    ``metadata.file_name`` keeps the path inside the folder and ``metadata.folder`` the parent folder's
    name (the class, in an ImageFolder-style layout). Unreadable files are rejected one by one.
    """
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    result = MediaImportResult(folder=str(folder), import_id=uuid.uuid4().hex[:16])
    reject_lines: list[bytes] = []
    with store.writer(dataset, import_id=result.import_id) as writer:
        for path in _walk(folder, recursive):
            rel = path.relative_to(folder).as_posix()
            if media_type_of(rel) is None:
                result.ignored += 1
                continue
            result.files += 1
            try:
                content = ingest(store.blobs, path, rel)
            except DataError as e:
                detail = e.details[0] if e.details else ErrorDetail("invalid_media", (rel,), e.message)
                result.rejected.append(detail)
                reject_lines.append(orjson.dumps({"file": rel, "error": detail.to_dict()}) + b"\n")
                continue
            metadata: dict[str, Any] = {"file_name": rel}
            if path.parent != folder:
                metadata["folder"] = path.parent.name
            source = Source(file=rel, format=FOLDER_FORMAT, import_id=result.import_id)
            writer.add(Record(content=content, metadata=metadata, source=source, split=split))
            if progress is not None:
                progress(result.files)
        writer.flush()
        result.added, result.duplicates = writer.added, writer.duplicates
        writer.log = {"file": str(folder), "format": FOLDER_FORMAT, "counts": result.counts()}
    if reject_lines:
        result.rejects = rejects or folder.with_name(folder.name + ".rejects.jsonl")
        result.rejects.write_bytes(b"".join(reject_lines))
    return result


def ingest_bytes(blobs: BlobStore, data: bytes, name: str, media_type: MediaType | None = None) -> MediaContent:
    """``ingest`` for bytes in memory (a data: URL, an HF dataset cell)."""
    import io

    probed = probe(io.BytesIO(data), name, media_type)
    ref = blobs.put_bytes(data, probed.mime_type)
    return MediaContent(media_type=probed.media_type, blob=ref, info=probed.info)


_DATA_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}


def _data_url(uri: str) -> tuple[str, bytes] | None:
    """``(extension, bytes)`` of a base64 ``data:`` URL, or None."""
    if not uri.startswith("data:") or ";base64," not in uri[:100]:
        return None
    import base64
    import binascii

    head, _, payload = uri.partition(",")
    mime = head[5:].split(";")[0]
    try:
        return _DATA_EXT.get(mime, "." + mime.rsplit("/", 1)[-1]), base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def _local_path(uri: str, base: Path) -> Path | None:
    """The local file a reference names (a relative path or URL, or a ``file:`` URL), or None (http, data, blob)."""
    if uri.startswith(SCHEME) or uri.startswith("data:"):
        return None
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # http(s), s3...: left as a reference, never downloaded
        return None
    path = Path(unquote(parsed.path) if parsed.scheme == "" and "%" in uri else uri)
    return path if path.is_absolute() else base / path


def media_transform(blobs: BlobStore, base: Path) -> Callable[[Record], None]:
    """For ``import_file(transform=...)``: store each local media file a record references, in place.

    References are resolved against ``base`` (the dataset file's folder). A missing or unreadable file
    is a ``RowError`` on that row, naming the file (``--skip-invalid`` keeps the other rows).
    """
    seen: dict[Path, MediaContent] = {}  # a file many rows reference is probed and hashed once

    def store_ref(ref: BlobRef, loc: tuple[str | int, ...], media_type: MediaType | None) -> MediaContent | None:
        inline = _data_url(ref.uri)
        path = _local_path(ref.uri, base) if inline is None else None
        if path is None and inline is None:
            return None
        try:
            if inline is not None:  # a base64 data: URL (OpenAI's inlined images): stored like a file
                content = ingest_bytes(blobs, inline[1], f"inline{inline[0]}", media_type)
            else:
                assert path is not None
                content = seen.get(path) or ingest(blobs, path, ref.uri, media_type)
                seen[path] = content
        except DataError as e:
            msg = e.details[0].msg if e.details else e.message
            shown = ref.uri if len(ref.uri) <= 200 else ref.uri[:48] + "…"  # not a whole data: URL in an error
            raise RowError(f"{shown}: {msg}", (*loc, "uri"), type="invalid_media", input=shown) from None
        ref.uri, ref.sha256, ref.size = content.blob.uri, content.blob.sha256, content.blob.size
        ref.mime_type = ref.mime_type or content.blob.mime_type
        return content

    def transform(record: Record) -> None:
        c = record.content
        changed = False
        if isinstance(c, MediaContent):
            stored = store_ref(c.blob, ("content", "blob"), c.media_type)
            if stored is not None:
                c.info, changed = stored.info, True
            messages = c.context or []
        else:
            messages = getattr(c, "messages", None) or []
        for i, m in enumerate(messages):
            if isinstance(m.content, list):
                for j, part in enumerate(m.content):
                    ref = getattr(part, part.type, None)
                    if isinstance(ref, BlobRef):
                        kind: MediaType = part.type  # type: ignore[assignment]
                        changed = store_ref(ref, ("messages", i, "content", j, part.type), kind) is not None or changed
        if changed:  # the content changed: hash it again
            record.content_hash = content_hash(record.content)
            record._dump = None

    return transform
