"""Suggestions for a record: a model's pre-annotations, shown to annotators as a starting point."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from thresher.model import Suggestion
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName, RecordId, StorableJson, Timestamp

router = APIRouter(
    prefix="/projects/{project}/datasets/{dataset}/records/{record_id}/suggestions",
    tags=["suggestions"],
    responses=ERROR_RESPONSES,
)


class SuggestionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=64)
    value: StorableJson[Any] = Field(description="an answer to the question, in its type's shape")
    agent: str = Field(min_length=1, max_length=128, description="the model or program that made it")
    score: float | None = Field(default=None, allow_inf_nan=False)


class SuggestionPublic(BaseModel):
    id: str | None
    record_id: str | None
    question: str
    value: Any
    agent: str
    score: float | None
    created_at: Timestamp | None


def _public(s: Suggestion) -> SuggestionPublic:
    return SuggestionPublic(**s.model_dump())


@router.get("", response_model=list[SuggestionPublic], openapi_extra={"x-thresher-action": "read"})
def list_suggestions(
    dataset: DatasetName, record_id: RecordId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]
) -> list[SuggestionPublic]:
    row = store.get_dataset_record(dataset_of(store, ctx, dataset), record_id)
    return [_public(s) for s in store.suggestions_for(row.id)]


@router.post(
    "",
    response_model=SuggestionPublic,
    status_code=201,
    summary="Add or replace a suggestion (one per question and agent)",
    openapi_extra={"x-thresher-action": "write"},
)
def add_suggestion(
    dataset: DatasetName,
    record_id: RecordId,
    body: SuggestionCreate,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.WRITE)],
) -> SuggestionPublic:
    row = store.get_dataset_record(dataset_of(store, ctx, dataset), record_id)
    saved = store.save_suggestion(Suggestion(record_id=row.id, **body.model_dump()))
    return _public(saved)
