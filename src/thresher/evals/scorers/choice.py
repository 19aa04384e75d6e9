"""Multiple choice: the reference is a letter (``B``) or a choice's text; the output names a letter
(``Answer: B``, ``(B)``, ``B.``) or repeats a choice's text."""

from __future__ import annotations

import re
import string

from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer
from thresher.evals.scorers.match import normalize_answer

_MARKED = re.compile(r"(?:answer|option|choice)\s*(?:is)?\s*[:\-]?\s*\(?([A-Z])\)?(?![A-Za-z])", re.IGNORECASE)
_LEADING = re.compile(r"^\s*\(?([A-Z])\)?(?:[.):\s]|$)")


def extract_choice(output: str, choices: list[str]) -> int | None:
    letters = string.ascii_uppercase[: len(choices)]
    for rx in (_MARKED, _LEADING):
        m = rx.search(output)
        if m and m.group(1).upper() in letters:
            return letters.index(m.group(1).upper())
    said = normalize_answer(output)
    hits = [i for i, c in enumerate(choices) if normalize_answer(c) == said]
    return hits[0] if len(hits) == 1 else None


def reference_index(item: EvalItem) -> int | None:
    choices = item.choices or []
    for ref in item.references:
        r = ref.strip()
        if len(r) == 1 and r.upper() in string.ascii_uppercase[: len(choices)]:
            return string.ascii_uppercase.index(r.upper())
        if r.isdigit() and int(r) < len(choices):
            return int(r)
        for i, c in enumerate(choices):
            if normalize_answer(c) == normalize_answer(r):
                return i
    return None


@register_scorer("choice")
class ChoiceScorer(Scorer):
    def score(self, item: EvalItem, output: str) -> Score:
        got = extract_choice(output, item.choices or [])
        ok = got is not None and got == reference_index(item)
        return Score(float(ok), ok, {"picked": None if got is None else string.ascii_uppercase[got]})
