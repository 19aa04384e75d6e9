"""Anthropic HH-RLHF: ``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": "..."}``.

Each value is a whole transcript; the shared history is the prompt and the turns after it
(usually the last assistant turn) are the candidates. Splitting on the turn markers and
joining them back is lossless, so rows read from HH files export byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from thresher.formats._trl import comparison_record, shared_prefix
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import PREFERENCE_QUESTION, PREFERRED_A, preference_pairs

HUMAN, ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "
_MARKERS = {HUMAN: "user", ASSISTANT: "assistant"}
_ROLE_MARKERS = {"user": HUMAN, "assistant": ASSISTANT}
_SPLIT = re.compile(f"({re.escape(HUMAN)}|{re.escape(ASSISTANT)})")
Msgs = list[dict[str, Any]]


def parse_transcript(text: Any, key: str) -> Msgs:
    """``"\\n\\nHuman: hi\\n\\nAssistant: hello"`` as user/assistant messages, text kept exactly."""
    if not isinstance(text, str):
        raise RowError(f"expected a transcript string, got {type(text).__name__}", (key,), "wrong_type", text)
    if not text.startswith(HUMAN):
        raise RowError(r"expected a transcript starting with '\n\nHuman: '", (key,), "bad_transcript", text[:40])
    parts = _SPLIT.split(text)  # ["", marker, text, marker, text, ...]
    return [{"role": _MARKERS[parts[i]], "content": parts[i + 1]} for i in range(1, len(parts), 2)]


def render_transcript(messages: Msgs) -> str | None:
    """Messages as an HH transcript, or None if HH cannot hold them (system, tools, media)."""
    if not messages or messages[0]["role"] != "user":
        return None
    out = []
    for m in messages:
        if m["role"] not in _ROLE_MARKERS or not isinstance(m.get("content"), str) or m.get("tool_calls"):
            return None
        out.append(_ROLE_MARKERS[m["role"]] + m["content"])
    return "".join(out)


@register_format
class HHRLHF(Format):
    name = "hh-rlhf"
    description = "Anthropic HH-RLHF: chosen/rejected transcripts with \\n\\nHuman: / \\n\\nAssistant: turns"
    kinds = ("comparison",)
    questions = (PREFERENCE_QUESTION,)
    specificity = 2  # its rows also fit trl-preference (plain chosen/rejected); the markers make it HH

    def sniff(self, row: dict[str, Any]) -> bool:
        chosen, rejected = row.get("chosen"), row.get("rejected")
        return (
            isinstance(chosen, str)
            and isinstance(rejected, str)
            and chosen.startswith(HUMAN)
            and rejected.startswith(HUMAN)
        )

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        full_c = parse_transcript(row.get("chosen"), "chosen")
        full_r = parse_transcript(row.get("rejected"), "rejected")
        n = shared_prefix(full_c, full_r)
        record = comparison_record(full_c[:n], full_c[n:], full_r[n:])
        record.metadata = {k: v for k, v in row.items() if k not in ("chosen", "rejected")}  # extra columns
        yield Parsed(record, [PREFERRED_A])

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        for pair in preference_pairs(item, ctx):
            chosen = render_transcript([*pair.prompt, *pair.chosen])
            rejected = render_transcript([*pair.prompt, *pair.rejected])
            if chosen is not None and rejected is not None:
                yield {"chosen": chosen, "rejected": rejected}

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        if not preference_pairs(item, ctx):
            return "comparison has no preference (or only ties) to make a chosen/rejected pair"
        return "pair does not fit an HH transcript (system or tool turns, media, or no opening human turn)"
