"""TRL prompt-completion: ``{"prompt", "completion"}``, standard (strings) or conversational (messages)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import make_record
from thresher.formats._trl import read_turns, standard_prompt, write_turns
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed
from thresher.formats.registry import register_format
from thresher.formats.views import sft_messages


@register_format
class TRLPromptCompletion(Format):
    name = "trl-prompt-completion"
    description = "TRL prompt-completion dataset, standard or conversational"
    kinds = ("conversation", "comparison", "agent_run")

    def sniff(self, row: dict[str, Any]) -> bool:
        return set(row) == {"prompt", "completion"}

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        prompt = read_turns(row.get("prompt"), ("prompt",), "user")
        completion = read_turns(row.get("completion"), ("completion",), "assistant")
        yield Parsed(make_record({"kind": "conversation", "messages": [*prompt, *completion]}))

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        messages = sft_messages(item, ctx)
        if messages is None:
            return
        last_user = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)
        prompt, completion = messages[: last_user + 1], messages[last_user + 1 :]
        if not prompt:
            return
        if ctx.options.style == "standard":
            p = standard_prompt(prompt)
            c = write_turns(completion, "standard")
            if p is None or c is None:
                return
            yield {"prompt": p, "completion": c}
        else:
            yield {
                "prompt": write_turns(prompt, "conversational"),
                "completion": write_turns(completion, "conversational"),
            }

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if ctx.options.style == "standard":
            return "only a single user turn and a single text answer have a standard (string) form"
        return f"{item.kind} record has no user turn followed by an assistant answer"
