"""The arena: blind side-by-side battles between models' outputs, and a Bradley-Terry leaderboard.

Battles are dealt from finished eval runs: the latest run of each model in the project supplies
its outputs, a pair of models is drawn, then an item both answered. Pairs are drawn to be
informative: with weight ``p(1 - p) / sqrt(1 + n)``, where ``p`` is the current BT chance that
one beats the other (closest ratings weigh most) and ``n`` the votes the pair already has (the
least compared go first). Sides are shuffled; model names are only revealed with the vote.
"""

from __future__ import annotations

import math
import random
from typing import Any

import orjson

from thresher.errors import Conflict
from thresher.evals.stats import Rating, bradley_terry, win_probability
from thresher.store import Store
from thresher.store.evals import Battle

__all__ = ["WINNERS", "leaderboard", "next_battle", "pair_weights"]

WINNERS = ("a", "b", "tie", "both_bad")


def pair_weights(models: list[str], votes: list[tuple[str, str, str]]) -> dict[tuple[str, str], float]:
    """How informative a battle between each pair of models would be now."""
    ratings = {r.model: r.rating for r in bradley_terry(votes, n_boot=0)} if votes else {}
    counts: dict[tuple[str, str], int] = {}
    for a, b, _ in votes:
        key = (a, b) if a < b else (b, a)
        counts[key] = counts.get(key, 0) + 1
    out = {}
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            key = (a, b) if a < b else (b, a)
            p = win_probability(ratings.get(a, 1000.0), ratings.get(b, 1000.0))
            out[key] = max(p * (1 - p), 1e-3) / math.sqrt(1 + counts.get(key, 0))
    return out


def next_battle(store: Store, project: str, voter: str, *, rng: random.Random | None = None) -> Battle:
    """Deal a new battle to ``voter``: a prompt and two anonymous outputs."""
    rng = rng or random.Random()
    p = store.get_project(project)
    assert p.id is not None
    runs = store.evals.arena_models(p.id)
    if len(runs) < 2:
        raise Conflict("the arena needs finished eval runs of at least two models in this project")
    weights = pair_weights(sorted(runs), store.evals.votes(p.id))
    while weights:
        pairs = list(weights)
        a, b = rng.choices(pairs, weights=[weights[k] for k in pairs])[0]
        found = store.evals.common_item(runs[a], runs[b])
        if found is None:
            del weights[(a, b)]
            continue
        record_id, out_a, out_b = found
        if rng.random() < 0.5:
            a, b, out_a, out_b = b, a, out_b, out_a
        content: dict[str, Any] = orjson.loads(store.get_record(record_id).model_dump_json(include={"content"}))
        prompt = content["content"]["input"]
        return store.evals.create_battle(
            project_id=p.id,
            record_id=record_id,
            prompt=prompt,
            model_a=a,
            model_b=b,
            output_a=out_a,
            output_b=out_b,
            created_by=voter,
        )
    raise Conflict("no item was answered by two models: run the same suite on at least two models")


def leaderboard(store: Store, project_id: int, *, n_boot: int = 200, seed: int = 0) -> list[Rating]:
    return bradley_terry(store.evals.votes(project_id), n_boot=n_boot, seed=seed)
