"""Review: the next record awaiting review, and a decision on a response (accept, reject, correct)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from thresher import annotate
from thresher.model import Question
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.routers.records import RecordPublic
from thresher.server.routers.records import _public as record_public
from thresher.server.schemas import DatasetName, StorableJson, Timestamp

router = APIRouter(prefix="/projects/{project}", tags=["annotation"], responses=ERROR_RESPONSES)
ACTION = {"x-thresher-action": Action.REVIEW.value}
Access = Annotated[ProjectAccess, need(Action.REVIEW)]
ResponseId = Annotated[str, Path(description="response id", max_length=32)]


class ReviewedResponse(BaseModel):
    id: str
    assignment_id: str | None
    user: str
    answers: dict[str, Any]
    status: str
    review_status: str | None = Field(description="pending, accepted, rejected, corrected, or null (no review asked)")


class ReviewItemPublic(BaseModel):
    record: RecordPublic
    questions: list[Question]
    guidelines: str | None
    responses: list[ReviewedResponse]
    consensus: dict[str, Any]


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["accept", "reject", "correct"]
    reason: str | None = Field(default=None, max_length=2000, description="required to reject")
    answers: StorableJson[dict[str, Any]] | None = Field(
        default=None, description="required to correct: the reviewer's answers (questions left out keep theirs)"
    )


class ReviewPublic(BaseModel):
    id: str
    response_id: str
    decision: str
    reason: str | None
    reviewer: str
    created_at: Timestamp


@router.post(
    "/datasets/{dataset}/review/next",
    response_model=ReviewItemPublic,
    responses={204: {"description": "nothing awaits review"}},
    summary="The next complete record awaiting review (held for the reviewer)",
    openapi_extra=ACTION,
)
def review_next(dataset: DatasetName, store: StoreDep, ctx: Access) -> Any:
    item = annotate.review_next(store, dataset_of(store, ctx, dataset), ctx.principal.name)
    if item is None:
        return Response(status_code=204)
    return ReviewItemPublic(
        record=record_public(item.record),
        questions=item.dataset.questions,
        guidelines=item.dataset.guidelines,
        responses=[
            ReviewedResponse(
                id=r.id or "",
                assignment_id=item.assignments[r.user].id if r.user in item.assignments else None,
                user=r.user,
                answers=r.answers,
                status=r.status,
                review_status=item.assignments[r.user].review_status if r.user in item.assignments else None,
            )
            for r in item.responses
        ],
        consensus=item.consensus,
    )


@router.post(
    "/responses/{response_id}/review",
    response_model=ReviewPublic,
    summary="Accept, reject (with a reason: back to its annotator) or correct (with answers) a response",
    openapi_extra=ACTION,
)
def review_response(response_id: ResponseId, body: ReviewCreate, store: StoreDep, ctx: Access) -> ReviewPublic:
    rv = annotate.decide(
        store, ctx.project.name, response_id, ctx.principal.name, body.decision, body.reason, body.answers
    )
    return ReviewPublic(
        id=rv.id,
        response_id=rv.response_id,
        decision=rv.decision,
        reason=rv.reason,
        reviewer=rv.reviewer,
        created_at=rv.created_at,
    )
