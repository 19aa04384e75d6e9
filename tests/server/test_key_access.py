"""An API key's access is remembered for a moment (``server/deps.py``), and never for longer."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from thresher.server import deps
from thresher.store.accounts import Accounts

if TYPE_CHECKING:
    from conftest import Api

API = "/api/v1"
P = f"{API}/projects/remembered"
EVENT = {"type": "turn", "id": "t1", "session_id": "s1", "message": {"role": "user", "content": "hi"}}


def _key(api: Api, role: str) -> tuple[str, str]:
    pid = api.store.ensure_project("remembered").id
    assert pid is not None
    key, secret = api.store.accounts.create_key(pid, role, f"{role}-key")
    return key.id, secret


def test_a_remembered_key_is_still_held_to_its_role(api: Api) -> None:
    _, secret = _key(api, "app")
    app = api.client({"Authorization": f"Bearer {secret}"})
    assert app.post(f"{P}/capture", json={"events": [EVENT]}).status_code == 200  # now remembered
    assert app.get(f"{P}/datasets").status_code == 403  # an app key never reads
    assert app.post(f"{API}/projects/other/capture", json={"events": [EVENT]}).status_code == 404


def test_revoked_through_this_server_it_stops_at_once(api: Api) -> None:
    owner = api.member("remembered", "owner")
    key_id, secret = _key(api, "engineer")
    bot = api.client({"Authorization": f"Bearer {secret}"})
    assert bot.get(f"{P}/datasets").status_code == 200
    assert owner.delete(f"{P}/keys/{key_id}").status_code == 204
    assert bot.get(f"{P}/datasets").status_code == 401


def test_its_project_deleted_through_this_server_it_stops_at_once(api: Api) -> None:
    owner = api.member("remembered", "owner")
    _, secret = _key(api, "engineer")
    bot = api.client({"Authorization": f"Bearer {secret}"})
    assert bot.get(f"{P}/datasets").status_code == 200
    assert owner.delete(P).status_code == 204
    assert bot.get(f"{P}/datasets").status_code in (401, 404)


def test_revoked_by_another_process_it_stops_within_the_remembered_time(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deps, "KEY_ACCESS_SECONDS", 0.3)
    key_id, secret = _key(api, "engineer")
    bot = api.client({"Authorization": f"Bearer {secret}"})
    assert bot.get(f"{P}/datasets").status_code == 200
    Accounts(api.store.engine).revoke_key(key_id)  # as the CLI would: this server is not told
    assert bot.get(f"{P}/datasets").status_code == 200  # remembered: the key is not looked up again
    time.sleep(0.4)
    assert bot.get(f"{P}/datasets").status_code == 401
