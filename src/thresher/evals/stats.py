"""Statistics for evals: bootstrap intervals, paired tests, Bradley-Terry ratings, agreement.

- ``bootstrap_ci``: percentile bootstrap of the mean (vectorised resampling, seeded).
- ``compare_paired``: two runs scored on the same items. Pass/fail scores get McNemar's test
  (exact binomial when fewer than 25 discordant pairs, else chi-square with continuity
  correction, statsmodels); every score gets a paired bootstrap of the mean difference. The
  verdict is "significant" only when the 95% interval of the difference excludes 0 (and, for
  pass/fail, McNemar agrees); otherwise "within noise".
- ``bradley_terry``: strengths from pairwise votes by choix's ILSR (a spectral fit of the BT
  maximum-likelihood estimate, lightly regularised so that a model that never lost stays
  finite). A tie counts as one win each way, i.e. half a win each at double weight;
  ``both_bad`` is a tie. Ratings are on the Elo scale (``1000 + 400 log10(e) θ``, mean 1000),
  with bootstrap intervals over the votes.
- ``cohen_kappa`` and ``krippendorff_alpha``: judge-human agreement, the metrics annotator
  agreement uses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.random  # numpy loads it lazily: load it with this module, not in the middle of a run

__all__ = [
    "Comparison",
    "Rating",
    "bootstrap_ci",
    "bradley_terry",
    "cohen_kappa",
    "compare_paired",
    "krippendorff_alpha",
]


def bootstrap_ci(
    values: Sequence[float], *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean. An empty sample gives (nan, nan)."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1 or np.all(x == x[0]):
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = _boot_means(x, n_boot, rng)
    a = (1 - level) / 2
    lo, hi = np.quantile(means, [a, 1 - a])
    return float(lo), float(hi)


def _boot_means(x: np.ndarray[Any, Any], n_boot: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    # In chunks, so a large run never needs an n_boot x n index matrix at once.
    out = np.empty(n_boot)
    step = max(1, 2_000_000 // max(1, x.size))
    for i in range(0, n_boot, step):
        k = min(step, n_boot - i)
        out[i : i + k] = x[rng.integers(0, x.size, size=(k, x.size))].mean(axis=1)
    return out


@dataclass(frozen=True)
class Comparison:
    """B minus A on the items both runs scored."""

    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci: tuple[float, float]
    p_bootstrap: float
    mcnemar: dict[str, float] | None  # b01 (A pass, B fail), b10, statistic, p
    significant: bool

    @property
    def verdict(self) -> str:
        if not self.n:
            return "no items in common"
        if not self.significant:
            return "within noise"
        return "B is better (significant)" if self.diff > 0 else "A is better (significant)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "diff": self.diff,
            "ci": list(self.ci),
            "p_bootstrap": self.p_bootstrap,
            "mcnemar": self.mcnemar,
            "significant": self.significant,
            "verdict": self.verdict,
        }


def compare_paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    pass_fail: bool | None = None,
    level: float = 0.95,
    n_boot: int = 5000,
    seed: int = 0,
) -> Comparison:
    """Paired comparison of per-item scores ``a[i]`` and ``b[i]`` (the same items, in order)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValueError("paired scores must have the same length")
    n = int(x.size)
    if n == 0:
        return Comparison(0, math.nan, math.nan, math.nan, (math.nan, math.nan), math.nan, None, False)
    d = y - x
    if pass_fail is None:
        pass_fail = bool(np.all(np.isin(x, (0.0, 1.0))) and np.all(np.isin(y, (0.0, 1.0))))
    boot = np.full(n_boot, d[0]) if np.all(d == d[0]) else _boot_means(d, n_boot, np.random.default_rng(seed))
    alpha = 1 - level
    q = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    lo, hi = float(q[0]), float(q[1])
    p_boot = min(1.0, 2 * min(float(np.mean(boot <= 0)), float(np.mean(boot >= 0))))
    significant = not (lo <= 0 <= hi)
    mc = None
    if pass_fail:
        mc = mcnemar(x.astype(bool).tolist(), y.astype(bool).tolist())
        significant = significant and mc["p"] < alpha
    return Comparison(n, float(x.mean()), float(y.mean()), float(d.mean()), (lo, hi), p_boot, mc, significant)


def mcnemar(a_pass: Sequence[bool], b_pass: Sequence[bool]) -> dict[str, float]:
    """McNemar's test on paired pass/fail outcomes (statsmodels)."""
    from statsmodels.stats.contingency_tables import mcnemar as _mcnemar

    x, y = np.asarray(a_pass, dtype=bool), np.asarray(b_pass, dtype=bool)
    b01 = int(np.sum(x & ~y))  # A passed, B failed
    b10 = int(np.sum(~x & y))
    table = [[int(np.sum(x & y)), b01], [b10, int(np.sum(~x & ~y))]]
    if b01 + b10 == 0:
        return {"a_only": 0.0, "b_only": 0.0, "statistic": 0.0, "p": 1.0, "exact": 1.0}
    exact = b01 + b10 < 25
    res = _mcnemar(table, exact=exact, correction=True)
    return {
        "a_only": float(b01),
        "b_only": float(b10),
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
        "exact": float(exact),
    }


@dataclass(frozen=True)
class Rating:
    model: str
    rating: float
    ci: tuple[float, float]
    battles: int
    wins: int
    ties: int


_ELO = 400 / math.log(10)


def _bt_fit(n: int, pairs: list[tuple[int, int]], alpha: float) -> np.ndarray[Any, Any]:
    import choix

    params: np.ndarray[Any, Any] = np.asarray(choix.ilsr_pairwise(n, pairs, alpha=alpha, max_iter=1000), dtype=float)
    centered: np.ndarray[Any, Any] = params - params.mean()
    return centered


def _pairs(votes: Sequence[tuple[str, str, str]], index: dict[str, int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b, winner in votes:
        i, j = index[a], index[b]
        if winner == "a":
            out.append((i, j))
        elif winner == "b":
            out.append((j, i))
        else:  # tie or both_bad: a win each way
            out.extend(((i, j), (j, i)))
    return out


def bradley_terry(
    votes: Sequence[tuple[str, str, str]],
    *,
    n_boot: int = 200,
    level: float = 0.95,
    alpha: float = 0.01,
    seed: int = 0,
) -> list[Rating]:
    """Ratings from votes ``(model_a, model_b, winner)`` with winner in a, b, tie, both_bad; best first."""
    models = sorted({m for a, b, _ in votes for m in (a, b)})
    if not models:
        return []
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    if n == 1:
        return [Rating(models[0], 1000.0, (1000.0, 1000.0), len(votes), 0, len(votes))]
    theta = _bt_fit(n, _pairs(votes, index), alpha)
    lo, hi = theta, theta
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        boots = np.empty((n_boot, n))
        vlist = list(votes)
        for k in range(n_boot):
            sample = [vlist[i] for i in rng.integers(0, len(vlist), len(vlist))]
            boots[k] = _bt_fit(n, _pairs(sample, index), alpha)
        q = (1 - level) / 2
        lo, hi = np.quantile(boots, [q, 1 - q], axis=0)
    battles = dict.fromkeys(models, 0)
    wins = dict.fromkeys(models, 0)
    ties = dict.fromkeys(models, 0)
    for a, b, w in votes:
        battles[a] += 1
        battles[b] += 1
        if w == "a":
            wins[a] += 1
        elif w == "b":
            wins[b] += 1
        else:
            ties[a] += 1
            ties[b] += 1
    out = [
        Rating(
            m,
            1000 + _ELO * float(theta[i]),
            (1000 + _ELO * float(lo[i]), 1000 + _ELO * float(hi[i])),
            battles[m],
            wins[m],
            ties[m],
        )
        for m, i in index.items()
    ]
    return sorted(out, key=lambda r: -r.rating)


def win_probability(rating_a: float, rating_b: float) -> float:
    """P(A beats B) under Bradley-Terry on the Elo scale."""
    return 1 / (1 + math.exp(-(rating_a - rating_b) / _ELO))


def cohen_kappa(a: Sequence[Any], b: Sequence[Any]) -> float:
    """Cohen's kappa of two raters over the same items (nominal labels)."""
    if len(a) != len(b) or not a:
        return math.nan
    labels = sorted({*a, *b}, key=str)
    idx = {v: i for i, v in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)))
    for x, y in zip(a, b, strict=True):
        m[idx[x], idx[y]] += 1
    total = m.sum()
    po = np.trace(m) / total
    pe = float((m.sum(0) * m.sum(1)).sum()) / total**2
    return 1.0 if pe == 1 else float((po - pe) / (1 - pe))


def krippendorff_alpha(
    a: Sequence[float], b: Sequence[float], level: Literal["nominal", "ordinal", "interval", "ratio"] = "ordinal"
) -> float:
    """Krippendorff's alpha of two raters (the ``krippendorff`` package)."""
    import krippendorff

    if len(a) < 2:
        return math.nan
    data = np.asarray([list(a), list(b)], dtype=float)
    if np.unique(data).size < 2:
        return 1.0
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
