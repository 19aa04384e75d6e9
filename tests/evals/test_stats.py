"""The statistics are honest: intervals cover the truth at their rate, BT recovers strengths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from thresher.evals.stats import (
    bootstrap_ci,
    bradley_terry,
    cohen_kappa,
    compare_paired,
    krippendorff_alpha,
    mcnemar,
    win_probability,
)


def test_bootstrap_ci_covers_the_truth_at_about_its_rate() -> None:
    rng = np.random.default_rng(7)
    p, n, sims = 0.3, 100, 200
    covered = 0
    for s in range(sims):
        lo, hi = bootstrap_ci(rng.binomial(1, p, n).tolist(), n_boot=1000, seed=s)
        covered += lo <= p <= hi
    assert 0.88 <= covered / sims <= 0.99, covered / sims


def test_paired_bootstrap_interval_covers_the_true_difference() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    sims = 200
    for s in range(sims):
        skill = rng.normal(0, 1, 80)  # item difficulty shared by both runs: why pairing matters
        a = skill + rng.normal(0, 0.5, 80)
        b = skill + 0.2 + rng.normal(0, 0.5, 80)
        c = compare_paired(a.tolist(), b.tolist(), n_boot=1000, seed=s)
        covered += c.ci[0] <= 0.2 <= c.ci[1]
    assert 0.88 <= covered / sims <= 0.99, covered / sims


def test_edge_cases() -> None:
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    assert bootstrap_ci([0.5]) == (0.5, 0.5) and bootstrap_ci([1, 1, 1]) == (1.0, 1.0)
    assert compare_paired([], []).verdict == "no items in common"
    with pytest.raises(ValueError):
        compare_paired([1.0], [1.0, 0.0])


def test_mcnemar_and_verdicts() -> None:
    a = [1] * 30 + [0] * 30 + [1] * 5
    b = [1] * 30 + [1] * 30 + [0] * 5
    m = mcnemar([bool(x) for x in a], [bool(x) for x in b])
    assert m["a_only"] == 5 and m["b_only"] == 30 and m["p"] < 1e-3 and m["exact"] == 0.0
    c = compare_paired(a, b)
    assert c.significant and c.verdict == "B is better (significant)" and c.mcnemar is not None
    small = compare_paired([1, 0, 1, 0, 1], [1, 1, 1, 0, 0])
    assert not small.significant and small.verdict == "within noise" and small.mcnemar["exact"] == 1.0  # type: ignore[index]
    graded = compare_paired([0.2, 0.4, 0.5], [0.3, 0.6, 0.9])
    assert graded.mcnemar is None


def test_bradley_terry_recovers_known_strengths() -> None:
    rng = np.random.default_rng(3)
    truth = {"m0": 0.0, "m1": 0.5, "m2": 1.0, "m3": 1.5, "m4": 2.5}  # log-strengths
    names = list(truth)
    votes = []
    for _ in range(3000):
        i, j = rng.choice(len(names), 2, replace=False)
        a, b = names[i], names[j]
        p = 1 / (1 + math.exp(truth[b] - truth[a]))
        u = rng.random()
        votes.append((a, b, "tie" if abs(u - p) < 0.03 else "a" if u < p else "b"))
    ratings = bradley_terry(votes, n_boot=50)
    assert [r.model for r in ratings] == sorted(names, key=lambda m: -truth[m])
    fitted = {r.model: r.rating for r in ratings}
    est = np.array([fitted[m] for m in names])
    true = np.array([truth[m] for m in names])
    assert np.corrcoef(est, true)[0, 1] > 0.98
    scale = 400 / math.log(10)
    gaps = (est - est[0]) / scale
    assert np.allclose(gaps, true - true[0], atol=0.25)
    for r in ratings:
        assert r.ci[0] <= r.rating <= r.ci[1]
    assert ratings[0].battles > 0 and sum(r.ties for r in ratings) > 0
    assert win_probability(ratings[0].rating, ratings[-1].rating) > 0.85


def test_agreement_metrics() -> None:
    assert cohen_kappa([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert cohen_kappa([1, 1, 2, 2], [2, 2, 1, 1]) < 0
    assert krippendorff_alpha([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)
    assert krippendorff_alpha([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) < 0
