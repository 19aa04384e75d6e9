"""The arena over the API: blind battles, one vote each, a Bradley-Terry leaderboard; informative pairs."""

from __future__ import annotations

import json
import random

import pytest
from argon2 import PasswordHasher
from evals_support import QUESTIONS, server, suite
from fastapi.testclient import TestClient

from thresher.evals import RunOptions, Suite, run_eval
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.arena import next_battle, pair_weights
from thresher.evals.fake_server import FakeModelServer
from thresher.server import create_app
from thresher.settings import Settings
from thresher.store import Store, accounts

USES_FIXTURES = (server, suite)  # pytest finds fixtures among the module's names

API = "/api/v1"


@pytest.fixture(autouse=True)
def _cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def login(app: object, store: Store, name: str, role: str) -> TestClient:
    store.accounts.create_user(name, "a long password")
    pid = store.get_project("p").id
    assert pid is not None
    store.accounts.set_role(name, pid, role)
    c = TestClient(app)  # type: ignore[arg-type]
    r = c.post(f"{API}/auth/login", json={"username": name, "password": "a long password"})
    assert r.status_code == 200, r.text
    c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c


def test_blind_battles_votes_and_leaderboard(store: Store, suite: Suite, server: FakeModelServer) -> None:
    app = create_app(store, Settings(cookie_secure=False))
    alice = login(app, store, "alice", "annotator")
    bob = login(app, store, "bob", "annotator")
    assert alice.post(f"{API}/projects/p/arena/next").status_code == 409  # no runs yet
    for model in ("good", "bad"):
        run_eval(store, suite, OpenAIAdapter(server.url, model), RunOptions())

    votes = 0
    for _ in range(12):
        r = alice.post(f"{API}/projects/p/arena/next")
        assert r.status_code == 200, r.text
        battle = r.json()
        assert set(battle) == {"battle_id", "prompt", "a", "b"}
        shown = json.dumps([battle["a"], battle["b"]])  # (the battle id is hex: it may spell "bad")
        assert "good" not in shown and "bad" not in shown and "model" not in shown
        assert battle["prompt"][0]["content"] in QUESTIONS
        right = QUESTIONS[battle["prompt"][0]["content"]]
        winner = "a" if right in battle["a"]["output"] else "b"
        v = alice.post(f"{API}/projects/p/arena/votes", json={"battle_id": battle["battle_id"], "winner": winner})
        assert v.status_code == 201, v.text
        assert v.json()[f"model_{winner}"] == "good"  # names revealed with the vote
        votes += 1
    again = alice.post(f"{API}/projects/p/arena/votes", json={"battle_id": battle["battle_id"], "winner": "tie"})
    assert again.status_code == 409
    theirs = bob.post(f"{API}/projects/p/arena/votes", json={"battle_id": battle["battle_id"], "winner": "a"})
    assert theirs.status_code == 404  # a battle dealt to someone else
    bad = alice.post(f"{API}/projects/p/arena/votes", json={"battle_id": battle["battle_id"], "winner": "c"})
    assert bad.status_code == 422

    # Voters do not see the standings (they would bias the next votes); a reviewer does.
    assert alice.get(f"{API}/projects/p/arena/leaderboard").status_code == 403
    lead = login(app, store, "lead", "reviewer")
    board = lead.get(f"{API}/projects/p/arena/leaderboard").json()
    assert board["votes"] == votes
    top, bottom = board["models"]
    assert top["model"] == "good" and bottom["model"] == "bad" and top["rating"] > bottom["rating"]
    assert top["ci"][0] <= top["rating"] <= top["ci"][1] and top["wins"] == votes


def test_informative_pairs_prefer_close_and_rarely_compared(store: Store) -> None:
    votes = [("a", "b", "a")] * 30 + [("b", "c", "tie")] * 2
    w = pair_weights(["a", "b", "c"], votes)
    assert w[("b", "c")] > w[("a", "b")]  # close ratings, few votes
    assert w[("a", "c")] > w[("a", "b")]  # never compared
    fresh = pair_weights(["a", "b", "c"], [])
    assert len(set(fresh.values())) == 1


def test_deals_only_items_both_models_answered(store: Store, suite: Suite) -> None:
    with FakeModelServer(error_rate=0.5, seed=1) as srv:
        for model in ("x", "y"):
            run_eval(store, suite, OpenAIAdapter(srv.url, model, max_retries=0), RunOptions())
    pid = store.get_project("p").id
    assert pid is not None
    runs = store.evals.arena_models(pid)
    ok = {m: {r.record_id for r in store.evals.results(run) if r.error is None} for m, run in runs.items()}
    for i in range(10):
        b = next_battle(store, "p", "carol", rng=random.Random(i))
        assert b.record_id in ok["x"] & ok["y"] and {b.model_a, b.model_b} == {"x", "y"}


def test_eval_runs_over_the_api(store: Store, suite: Suite, server: FakeModelServer) -> None:
    app = create_app(store, Settings(cookie_secure=False))
    eng = login(app, store, "erin", "engineer")
    base = run_eval(store, suite, OpenAIAdapter(server.url, "bad"), RunOptions(stage="base"))
    sft = run_eval(store, suite, OpenAIAdapter(server.url, "good"), RunOptions(stage="sft", training_version="sft@v1"))
    runs = eng.get(f"{API}/projects/p/evals/runs", params={"suite": "arith@v1"}).json()
    assert [r["stage"] for r in runs] == ["base", "sft"] and runs[1]["training_version"] == "sft@v1"
    assert eng.get(f"{API}/projects/p/evals/runs/{sft.id}").json()["summary"]["mean"] == 1.0
    seen, after = [], None
    while True:
        page = eng.get(f"{API}/projects/p/evals/runs/{sft.id}/results", params={"limit": 15, "after": after}).json()
        seen += page["items"]
        if page["next"] is None:
            break
        after = page["next"]
    assert len(seen) == len(QUESTIONS) == len({r["record_id"] for r in seen})
    c = eng.get(f"{API}/projects/p/evals/compare", params={"a": base.id, "b": sft.id}).json()
    assert c["significant"] and c["diff"] == 1.0
    r = eng.get(f"{API}/projects/p/evals/report", params={"suite": "arith@v1"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "base → sft" in r.text and "<svg" in r.text and "default-src 'none'" in r.headers["content-security-policy"]
    assert eng.get(f"{API}/projects/p/evals/runs/nope").status_code == 404
