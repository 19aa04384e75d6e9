"""Eval runs: their summaries, per-item results (keyset pages), paired comparison, the stage report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from thresher.evals.compare import compare_runs
from thresher.evals.report import pick_stage_runs, stage_report
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import Timestamp
from thresher.store.evals import EvalRun

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
