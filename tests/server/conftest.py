"""The app over the ``store`` fixture (SQLite and PostgreSQL), and clients that act as each role.

``api.member(project, role)`` creates a user with that role and logs them in through
``POST /api/v1/auth/login``, as a browser does: the session cookie is kept by the client and
the CSRF token of the login response is sent on every request. ``api.key(project, role)``
makes an API key and a client that sends it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from thresher.server import create_app
from thresher.server.routers import auth
from thresher.settings import Settings
from thresher.store import Store, accounts

API = "/api/v1"
PASSWORD = "correct horse battery staple"


@dataclass
class Api:
    app: FastAPI
    store: Store
    _names: Iterator[int] = field(default_factory=itertools.count)

    def client(self, headers: dict[str, str] | None = None) -> TestClient:
        return TestClient(self.app, headers=headers)

    def anonymous(self) -> TestClient:
        return self.client()

    def login(self, name: str, password: str = PASSWORD) -> TestClient:
        c = self.client()
        r = c.post(f"{API}/auth/login", json={"username": name, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def user(self, name: str, *, admin: bool = False) -> TestClient:
        """A new user (an administrator with ``admin``), logged in."""
        self.store.accounts.create_user(name, PASSWORD, is_admin=admin)
        return self.login(name)

    def member(self, project: str, role: str, name: str | None = None) -> TestClient:
        """A new user with ``role`` in ``project``, logged in."""
        name = name or f"{role}-{next(self._names)}"
        self.store.accounts.create_user(name, PASSWORD)
        self.grant(name, project, role)
        return self.login(name)

    def grant(self, user: str, project: str, role: str) -> None:
        pid = self.store.ensure_project(project).id
        assert pid is not None
        self.store.accounts.set_role(user, pid, role)

    def key_secret(self, project: str, role: str, name: str | None = None) -> str:
        pid = self.store.ensure_project(project).id
        assert pid is not None
        _, secret = self.store.accounts.create_key(pid, role, name or f"{role}-key-{next(self._names)}")
        return secret

    def key(self, project: str, role: str, name: str | None = None) -> TestClient:
        """A client that sends a new API key with ``role`` in ``project``."""
        return self.client({"Authorization": f"Bearer {self.key_secret(project, role, name)}"})

    @staticmethod
    def locs(response: Any) -> list[list[Any]]:
        """The ``loc`` of each detail of an error response, in our shape or FastAPI's."""
        body = response.json()
        details = body["error"]["details"] if "error" in body else body["detail"]
        return [d["loc"] for d in details]


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at its lowest cost: these tests create and log in many users (argon2id all the same)."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(autouse=True)
def _fresh_login_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Failed logins are counted per process (the fuzzer makes many): each test starts from none."""
    monkeypatch.setattr(auth, "_attempts", auth._Attempts())


@pytest.fixture
def api(store: Store) -> Api:
    """The app on both backends (through the parametrized ``store`` fixture)."""
    return Api(create_app(store, Settings(cookie_secure=False)), store)
