"""Exact and normalized match against the reference (any of them, when there are several)."""

from __future__ import annotations

import re
import string

from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCT)).split())


@register_scorer("exact")
class ExactScorer(Scorer):
    def score(self, item: EvalItem, output: str) -> Score:
        ok = output.strip() in {r.strip() for r in item.references}
        return Score(float(ok), ok)


@register_scorer("normalized")
class NormalizedScorer(Scorer):
    def score(self, item: EvalItem, output: str) -> Score:
        ok = normalize_answer(output) in {normalize_answer(r) for r in item.references}
        return Score(float(ok), ok)
