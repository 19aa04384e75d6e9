"""People and keys: a project's members and API keys (owners), and user accounts (administrators)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import Conflict, NotFound
from thresher.server.deps import AdminDep, ProjectAccess, StoreDep, need
from thresher.server.errors import ERROR_RESPONSES
from thresher.server.permissions import Action
from thresher.server.schemas import Timestamp
from thresher.store import Store
from thresher.store.accounts import ApiKey, Membership, Role, User

router = APIRouter(responses=ERROR_RESPONSES)

MemberRole = Literal["owner", "engineer", "reviewer", "annotator"]
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$"
UserName = Annotated[str, Path(description="user name", max_length=128)]
KeyId = Annotated[str, Path(description="API key id", max_length=32)]
Tag = Annotated[str, Field(min_length=1, max_length=64)]


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: MemberRole
    skills: list[Tag] = Field(default_factory=list, max_length=50, description="queues route work by skill")
    languages: list[Tag] = Field(default_factory=list, max_length=50, description="BCP 47 tags")


class MemberPublic(BaseModel):
    user: str
    role: str
    skills: list[str]
    languages: list[str]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    role: Role = Field(description="`app` keys may only send capture events")


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the secret's first characters, to recognize it")
    role: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked: bool


class ApiKeyCreated(ApiKeyPublic):
    secret: str = Field(description="shown this once: send it as `Authorization: Bearer <secret>`")


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=USER_PATTERN)
    password: str = Field(min_length=8, max_length=1024)
    is_admin: bool = False


class UserPublic(BaseModel):
    name: str
    is_admin: bool
    created_at: Timestamp


def _member(m: Membership) -> MemberPublic:
    return MemberPublic(user=m.user, role=m.role, skills=m.skills, languages=m.languages)


def _key(k: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=k.id,
        name=k.name,
        prefix=k.prefix,
        role=k.role,
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked=k.revoked,
    )


def _user(u: User) -> UserPublic:
    return UserPublic(name=u.name, is_admin=u.is_admin, created_at=u.created_at)


def _keep_an_owner(store: Store, project_id: int, user: str) -> None:
    """A project keeps at least one owner: the last one cannot be removed or demoted."""
    owners = [m.user for m in store.accounts.members(project_id) if m.role == "owner"]
    if owners == [user]:
        raise Conflict(f"{user} is the project's last owner; make someone else owner first")


# -- members --------------------------------------------------------------------------------


@router.get(
    "/projects/{project}/members",
    response_model=list[MemberPublic],
    tags=["members"],
    openapi_extra={"x-thresher-action": "manage"},
)
def list_members(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]) -> list[MemberPublic]:
    assert ctx.project.id is not None
    return [_member(m) for m in store.accounts.members(ctx.project.id)]


@router.put(
    "/projects/{project}/members/{user}",
    response_model=MemberPublic,
    tags=["members"],
    summary="Give a user a role (with skills and languages) in the project",
    openapi_extra={"x-thresher-action": "manage"},
)
def set_member(
    user: UserName, body: MemberUpdate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]
) -> MemberPublic:
    pid = ctx.project.id
    assert pid is not None
    target = store.accounts.get_user(user)
    if body.role != "owner":
        _keep_an_owner(store, pid, target.name)
    store.accounts.set_role(target.name, pid, body.role, skills=body.skills, languages=body.languages)
    return MemberPublic(user=target.name, role=body.role, skills=body.skills, languages=body.languages)


@router.delete(
    "/projects/{project}/members/{user}",
    status_code=204,
    tags=["members"],
    openapi_extra={"x-thresher-action": "manage"},
)
def remove_member(user: UserName, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]) -> None:
    pid = ctx.project.id
    assert pid is not None
    target = store.accounts.get_user(user)
    if store.accounts.role_of(target.id, pid) is None:
        raise NotFound(f"{user} is not a member of {ctx.project.name}")
    _keep_an_owner(store, pid, target.name)
    store.accounts.remove_member(target.name, pid)


# -- API keys -------------------------------------------------------------------------------


@router.get(
    "/projects/{project}/keys",
    response_model=list[ApiKeyPublic],
    tags=["keys"],
    openapi_extra={"x-thresher-action": "manage"},
)
def list_keys(store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]) -> list[ApiKeyPublic]:
    assert ctx.project.id is not None
    return [_key(k) for k in store.accounts.list_keys(ctx.project.id)]


@router.post(
    "/projects/{project}/keys",
    response_model=ApiKeyCreated,
    status_code=201,
    tags=["keys"],
    summary="Create an API key for the project (its secret is in this response only)",
    openapi_extra={"x-thresher-action": "manage"},
)
def create_key(
    body: ApiKeyCreate, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]
) -> ApiKeyCreated:
    assert ctx.project.id is not None
    by = ctx.principal.user.id if ctx.principal.user is not None else None
    key, secret = store.accounts.create_key(ctx.project.id, body.role, body.name, created_by=by)
    return ApiKeyCreated(**_key(key).model_dump(), secret=secret)


@router.delete(
    "/projects/{project}/keys/{key_id}",
    status_code=204,
    tags=["keys"],
    summary="Revoke an API key (at once, for good)",
    openapi_extra={"x-thresher-action": "manage"},
)
def revoke_key(key_id: KeyId, store: StoreDep, ctx: Annotated[ProjectAccess, need(Action.MANAGE)]) -> None:
    key = store.accounts.get_key(key_id)
    if key.project_id != ctx.project.id:
        raise NotFound(f"no API key {key_id!r}")
    store.accounts.revoke_key(key.id)


# -- users (administrators) ------------------------------------------------------------------


@router.get("/users", response_model=list[UserPublic], tags=["users"], summary="Every user (administrators)")
def list_users(store: StoreDep, admin: AdminDep) -> list[UserPublic]:
    return [_user(u) for u in store.accounts.list_users()]


@router.post(
    "/users", response_model=UserPublic, status_code=201, tags=["users"], summary="Create a user (administrators)"
)
def create_user(body: UserCreate, store: StoreDep, admin: AdminDep) -> UserPublic:
    return _user(store.accounts.create_user(body.name, body.password, is_admin=body.is_admin))
