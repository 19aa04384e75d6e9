"""Inter-annotator agreement per question, from kept libraries.

=============  ===========================  ===============================================
question       overall                      per annotator pair
=============  ===========================  ===============================================
rating         Krippendorff's alpha         Krippendorff's alpha (interval)
               (interval; per candidate
               when rated per candidate)
choice, multi  Fleiss' kappa (statsmodels)  Cohen's kappa (statsmodels)
_choice, step  over the items with the
_verdict       most common rater count
ranking        mean of the pairs' tau       Kendall's tau-b (scipy), averaged over items
=============  ===========================  ===============================================

An item is a record (a (record, candidate) for per-candidate ratings, a (record, step) for
step verdicts). A value is None when it is undefined: fewer than two annotators on any item,
or no variation to measure against (every answer the same).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from thresher.annotate.consensus import ranks
from thresher.model import Question, RatingQuestion

Item = tuple[str, ...]


@dataclass(frozen=True)
class PairAgreement:
    a: str
    b: str
    metric: str
    value: float | None
    n: int


@dataclass
class QuestionAgreement:
    question: str
    type: str
    metric: str | None
    value: float | None
    n_items: int
    n_annotators: int
    pairs: list[PairAgreement] = field(default_factory=list)


LABEL_TYPES = frozenset({"choice", "multi_choice", "step_verdict"})


def units(q: Question, answers: Iterable[tuple[str, str, dict[str, Any]]]) -> dict[Item, dict[str, Any]]:
    """Item -> {annotator: comparable value} for one question, from (record id, user, answers)."""
    out: dict[Item, dict[str, Any]] = defaultdict(dict)
    per_candidate = isinstance(q, RatingQuestion) and q.per_candidate
    for record_id, user, given in answers:
        if q.name not in given:
            continue
        v = given[q.name]
        if per_candidate:
            for cid, score in v.items():
                out[(record_id, cid)][user] = float(score)
        elif q.type == "rating":
            out[(record_id,)][user] = float(v)
        elif q.type == "choice":
            out[(record_id,)][user] = v["choice"]
        elif q.type == "multi_choice":
            out[(record_id,)][user] = "|".join(sorted(v["choices"]))  # the set of labels as one category
        elif q.type == "step_verdict":
            for s in v:
                out[(record_id, str(s["step"]))][user] = s["verdict"]
        elif q.type == "ranking":
            out[(record_id,)][user] = ranks(v)
        else:
            out[(record_id,)][user] = v
    return out


def question_agreement(q: Question, data: dict[Item, dict[str, Any]]) -> QuestionAgreement:
    shared = {item: by for item, by in data.items() if len(by) >= 2}
    annotators = sorted({u for by in data.values() for u in by})
    result = QuestionAgreement(q.name, q.type, None, None, len(shared), len(annotators))
    if q.type == "rating":
        result.metric = "krippendorff_alpha"
        result.value = _alpha(list(shared.values()))
        pair_metric, pair_fn = "krippendorff_alpha", _alpha_pair
    elif q.type in LABEL_TYPES:
        result.metric = "fleiss_kappa"
        result.value = _fleiss(list(shared.values()))
        pair_metric, pair_fn = "cohen_kappa", _cohen
    elif q.type == "ranking":
        result.metric = "kendall_tau"
        pair_metric, pair_fn = "kendall_tau", _tau
    else:
        return result  # free text, spans, media shapes: no agreement statistic here
    for a, b in combinations(annotators, 2):
        both = [(by[a], by[b]) for by in shared.values() if a in by and b in by]
        if both:
            result.pairs.append(PairAgreement(a, b, pair_metric, pair_fn(both), len(both)))
    if q.type == "ranking":
        weighted = [(p.value, p.n) for p in result.pairs if p.value is not None]
        total = sum(n for _, n in weighted)
        result.value = _clean(sum(v * n for v, n in weighted) / total) if total else None
    return result


def _clean(value: float | None) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(float(value), 6)


def _alpha(items: list[dict[str, Any]]) -> float | None:
    """Krippendorff's alpha (interval) from value counts per item: memory grows with items x values,
    not items x annotators."""
    import krippendorff

    if not items:
        return None
    domain = sorted({v for by in items for v in by.values()})
    if len(domain) < 2:
        return None
    index = {v: i for i, v in enumerate(domain)}
    counts = np.zeros((len(items), len(domain)))
    for row, by in enumerate(items):
        for v in by.values():
            counts[row, index[v]] += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement="interval")
        except (ValueError, ZeroDivisionError):
            return None
    return _clean(float(value))


def _alpha_pair(both: list[tuple[Any, Any]]) -> float | None:
    return _alpha([{"a": x, "b": y} for x, y in both])


def _fleiss(items: list[dict[str, Any]]) -> float | None:
    """Fleiss' kappa needs the same number of raters per item: the items with the most common count."""
    from statsmodels.stats.inter_rater import fleiss_kappa

    if not items:
        return None
    k = Counter(len(by) for by in items).most_common(1)[0][0]
    rows = [by for by in items if len(by) == k]
    cats = sorted({v for by in rows for v in by.values()})
    if len(cats) < 2:
        return None
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(rows), len(cats)))
    for r, by in enumerate(rows):
        for v in by.values():
            table[r, index[v]] += 1
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _clean(float(fleiss_kappa(table, method="fleiss")))


def _cohen(both: list[tuple[Any, Any]]) -> float | None:
    from statsmodels.stats.inter_rater import cohens_kappa

    cats = sorted({v for pair in both for v in pair})
    if len(cats) < 2:
        return None
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    for x, y in both:
        table[index[x], index[y]] += 1
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _clean(float(cohens_kappa(table, return_results=False)))


def _tau(both: list[tuple[Any, Any]]) -> float | None:
    """Mean Kendall tau-b over the items both ranked (items where it is undefined left out)."""
    from scipy.stats import kendalltau

    taus = []
    for x, y in both:
        options = sorted(set(x) & set(y))
        if len(options) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau = kendalltau([x[o] for o in options], [y[o] for o in options]).statistic
        if tau is not None and not math.isnan(tau):
            taus.append(float(tau))
    return _clean(sum(taus) / len(taus)) if taus else None
