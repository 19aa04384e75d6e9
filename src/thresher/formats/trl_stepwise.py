"""TRL stepwise supervision (process reward models): ``{"prompt", "completions": [...], "labels": [...]}``.

Read as an agent run of reasoning steps with a step-verdict response; written from agent runs
whose steps were judged (or whose first failing step is known).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import make_record
from thresher.formats.base import IMPORT_USER, ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import step_labels
from thresher.model import Response, StepVerdictQuestion

STEPS_QUESTION = StepVerdictQuestion(name="steps", title="Judge each step")


@register_format
class TRLStepwise(Format):
    name = "trl-stepwise"
    description = "TRL stepwise supervision dataset (PRM): prompt, step completions, a label per step"
    kinds = ("agent_run",)
    questions = (STEPS_QUESTION,)

    def sniff(self, row: dict[str, Any]) -> bool:
        return set(row) == {"prompt", "completions", "labels"}

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        prompt, completions, labels = row.get("prompt"), row.get("completions"), row.get("labels")
        if not isinstance(prompt, str) or not prompt.strip():
            raise RowError("expected a non-empty prompt string", ("prompt",), type="wrong_type")
        if not isinstance(completions, list) or not all(isinstance(c, str) for c in completions):
            raise RowError("expected a list of step strings", ("completions",), type="wrong_type")
        if not isinstance(labels, list) or not all(isinstance(x, bool) for x in labels):
            raise RowError("expected a list of booleans", ("labels",), type="wrong_type")
        if len(labels) != len(completions):
            raise RowError(f"expected one label per step: {len(completions)} steps, {len(labels)} labels", ("labels",))
        steps = [{"type": "reasoning", "content": c} for c in completions]
        first_wrong = next((i for i, ok in enumerate(labels) if not ok), None)
        content: dict[str, Any] = {"kind": "agent_run", "task": prompt, "steps": steps}
        if first_wrong is not None:
            content["outcome"] = {"status": "failure"}
            content["failure"] = {"step": first_wrong, "cause": "model_output"}
        else:
            content["outcome"] = {"status": "success"}
        verdicts = [
            {"step": i, "verdict": "correct" if ok else "wrong", **({} if ok else {"cause": "model_output"})}
            for i, ok in enumerate(labels)
        ]
        yield Parsed(make_record(content), [Response(user=IMPORT_USER, answers={"steps": verdicts})])

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        steps = step_labels(item, ctx)
        if steps is not None:
            yield {"prompt": steps.prompt, "completions": steps.completions, "labels": steps.labels}

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return "agent run has no step verdicts and no known failing step"
