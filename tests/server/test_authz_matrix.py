"""Every route × every kind of caller × their own project and another one.

A project-scoped route declares the action it needs (``x-thresher-action`` in the OpenAPI
spec); the test holds it to that: allowed exactly when the caller's role has the action, 403
when it does not, 404 in a project the caller has no role in (its existence is not confirmed),
401 when logged out. A route that declares no action must be in ``UNSCOPED`` below with who may
call it, so adding a route without deciding who may call it fails here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import fastapi.routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from thresher.model import Record, TextContent
from thresher.model.questions import RatingQuestion
from thresher.server.permissions import Action, allowed

if TYPE_CHECKING:
    from tests.server.conftest import Api

API = "/api/v1"
MEMBER_ROLES = ("owner", "engineer", "reviewer", "annotator")
# Each kind of caller: a logged-in member of each role, an `app` API key, an administrator
# (owner of every project), and nobody.
CALLERS = (*MEMBER_ROLES, "app", "admin", "anonymous")
EVERYONE = frozenset(CALLERS)
SIGNED_IN = EVERYONE - {"anonymous"}

# Routes without a project action, and who may call them (anyone else: 403; logged out: 401).
UNSCOPED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", f"{API}/projects"): SIGNED_IN,  # each sees the projects they can read
    ("POST", f"{API}/projects"): frozenset({"admin"}),
    ("GET", f"{API}/users"): frozenset({"admin"}),
    ("POST", f"{API}/users"): frozenset({"admin"}),
    ("GET", f"{API}/formats"): SIGNED_IN,  # the registry's formats: no project data
    ("GET", f"{API}/health"): EVERYONE,  # up or not, for load balancers: no data at all
}

# Path parameters the fixture world can fill with real objects; any other (a job or webhook
# id of a router this test does not know) gets a made-up value, so an allowed call may 404 there.
KNOWN_PARAMS = {"project", "dataset", "record_id", "version", "question", "user", "key_id"}

# A valid body where one is easy to write, so allowed calls mostly answer 2xx; any other
# route gets `{}` (an allowed call may then answer 422, which still proves it was let in).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/projects"): {"name": "made-by-admin"},
    ("PATCH", "/projects/{project}"): {"description": "about"},
    ("POST", "/projects/{project}/datasets"): {"name": "fresh"},
    ("PATCH", "/projects/{project}/datasets/{dataset}"): {"description": "about"},
    ("POST", "/projects/{project}/datasets/{dataset}/questions"): {"type": "text", "name": "note"},
    ("PUT", "/projects/{project}/datasets/{dataset}/questions/{question}"): {
        "type": "rating",
        "name": "quality",
        "min": 1,
        "max": 5,
    },
    ("PUT", "/projects/{project}/datasets/{dataset}/guidelines"): {"guidelines": "be kind"},
    ("POST", "/projects/{project}/datasets/{dataset}/records"): [{"content": {"kind": "text", "text": "new"}}],
    ("PUT", "/projects/{project}/datasets/{dataset}/records/{record_id}/responses/me"): {"answers": {"quality": 4}},
    ("POST", "/projects/{project}/datasets/{dataset}/records/{record_id}/suggestions"): {
        "question": "quality",
        "value": 3,
        "agent": "model-a",
    },
    ("POST", "/projects/{project}/datasets/{dataset}/versions"): {"name": "v2"},
    ("PUT", "/projects/{project}/members/{user}"): {"role": "annotator"},
    ("POST", "/projects/{project}/keys"): {"name": "ci", "role": "app"},
    ("POST", "/users"): {"name": "made-by-admin", "password": "long enough password"},
    # annotation (thresher.annotate)
    ("PUT", "/projects/{project}/annotators/{user}"): {"skills": ["medical"], "languages": ["fr"]},
    ("PUT", "/projects/{project}/datasets/{dataset}/workflow"): {"overlap": 2, "lease_seconds": 600},
    ("PUT", "/projects/{project}/assignments/{assignment_id}/draft"): {"answers": {}},
    ("POST", "/projects/{project}/assignments/{assignment_id}/submit"): {"answers": {"quality": 3}},
    ("POST", "/projects/{project}/assignments/{assignment_id}/amend"): {"answers": {"quality": 3}},
    ("POST", "/projects/{project}/assignments/{assignment_id}/skip"): {"reason": "not my field"},
    ("POST", "/projects/{project}/responses/{response_id}/review"): {"decision": "accept"},
}


@dataclass(frozen=True)
class Side:
    """One project's objects, for path parameters."""

    project: str
    record_id: str
    key_id: str

    def params(self) -> dict[str, str]:
        return {
            "project": self.project,
            "dataset": "ds",
            "record_id": self.record_id,
            "version": "v1",
            "question": "quality",
            "user": "spare",
            "key_id": self.key_id,
        }


@dataclass(frozen=True)
class World:
    own: Side  # where each member has their role and the app key belongs
    other: Side  # where none of them has a role
    app_key: str


class Matrix:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.spec = api.app.openapi()
        self._n = itertools.count()
        for name in (*MEMBER_ROLES, "spare", "stranger"):
            api.store.accounts.create_user(name, "a long password")
        api.store.accounts.create_user("admin", "a long password", is_admin=True)
        self.clients: dict[str, TestClient] = {n: api.login(n, "a long password") for n in (*MEMBER_ROLES, "admin")}
        self.clients["app"] = self.clients["anonymous"] = api.anonymous()
        self.calls = 0

    def world(self) -> World:
        n = next(self._n)
        own, other = self._project(f"own-{n}"), self._project(f"other-{n}")
        for role in MEMBER_ROLES:
            self.api.grant(role, own.project, role)
        self.api.grant("stranger", other.project, "owner")
        return World(own, other, self.api.key_secret(own.project, "app"))

    def _project(self, name: str) -> Side:
        store = self.api.store
        project = store.create_project(name)
        assert project.id is not None
        ds = store.create_dataset(name, "ds", questions=[RatingQuestion(name="quality", min=1, max=5)])
        store.add_records(
            ds, [Record(content=TextContent(text=f"hello from {name}")), Record(content=TextContent(text="2"))]
        )
        record_id = store.page_records(ds, limit=1)[0].id
        store.create_version(ds, "v1")
        self.api.grant("spare", name, "annotator")
        key, _ = store.accounts.create_key(project.id, "engineer", "spare-key")
        return Side(name, record_id, key.id)

    def call(self, caller: str, method: str, path: str, world: World, side: Side) -> Response:
        params = {name: "no-such-id" for name in _params(path)} | side.params()
        url = path.format(**{k: v for k, v in params.items() if "{" + k + "}" in path})
        headers = {"Authorization": f"Bearer {world.app_key}"} if caller == "app" else None
        content = self.spec["paths"][path][method.lower()].get("requestBody", {}).get("content", {})
        client = self.clients[caller]
        self.calls += 1
        if "multipart/form-data" in content:
            files = {"file": ("rows.jsonl", b'{"text": "uploaded"}\n')}
            return client.request(method, url, files=files, headers=headers)
        if content:
            body = BODIES.get((method, path.removeprefix(API)), {})
            return client.request(method, url, json=body, headers=headers)
        return client.request(method, url, headers=headers)


def _params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _routes(api: Api) -> list[tuple[str, str, str | None]]:
    """(method, path, declared action) of every API route, hidden ones included; /auth/* left out."""
    # FastAPI >= 0.16x keeps included routers as a tree; iter_route_contexts flattens it (as the
    # OpenAPI generator does). Older ones list APIRoutes directly.
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    out = []
    for route in flatten(api.app.routes) if flatten else api.app.routes:
        if not isinstance(getattr(route, "original_route", route), APIRoute):
            continue  # the docs and the OpenAPI document
        if route.path.startswith(f"{API}/auth/") or not route.path.startswith(f"{API}/"):
            continue  # login itself, and the browser app's files (public: the app asks the API)
        action = (route.openapi_extra or {}).get("x-thresher-action")
        out.extend((method, route.path, action) for method in sorted(route.methods))
    assert out, "found no routes: has FastAPI changed how it stores them?"
    return out


def _verdict(response: Response, expected: int | str, unknown_params: bool) -> bool:
    status = response.status_code
    if expected != "allowed":
        return status == expected
    if status == 404 and unknown_params:  # a made-up job or webhook id: the project itself must have been found
        return not response.json()["error"]["message"].startswith("no project named")
    return status not in (401, 403, 404) and status < 500


def test_every_route_declares_who_may_call_it(api: Api) -> None:
    undeclared = [f"{m} {p}" for m, p, action in _routes(api) if action is None and (m, p) not in UNSCOPED]
    assert not undeclared, (
        "routes without openapi_extra={'x-thresher-action': ...} (or an entry in UNSCOPED): " + ", ".join(undeclared)
    )
    bad = [f"{m} {p}: {a!r}" for m, p, a in _routes(api) if a is not None and a not in set(Action)]
    assert not bad, f"unknown actions: {bad}"
    scoped_without = [f"{m} {p}" for m, p, a in _routes(api) if "{project}" in p and a is None]
    assert not scoped_without, f"project routes must declare their action: {scoped_without}"
    assert set(UNSCOPED) <= {(m, p) for m, p, _ in _routes(api)}, "UNSCOPED names a route that is gone"


def test_authz_matrix(api: Api) -> None:
    m = Matrix(api)
    shared = m.world()
    failures: list[str] = []
    for method, path, action in _routes(api):
        unknown = not set(_params(path)) <= KNOWN_PARAMS
        for caller in CALLERS:
            # A DELETE that succeeds takes its object with it: give each caller a world of its own.
            world = m.world() if method == "DELETE" else shared
            if action is None:
                if (method, path) not in UNSCOPED:
                    failures.append(f"{method} {path}: declares no x-thresher-action")
                    break
                expected: int | str = (
                    "allowed" if caller in UNSCOPED[method, path] else 401 if caller == "anonymous" else 403
                )
                checks = [("-", world.own, expected)]
            else:
                role = "owner" if caller == "admin" else caller
                in_own: int | str = (
                    401 if caller == "anonymous" else "allowed" if allowed(role, Action(action)) else 403
                )
                in_other: int | str = 401 if caller == "anonymous" else in_own if caller == "admin" else 404
                checks = [("other", world.other, in_other), ("own", world.own, in_own)]
            for where, side, exp in checks:
                r = m.call(caller, method, path, world, side)
                if not _verdict(r, exp, unknown):
                    failures.append(
                        f"{method} {path} as {caller} in {where} project: expected {exp}, got {r.status_code} "
                        f"{r.text[:160]}"
                    )
    assert not failures, f"{len(failures)} of {m.calls} calls wrong:\n" + "\n".join(failures)
    assert m.calls > 300
