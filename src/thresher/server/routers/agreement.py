"""Agreement, progress and consensus: what a lead watches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel

from thresher import annotate
from thresher.annotate import ConsensusRule
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName, RecordId

router = APIRouter(prefix="/projects/{project}/datasets/{dataset}", tags=["annotation"], responses=ERROR_RESPONSES)
ACTION = {"x-thresher-action": Action.REVIEW.value}
Access = Annotated[ProjectAccess, need(Action.REVIEW)]


class PairPublic(BaseModel):
    a: str
    b: str
    metric: str
    value: float | None
    n: int


class QuestionAgreementPublic(BaseModel):
    question: str
    type: str
    metric: str | None
    value: float | None
    n_items: int
    n_annotators: int
    pairs: list[PairPublic]


class AgreementPublic(BaseModel):
    questions: list[QuestionAgreementPublic]


class AnnotatorProgress(BaseModel):
    user: str
    submitted: int
    skipped: int
    rejected: int
    median_seconds: float | None
    agreement_with_consensus: float | None


class ProgressPublic(BaseModel):
    records: int
    target: int
    submitted: int
    in_progress: int
    skipped: int
    complete: int
    annotators: list[AnnotatorProgress]


class ConsensusPublic(BaseModel):
    answers: dict[str, Any]
    rules: dict[str, ConsensusRule]
    n: int


@router.get(
    "/agreement",
    response_model=AgreementPublic,
    summary="Inter-annotator agreement per question, overall and per annotator pair",
    description=(
        "Ratings: Krippendorff's alpha (interval). Labels, choices, step verdicts: Fleiss' kappa overall, "
        "Cohen's kappa per pair. Rankings: Kendall's tau-b per pair, their mean overall. `value` is null when "
        "undefined (fewer than two annotators on an item, or no variation)."
    ),
    openapi_extra=ACTION,
)
def get_agreement(dataset: DatasetName, store: StoreDep, ctx: Access) -> AgreementPublic:
    rows = annotate.dataset_agreement(store, dataset_of(store, ctx, dataset))
    return AgreementPublic.model_validate({"questions": rows}, from_attributes=True)


@router.get("/progress", response_model=ProgressPublic, openapi_extra=ACTION)
def get_progress(dataset: DatasetName, store: StoreDep, ctx: Access) -> ProgressPublic:
    return ProgressPublic.model_validate(
        annotate.progress(store, dataset_of(store, ctx, dataset)), from_attributes=True
    )


@router.get(
    "/records/{record_id}/consensus",
    response_model=ConsensusPublic,
    summary="A record's final answers by the workflow's consensus rules",
    openapi_extra=ACTION,
)
def get_consensus(dataset: DatasetName, record_id: RecordId, store: StoreDep, ctx: Access) -> ConsensusPublic:
    answers, rules, n = annotate.record_consensus(store, dataset_of(store, ctx, dataset), record_id)
    return ConsensusPublic(answers=answers, rules=rules, n=n)
