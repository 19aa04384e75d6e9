"""Candidate generation as a background job: an engineer starts one (source prompts, target
dataset, models with their sampling params and N), watches its progress, cancels it.

The server accepts ``openai:`` models only: a ``callable:`` spec would import code into the
server and ``hf:`` would load files from its disk; both stay on the command line
(``thresher generate candidates``). Model servers usually live on the same host or network, so
loopback and private addresses are allowed; link-local (cloud metadata), multicast, reserved and
unspecified addresses are refused, and a job's errors carry a model server's status, never its
response body.
"""

from __future__ import annotations

import ipaddress
import threading
from typing import Annotated, Any

import httpx
import orjson
from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import ConfigError, DataError, ErrorDetail
from thresher.generate import ModelSpec
from thresher.generate.jobs import GENERATE, GenerateJob, GenerateRunner
from thresher.model.project import NAME_PATTERN
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, job_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.outbound import resolve
from thresher.server.permissions import Action
from thresher.server.schemas import StorableJson, Timestamp
from thresher.store import Store
from thresher.store.jobs import Job, JobStatus

router = APIRouter(prefix="/projects/{project}/generate", tags=["generate"], responses=ERROR_RESPONSES)

JobId = Annotated[str, PathParam(description="generation job id", max_length=32)]
_LOCK = threading.Lock()


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        min_length=8, max_length=2000, pattern=r"^openai:https?://[^\x00\s]+$", description="openai:URL#name"
    )
    params: StorableJson[dict[str, Any]] = Field(default_factory=dict, description="sampling params, e.g. temperature")
    n: int = Field(default=1, ge=1, le=64, description="candidates per prompt from this model")


class GenerateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=NAME_PATTERN, description="the dataset of prompts (text, chats, eval items)")
    source_version: str | None = Field(default=None, pattern=NAME_PATTERN, description="a frozen version of it")
    target: str = Field(pattern=NAME_PATTERN, description="the dataset the comparisons go to (made if new)")
    models: list[ModelIn] = Field(min_length=1, max_length=16, description="the models, their params and n each")
    version: str | None = Field(default=None, pattern=NAME_PATTERN, description="the target's new version")
    split: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="only this split")
    concurrency: int = Field(default=32, ge=1, le=256, description="calls in flight")


class GenerateJobPublic(BaseModel):
    id: str
    source: str
    source_version: str | None
    target: str
    models: list[ModelSpec]
    version: str | None
    status: JobStatus
    progress: int = Field(description="prompts done")
    total: int | None = Field(description="prompts to do; known once the job starts")
    result: dict[str, Any] | None = Field(description="once done: counts, calls, cache hits, candidates/s, version")
    error: str | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


def _runner(request: Request, store: Store) -> GenerateRunner:
    """One runner per app, made on first use (it fails jobs a stopped server left running)."""
    with _LOCK:
        runner: GenerateRunner | None = getattr(request.app.state, "generate_runner", None)
        if runner is None:
            runner = request.app.state.generate_runner = GenerateRunner(store)
        return runner


def _refusal(url: str) -> str | None:
    """Why the server must not call this model URL's host, or None."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as e:  # a host no DNS could hold (bad IDNA), say
        return f"not a URL the server can call: {e}"
    host, port = parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        addresses = resolve(host, port)
    except OSError as e:
        return f"{host} does not resolve ({e.strerror or e})"
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
            return (
                f"{host} is {ip}: link-local (cloud metadata), multicast, reserved or unspecified addresses are refused"
            )
    return None


def _public(job: Job) -> GenerateJobPublic:
    spec = GenerateJob.model_validate(job.params)
    return GenerateJobPublic(
        id=job.id,
        source=spec.source,
        source_version=spec.source_version,
        target=spec.target,
        models=spec.models,
        version=spec.version,
        status=job.status,
        progress=job.progress,
        total=job.total,
        result=orjson.loads(job.result) if job.status == "done" and job.result else None,
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


def _job(store: Store, ctx: ProjectAccess, job_id: str) -> Job:
    return job_of(store, ctx, job_id, GENERATE, "generation job")


@router.post(
    "/jobs",
    status_code=202,
    response_model=GenerateJobPublic,
    summary="Start candidate generation: N answers per prompt from each model, as comparisons",
    openapi_extra={"x-thresher-action": "write"},
)
def create_job(
    body: GenerateCreate, request: Request, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> GenerateJobPublic:
    """The job starts queued; poll it until ``done``. Starting the same job again after a failure
    resumes it: answers already given come from the cache and no record is written twice."""
    for i, m in enumerate(body.models):
        try:
            adapter = ModelSpec.model_validate(m.model_dump()).build().adapter
        except ConfigError as e:  # e.g. no model name after '#': say which model
            raise DataError(f"models[{i}]: {e}", [ErrorDetail("model", ("models", i, "model"), str(e))]) from None
        why = _refusal(getattr(adapter, "base_url", ""))
        if why is not None:
            raise DataError(f"models[{i}]: {why}", [ErrorDetail("refused_address", ("models", i, "model"), why)])
    source = dataset_of(store, ctx, body.source)
    if body.source_version:
        store.get_version(source, body.source_version)  # 404 now rather than a failed job later
    if body.target == body.source:
        msg = "the target must be another dataset than the source"
        raise DataError(msg, [ErrorDetail("same_dataset", ("target",), msg, body.target)])
    target = store.ensure_dataset(ctx.project.name, body.target)
    if body.version and body.version in {v.name for v in store.list_versions(target)}:
        msg = f"version {body.version!r} of {body.target} already exists"
        raise DataError(msg, [ErrorDetail("version_exists", ("version",), msg, body.version)])
    assert ctx.project.id is not None
    spec = GenerateJob(project=ctx.project.name, **body.model_dump())
    job = store.jobs.create(
        ctx.project.id, GENERATE, spec.model_dump(mode="json"), dataset_id=target.id, created_by=ctx.principal.name
    )
    _runner(request, store).submit()
    return _public(job)


@router.get(
    "/jobs",
    response_model=list[GenerateJobPublic],
    summary="Generation jobs, newest first",
    openapi_extra={"x-thresher-action": "browse"},
)
def list_jobs(
    request: Request,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[GenerateJobPublic]:
    assert ctx.project.id is not None
    _runner(request, store)
    return [_public(j) for j in store.jobs.list_jobs(ctx.project.id, kind=GENERATE, limit=limit)]


@router.get(
    "/jobs/{job_id}",
    response_model=GenerateJobPublic,
    summary="A generation job: status, progress (prompts done of the total), and its result once done",
    openapi_extra={"x-thresher-action": "browse"},
)
def get_job(
    job_id: JobId, request: Request, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]
) -> GenerateJobPublic:
    _runner(request, store)
    return _public(_job(store, ctx, job_id))


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=GenerateJobPublic,
    summary="Cancel a queued or running job (it stops after the prompts in hand)",
    openapi_extra={"x-thresher-action": "write"},
)
def cancel_job(job_id: JobId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]) -> GenerateJobPublic:
    job = _job(store, ctx, job_id)
    store.jobs.cancel(job.id)
    return _public(store.jobs.get(job.id))
