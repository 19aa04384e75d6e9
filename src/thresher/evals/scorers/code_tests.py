"""HumanEval-style code execution: the completion plus the item's tests run in the sandbox.

Grader params: ``test`` (code defining ``check(candidate)``, or plain asserts), ``entry_point``
(the function ``check`` receives), ``prompt`` (the function head, prepended when the completion
does not define ``entry_point`` itself), ``timeout_s`` and ``memory_mb``. A run with
``samples=n`` scores each sample and reports unbiased pass@k (Chen et al., 2021).
"""

from __future__ import annotations

import re
from math import comb

from thresher.evals.sandbox import SandboxResult, arun_sandboxed, run_sandboxed
from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer

_FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples of which c passed."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def program(item: EvalItem, output: str) -> str:
    p = item.grader_params
    m = _FENCE.search(output)
    code = m.group(1) if m else output
    entry = p.get("entry_point")
    if entry and not re.search(rf"^\s*def\s+{re.escape(entry)}\s*\(", code, re.MULTILINE):
        code = str(p.get("prompt", "")) + code
    parts = [code, str(p.get("test", ""))]
    if entry and "def check(" in parts[1]:
        parts.append(f"check({entry})")
    return "\n\n".join(parts) + "\n"


@register_scorer("code_tests")
class CodeTestsScorer(Scorer):
    def __init__(self, timeout_s: float = 10.0, memory_mb: int = 512) -> None:
        self.timeout_s, self.memory_mb = timeout_s, memory_mb

    def _limits(self, item: EvalItem) -> tuple[float, int]:
        p = item.grader_params
        return float(p.get("timeout_s", self.timeout_s)), int(p.get("memory_mb", self.memory_mb))

    @staticmethod
    def _score(r: SandboxResult) -> Score:
        details: dict[str, object] = {"timed_out": r.timed_out, "returncode": r.returncode}
        if not r.ok:
            details["stderr"] = r.stderr[-1500:]
        return Score(float(r.ok), r.ok, details)

    def score(self, item: EvalItem, output: str) -> Score:
        timeout_s, memory_mb = self._limits(item)
        return self._score(run_sandboxed(program(item, output), timeout_s=timeout_s, memory_mb=memory_mb))

    async def ascore(self, item: EvalItem, output: str) -> Score:
        timeout_s, memory_mb = self._limits(item)
        return self._score(await arun_sandboxed(program(item, output), timeout_s=timeout_s, memory_mb=memory_mb))
