"""LLM-as-judge through any model adapter: a rubric score, and pairwise preference.

The judge prompts are versioned (``RUBRIC_PROMPTS``, ``PAIRWISE_PROMPTS``): a run stores the
version it used, so scores from different prompts are never mixed up. Change a prompt by
adding a new version, never by editing one in place.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from thresher.errors import ConfigError
from thresher.evals.adapters.base import ModelAdapter, parse_model
from thresher.evals.scorers.base import EvalItem, Score, Scorer, register_scorer

RUBRIC_PROMPTS = {
    "rubric-v1": (
        "You are grading an AI assistant's answer.\n\n"
        "Rubric: {rubric}\n\n"
        "Conversation:\n{conversation}\n\n"
        "{reference}"
        "Answer to grade:\n{output}\n\n"
        "Rate the answer from 1 (fails the rubric) to {scale} (fully meets it). "
        "Explain briefly, then end with a line 'Score: N'."
    ),
}
PAIRWISE_PROMPTS = {
    "pairwise-v1": (
        "Two AI assistants answered the same conversation. Which answer is better?\n\n"
        "Conversation:\n{conversation}\n\n"
        "Answer A:\n{a}\n\nAnswer B:\n{b}\n\n"
        "Explain briefly, then end with a line 'Winner: A', 'Winner: B' or 'Winner: tie'."
    ),
}
DEFAULT_RUBRIC = "The answer is correct, helpful and directly addresses the request."
_SCORE = re.compile(r"score\s*[:=]\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_WINNER = re.compile(r"winner\s*[:=]\s*(a|b|tie)\b", re.IGNORECASE)


def render_conversation(messages: list[dict[str, Any]]) -> str:
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        out.append(f"[{m.get('role')}] {content or ''}")
    return "\n".join(out)


@register_scorer("judge")
class JudgeScorer(Scorer):
    pass_fail = False

    def __init__(
        self,
        adapter: ModelAdapter | str | None = None,
        *,
        rubric: str | None = None,
        prompt_version: str = "rubric-v1",
        scale: int = 5,
        params: dict[str, Any] | None = None,
    ) -> None:
        if adapter is None:
            raise ConfigError("the judge scorer needs a judge model (--judge ADAPTER:SPEC)")
        if prompt_version not in RUBRIC_PROMPTS:
            raise ConfigError(f"no judge prompt {prompt_version!r}; known: {', '.join(RUBRIC_PROMPTS)}")
        self.adapter = parse_model(adapter) if isinstance(adapter, str) else adapter
        self.rubric, self.prompt_version, self.scale = rubric, prompt_version, scale
        self.params = params if params is not None else {"temperature": 0}

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "judge": self.adapter.identity, "prompt_version": self.prompt_version}

    def messages(self, item: EvalItem, output: str) -> list[dict[str, Any]]:
        refs = item.references
        prompt = RUBRIC_PROMPTS[self.prompt_version].format(
            rubric=item.grader_params.get("rubric") or self.rubric or DEFAULT_RUBRIC,
            conversation=render_conversation(item.input),
            reference=f"Reference answer:\n{refs[0]}\n\n" if refs else "",
            output=output,
            scale=self.scale,
        )
        return [{"role": "user", "content": prompt}]

    def parse(self, text: str) -> Score:
        found = _SCORE.findall(text)
        if not found:
            return Score(None, None, {"judge_error": "no 'Score: N' in the judge's answer", "judge_raw": text[-500:]})
        rating = min(max(float(found[-1]), 1.0), float(self.scale))
        details = {"judge_rating": rating, "judge": self.adapter.identity, "prompt_version": self.prompt_version}
        return Score((rating - 1) / (self.scale - 1), None, details)

    def score(self, item: EvalItem, output: str) -> Score:
        return asyncio.run(self.ascore(item, output))

    async def ascore(self, item: EvalItem, output: str) -> Score:
        gen = await self.adapter.generate(self.messages(item, output), self.params)
        return self.parse(gen.text)


async def judge_pair(
    adapter: ModelAdapter,
    messages: list[dict[str, Any]],
    a: str,
    b: str,
    *,
    prompt_version: str = "pairwise-v1",
    params: dict[str, Any] | None = None,
) -> Literal["a", "b", "tie"]:
    """Ask twice with the answers swapped; a verdict that flips with the order is a tie."""
    template = PAIRWISE_PROMPTS[prompt_version]
    conversation = render_conversation(messages)
    verdicts = []
    for first, second in ((a, b), (b, a)):
        prompt = template.format(conversation=conversation, a=first, b=second)
        gen = await adapter.generate([{"role": "user", "content": prompt}], params or {"temperature": 0})
        found = _WINNER.findall(gen.text)
        verdicts.append(found[-1].lower() if found else "tie")
    swapped = {"a": "b", "b": "a", "tie": "tie"}[verdicts[1]]
    return verdicts[0] if verdicts[0] == swapped else "tie"  # type: ignore[return-value]
