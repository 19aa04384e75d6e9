"""Media of a dataset: upload image / video / audio files as records, and serve them to the browser.

Media are served through the record that references them, so access follows the project: the
record must be in the dataset, and a ``blob`` asked for must be one the record references. Blobs
are addressed by content, so responses carry a strong ETag and may be cached for good; audio and
video answer HTTP range requests (seeking in a player).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Annotated, Any

import orjson
from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from thresher.errors import DataError, ErrorDetail
from thresher.model import BlobRef, MediaContent, Record, Source
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName, RecordId
from thresher.store import Store

router = APIRouter(prefix="/projects/{project}/datasets/{dataset}", tags=["media"], responses=ERROR_RESPONSES)

MAX_FILES_PER_REQUEST = 100
_CHUNK = 1 << 16
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CACHE = "private, max-age=31536000, immutable"  # content-addressed: the bytes behind a URL never change


class MediaUploaded(BaseModel):
    added: int = Field(description="records that were new")
    duplicates: int = Field(description="files whose content the dataset already had")
    ids: list[str] = Field(description="the record id of each file stored, in order")
    rejected: list[dict[str, Any]] = Field(description="files that could not be read: `{type, loc, msg}`")


def _safe_name(filename: str | None) -> str:
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", base)[-128:]
    return safe if safe and not safe.startswith(".") else "upload"


@router.post(
    "/media",
    response_model=MediaUploaded,
    summary="Upload media files (images, video, audio) as records; unreadable files are rejected one by one",
    openapi_extra={"x-thresher-action": "write"},
)
def upload_media(
    dataset: DatasetName,
    file: Annotated[list[UploadFile], File(description="one or more media files (repeat the field)")],
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.WRITE)],
    split: Annotated[str | None, Form(pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = None,
) -> MediaUploaded:
    from thresher.media import ingest

    ds = dataset_of(store, ctx, dataset)
    if len(file) > MAX_FILES_PER_REQUEST:
        raise DataError(f"at most {MAX_FILES_PER_REQUEST} files per request", [])
    records: list[Record] = []
    rejected: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="thresher-media-") as tmp:
        for i, upload in enumerate(file):
            name = _safe_name(upload.filename)
            path = Path(tmp) / f"{i}-{name}"
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
            try:
                content = ingest(store.blobs, path, name)
            except DataError as e:
                detail = e.details[0] if e.details else ErrorDetail("invalid_media", (name,), e.message)
                rejected.append(detail.to_dict())
                continue
            source = Source(file=name, format="media-upload")
            records.append(Record(content=content, metadata={"file_name": name}, source=source, split=split))
    ids: list[str] = []
    with store.writer(ds) as w:
        for r in records:
            ids.append(w.add(r))
    return MediaUploaded(added=w.added, duplicates=w.duplicates, ids=ids, rejected=rejected)


def _media_of(store: Store, ctx: ProjectAccess, dataset: str, record_id: str, blob: str | None) -> tuple[BlobRef, str]:
    """The blob to serve (the record's media, or ``blob`` if the record references it) and its media type."""
    ds = dataset_of(store, ctx, dataset)
    record = store.get_dataset_record(ds, record_id).to_record()
    refs: dict[str, tuple[BlobRef, str]] = {}
    c = record.content
    if isinstance(c, MediaContent):
        refs[c.blob.uri] = (c.blob, c.media_type)
    for m in (c.context or []) if isinstance(c, MediaContent) else (getattr(c, "messages", None) or []):
        for part in m.content if isinstance(m.content, list) else []:
            ref = getattr(part, part.type, None)
            if isinstance(ref, BlobRef):
                refs.setdefault(ref.uri, (ref, part.type))
    stored = {uri: v for uri, v in refs.items() if uri.startswith("blob://")}
    if blob is not None:
        if blob not in stored:
            detail = ErrorDetail("no_media", ("blob",), "not a stored blob this record references", blob)
            raise DataError(f"record {record_id} does not reference {blob}", [detail])
        return stored[blob]
    if not stored:
        detail = ErrorDetail("no_media", ("record_id",), "expected a media record, or media parts in its messages")
        raise DataError(f"record {record_id} has no stored media", [detail])
    return next(iter(stored.values()))


def _stream(f: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        f.seek(start)
        left = length
        while left > 0 and (chunk := f.read(min(_CHUNK, left))):
            left -= len(chunk)
            yield chunk
    finally:
        f.close()


@router.get(
    "/records/{record_id}/media",
    summary="The record's media file (or one it references: `blob`), with HTTP range requests",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "a byte range"}},
    openapi_extra={"x-thresher-action": "read"},
)
def get_media(
    dataset: DatasetName,
    record_id: RecordId,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.READ)],
    blob: Annotated[str | None, Query(max_length=100, description="a blob URI the record references")] = None,
    range_: Annotated[str | None, Header(alias="range", include_in_schema=False)] = None,
) -> Response:
    ref, _ = _media_of(store, ctx, dataset, record_id, blob)
    f = store.blobs.open(ref)
    size = f.seek(0, 2)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{ref.sha256 or ref.uri.rsplit("/", 1)[-1]}"',
        "Cache-Control": _CACHE,
    }
    mime = ref.mime_type or "application/octet-stream"
    start, end, status = 0, size - 1, 200
    m = _RANGE.match(range_ or "")
    if m and (m.group(1) or m.group(2)):
        if m.group(1):
            start = int(m.group(1))
            end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
        else:  # the last N bytes
            start = max(0, size - int(m.group(2)))
        if start >= size or end < start:
            f.close()
            return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(_stream(f, start, end - start + 1), status_code=status, media_type=mime, headers=headers)


@router.get(
    "/records/{record_id}/thumbnail",
    summary="A JPEG preview: the image itself or a video's poster frame (made once, then cached)",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
    openapi_extra={"x-thresher-action": "read"},
)
def get_thumbnail(
    dataset: DatasetName,
    record_id: RecordId,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.READ)],
    size: Annotated[int, Query(ge=16, le=1024)] = 256,
    blob: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    from thresher.media import thumbnail

    ref, media_type = _media_of(store, ctx, dataset, record_id, blob)
    if media_type not in ("image", "video"):
        detail = ErrorDetail("no_media", ("record_id",), "audio has waveform peaks, not a thumbnail")
        raise DataError(f"{media_type} has no thumbnail; ask for its peaks", [detail])
    data = thumbnail(store.blobs, ref, media_type, size)  # type: ignore[arg-type]
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": _CACHE})


@router.get(
    "/records/{record_id}/peaks",
    summary="Waveform peaks of the record's audio: `[min0, max0, min1, max1, ...]` (made once, then cached)",
    openapi_extra={"x-thresher-action": "read"},
)
def get_peaks(
    dataset: DatasetName,
    record_id: RecordId,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.READ)],
    buckets: Annotated[int, Query(ge=10, le=20000)] = 1000,
    blob: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    from thresher.media import peaks

    ref, media_type = _media_of(store, ctx, dataset, record_id, blob)
    if media_type != "audio":
        detail = ErrorDetail("no_media", ("record_id",), "only audio has waveform peaks")
        raise DataError(f"{media_type} has no waveform peaks", [detail])
    data: dict[str, Any] = orjson.loads(peaks(store.blobs, ref, buckets))
    return data
