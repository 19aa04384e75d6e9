"""Request dependencies: the store, who is calling, and their access to a project.

Credentials: ``Authorization: Bearer thr_...`` (or ``X-API-Key``) for keys; the
``thresher_session`` cookie for browsers, whose unsafe requests must echo the session's CSRF
token in ``X-CSRF-Token``. Access is checked once, here, by ``need(action)``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from thresher.errors import Forbidden, NotFound, Unauthorized
from thresher.model import Dataset, Project
from thresher.server.permissions import Action, allowed
from thresher.store import Store
from thresher.store.accounts import ApiKey, Session, User
from thresher.store.jobs import Job

SESSION_COOKIE = "thresher_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_store(request: Request) -> Store:
    # async: it does no I/O, and a sync dependency costs every request a threadpool round trip.
    store: Store = request.app.state.store
    return store


StoreDep = Annotated[Store, Depends(get_store)]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a logged-in user (browser session) or an API key."""

    user: User | None = None
    key: ApiKey | None = None
    session: Session | None = None

    @property
    def name(self) -> str:
        if self.user is not None:
            return self.user.name
        assert self.key is not None
        return f"key:{self.key.name}"

    @property
    def is_admin(self) -> bool:
        return self.user is not None and self.user.is_admin

    def role_in(self, store: Store, project_id: int) -> str | None:
        if self.key is not None:
            return self.key.role if self.key.project_id == project_id else None
        assert self.user is not None
        if self.user.is_admin:
            return "owner"
        return store.accounts.role_of(self.user.id, project_id)

    def project_and_role(self, store: Store, name: str) -> tuple[Project, str | None]:
        """The project named ``name`` and this caller's role in it (None: none), a user's in one query."""
        if self.user is not None and not self.user.is_admin:
            return store.project_with_role(name, self.user.id)
        project = store.get_project(name)
        assert project.id is not None
        return project, self.role_in(store, project.id)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("x-api-key")


def get_principal(request: Request, store: StoreDep) -> Principal:
    secret = _bearer(request)
    if secret:
        key = store.accounts.key_for_secret(secret)
        if key is None:
            raise Unauthorized("invalid or revoked API key")
        return Principal(key=key)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = store.accounts.session(token)
        if session is not None:
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not hmac.compare_digest(sent, session.csrf_token):
                    raise Forbidden(f"missing or wrong {CSRF_HEADER} header (CSRF protection)")
            return Principal(user=session.user, session=session)
    raise Unauthorized("log in, or send an API key as 'Authorization: Bearer thr_...'")


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_user(principal: PrincipalDep) -> User:
    if principal.user is None:
        raise Forbidden("this needs a logged-in user, not an API key")
    return principal.user


UserDep = Annotated[User, Depends(require_user)]


def require_admin(user: UserDep) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator")
    return user


AdminDep = Annotated[User, Depends(require_admin)]


@dataclass(frozen=True)
class ProjectAccess:
    project: Project
    role: str
    principal: Principal


# How long a request remembers an API key's access to its project. A deployed app sends events
# many times a second: it is checked against the database once in this long, not per request, and
# the request runs on the event loop without a trip to the threadpool. A key revoked or a
# project deleted through this server takes effect at once (``Accounts.generation``); through
# another process (the CLI), within this long.
KEY_ACCESS_SECONDS = 2.0


def need(action: Action) -> object:
    """``ctx: Annotated[ProjectAccess, need(Action.WRITE)]`` on a route with a ``{project}`` path."""

    async def check(
        request: Request, store: StoreDep, project: Annotated[str, Path(description="project name")]
    ) -> ProjectAccess:
        access = _remembered(request, store, project)
        if access is None:
            access = await run_in_threadpool(_access, request, store, project)
        if not allowed(access.role, action):
            raise Forbidden(f"a {access.role} may not {action.value} in project {project!r}")
        return access

    return Depends(check)


def _access(request: Request, store: Store, project: str) -> ProjectAccess:
    """The caller and its role in ``project``, from the database (remembered for an API key)."""
    generation = store.accounts.generation  # (read first: a revocation meanwhile wins)
    principal = get_principal(request, store)
    try:
        p, role = principal.project_and_role(store, project)
    except NotFound:
        raise NotFound(f"no project named {project!r}") from None
    if role is None:
        raise NotFound(f"no project named {project!r}")  # not visible: do not confirm it exists
    access = ProjectAccess(p, role, principal)
    if principal.key is not None:
        secret = _bearer(request) or ""
        deadline = time.monotonic() + KEY_ACCESS_SECONDS
        _key_access(request)[(_digest(secret), project)] = (deadline, generation, access)
    return access


def _remembered(request: Request, store: Store, project: str) -> ProjectAccess | None:
    secret = _bearer(request)
    if not secret:
        return None
    hit = _key_access(request).get((_digest(secret), project))
    if hit is None:
        return None
    deadline, generation, access = hit
    if time.monotonic() > deadline or generation != store.accounts.generation:
        return None
    return access


def _key_access(request: Request) -> dict[tuple[bytes, str], tuple[float, int, ProjectAccess]]:
    cache: dict[tuple[bytes, str], tuple[float, int, ProjectAccess]] = request.app.state.key_access
    if len(cache) > 10_000:  # (keys of projects come and go: never let it grow without bound)
        cache.clear()
    return cache


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def dataset_of(store: Store, access: ProjectAccess, name: str) -> Dataset:
    return store.get_dataset(access.project.name, name)


def job_of(store: Store, access: ProjectAccess, job_id: str, kind: str, what: str) -> Job:
    """The project's job ``job_id`` of this kind; NotFound names it as ``what`` (another project's
    job, or one of another kind, is not found either)."""
    assert access.project.id is not None
    try:
        job = store.jobs.get(job_id, access.project.id)
    except NotFound:
        job = None
    if job is None or job.kind != kind:
        raise NotFound(f"no {what} {job_id!r} in project {access.project.name!r}")
    return job
