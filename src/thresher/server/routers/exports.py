"""Exports as background jobs: queue one, watch its progress, download the file, cancel.

A job's state is a row, so its progress survives a page reload and a server restart (a job
that was running when the server died comes back ``failed``, saying so). The file is served as
it was written; a folder result (a saved Hugging Face dataset) is zipped on the fly, and
``?bundle=true`` zips the job's whole folder: the file, its manifest and any companion file
(LLaMA-Factory's ``dataset_info.json``).

``DELETE`` on a queued or running job cancels it (the runner stops after its current batch and
removes what it wrote); on an ended job it removes the job and its files.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import ConfigError, Conflict, NotFound
from thresher.formats import ExportOptions, get_container, get_format
from thresher.model import RecordKind
from thresher.pipeline.exporter import MANIFEST_SUFFIX
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, job_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.jobs import EXPORT, ExportRunner, output_name, remove_folder, zip_stream
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName
from thresher.store.jobs import Job, JobStatus

router = APIRouter(prefix="/projects/{project}", tags=["exports"], responses=ERROR_RESPONSES)

ACTION = {"x-thresher-action": Action.EXPORT.value}
Access = Annotated[ProjectAccess, need(Action.EXPORT)]
JobId = Annotated[str, PathParam(description="export job id", max_length=32)]


class ExportFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: list[RecordKind] = Field(default_factory=list, description="record kinds; empty: all the format takes")
    splits: list[str] = Field(default_factory=list, description="empty: every split")
    task_types: list[str] = Field(default_factory=list, description="empty: every task type")


class ExportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = Field(description="an export format, e.g. trl-conversational, openai-chat, thresher")
    version: str | None = Field(default=None, description="a frozen version of the dataset; default: as it is now")
    container: str | None = Field(default=None, description="file type (jsonl, json, csv, parquet, hf, txt)")
    options: ExportOptions = Field(default_factory=ExportOptions)
    filters: ExportFilters = Field(default_factory=ExportFilters)


class ExportJobPublic(BaseModel):
    id: str
    project: str
    dataset: str
    version: str | None
    format: str
    container: str | None
    options: ExportOptions
    filters: ExportFilters
    status: JobStatus
    progress: int = Field(description="records done")
    total: int | None = Field(description="records to export; known once the job starts")
    error: str | None
    file: str | None = Field(description="the file's name, once done")
    download: str | None = Field(description="path to download the file from, once done")
    manifest: dict[str, Any] | None = Field(
        default=None, description="the export's manifest, once done (on the single-job GET only)"
    )
    created_by: str | None
    created_at: datetime
    updated_at: datetime


def _public(request: Request, project: str, job: Job, *, manifest: bool = False) -> ExportJobPublic:
    p = job.params
    done = job.status == "done" and job.result is not None
    out = ExportJobPublic(
        id=job.id,
        project=project,
        dataset=p["dataset"],
        version=p.get("version"),
        format=p["format"],
        container=p.get("container"),
        options=ExportOptions.model_validate(p.get("options") or {}),
        filters=ExportFilters.model_validate(p.get("filters") or {}),
        status=job.status,
        progress=job.progress,
        total=job.total,
        error=job.error,
        file=p["file"] if done else None,
        download=request.url_for("download_export", project=project, job_id=job.id).path if done else None,
        created_by=job.created_by,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )
    if manifest and done and job.result is not None:
        path = Path(job.result)
        m = path.with_name(path.name + MANIFEST_SUFFIX)
        out.manifest = orjson.loads(m.read_bytes()) if m.is_file() else None
    return out


def _job(store: StoreDep, ctx: ProjectAccess, job_id: str) -> Job:
    return job_of(store, ctx, job_id, EXPORT, "export")


@router.post(
    "/datasets/{dataset}/exports",
    status_code=202,
    response_model=ExportJobPublic,
    summary="Queue an export of a dataset",
    openapi_extra=ACTION,
)
def create_export(
    dataset: DatasetName, body: ExportCreate, request: Request, store: StoreDep, ctx: Access
) -> ExportJobPublic:
    """The job starts queued; poll it (or wait for the ``export.finished`` webhook) until ``done``."""
    ds = dataset_of(store, ctx, dataset)
    try:
        get_format(body.format)
        if body.container:
            get_container(body.container)
    except NotFound as e:
        raise ConfigError(str(e)) from None
    if body.version:
        store.get_version(ds, body.version)  # 404 now rather than a failed job later
    assert ctx.project.id is not None and ds.id is not None
    params = {
        "project": ctx.project.name,
        "dataset": ds.name,
        "format": body.format,
        "version": body.version,
        "container": body.container,
        "options": body.options.model_dump(mode="json"),
        "filters": body.filters.model_dump(mode="json"),
        "file": output_name(ds.name, body.version, body.format, body.container),
    }
    job = store.jobs.create(ctx.project.id, EXPORT, params, dataset_id=ds.id, created_by=ctx.principal.name)
    runner: ExportRunner | None = getattr(request.app.state, "exports", None)
    if runner is not None:
        runner.wake()
    return _public(request, ctx.project.name, job)


@router.get(
    "/exports",
    response_model=list[ExportJobPublic],
    summary="List export jobs, newest first",
    openapi_extra=ACTION,
)
def list_exports(
    request: Request,
    store: StoreDep,
    ctx: Access,
    dataset: Annotated[str | None, Query(description="only this dataset's exports")] = None,
    status: Annotated[JobStatus | None, Query(description="only jobs in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ExportJobPublic]:
    assert ctx.project.id is not None
    dataset_id = dataset_of(store, ctx, dataset).id if dataset else None
    jobs = store.jobs.list_jobs(ctx.project.id, kind=EXPORT, dataset_id=dataset_id, status=status, limit=limit)
    return [_public(request, ctx.project.name, j) for j in jobs]


@router.get(
    "/exports/{job_id}",
    response_model=ExportJobPublic,
    summary="An export job: status, progress, and the manifest once done",
    openapi_extra=ACTION,
)
def get_export(job_id: JobId, request: Request, store: StoreDep, ctx: Access) -> ExportJobPublic:
    return _public(request, ctx.project.name, _job(store, ctx, job_id), manifest=True)


@router.get(
    "/exports/{job_id}/file",
    name="download_export",
    response_class=FileResponse,
    summary="Download a finished export",
    openapi_extra=ACTION,
    responses={200: {"description": "The file; a zip for a folder result or with bundle=true"}},
)
def download_export(
    job_id: JobId,
    store: StoreDep,
    ctx: Access,
    bundle: Annotated[bool, Query(description="a zip of the file, its manifest and companion files")] = False,
) -> Response:
    job = _job(store, ctx, job_id)
    if job.status != "done" or job.result is None:
        raise Conflict(f"export {job_id!r} is {job.status}; only a finished export can be downloaded")
    path = Path(job.result)
    if not path.exists():
        raise NotFound(f"the file of export {job_id!r} is gone from the server")
    if bundle or path.is_dir():
        folder, name = (path.parent, f"{path.name}-{job.id}") if bundle else (path, path.name)
        return StreamingResponse(
            zip_stream(folder, name),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{name}.zip"'},
        )
    return FileResponse(path, filename=path.name)


@router.delete(
    "/exports/{job_id}",
    status_code=204,
    summary="Cancel an export, or remove a finished one and its file",
    openapi_extra=ACTION,
)
def delete_export(job_id: JobId, request: Request, store: StoreDep, ctx: Access) -> None:
    job = _job(store, ctx, job_id)
    if job.active and store.jobs.cancel(job.id):
        return  # the runner stops at its next batch and removes what it wrote
    runner: ExportRunner | None = getattr(request.app.state, "exports", None)
    root = runner.root if runner is not None else (Path(job.result).parent.parent if job.result else None)
    remove_folder(root, job.id)
    store.jobs.delete(job.id)
