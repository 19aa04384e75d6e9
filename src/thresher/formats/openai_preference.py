"""OpenAI preference (DPO) fine-tuning JSONL.

``{"input": {"messages", "tools"?, "parallel_tool_calls"?}, "preferred_output": [msg],
"non_preferred_output": [msg]}``: the outputs are lists of assistant (or tool) messages,
usually one assistant message. Multi-turn history stays in ``input.messages``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from thresher.formats._chat import make_record, model_dump, parse_messages, require, to_openai_messages
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import PREFERENCE_QUESTION, PREFERRED_A, preference_pairs

_KEYS = {"input", "preferred_output", "non_preferred_output"}
_INPUT_KEYS = {"messages", "tools", "parallel_tool_calls"}
_OUTPUT_ROLES = ("assistant", "tool")


def _output(row: dict[str, Any], key: str) -> list[dict[str, Any]]:
    messages = [model_dump(m) for m in parse_messages(require(row, key, list, "a list of assistant messages"), (key,))]
    for i, m in enumerate(messages):
        if m["role"] not in _OUTPUT_ROLES:
            raise RowError(f"expected an assistant message, got role {m['role']!r}", (key, i, "role"), "wrong_role")
    return messages


@register_format
class OpenAIPreference(Format):
    name = "openai-preference"
    description = "OpenAI preference (DPO) fine-tuning JSONL: input messages, preferred and non-preferred output"
    kinds = ("comparison",)
    questions = (PREFERENCE_QUESTION,)

    def sniff(self, row: dict[str, Any]) -> bool:
        inp = row.get("input")
        return (
            set(row) == _KEYS
            and isinstance(inp, dict)
            and isinstance(inp.get("messages"), list)
            and isinstance(row["preferred_output"], list)
        )

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        inp = require(row, "input", dict, "an object with messages")
        unknown = sorted(set(inp) - _INPUT_KEYS)
        if unknown:
            raise RowError(f"unknown input field(s) {unknown}; expected {sorted(_INPUT_KEYS)}", ("input", unknown[0]))
        prompt = [model_dump(m) for m in parse_messages(inp.get("messages"), ("input", "messages"))]
        chosen, rejected = _output(row, "preferred_output"), _output(row, "non_preferred_output")
        # comparison_record's shape (a = preferred), built here to carry the tools too.
        content: dict[str, Any] = {
            "kind": "comparison",
            "prompt": prompt,
            "candidates": [{"id": "a", "messages": chosen}, {"id": "b", "messages": rejected}],
        }
        tools = inp.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise RowError("expected a list of tool definitions", ("input", "tools"), type="wrong_type")
            # Kept even when empty ("tools": [] as in OpenAI's own example) so export writes it back.
            content["tools"] = tools
        metadata = {"parallel_tool_calls": inp["parallel_tool_calls"]} if "parallel_tool_calls" in inp else {}
        yield Parsed(make_record(content, metadata=metadata), [PREFERRED_A])

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        tools = item.content().get("tools")
        meta = orjson.loads(item.metadata_json) if '"parallel_tool_calls"' in item.metadata_json else {}
        for pair in preference_pairs(item, ctx):
            if not pair.prompt or not _is_output(pair.chosen) or not _is_output(pair.rejected):
                continue
            inp: dict[str, Any] = {"messages": to_openai_messages(pair.prompt, keep_weight=False)}
            if tools is not None:
                inp["tools"] = tools
            if "parallel_tool_calls" in meta:
                inp["parallel_tool_calls"] = meta["parallel_tool_calls"]
            yield {
                "input": inp,
                "preferred_output": _outputs(pair.prompt, pair.chosen),
                "non_preferred_output": _outputs(pair.prompt, pair.rejected),
            }

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if not preference_pairs(item, ctx):
            return "comparison has no preference (or only ties) to make a preferred/non-preferred pair"
        return "pair has no input messages, or an output that is not assistant/tool messages"


def _is_output(messages: list[dict[str, Any]]) -> bool:
    return bool(messages) and all(m["role"] in _OUTPUT_ROLES for m in messages) and messages[0]["role"] == "assistant"


def _outputs(prompt: list[dict[str, Any]], output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The output turns in OpenAI's shape, call ids numbered after the prompt's."""
    return to_openai_messages([*prompt, *output], keep_weight=False)[len(prompt) :]
