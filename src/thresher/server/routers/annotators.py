"""Annotator profiles: the skills and languages a project member's queue is routed by."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import NotFound
from thresher.server.deps import ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.store import Store
from thresher.store.accounts import Membership

router = APIRouter(prefix="/projects/{project}/annotators", tags=["annotation"], responses=ERROR_RESPONSES)

UserName = Annotated[str, Path(description="user name", max_length=128)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: list[Tag] = Field(default_factory=list, max_length=50, description="skills the user's queue offers")
    languages: list[Tag] = Field(default_factory=list, max_length=50, description="languages, e.g. BCP 47 tags")


class ProfilePublic(BaseModel):
    user: str
    role: str
    skills: list[str]
    languages: list[str]


def _public(m: Membership) -> ProfilePublic:
    return ProfilePublic(user=m.user, role=m.role, skills=m.skills, languages=m.languages)


def profile_of(store: Store, ctx: ProjectAccess, user: str) -> Membership:
    """A member's profile; an API key or an administrator without a membership has an empty one."""
    assert ctx.project.id is not None
    found = store.annotation.profile(user, ctx.project.id)
    if found is None:
        return Membership(user, ctx.project.name, ctx.role)
    role, skills, languages = found
    return Membership(user, ctx.project.name, role, skills, languages)


@router.get(
    "",
    response_model=list[ProfilePublic],
    summary="Members with their skills and languages",
    openapi_extra={"x-thresher-action": "review"},
)
def list_annotators(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.REVIEW)]) -> list[ProfilePublic]:
    assert ctx.project.id is not None
    return [_public(m) for m in store.accounts.members(ctx.project.id)]


@router.get(
    "/me", response_model=ProfilePublic, summary="The caller's profile", openapi_extra={"x-thresher-action": "annotate"}
)
def my_profile(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.ANNOTATE)]) -> ProfilePublic:
    return _public(profile_of(store, ctx, ctx.principal.name))


@router.put(
    "/{user}",
    response_model=ProfilePublic,
    summary="Set a member's skills and languages",
    openapi_extra={"x-thresher-action": "manage"},
)
def set_profile(
    user: UserName, body: ProfileUpdate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]
) -> ProfilePublic:
    assert ctx.project.id is not None
    store.annotation.set_profile(user, ctx.project.id, body.skills, body.languages)
    for m in store.accounts.members(ctx.project.id):
        if m.user == user:
            return _public(m)
    raise NotFound(f"{user!r} is not a member of this project")  # removed meanwhile
