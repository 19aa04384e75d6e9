"""TRL conversational language modeling: ``{"messages": [...]}`` with transformers-style tool calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import parse_chat_row, to_trl_message
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed
from thresher.formats.registry import register_format
from thresher.formats.views import sft_messages

# Keys whose presence means the stored message differs from TRL's shape; one regex pass finds any.
_CONVERTED_KEYS = re.compile(r'"(?:tool_calls|weight|reasoning|name|tool_call_id|type|tools)":')


@register_format
class TRLConversational(Format):
    name = "trl-conversational"
    description = "TRL conversational dataset (SFTTrainer): messages with role/content, tool calls as objects"
    kinds = ("conversation", "comparison", "agent_run")

    def sniff(self, row: dict[str, Any]) -> bool:
        msgs = row.get("messages")
        return isinstance(msgs, list) and set(row) <= {"messages", "tools"}

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        yield Parsed(parse_chat_row(row))

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        messages = sft_messages(item, ctx)
        if messages is None:
            return
        row: dict[str, Any] = {"messages": [to_trl_message(m) for m in messages]}
        tools = item.content().get("tools")
        if tools:
            row["tools"] = tools
        yield row

    def raw_row(self, item: ExportItem, ctx: ExportContext) -> bytes | None:
        # A plain conversation is stored as {"messages":[{"role":..,"content":".."},..]}: byte for byte
        # the TRL row. Quotes inside JSON strings are escaped, so these keys can only match structure.
        if (
            item.kind != "conversation"
            or ctx.options.system_prompt
            or (item.responses and ctx.options.rewrite_question)
        ):
            return None
        text = item.content_json
        if _CONVERTED_KEYS.search(text):
            return None
        if text.rfind('{"role":"assistant"') != text.rfind('{"role":"'):
            return None  # does not end in an assistant turn (or not in orjson's compact form)
        return text.encode()

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if item.kind == "comparison":
            return "comparison has no preference answer to pick the best candidate"
        return f"{item.kind} record does not end in an assistant turn"
