"""Versions of a dataset: immutable, named snapshots that exports and evals point to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from thresher.model import DatasetVersion
from thresher.model.project import NAME_PATTERN
from thresher.server.deps import ProjectAccess, StoreDep, dataset_of, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.events import emit
from thresher.server.permissions import Action
from thresher.server.schemas import DatasetName, Timestamp

router = APIRouter(
    prefix="/projects/{project}/datasets/{dataset}/versions", tags=["versions"], responses=ERROR_RESPONSES
)

VersionName = Annotated[str, Path(description="version name", max_length=128)]


class VersionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)


class VersionPublic(BaseModel):
    dataset: str
    name: str
    description: str | None
    record_count: int
    manifest_hash: str = Field(description="sha256 over the member records and the frozen responses")
    created_at: Timestamp | None


def _public(v: DatasetVersion) -> VersionPublic:
    return VersionPublic(**v.model_dump(exclude={"id"}))


@router.get("", response_model=list[VersionPublic], openapi_extra={"x-thresher-action": "browse"})
def list_versions(
    dataset: DatasetName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]
) -> list[VersionPublic]:
    return [_public(v) for v in store.list_versions(dataset_of(store, ctx, dataset))]


@router.post(
    "",
    response_model=VersionPublic,
    status_code=201,
    summary="Freeze the dataset's records and submitted responses as a named version",
    openapi_extra={"x-thresher-action": "write"},
)
def create_version(
    dataset: DatasetName, body: VersionCreate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.WRITE)]
) -> VersionPublic:
    ds = dataset_of(store, ctx, dataset)
    v = store.create_version(ds, body.name, body.description)
    assert ctx.project.id is not None
    payload = {"project": ds.project, "dataset": ds.name, "version": v.name, "records": v.record_count}
    emit(store, ctx.project.id, "version.created", payload)
    return _public(v)


@router.get("/{version}", response_model=VersionPublic, openapi_extra={"x-thresher-action": "browse"})
def get_version(
    dataset: DatasetName, version: VersionName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.BROWSE)]
) -> VersionPublic:
    return _public(store.get_version(dataset_of(store, ctx, dataset), version))
