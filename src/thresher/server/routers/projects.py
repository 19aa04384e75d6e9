"""Projects: list the ones visible to the caller, create (administrators), read, describe, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import ConfigError
from thresher.model import Project
from thresher.model.project import NAME_PATTERN
from thresher.server.deps import AdminDep, PrincipalDep, ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.jobs import EXPORT, ExportRunner, exports_root, remove_folder
from thresher.server.permissions import Action, allowed
from thresher.server.schemas import Timestamp
from thresher.settings import Settings

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=10_000)


class ProjectUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=10_000)


class ProjectPublic(BaseModel):
    name: str
    description: str | None
    created_at: Timestamp | None
    role: str | None = Field(description="the caller's role in the project")


def _public(project: Project, role: str | None) -> ProjectPublic:
    return ProjectPublic(name=project.name, description=project.description, created_at=project.created_at, role=role)


@router.get("", response_model=list[ProjectPublic], summary="Projects the caller can see")
def list_projects(store: StoreDep, principal: PrincipalDep) -> list[ProjectPublic]:
    out = []
    for p in store.list_projects():
        assert p.id is not None
        role = principal.role_in(store, p.id)
        if allowed(role, Action.READ):
            out.append(_public(p, role))
    return out


@router.post("", response_model=ProjectPublic, status_code=201, summary="Create a project (administrators)")
def create_project(body: ProjectCreate, store: StoreDep, admin: AdminDep) -> ProjectPublic:
    return _public(store.create_project(body.name, body.description), "owner")


@router.get("/{project}", response_model=ProjectPublic, openapi_extra={"x-thresher-action": "read"})
def get_project(ctx: Annotated[ProjectAccess, need(Action.READ)]) -> ProjectPublic:
    return _public(ctx.project, ctx.role)


@router.patch("/{project}", response_model=ProjectPublic, openapi_extra={"x-thresher-action": "manage"})
def update_project(
    body: ProjectUpdate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]
) -> ProjectPublic:
    project = ctx.project
    if "description" in body.model_fields_set:
        project = store.update_project(project, description=body.description)
    return _public(project, ctx.role)


@router.delete(
    "/{project}",
    status_code=204,
    summary="Delete a project with all its datasets, members and keys",
    openapi_extra={"x-thresher-action": "manage"},
)
def delete_project(request: Request, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]) -> None:
    """Export files live beside the database, one folder per job: removed here, since the rows that
    name them go with the project (a running export is cancelled first and stops at its next batch)."""
    assert ctx.project.id is not None
    runner: ExportRunner | None = getattr(request.app.state, "exports", None)
    root = runner.root if runner is not None else None
    if root is None:
        settings: Settings = request.app.state.settings
        try:
            root = exports_root(store, settings)
        except ConfigError:
            root = None  # no local export folder: nothing was ever written
    while jobs := store.jobs.list_jobs(ctx.project.id, kind=EXPORT, limit=500):
        for job in jobs:
            store.jobs.cancel(job.id)
            remove_folder(root, job.id)
            store.jobs.delete(job.id)
    store.delete_project(ctx.project)
