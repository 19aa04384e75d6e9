"""Eval runs: their summaries, per-item results (keyset pages), paired comparison, the stage report,
and runs started from the server as background jobs.

A run started here is a job row (kind ``eval_run``) run by one worker thread per store, one job at a
time, in queue order. The thread starts with the first job and ends when the queue is empty, so an
idle server holds none. Progress is written at most twice a second; cancelling the job stops the run
at its next item (the run is marked failed). Jobs left ``running`` by a server that died are marked
failed the first time the evals API is used.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from typing import Annotated, Any, ClassVar

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import ConfigError, ThresherError
from thresher.evals.adapters.base import parse_model
from thresher.evals.compare import compare_runs
from thresher.evals.report import pick_stage_runs, stage_report
from thresher.evals.runner import RunOptions, run_eval
from thresher.evals.suites import resolve_suite
from thresher.server.deps import ProjectAccess, StoreDep, job_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import StorableJson, Timestamp
from thresher.store import Store
from thresher.store.evals import EvalRun
from thresher.store.jobs import Job, JobStatus

log = logging.getLogger("thresher.evals")

router = APIRouter(prefix="/projects/{project}/evals", tags=["evals"], responses=ERROR_RESPONSES)


class RunPublic(BaseModel):
    id: str
    suite: str = Field(description="dataset@version")
    model: str
    adapter: str
    params: dict[str, Any]
    stage: str | None
    training_version: str | None = Field(description="the training dataset version the model came from")
    status: str
    summary: dict[str, Any] = Field(description="mean with its 95% CI, pass rate, per-tag breakdowns, calls")
    created_at: Timestamp
    finished_at: Timestamp | None


class ResultPublic(BaseModel):
    record_id: str
    output: str | None
    score: float | None
    passed: bool | None
    details: dict[str, Any]
    tags: list[str]
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None
    cached: bool
    error: str | None


def _public(run: EvalRun) -> RunPublic:
    return RunPublic(**{k: v for k, v in run.__dict__.items() if k not in ("project_id", "suite_version_id")})


def _run(store: StoreDep, ctx: ProjectAccess, run_id: str) -> EvalRun:
    assert ctx.project.id is not None
    return store.evals.get_run(run_id, ctx.project.id)


@router.get(
    "/runs",
    response_model=list[RunPublic],
    summary="Eval runs, oldest first",
    openapi_extra={"x-thresher-action": "browse"},
)
def list_runs(
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    suite: Annotated[str | None, Query(max_length=256, description="only runs of this dataset@version")] = None,
) -> list[RunPublic]:
    assert ctx.project.id is not None
    return [_public(r) for r in store.evals.list_runs(ctx.project.id, suite=suite)]


@router.get("/runs/{run_id}", response_model=RunPublic, openapi_extra={"x-thresher-action": "browse"})
def get_run(run_id: str, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]) -> RunPublic:
    return _public(_run(store, ctx, run_id))


class ResultPage(BaseModel):
    """One keyset page: pass ``next`` back as ``after``; ``null`` after the last."""

    items: list[ResultPublic]
    next: str | None


@router.get(
    "/runs/{run_id}/results",
    response_model=ResultPage,
    summary="Per-item results in record-id order",
    openapi_extra={"x-thresher-action": "browse"},
)
def list_results(
    run_id: str,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    after: Annotated[str | None, Query(max_length=64, description="the `next` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ResultPage:
    run = _run(store, ctx, run_id)
    items = [ResultPublic(**r.__dict__) for r in store.evals.page_results(run.id, after=after or "", limit=limit)]
    return ResultPage(items=items, next=items[-1].record_id if len(items) == limit else None)


@router.get(
    "/compare",
    summary="Run b against run a, item by item: paired bootstrap, McNemar for pass/fail, the verdict",
    openapi_extra={"x-thresher-action": "browse"},
)
def compare(
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    a: Annotated[str, Query(max_length=64, description="the baseline run")],
    b: Annotated[str, Query(max_length=64, description="the run compared with it")],
) -> dict[str, Any]:
    return compare_runs(store, _run(store, ctx, a), _run(store, ctx, b))


@router.get(
    "/report",
    response_class=Response,
    responses={200: {"description": "The report page", "content": {"text/html": {"schema": {"type": "string"}}}}},
    summary="The stage report of a suite (HTML): runs in stage order with CIs, significance and per-tag plots",
    openapi_extra={"x-thresher-action": "browse"},
)
def report(
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    suite: Annotated[str, Query(max_length=256, description="dataset@version")],
    run: Annotated[list[str] | None, Query(description="runs in stage order (default: latest of each stage)")] = None,
) -> Response:
    assert ctx.project.id is not None
    runs = [_run(store, ctx, r) for r in run] if run else pick_stage_runs(store, ctx.project.id, suite)
    # Inline SVG and CSS only: the page may run no script and load nothing.
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    return HTMLResponse(stage_report(store, runs), headers={"Content-Security-Policy": csp})


# -- runs started from the server ---------------------------------------------------------------

EVAL_RUN = "eval_run"
INTERRUPTED = "the server stopped while this eval run was running; start it again"
# Only the openai adapter from the server: `callable:` would import any module into the server and
# `hf:` would load a model folder into its memory; both stay with the CLI, on the caller's machine.
SERVER_ADAPTERS = ("openai",)
JobId = Annotated[str, PathParam(description="eval job id", max_length=32)]


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suite: str = Field(
        min_length=1, max_length=256, description="eval dataset NAME or NAME@VERSION (default: its latest version)"
    )
    model: str = Field(min_length=3, max_length=2000, description="as the CLI takes it: openai:http://host/v1#model")
    stage: str | None = Field(default=None, max_length=128, description="the stage this model is (base, sft, dpo...)")
    training_version: str | None = Field(
        default=None, max_length=256, description="the training dataset version it came from, e.g. sft@v1"
    )
    concurrency: int | None = Field(default=None, ge=1, le=256, description="calls in flight (default: the adapter's)")
    params: StorableJson[dict[str, Any]] = Field(default_factory=dict, description="sampling params for the model")


class EvalJobPublic(BaseModel):
    id: str
    status: JobStatus
    suite: str
    model: str
    stage: str | None
    training_version: str | None
    progress: int = Field(description="items done")
    total: int | None = Field(description="items in the suite version, once the job starts")
    run_id: str | None = Field(description="the eval run, once the job is done")
    error: str | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


def _job_public(job: Job) -> EvalJobPublic:
    p = job.params
    return EvalJobPublic(
        id=job.id,
        status=job.status,
        suite=p["suite"],
        model=p["model"],
        stage=p.get("stage"),
        training_version=p.get("training_version"),
        progress=job.progress,
        total=job.total,
        run_id=job.result if job.status == "done" else None,
        error=job.error,
        created_by=job.created_by,
        created_at=job.created_at,
        updated_at=job.updated_at,
    )


class _Cancelled(Exception):
    pass


class EvalWorker:
    """Runs the queued eval jobs of one store, in one thread that lives while there is work."""

    _all: ClassVar[weakref.WeakKeyDictionary[Store, EvalWorker]] = weakref.WeakKeyDictionary()
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None

    @classmethod
    def of(cls, store: Store) -> EvalWorker:
        with cls._guard:
            worker = cls._all.get(store)
            if worker is None:
                worker = cls._all[store] = cls(store)
                store.jobs.fail_running(EVAL_RUN, INTERRUPTED)  # no thread of this process holds them
            return worker

    def kick(self) -> None:
        """A job was queued: make sure a thread will take it."""
        with self._lock:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="thresher-evals", daemon=True)
                self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the queue to drain (tests)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._pending = False
            try:
                while (job := self.store.jobs.claim_next(EVAL_RUN)) is not None:
                    self.run_job(job)
            except Exception:  # the database failed: the job (if any) stays for the next start
                log.exception("eval worker: cannot read the job queue")
            with self._lock:
                if not self._pending:  # a job queued after the last look sets it again
                    self._thread = None
                    return

    def run_job(self, job: Job) -> None:
        p, jobs = job.params, self.store.jobs
        last = 0.0

        def progress(done: int) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= 0.5:
                last = now
                if not jobs.set_progress(job.id, done):
                    raise _Cancelled  # the runner marks the run failed and stops its calls

        try:
            suite = resolve_suite(self.store, p["project"], p["suite"])
            jobs.set_progress(job.id, 0, suite.version.record_count)
            options = RunOptions(
                params=p.get("params") or {},
                concurrency=p.get("concurrency"),
                stage=p.get("stage"),
                training_version=p.get("training_version"),
            )
            run = run_eval(self.store, suite, parse_model(p["model"]), options, progress=progress)
            jobs.finish(job.id, run.id, int(run.summary.get("items") or 0))
        except _Cancelled:
            pass
        except ThresherError as e:
            jobs.fail(job.id, str(e)[:2000])
        except Exception as e:  # a run that broke must not take the thread with it
            log.exception("eval job %s failed", job.id)
            jobs.fail(job.id, f"{type(e).__name__}: {e}"[:2000])


def _eval_job(store: Store, ctx: ProjectAccess, job_id: str) -> Job:
    EvalWorker.of(store)
    return job_of(store, ctx, job_id, EVAL_RUN, "eval job")


@router.post(
    "/runs",
    status_code=202,
    response_model=EvalJobPublic,
    summary="Start an eval run of a suite on a model (an OpenAI-compatible endpoint) as a background job",
    openapi_extra={"x-thresher-action": "write"},
)
def start_run(body: RunCreate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]) -> EvalJobPublic:
    """Poll ``GET .../evals/jobs/{id}`` until ``done``; its ``run_id`` is then the finished run."""
    assert ctx.project.id is not None
    kind = body.model.partition(":")[0]
    if kind not in SERVER_ADAPTERS:
        raise ConfigError(
            f"model {body.model[:80]!r}: the server runs only {', '.join(SERVER_ADAPTERS)}: models "
            "(e.g. openai:http://host:8000/v1#my-model); use `thresher eval run` for callable: and hf:"
        )
    parse_model(body.model)  # a bad spec is refused now, not as a failed job later
    suite = resolve_suite(store, ctx.project.name, body.suite)
    params = {
        "project": ctx.project.name,
        "suite": suite.name,
        "model": body.model,
        "stage": body.stage,
        "training_version": body.training_version,
        "concurrency": body.concurrency,
        "params": body.params,
    }
    worker = EvalWorker.of(store)
    job = store.jobs.create(
        ctx.project.id, EVAL_RUN, params, dataset_id=suite.dataset.id, created_by=ctx.principal.name
    )
    worker.kick()
    return _job_public(job)


@router.get(
    "/jobs",
    response_model=list[EvalJobPublic],
    summary="Eval runs started from the server, newest first",
    openapi_extra={"x-thresher-action": "browse"},
)
def list_jobs(
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.BROWSE)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[EvalJobPublic]:
    assert ctx.project.id is not None
    EvalWorker.of(store)
    return [_job_public(j) for j in store.jobs.list_jobs(ctx.project.id, kind=EVAL_RUN, limit=limit)]


@router.get(
    "/jobs/{job_id}",
    response_model=EvalJobPublic,
    summary="An eval job: status, items done, and the run once done",
    openapi_extra={"x-thresher-action": "browse"},
)
def get_job(job_id: JobId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]) -> EvalJobPublic:
    return _job_public(_eval_job(store, ctx, job_id))


@router.delete(
    "/jobs/{job_id}",
    response_model=EvalJobPublic,
    summary="Cancel a queued or running eval job (the run stops at its next item)",
    openapi_extra={"x-thresher-action": "write"},
)
def cancel_job(job_id: JobId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]) -> EvalJobPublic:
    job = _eval_job(store, ctx, job_id)
    if job.active:
        store.jobs.cancel(job.id)
    return _job_public(store.jobs.get(job.id))
