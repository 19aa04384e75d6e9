"""The annotator's queue: next task, the task, draft, submit, skip, amend, history.

A task is held by a lease; asking for the next task while holding one returns the same task, so
a reload loses nothing. Drafts are checked partially and extend the lease; a submission is
checked fully (a 422 names each bad answer under `answers`) and is refused with a 409 when the
lease ran out and the record went to someone else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from thresher import annotate
from thresher.annotate.queue import (
    dataset_by_id,
    dataset_named,
    next_context,
    next_task_in,
    sync_soon,
    work_context,
)
from thresher.annotate.workflow import fitting
from thresher.errors import NotFound
from thresher.model import Question
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action, allowed
from thresher.server.routers.annotators import profile_of
from thresher.server.routers.records import RecordPublic
from thresher.server.routers.records import _public as record_public
from thresher.server.routers.responses import ResponsePublic
from thresher.server.routers.suggestions import SuggestionPublic
from thresher.server.schemas import DatasetName, StorableJson, Timestamp
from thresher.store import Store
from thresher.store.annotation import Assignment
from thresher.store.rows import response_id

router = APIRouter(prefix="/projects/{project}", tags=["annotation"], responses=ERROR_RESPONSES)
ACTION = {"x-thresher-action": Action.ANNOTATE.value}
Access = Annotated[ProjectAccess, need(Action.ANNOTATE)]
AssignmentId = Annotated[str, Path(description="assignment id", max_length=32)]
TaskStatus = Literal["leased", "rejected", "amending", "closed", "skipped", "expired"]


class QueueRow(BaseModel):
    dataset: str
    available: int = Field(description="open records that fit the caller's skills and languages")
    in_progress: int = Field(description="tasks the caller holds (rejections sent back included)")
    done_by_me: int
    to_review: int = Field(description="records awaiting review (0 for a caller who may not review)")


class AssignmentPublic(BaseModel):
    id: str
    record_id: str
    dataset: str
    user: str
    status: TaskStatus = Field(
        description="leased or rejected: to work on; amending: submitted, may still be amended; closed: "
        "accepted or corrected by a reviewer; skipped; expired: the lease ran out"
    )
    lease_expires_at: Timestamp | None
    reject_reason: str | None


class Draft(BaseModel):
    answers: dict[str, Any]


class TaskPublic(BaseModel):
    assignment: AssignmentPublic
    record: RecordPublic
    questions: list[Question]
    guidelines: str | None
    suggestions: list[SuggestionPublic]
    draft: Draft | None = Field(description="saved answers: the draft, a rejected submission, or what was submitted")


class AnswersBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: StorableJson[dict[str, Any]] = Field(description="question name -> answer")


class SkipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class SubmittedPublic(ResponsePublic):
    assignment_id: str


class ReviewBrief(BaseModel):
    decision: str
    reason: str | None
    reviewer: str


class HistoryItem(BaseModel):
    assignment_id: str
    record_id: str
    answers: dict[str, Any]
    status: TaskStatus
    submitted_at: Timestamp | None
    review: ReviewBrief | None


def _status(a: Assignment) -> TaskStatus:
    if a.status == "submitted":
        return "closed" if a.review_status in ("accepted", "corrected") else "amending"
    return a.status  # type: ignore[return-value]  # leased, rejected, skipped, expired


def _answers_of(store: Store, a: Assignment) -> dict[str, Any] | None:
    if a.status in ("leased", "rejected"):
        return a.draft
    found = store.list_responses(a.record_id, user=a.user)
    return found[0].answers if found and a.status == "submitted" else None


def task_public(store: Store, task: annotate.Task) -> TaskPublic:
    a, ds = task.assignment, task.dataset
    answers = _answers_of(store, a)
    return TaskPublic(
        assignment=AssignmentPublic(
            id=a.id,
            record_id=a.record_id,
            dataset=ds.name,
            user=a.user,
            status=_status(a),
            lease_expires_at=a.lease_expires_at,
            reject_reason=a.reject_reason,
        ),
        record=record_public(task.record),
        questions=ds.questions,
        guidelines=ds.guidelines,
        suggestions=[SuggestionPublic(**s.model_dump()) for s in task.suggestions],
        draft=Draft(answers=answers) if answers is not None else None,
    )


def _mine(store: Store, ctx: ProjectAccess, assignment_id: str) -> tuple[Assignment, Any]:
    a = store.annotation.get_assignment(assignment_id)
    if a.user != ctx.principal.name and not allowed(ctx.role, Action.REVIEW):
        raise NotFound(f"no assignment {assignment_id!r}")
    return a, dataset_by_id(store, ctx.project.name, a.dataset_id)


@router.get(
    "/queue",
    response_model=list[QueueRow],
    summary="The caller's queue: one row per dataset with questions",
    openapi_extra=ACTION,
)
def queue_overview(store: StoreDep, ctx: Access) -> list[QueueRow]:
    me = profile_of(store, ctx, ctx.principal.name)
    fits = fitting(me.skills, me.languages)
    reviewer = allowed(ctx.role, Action.REVIEW)
    out = []
    for ds in store.list_datasets(ctx.project.name):
        if not ds.questions:
            continue
        sync_soon(store, ds)  # a batch now, the rest in the background
        assert ds.id is not None
        available, active, done, review = store.annotation.summary(ds.id, me.user, fits)
        out.append(
            QueueRow(
                dataset=ds.name,
                available=available,
                in_progress=active,
                done_by_me=done,
                to_review=review if reviewer else 0,
            )
        )
    return out


@router.post(
    "/datasets/{dataset}/queue/next",
    response_model=TaskPublic,
    responses={204: {"description": "no fitting work"}},
    summary="The next task (the one held, a rejection sent back, or new fitting work)",
    openapi_extra=ACTION,
)
def next_task(dataset: DatasetName, store: StoreDep, ctx: Access) -> Any:
    # One query for the dataset, the caller's profile and the workflow state: this is the hot path.
    c = next_context(store, ctx.project.name, dataset, ctx.principal.name)
    task = next_task_in(store, c.dataset, ctx.principal.name, c.skills, c.languages, c.state)
    if task is None:
        return Response(status_code=204)
    return task_public(store, task)


@router.get(
    "/assignments/{assignment_id}",
    response_model=TaskPublic,
    summary="A task by its assignment (the caller's own; reviewers see any)",
    openapi_extra=ACTION,
)
def get_task(assignment_id: AssignmentId, store: StoreDep, ctx: Access) -> TaskPublic:
    a, ds = _mine(store, ctx, assignment_id)
    return task_public(store, annotate.task_of(store, ds, a))


@router.put(
    "/assignments/{assignment_id}/draft",
    status_code=204,
    summary="Save partial answers (checked as far as they go); extends the lease",
    openapi_extra=ACTION,
)
def save_draft(assignment_id: AssignmentId, body: AnswersBody, store: StoreDep, ctx: Access) -> None:
    _, ds = _mine(store, ctx, assignment_id)
    annotate.save_draft(store, ds, assignment_id, ctx.principal.name, body.answers)


@router.post(
    "/assignments/{assignment_id}/submit",
    response_model=SubmittedPublic,
    summary="Submit the answers (checked fully); 409 when the lease was lost",
    openapi_extra=ACTION,
)
def submit(assignment_id: AssignmentId, body: AnswersBody, store: StoreDep, ctx: Access) -> SubmittedPublic:
    c = work_context(store, ctx.project.name, assignment_id)  # one connection for all it reads
    if c.assignment.user != ctx.principal.name and not allowed(ctx.role, Action.REVIEW):
        raise NotFound(f"no assignment {assignment_id!r}")
    ds = c.dataset
    saved = annotate.submit(store, ds, assignment_id, ctx.principal.name, body.answers, context=c)
    assert ctx.project.id is not None
    payload = {"project": ds.project, "dataset": ds.name, "record_id": saved.record_id, "user": saved.user}
    emit(store, ctx.project.id, "response.submitted", payload)
    return SubmittedPublic(**saved.model_dump(), assignment_id=assignment_id)


@router.post(
    "/assignments/{assignment_id}/skip",
    status_code=204,
    summary="Give the task back, with a reason",
    openapi_extra=ACTION,
)
def skip(assignment_id: AssignmentId, body: SkipBody, store: StoreDep, ctx: Access) -> None:
    _, ds = _mine(store, ctx, assignment_id)
    annotate.skip(store, ds, assignment_id, ctx.principal.name, body.reason)


@router.post(
    "/assignments/{assignment_id}/amend",
    response_model=SubmittedPublic,
    summary="Change one's submission (until a reviewer accepted it)",
    openapi_extra=ACTION,
)
def amend(assignment_id: AssignmentId, body: AnswersBody, store: StoreDep, ctx: Access) -> SubmittedPublic:
    _, ds = _mine(store, ctx, assignment_id)
    saved = annotate.amend(store, ds, assignment_id, ctx.principal.name, body.answers)
    return SubmittedPublic(**saved.model_dump(), assignment_id=assignment_id)


@router.get(
    "/datasets/{dataset}/queue/history",
    response_model=list[HistoryItem],
    summary="The caller's submissions, newest first, with their review",
    openapi_extra=ACTION,
)
def history(
    dataset: DatasetName, store: StoreDep, ctx: Access, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> list[HistoryItem]:
    ds = dataset_named(store, ctx.project.name, dataset)
    assert ds.id is not None
    items = store.annotation.history(ds.id, ctx.principal.name, limit)
    rids = {a.id: response_id(a.record_id, a.user) for a in items}
    latest = {rv.response_id: rv for rv in store.annotation.reviews(response_ids=list(rids.values()))}
    out = []
    for a in items:
        rv = latest.get(rids[a.id])
        out.append(
            HistoryItem(
                assignment_id=a.id,
                record_id=a.record_id,
                answers=_answers_of(store, a) or {},
                status=_status(a),
                submitted_at=a.submitted_at,
                review=ReviewBrief(decision=rv.decision, reason=rv.reason, reviewer=rv.reviewer) if rv else None,
            )
        )
    return out
