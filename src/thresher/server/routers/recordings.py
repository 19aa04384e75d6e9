"""Takes of a `recording` question: audio recorded in the browser for a record's script.

A take is uploaded before it is part of any answer (the annotator listens, retakes, then picks
one), so it is stored on its own: by content hash, after PyAV has decoded it whole (an
unreadable or silent-length file is refused with a 422 naming the file) to measure its duration.
The answer then holds ``{"blob": BlobRef, "duration_s": ...}`` per take.

Access follows the annotation: uploading needs ``annotate`` in the project (the permission
table, as for every route); a take only joins a record through an answer, which the queue
checks. A take is served back only when an answer to the record that the caller may see (their
own drafts and responses; every response for a reviewer) references it, so a content hash
alone opens nothing.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any, BinaryIO, cast

from fastapi import APIRouter, File, Path, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from thresher.errors import DataError, ErrorDetail, NotFound, TooLarge
from thresher.model import BlobRef, Dataset
from thresher.model.questions import RecordingQuestion
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action, allowed
from thresher.server.schemas import DatasetName, RecordId
from thresher.store import Store

router = APIRouter(
    prefix="/projects/{project}/datasets/{dataset}/records/{record_id}/takes",
    tags=["recordings"],
    responses=ERROR_RESPONSES,
)

MAX_TAKE_BYTES = 16 * 1024 * 1024  # a minute of uncompressed 48 kHz stereo is ~11 MB; browsers send Opus
_SLACK_S = 1.0  # a take may run a little past max_seconds (the stop button is pressed by hand)
_CHUNK = 1 << 16
_CACHE = "private, max-age=31536000, immutable"  # content-addressed
# PyAV's container names -> the media type the browser plays it as.
_CONTAINERS = {
    "matroska,webm": "audio/webm",
    "ogg": "audio/ogg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
}
Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the take's sha256")]


class TakeUploaded(BaseModel):
    blob: BlobRef
    duration_s: float = Field(gt=0, description="seconds of audio, measured by decoding it")


def _recording_questions(ds: Dataset) -> list[RecordingQuestion]:
    return [q for q in ds.questions if isinstance(q, RecordingQuestion)]


def _spool(upload: UploadFile) -> IO[bytes]:
    """The upload in a temporary file, refused once it passes the size limit."""
    out = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 (returned open)
    size = 0
    while chunk := upload.file.read(_CHUNK):
        size += len(chunk)
        if size > MAX_TAKE_BYTES:
            out.close()
            raise TooLarge(f"a take is at most {MAX_TAKE_BYTES // (1024 * 1024)} MiB")
        out.write(chunk)
    out.seek(0)
    return out


def _measure(f: IO[bytes], name: str) -> tuple[str, float]:
    """(media type, seconds) of an audio file, decoding every frame: a file that only starts right
    is refused too. MediaRecorder's WebM has no duration in its header, so it is counted."""
    from thresher.media._deps import need as need_module

    av = need_module("av")

    def bad(msg: str) -> DataError:
        return DataError(f"{name}: not a readable audio take", [ErrorDetail("invalid_media", ("file", name), msg)])

    try:
        with av.open(f, "r") as c:
            fmt = c.format.name
            if not c.streams.audio:
                raise bad(f"no audio stream in this {fmt} file; expected a recording")
            samples, rate = 0, 0
            for frame in c.decode(c.streams.audio[0]):
                samples += frame.samples
                rate = frame.sample_rate or rate
    except DataError:
        raise
    except Exception as e:  # PyAV raises InvalidDataError, EOFError, ValueError...
        why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise bad(f"cannot decode the audio ({why}); expected WebM, Ogg, WAV, FLAC, MP3 or MP4 audio") from None
    mime = _CONTAINERS.get(fmt)
    if mime is None:
        raise bad(f"{fmt} files are not taken; expected WebM, Ogg, WAV, FLAC, MP3 or MP4 audio")
    if not samples or not rate:
        raise bad("the audio has no samples; expected a non-empty recording")
    return mime, round(samples / rate, 3)


@router.post(
    "",
    response_model=TakeUploaded,
    summary="Upload one take (an audio file) of a record's script for its recording question",
    openapi_extra={"x-thresher-action": "annotate"},
)
def upload_take(
    dataset: DatasetName,
    record_id: RecordId,
    file: Annotated[UploadFile, File(description="the recorded audio (WebM/Opus from a browser, WAV, FLAC...)")],
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.ANNOTATE)],
) -> TakeUploaded:
    ds = dataset_of(store, ctx, dataset)
    store.get_dataset_record(ds, record_id)  # 404 for a record of another dataset
    questions = _recording_questions(ds)
    if not questions:
        detail = ErrorDetail("no_recording_question", ("dataset",), "expected a dataset with a recording question")
        raise DataError(f"dataset {dataset!r} has no recording question", [detail])
    name = re.sub(r"[^A-Za-z0-9._-]", "_", file.filename or "take")[-64:] or "take"
    with _spool(file) as f:
        mime, seconds = _measure(f, name)
        longest = max(q.max_seconds for q in questions)
        if seconds > longest + _SLACK_S:
            msg = f"the take lasts {seconds:.1f} s; expected at most {longest} s"
            detail = ErrorDetail("too_long", ("file", name), msg)
            raise DataError(f"{name}: the take is too long", [detail])
        f.seek(0)
        ref = store.blobs.put(cast(BinaryIO, f), mime)
    return TakeUploaded(blob=ref, duration_s=seconds)


def _take_refs(answers: dict[str, Any], names: set[str]) -> Iterator[tuple[str, str | None]]:
    """(uri, mime type) of the takes in ``answers`` (drafts are only partly checked: read defensively)."""
    for name in names:
        value = answers.get(name)
        takes = value.get("takes") if isinstance(value, dict) else None
        for take in takes if isinstance(takes, list) else []:
            blob = take.get("blob") if isinstance(take, dict) else None
            if isinstance(blob, dict) and isinstance(blob.get("uri"), str):
                mime = blob.get("mime_type")
                yield blob["uri"], mime if isinstance(mime, str) else None


def _visible_answers(store: Store, ctx: ProjectAccess, record_seq: int, record_id: str) -> Iterator[dict[str, Any]]:
    me = ctx.principal.name
    mine_only = not allowed(ctx.role, Action.REVIEW)
    for r in store.list_responses(record_id, user=me if mine_only else None):
        yield r.answers
    for a in store.annotation.assignments_of_record(record_seq):
        if a.user == me and a.draft:
            yield a.draft


@router.get(
    "/{sha256}",
    summary="A take referenced by an answer to this record that the caller may see",
    response_class=Response,
    responses={200: {"content": {"audio/webm": {}}}},
    openapi_extra={"x-thresher-action": "read"},
)
def get_take(
    dataset: DatasetName,
    record_id: RecordId,
    sha256: Sha256,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.READ)],
) -> Response:
    ds = dataset_of(store, ctx, dataset)
    row = store.get_dataset_record(ds, record_id)
    names = {q.name for q in _recording_questions(ds)}
    uri = f"blob://sha256/{sha256}"
    visible = _visible_answers(store, ctx, row.seq, record_id)
    refs = dict(ref for answers in visible for ref in _take_refs(answers, names))
    if uri not in refs:
        raise NotFound(f"no take {sha256} in an answer to record {record_id!r} that you can see")
    # The type comes from an answer a client wrote: only the audio types this router stores are echoed.
    mime = refs[uri] if refs[uri] in _CONTAINERS.values() else "application/octet-stream"
    f = store.blobs.open(uri)
    size = f.seek(0, 2)
    f.seek(0)
    headers = {"Content-Length": str(size), "ETag": f'"{sha256}"', "Cache-Control": _CACHE}
    return StreamingResponse(_read(f), media_type=mime, headers=headers)


def _read(f: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := f.read(_CHUNK):
            yield chunk
    finally:
        f.close()
