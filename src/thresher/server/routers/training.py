"""Training runs and model stages, read-only: lineage from dataset version to stage to eval runs.

Runs are started by ``thresher train run`` (a training job holds a CPU for minutes to hours, which
a web request should not start); the API shows what they recorded.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import Timestamp
from thresher.store.training import Stage, TrainingRun

router = APIRouter(prefix="/projects/{project}/training", tags=["training"], responses=ERROR_RESPONSES)

Access = Annotated[ProjectAccess, need(Action.BROWSE)]
ACTION = {"x-thresher-action": Action.BROWSE.value}


class LossPoint(BaseModel):
    step: float
    loss: float


class TrainingRunPublic(BaseModel):
    id: str
    method: str
    recipe: dict[str, Any]
    base_model: str
    base_stage: str | None = Field(description="the stage trained from, when the base was a stage")
    dataset: str = Field(description="project/dataset")
    version: str
    manifest_hash: str = Field(description="the dataset version's manifest hash the run trained on")
    export_sha256: str | None
    seed: int
    libraries: dict[str, str]
    status: str
    step: int
    metrics: dict[str, Any]
    loss_curve: list[LossPoint]
    output_path: str
    stage: str | None = Field(description="the stage this run's model was registered as")
    error: str | None
    created_at: Timestamp
    updated_at: Timestamp


class StageEvalRun(BaseModel):
    id: str
    suite: str
    model: str
    status: str
    mean: float | None
    ci: list[float | None]


class StagePublic(BaseModel):
    name: str
    kind: str
    parent: str | None
    model_path: str | None
    endpoint: str | None
    endpoint_model: str | None
    run_id: str | None = Field(description="the training run that produced it")
    description: str | None
    eval_runs: list[StageEvalRun] = Field(description="eval runs recorded with this stage, oldest first")
    created_at: Timestamp


def _run_public(run: TrainingRun, stage_of: dict[str, str]) -> TrainingRunPublic:
    points = [LossPoint(step=p["step"], loss=p["loss"]) for p in run.loss_curve if "step" in p and "loss" in p]
    return TrainingRunPublic(
        id=run.id,
        method=run.method,
        recipe=run.recipe,
        base_model=run.base_model,
        base_stage=run.base_stage,
        dataset=run.dataset,
        version=run.version,
        manifest_hash=run.manifest_hash,
        export_sha256=run.export_sha256,
        seed=run.seed,
        libraries=run.libraries,
        status=run.status,
        step=run.step,
        metrics=run.metrics,
        loss_curve=points,
        output_path=run.output_path,
        stage=stage_of.get(run.id),
        error=run.error,
        created_at=run.created_at,
        updated_at=run.updated_at,
    )


def _stage_public(stage: Stage, evals: list[StageEvalRun]) -> StagePublic:
    return StagePublic(
        name=stage.name,
        kind=stage.kind,
        parent=stage.parent,
        model_path=stage.model_path,
        endpoint=stage.endpoint,
        endpoint_model=stage.endpoint_model,
        run_id=stage.run_id,
        description=stage.description,
        eval_runs=evals,
        created_at=stage.created_at,
    )


@router.get(
    "/runs",
    response_model=list[TrainingRunPublic],
    summary="Training runs, oldest first, with their recipe, data lineage, loss curve and output stage",
    openapi_extra=ACTION,
)
def list_runs(store: StoreDep, ctx: Access) -> list[TrainingRunPublic]:
    stage_of = {s.run_id: s.name for s in store.training.list_stages(ctx.project.name) if s.run_id}
    return [_run_public(r, stage_of) for r in store.training.list_runs(ctx.project.name)]


@router.get(
    "/stages",
    response_model=list[StagePublic],
    summary="The project's stages (base -> sft -> dpo ...) with their parents and attached eval runs",
    openapi_extra=ACTION,
)
def list_stages(store: StoreDep, ctx: Access) -> list[StagePublic]:
    assert ctx.project.id is not None
    by_stage: dict[str, list[StageEvalRun]] = {}
    for r in store.evals.list_runs(ctx.project.id):
        if r.stage:
            by_stage.setdefault(r.stage, []).append(
                StageEvalRun(
                    id=r.id,
                    suite=r.suite,
                    model=r.model,
                    status=r.status,
                    mean=r.summary.get("mean"),
                    ci=list(r.summary.get("ci") or [None, None]),
                )
            )
    return [_stage_public(s, by_stage.get(s.name, [])) for s in store.training.list_stages(ctx.project.name)]
