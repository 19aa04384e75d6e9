"""Planning data as SFT rows, in TRL's conversational shape: ``{"messages": [...], "tools"?}``.

From the answers to a ``trajectory`` question (an agent trajectory or a plan an annotator wrote for
the record's task): the task as the user turn (an agent run's task, a text, a conversation or a
comparison's prompt), the steps as assistant turns, tool calls and tool results (see
``formats/_agent.py``), and ``final`` as the last assistant turn. One row per submitted answer
(``--answers consensus`` gives one per record); a trajectory that ends in a tool result with no
final answer has nothing to train the last turn on and is skipped.

The rows are plain TRL conversational rows: they import back with ``--format trl-conversational``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._agent import steps_to_messages, task_messages
from thresher.formats._chat import to_trl_message
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.model import Question

Msgs = list[dict[str, Any]]


def trajectory_question(ctx: ExportContext) -> Question | None:
    return next((q for q in ctx.questions if q.type == "trajectory"), None)


def trajectory_conversations(item: ExportItem, ctx: ExportContext) -> Iterator[Msgs]:
    """The task, then each submitted trajectory as turns; only those that end in an assistant turn."""
    q = trajectory_question(ctx)
    task = task_messages(item.content(), item.kind)
    if q is None or task is None:
        return
    for r in item.responses:
        value = r.answers.get(q.name) if r.status == "submitted" else None
        if not isinstance(value, dict) or not value.get("steps"):
            continue
        messages = [*task, *steps_to_messages(value["steps"])]
        if value.get("final"):
            messages.append({"role": "assistant", "content": value["final"]})
        if messages[-1]["role"] == "assistant":
            yield messages


@register_format
class TRLTrajectory(Format):
    name = "trl-trajectory"
    description = "planning data as SFT rows (TRL conversational): the task, authored steps and tool calls, final"
    kinds = ("agent_run", "text", "conversation", "comparison")

    def sniff(self, row: dict[str, Any]) -> bool:
        return False  # the same keys as trl-conversational, which reads these rows back

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise RowError(
            "trl-trajectory is written only; read these rows with --format trl-conversational", type="bad_option"
        )

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        tools = item.content().get("tools")
        for messages in trajectory_conversations(item, ctx):
            if ctx.options.system_prompt and messages[0]["role"] != "system":
                messages = [{"role": "system", "content": ctx.options.system_prompt}, *messages]
            row: dict[str, Any] = {"messages": [to_trl_message(m) for m in messages]}
            if tools:
                row["tools"] = tools
            yield row

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if trajectory_question(ctx) is None:
            return "the dataset has no trajectory question"
        return f"{item.kind} record has no submitted trajectory that ends in an assistant turn"
