"""Responses to a record: submit or amend one's own; annotators see theirs, reviewers see all."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from thresher.annotate.queue import respond
from thresher.model import Response
from thresher.model.responses import ResponseStatus
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action, allowed
from thresher.server.schemas import DatasetName, RecordId, StorableJson, Timestamp

router = APIRouter(
    prefix="/projects/{project}/datasets/{dataset}/records/{record_id}/responses",
    tags=["responses"],
    responses=ERROR_RESPONSES,
)


class ResponseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: StorableJson[dict[str, Any]] = Field(
        description="question name -> answer (its shape depends on the question type)"
    )
    status: ResponseStatus = Field(default="submitted", description="a draft may leave required questions out")


class ResponsePublic(BaseModel):
    id: str | None
    record_id: str | None
    user: str
    answers: dict[str, Any]
    status: ResponseStatus
    created_at: Timestamp | None
    updated_at: Timestamp | None


def _public(r: Response) -> ResponsePublic:
    return ResponsePublic(**r.model_dump())


@router.get(
    "",
    response_model=list[ResponsePublic],
    summary="Responses to a record (an annotator sees only their own)",
    openapi_extra={"x-thresher-action": "read"},
)
def list_responses(
    dataset: DatasetName, record_id: RecordId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]
) -> list[ResponsePublic]:
    row = store.get_dataset_record(dataset_of(store, ctx, dataset), record_id)
    mine = None if allowed(ctx.role, Action.REVIEW) else ctx.principal.name
    return [_public(r) for r in store.list_responses(row.id, user=mine)]


@router.put(
    "/me",
    response_model=ResponsePublic,
    summary="Submit or amend the caller's response (checked against the dataset's questions; under "
    "the queue's rules when the dataset has a workflow: the caller must hold the record's task)",
    openapi_extra={"x-thresher-action": "annotate"},
)
def save_my_response(
    dataset: DatasetName,
    record_id: RecordId,
    body: ResponseCreate,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.ANNOTATE)],
) -> ResponsePublic:
    ds = dataset_of(store, ctx, dataset)
    row = store.get_dataset_record(ds, record_id)
    # A dataset with a workflow answers through its queue (leases, overlap, review); else as sent.
    saved = respond(store, ds, row.id, ctx.principal.name, body.answers, body.status) or store.save_response(
        Response(record_id=row.id, user=ctx.principal.name, answers=body.answers, status=body.status)
    )
    if saved.status == "submitted":
        assert ctx.project.id is not None
        payload = {"project": ds.project, "dataset": ds.name, "record_id": row.id, "user": saved.user}
        emit(store, ctx.project.id, "response.submitted", payload)
    return _public(saved)
