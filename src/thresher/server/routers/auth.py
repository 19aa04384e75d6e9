"""Log in and out (browser sessions), and who am I."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from threading import Lock
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from thresher.errors import RateLimited, Unauthorized
from thresher.server.deps import SESSION_COOKIE, PrincipalDep, StoreDep
from thresher.server.errors import ERROR_RESPONSES
from thresher.settings import Settings

router = APIRouter(prefix="/auth", tags=["auth"], responses=ERROR_RESPONSES)


class LoginIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class MeOut(BaseModel):
    name: str
    is_admin: bool
    kind: str  # "user" or "key"
    csrf_token: str | None = None  # for browsers: echo it in X-CSRF-Token on unsafe requests
    project: str | None = None  # for keys: the one project
    role: str | None = None  # for keys: the role


class _Attempts:
    """Failed logins per client address and per user name, in a sliding minute."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = Lock()

    def check(self, keys: list[str], limit: int) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                q = self._seen[k]
                while q and now - q[0] > 60:
                    q.popleft()
                if len(q) >= limit:
                    raise RateLimited("too many failed logins; wait a minute")

    def fail(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for k in keys:
                self._seen[k].append(now)


_attempts = _Attempts()


@router.post("/login", response_model=MeOut)
def login(body: LoginIn, request: Request, response: Response, store: StoreDep) -> MeOut:
    settings: Settings = request.app.state.settings
    keys = [f"ip:{request.client.host if request.client else '?'}", f"user:{body.username}"]
    _attempts.check(keys, settings.login_attempts_per_minute)
    user = store.accounts.authenticate(body.username, body.password)
    if user is None:
        _attempts.fail(keys)
        raise Unauthorized("wrong user name or password")
    token, session = store.accounts.create_session(user)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="strict",
        max_age=int(session.expires_at.timestamp() - time.time()),
        path="/",
    )
    return MeOut(name=user.name, is_admin=user.is_admin, kind="user", csrf_token=session.csrf_token)


@router.post("/logout", status_code=204)
def logout(request: Request, response: Response, principal: PrincipalDep, store: StoreDep) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        store.accounts.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeOut)
def me(principal: PrincipalDep) -> MeOut:
    if principal.key is not None:
        k = principal.key
        return MeOut(name=principal.name, is_admin=False, kind="key", project=k.project, role=k.role)
    assert principal.user is not None and principal.session is not None
    u = principal.user
    return MeOut(name=u.name, is_admin=u.is_admin, kind="user", csrf_token=principal.session.csrf_token)
