"""Records of a dataset: keyset pages with filters, one record, adding records, importing a file."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field, model_validator

from thresher.errors import DataError, ErrorDetail
from thresher.formats import container_for, formats
from thresher.model import Content, Record, RecordKind, Source, TaskType
from thresher.pipeline import import_file
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName, Page, RecordId, StorableJson, Timestamp, storable
from thresher.store import RecordFilter, RecordRow

router = APIRouter(prefix="/projects/{project}/datasets/{dataset}/records", tags=["records"], responses=ERROR_RESPONSES)

MAX_RECORDS_PER_REQUEST = 10_000
MAX_METADATA_FILTERS = 10
SPLIT_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_SEQ = 2**63 - 1  # records.seq is a BIGINT


class RecordCreate(BaseModel):
    """A record as a client sends it: the server computes its id and content hash."""

    model_config = ConfigDict(extra="forbid")

    content: Content
    metadata: StorableJson[dict[str, Any]] = Field(default_factory=dict)
    source: Source = Field(default_factory=Source)
    split: str | None = Field(default=None, pattern=SPLIT_PATTERN)
    task_type: TaskType | None = None
    domains: list[str] = Field(default_factory=list)
    lineage: list[str] = Field(default_factory=list, description="ids of the records this derives from")
    synthetic: bool = False

    @model_validator(mode="after")
    def _storable_content(self) -> RecordCreate:
        storable(self.content.model_dump(mode="json", exclude_none=True))
        return self


class RecordPublic(Record):
    seq: int = Field(description="position in the dataset; the keyset cursor (`after`)")
    created_at: Timestamp | None = None


class RecordsAdded(BaseModel):
    added: int = Field(description="records that were new")
    duplicates: int = Field(description="records whose content the dataset already had")
    ids: list[str] = Field(description="the id of each record sent, in order (new or already there)")


class ImportPublic(BaseModel):
    file: str
    format: str
    container: str
    import_id: str
    rows: int
    added: int
    duplicates: int
    invalid: int
    responses: int


def _public(row: RecordRow) -> RecordPublic:
    return RecordPublic(seq=row.seq, **dict(row.to_record()))


def metadata_filter(request: Request) -> list[tuple[str, str]]:
    """``?metadata.lang=fr&metadata.source.site=x``: equality on metadata values (as text)."""
    pairs = [
        (k.removeprefix("metadata."), v) for k, v in request.query_params.multi_items() if k.startswith("metadata.")
    ]
    if len(pairs) > MAX_METADATA_FILTERS:
        raise DataError(f"at most {MAX_METADATA_FILTERS} metadata filters")
    return pairs


@router.get(
    "",
    response_model=Page[RecordPublic],
    summary="A page of records, in insertion order",
    description=(
        "Keyset pagination: pass the `next` of a page as `after` to get the following one. Filters combine "
        "with AND; a repeated `kind`, `split` or `task_type` matches any of its values. "
        "`metadata.<path>=<value>` (e.g. `metadata.lang=fr`, `metadata.source.site=x`) keeps records whose "
        "metadata value at that dotted path equals the value as text (`true`/`false` for booleans). "
        "`q` keeps records whose content contains the text."
    ),
    openapi_extra={"x-thresher-action": "browse"},
)
def list_records(
    dataset: DatasetName,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    metadata: Annotated[list[tuple[str, str]], Depends(metadata_filter)],
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="cursor: the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    kind: Annotated[list[RecordKind] | None, Query()] = None,
    split: Annotated[list[Annotated[str, Field(pattern=SPLIT_PATTERN)]] | None, Query()] = None,
    task_type: Annotated[list[TaskType] | None, Query()] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="text the content contains")] = None,
) -> Page[RecordPublic]:
    ds = dataset_of(store, ctx, dataset)
    flt = RecordFilter(kinds=kind or (), splits=split or (), task_types=task_type or (), metadata=metadata, text=q)
    rows = store.page_records(ds, flt=flt, after=after, limit=limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=[_public(r) for r in rows], next=rows[-1].seq if more else None)


@router.get("/{record_id}", response_model=RecordPublic, openapi_extra={"x-thresher-action": "browse"})
def get_record(
    dataset: DatasetName, record_id: RecordId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]
) -> RecordPublic:
    return _public(store.get_dataset_record(dataset_of(store, ctx, dataset), record_id))


@router.post(
    "",
    response_model=RecordsAdded,
    summary="Add records (all or none; content already in the dataset is skipped)",
    openapi_extra={"x-thresher-action": "write"},
)
def add_records(
    dataset: DatasetName,
    records: Annotated[list[RecordCreate], Body(min_length=1, max_length=MAX_RECORDS_PER_REQUEST)],
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.WRITE)],
) -> RecordsAdded:
    ds = dataset_of(store, ctx, dataset)
    with store.writer(ds) as writer:
        ids = [writer.add(Record(**dict(r))) for r in records]
    if writer.added:
        assert ctx.project.id is not None
        payload = {"project": ds.project, "dataset": ds.name, "added": writer.added, "via": "api"}
        emit(store, ctx.project.id, "records.added", payload)
    return RecordsAdded(added=writer.added, duplicates=writer.duplicates, ids=ids)


def _upload_name(filename: str | None) -> str:
    """The uploaded file's base name, reduced to safe characters (it names the file in errors)."""
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", base)[-128:]
    return safe if safe and not safe.startswith(".") else f"upload{safe if safe.startswith('.') else ''}"


@router.post(
    "/import",
    response_model=ImportPublic,
    summary="Import a file (JSONL, JSON, CSV, Parquet, text): all rows or none",
    description=(
        "The format is detected from the rows unless `format` is given. On invalid rows nothing is written "
        "and the 422 names each bad row's file, line and field in `error.details[].loc`."
    ),
    openapi_extra={"x-thresher-action": "write"},
)
def import_records(
    dataset: DatasetName,
    file: Annotated[UploadFile, File(description="the file; its extension chooses the container")],
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.WRITE)],
    fmt: Annotated[str | None, Form(alias="format", max_length=64, description="a format name")] = None,
    split: Annotated[str | None, Form(pattern=SPLIT_PATTERN)] = None,
    task_type: Annotated[TaskType | None, Form()] = None,
) -> ImportPublic:
    ds = dataset_of(store, ctx, dataset)
    if fmt is not None and fmt not in formats():
        known = ", ".join(formats())
        raise DataError(
            f"unknown format {fmt!r}", [ErrorDetail("unknown_format", ("format",), f"expected one of: {known}", fmt)]
        )
    name = _upload_name(file.filename)
    with tempfile.TemporaryDirectory(prefix="thresher-upload-") as tmp:
        path = Path(tmp) / name
        box = container_for(path)  # by extension: an unknown one fails here, before anything is copied
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)  # the upload is spooled to disk; copy it in chunks
        result = import_file(store, ds, path, fmt=fmt, container=box.name, split=split, task_type=task_type)
    if result.added:
        assert ctx.project.id is not None
        payload = {"project": ds.project, "dataset": ds.name, "added": result.added, "via": "import", "file": name}
        emit(store, ctx.project.id, "records.added", payload)
    return ImportPublic(
        file=name, container=box.name, **result.counts(), format=result.format, import_id=result.import_id
    )
