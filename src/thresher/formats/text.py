"""Pre-training text: ``{"text": ...}`` rows (TRL language modeling, FineWeb/RedPajama dumps) or .txt files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from thresher.formats._chat import make_record, text_of
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format


@register_format
class Text(Format):
    name = "text"
    description = "Pre-training text (TRL language modeling): a `text` field per row; other fields kept as metadata"
    kinds = ("text", "conversation")

    def sniff(self, row: dict[str, Any]) -> bool:
        return isinstance(row.get("text"), str) and "messages" not in row

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        text = row.get("text")
        if not isinstance(text, str):
            raise RowError("expected a string `text` field", ("text",), type="wrong_type", input=text)
        if not text.strip():
            raise RowError("the document is empty", ("text",), type="empty_text")
        metadata = {k: v for k, v in row.items() if k != "text"}
        yield Parsed(make_record({"kind": "text", "text": text}, ("text",), metadata=metadata))

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        c = item.content()
        if item.kind == "text":
            yield {"text": c["text"]}
        elif item.kind == "conversation":
            # A conversation as a plain document, for continued pre-training on dialogue.
            yield {"text": "\n\n".join(f"{m['role']}: {text_of(m)}" for m in c["messages"])}
