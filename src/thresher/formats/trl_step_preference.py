"""Step-level preference pairs for DPO, in TRL's preference shape: ``{"prompt", "chosen", "rejected"}``.

From agent runs whose steps offer alternatives (``Step.alternatives``): the ``prompt`` is the run up to
the step (the task, then the earlier steps as assistant turns, tool calls and tool results), ``chosen``
the preferred option at the step and ``rejected`` one not preferred: one row per (step, rejected option).

Which option is preferred: the answers to the dataset's ``step_preference`` question (the one named by
``--preference-question``, else the first), by majority over the submitted responses (``--answers
consensus`` gives one merged response); a tie at the top makes no pair. Where no answer picks at a
step, the choice an app's user made there (``Step.chosen``, captured through the SDK) does.

The rows are plain TRL preference rows: they import back with ``--format trl-preference`` (as pairs).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from thresher.formats._agent import Msgs, step_options, steps_to_messages, task_messages
from thresher.formats._trl import standard_prompt, write_turns
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.model import Question


def step_question(ctx: ExportContext) -> Question | None:
    """The ``step_preference`` question answers come from: the one named in the options, else the first."""
    named = ctx.options.preference_question
    found = [q for q in ctx.questions if q.type == "step_preference"]
    return next((q for q in found if q.name == named), found[0] if found else None)


def step_choices(item: ExportItem, ctx: ExportContext) -> dict[int, str]:
    """The preferred option per step: the majority of the answers, else the app user's ``chosen``."""
    votes: dict[int, Counter[str]] = defaultdict(Counter)
    q = step_question(ctx)
    if q is not None:
        for r in item.responses:
            picks = r.answers.get(q.name) if r.status == "submitted" else None
            for p in picks if isinstance(picks, list) else []:
                votes[int(p["step"])][str(p["choice"])] += 1
    choices: dict[int, str] = {}
    for step, counter in votes.items():
        (top, n), *rest = counter.most_common()
        if not rest or rest[0][1] < n:  # a tie at the top says nothing about which is better
            choices[step] = top
    for i, s in enumerate(item.content().get("steps", [])):
        if i not in votes and s.get("chosen"):
            choices[i] = s["chosen"]
    return choices


def step_pairs(item: ExportItem, ctx: ExportContext) -> Iterator[tuple[Msgs, Msgs, Msgs]]:
    """(prompt, chosen, rejected) per step with a preferred option and per option not preferred."""
    if item.kind != "agent_run":
        return
    c = item.content()
    steps = c.get("steps", [])
    task = task_messages(c, item.kind) or []
    for i, choice in sorted(step_choices(item, ctx).items()):
        options = step_options(steps[i]) if i < len(steps) else {}
        if choice not in options:
            continue
        prompt = [*task, *steps_to_messages(steps[:i])]
        for oid, option in options.items():
            if oid != choice and option != options[choice]:  # the same output twice is no preference
                yield prompt, [options[choice]], [option]


@register_format
class TRLStepPreference(Format):
    name = "trl-step-preference"
    description = "step-level preference pairs for DPO (TRL preference rows): the run up to a step, chosen/rejected"
    kinds = ("agent_run",)

    def sniff(self, row: dict[str, Any]) -> bool:
        return False  # the same keys as trl-preference, which reads these rows back

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise RowError(
            "trl-step-preference is written only; read these rows with --format trl-preference", type="bad_option"
        )

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        style, implicit = ctx.options.style, ctx.options.implicit_prompt
        for prompt, chosen, rejected in step_pairs(item, ctx):
            if style == "standard":  # only a run with no earlier steps and plain-text options fits
                p, ch, rj = standard_prompt(prompt), write_turns(chosen, style), write_turns(rejected, style)
                if p is None or ch is None or rj is None:
                    continue
                yield (
                    {"chosen": p + ch, "rejected": p + rj} if implicit else {"prompt": p, "chosen": ch, "rejected": rj}
                )
            elif implicit:
                yield {
                    "chosen": write_turns([*prompt, *chosen], style),
                    "rejected": write_turns([*prompt, *rejected], style),
                }
            else:
                yield {
                    "prompt": write_turns(prompt, style),
                    "chosen": write_turns(chosen, style),
                    "rejected": write_turns(rejected, style),
                }

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        return "agent run has no step with alternatives and a preferred option (answer or app user's choice)"
