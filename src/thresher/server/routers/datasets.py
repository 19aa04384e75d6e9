"""Datasets of a project, their questions (the annotation schema) and guidelines."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from thresher.model import Dataset, Question
from thresher.model.project import NAME_PATTERN
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName, Timestamp
from thresher.store import Store

router = APIRouter(prefix="/projects/{project}/datasets", tags=["datasets"], responses=ERROR_RESPONSES)

QuestionName = Annotated[str, Path(description="question name", max_length=64)]
Text = Annotated[str | None, Field(max_length=200_000)]


class DatasetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: Text = None
    guidelines: Text = Field(default=None, description="Markdown shown to annotators")
    questions: list[Question] = Field(default_factory=list, max_length=100)

    @field_validator("questions")
    @classmethod
    def _unique(cls, questions: list[Question]) -> list[Question]:
        names = [q.name for q in questions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"question names must be unique; repeated: {', '.join(dupes)}")
        return questions


class DatasetUpdate(BaseModel):
    """Fields left out stay as they are; ``null`` clears one."""

    model_config = ConfigDict(extra="forbid")

    description: Text = None
    guidelines: Text = None


class DatasetPublic(BaseModel):
    project: str
    name: str
    description: str | None
    guidelines: str | None
    questions: list[Question]
    created_at: Timestamp | None


class Guidelines(BaseModel):
    model_config = ConfigDict(extra="forbid")

    guidelines: Text = Field(description="Markdown shown to annotators")


def _public(ds: Dataset) -> DatasetPublic:
    return DatasetPublic(
        project=ds.project,
        name=ds.name,
        description=ds.description,
        guidelines=ds.guidelines,
        questions=ds.questions,
        created_at=ds.created_at,
    )


def _changed(store: Store, ctx: ProjectAccess, ds: Dataset, what: list[str]) -> None:
    assert ctx.project.id is not None
    emit(store, ctx.project.id, "dataset.updated", {"project": ds.project, "dataset": ds.name, "changed": what})


# -- datasets -------------------------------------------------------------------------------


@router.get("", response_model=list[DatasetPublic], openapi_extra={"x-thresher-action": "read"})
def list_datasets(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]) -> list[DatasetPublic]:
    return [_public(d) for d in store.list_datasets(ctx.project.name)]


@router.post("", response_model=DatasetPublic, status_code=201, openapi_extra={"x-thresher-action": "write"})
def create_dataset(
    body: DatasetCreate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> DatasetPublic:
    ds = store.create_dataset(
        ctx.project.name, body.name, description=body.description, guidelines=body.guidelines, questions=body.questions
    )
    assert ctx.project.id is not None
    emit(store, ctx.project.id, "dataset.created", {"project": ds.project, "dataset": ds.name})
    return _public(ds)


@router.get("/{dataset}", response_model=DatasetPublic, openapi_extra={"x-thresher-action": "read"})
def get_dataset(
    dataset: DatasetName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]
) -> DatasetPublic:
    return _public(dataset_of(store, ctx, dataset))


@router.patch("/{dataset}", response_model=DatasetPublic, openapi_extra={"x-thresher-action": "write"})
def update_dataset(
    dataset: DatasetName, body: DatasetUpdate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> DatasetPublic:
    changes = body.model_dump(exclude_unset=True)
    ds = store.update_dataset(dataset_of(store, ctx, dataset), **changes)
    if changes:
        _changed(store, ctx, ds, sorted(changes))
    return _public(ds)


@router.delete(
    "/{dataset}",
    status_code=204,
    summary="Delete a dataset with its records, responses and versions",
    openapi_extra={"x-thresher-action": "manage"},
)
def delete_dataset(dataset: DatasetName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]) -> None:
    ds = dataset_of(store, ctx, dataset)
    store.delete_dataset(ds)
    assert ctx.project.id is not None
    emit(store, ctx.project.id, "dataset.deleted", {"project": ds.project, "dataset": ds.name})


# -- questions ------------------------------------------------------------------------------


@router.get("/{dataset}/questions", response_model=list[Question], openapi_extra={"x-thresher-action": "read"})
def list_questions(
    dataset: DatasetName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]
) -> list[Question]:
    return dataset_of(store, ctx, dataset).questions


@router.post(
    "/{dataset}/questions", response_model=Question, status_code=201, openapi_extra={"x-thresher-action": "write"}
)
def add_question(
    dataset: DatasetName, body: Question, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> Question:
    ds = store.add_question(dataset_of(store, ctx, dataset), body)
    _changed(store, ctx, ds, ["questions"])
    return body


@router.put(
    "/{dataset}/questions/{question}",
    response_model=Question,
    summary="Replace a question (it keeps its place)",
    openapi_extra={"x-thresher-action": "write"},
)
def replace_question(
    dataset: DatasetName,
    question: QuestionName,
    body: Question,
    store: StoreDep,
    ctx: Annotated[ProjectAccess, need(Action.WRITE)],
) -> Question:
    ds = store.replace_question(dataset_of(store, ctx, dataset), question, body)
    _changed(store, ctx, ds, ["questions"])
    return body


@router.delete("/{dataset}/questions/{question}", status_code=204, openapi_extra={"x-thresher-action": "write"})
def delete_question(
    dataset: DatasetName, question: QuestionName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> None:
    ds = store.delete_question(dataset_of(store, ctx, dataset), question)
    _changed(store, ctx, ds, ["questions"])


# -- guidelines -----------------------------------------------------------------------------


@router.get("/{dataset}/guidelines", response_model=Guidelines, openapi_extra={"x-thresher-action": "read"})
def get_guidelines(
    dataset: DatasetName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.READ)]
) -> Guidelines:
    return Guidelines(guidelines=dataset_of(store, ctx, dataset).guidelines)


@router.put("/{dataset}/guidelines", response_model=Guidelines, openapi_extra={"x-thresher-action": "write"})
def set_guidelines(
    dataset: DatasetName, body: Guidelines, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> Guidelines:
    ds = store.update_dataset(dataset_of(store, ctx, dataset), guidelines=body.guidelines)
    _changed(store, ctx, ds, ["guidelines"])
    return Guidelines(guidelines=ds.guidelines)
