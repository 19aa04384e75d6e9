"""OpenAI chat fine-tuning JSONL: ``{"messages": [...], "tools": [...], "parallel_tool_calls": bool}``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from thresher.formats._chat import parse_chat_row, to_openai_messages
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed
from thresher.formats.registry import register_format
from thresher.formats.views import sft_messages

_KEYS = {"messages", "tools", "parallel_tool_calls", "functions"}


@register_format
class OpenAIChat(Format):
    name = "openai-chat"
    description = "OpenAI chat fine-tuning JSONL (messages, tool calls, tools, weight)"
    kinds = ("conversation", "comparison", "agent_run")
    specificity = 1  # a plain {"messages"} file reads the same either way; name it by its origin

    def sniff(self, row: dict[str, Any]) -> bool:
        msgs = row.get("messages")
        return isinstance(msgs, list) and set(row) <= _KEYS and all("role" in m for m in msgs)

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        yield Parsed(parse_chat_row(row))

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        messages = sft_messages(item, ctx)
        if messages is None:
            return
        row: dict[str, Any] = {"messages": to_openai_messages(messages)}
        tools = item.content().get("tools")
        if tools:
            row["tools"] = tools
        meta = item.metadata_json
        if '"parallel_tool_calls"' in meta:
            row["parallel_tool_calls"] = orjson.loads(meta)["parallel_tool_calls"]
        yield row

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if item.kind == "comparison":
            return "comparison has no preference answer to pick the best candidate"
        if item.kind == "agent_run":
            return "agent run failed"
        return f"{item.kind} record does not end in an assistant turn"
