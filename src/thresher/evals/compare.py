"""Comparing two runs of the same suite version, item by item (paired)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from thresher.errors import ConfigError
from thresher.evals.stats import compare_paired
from thresher.store import Store
from thresher.store.evals import EvalResult, EvalRun

__all__ = ["compare_runs"]


def _scored(store: Store, run: EvalRun) -> dict[str, EvalResult]:
    return {r.record_id: r for r in store.evals.iter_results(run.id) if r.score is not None and r.error is None}


def compare_runs(store: Store, a: EvalRun, b: EvalRun, *, seed: int = 0) -> dict[str, Any]:
    """B against A on the items both scored: overall and per tag, each with its paired test.

    Pass/fail scorers (every score 0 or 1, ``passed`` set) get McNemar as well as the paired
    bootstrap; graded scores the paired bootstrap alone.
    """
    if a.suite_version_id != b.suite_version_id:
        raise ConfigError(f"runs {a.id} and {b.id} are on different suite versions ({a.suite} vs {b.suite})")
    ra, rb = _scored(store, a), _scored(store, b)
    common = sorted(ra.keys() & rb.keys())
    if not common:
        raise ConfigError(
            f"runs {a.id} and {b.id} share no scored item ({len(ra)} and {len(rb)} scored): nothing to compare"
        )
    pass_fail = all(ra[k].passed is not None and rb[k].passed is not None for k in common)
    overall = compare_paired([ra[k].score or 0.0 for k in common], [rb[k].score or 0.0 for k in common], seed=seed)
    tags: dict[str, list[str]] = defaultdict(list)
    for k in common:
        for tag in ra[k].tags:
            tags[tag].append(k)
    by_tag = {
        tag: compare_paired(
            [ra[k].score or 0.0 for k in keys], [rb[k].score or 0.0 for k in keys], n_boot=2000, seed=seed
        ).to_dict()
        for tag, keys in sorted(tags.items())
    }
    return {
        "a": {"id": a.id, "model": a.model, "stage": a.stage},
        "b": {"id": b.id, "model": b.model, "stage": b.stage},
        "suite": a.suite,
        "pass_fail": pass_fail,
        "only_in_a": len(ra.keys() - rb.keys()),
        "only_in_b": len(rb.keys() - ra.keys()),
        **overall.to_dict(),
        "by_tag": by_tag,
    }
