"""Numeric answer extraction, GSM8K style: ``#### 42``, ``the answer is 42``, else the last number."""

from __future__ import annotations

import math
import re

from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer

_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?|-?\.\d+"
_MARKED = re.compile(rf"(?:####|answer is|answer:)\s*\**\s*({_NUMBER})", re.IGNORECASE)
_ANY = re.compile(_NUMBER)


def extract_number(text: str) -> float | None:
    """The marked answer if there is one, else the last number in the text."""
    m = _MARKED.findall(text)
    found = m[-1] if m else (_ANY.findall(text) or [None])[-1]
    if found is None:
        return None
    try:
        return float(found.replace(",", "").replace("$", "").rstrip("."))
    except ValueError:
        return None


@register_scorer("numeric")
class NumericScorer(Scorer):
    def __init__(self, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        self.rel_tol, self.abs_tol = rel_tol, abs_tol

    def score(self, item: EvalItem, output: str) -> Score:
        got = extract_number(output)
        refs = [extract_number(r) for r in item.references]
        ok = got is not None and any(
            r is not None and math.isclose(got, r, rel_tol=self.rel_tol, abs_tol=self.abs_tol) for r in refs
        )
        return Score(float(ok), ok, {"extracted": got})
