"""A regular expression the output must contain: the run's ``pattern``, else the item's grader
``params.pattern``, else its reference. ``flags`` letters: i (ignore case), m, s."""

from __future__ import annotations

import re
from typing import Any

from thresher.errors import ConfigError
from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer

_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


def _flags(letters: str) -> int:
    out = 0
    for f in letters:
        out |= _FLAGS.get(f, 0)
    return out


@register_scorer("regex")
class RegexScorer(Scorer):
    def __init__(self, pattern: str | None = None, flags: str = "") -> None:
        self.pattern, self.flags = pattern, flags
        self._compiled = re.compile(pattern, _flags(flags)) if pattern else None

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, **({"pattern": self.pattern, "flags": self.flags} if self.pattern else {})}

    def score(self, item: EvalItem, output: str) -> Score:
        rx = self._compiled
        if rx is None:
            params = item.grader_params
            pattern = params.get("pattern") or (item.references[0] if item.references else None)
            if not pattern:
                raise ConfigError(f"item {item.record_id}: the regex scorer needs params.pattern or a reference")
            rx = re.compile(pattern, _flags(str(params.get("flags", ""))))
        ok = rx.search(output) is not None
        return Score(float(ok), ok)
