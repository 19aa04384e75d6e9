"""Thresher's own lossless record format: every kind, envelope and labels, one record per row.

``{"content": {"kind": ..., ...}, "metadata": {...}, "split": ..., "task_type": ..., "domains": [...],
"lineage": [...], "synthetic": false, "responses": [{"user": ..., "answers": {...}}]}``
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import orjson

from thresher.formats._chat import validated
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.model import RECORD_KINDS, Record, Response

_ENVELOPE = ("metadata", "split", "task_type", "domains", "lineage", "synthetic")


@register_format
class ThresherRecords(Format):
    name = "thresher"
    description = "Thresher records, lossless: any kind, with metadata, lineage and responses"
    kinds = RECORD_KINDS
    training = False  # a backup/interchange format: it carries eval items too
    specificity = 2

    def sniff(self, row: dict[str, Any]) -> bool:
        content = row.get("content")
        return isinstance(content, dict) and content.get("kind") in RECORD_KINDS

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        content = row.get("content")
        if not isinstance(content, dict):
            raise RowError("expected a `content` object with a `kind`", ("content",), type="missing")
        if content.get("kind") not in RECORD_KINDS:
            raise RowError(
                f"unknown kind {content.get('kind')!r}; expected one of {list(RECORD_KINDS)}",
                ("content", "kind"),
                type="unknown_kind",
            )
        unknown = sorted(set(row) - {"content", "responses", "id", "content_hash", "source", *_ENVELOPE})
        if unknown:
            raise RowError(f"unknown fields {unknown}", (unknown[0],), type="extra_forbidden")
        envelope = {k: row[k] for k in _ENVELOPE if k in row and row[k] is not None}
        record = validated(lambda: Record.model_validate({"content": content, **envelope}))
        responses = []
        for i, raw in enumerate(row.get("responses") or []):
            responses.append(validated(partial(Response.model_validate, raw), ("responses", i)))
        yield Parsed(record, responses)

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        row: dict[str, Any] = {"id": item.id, "content": {"kind": item.kind, **item.content()}}
        metadata = orjson.loads(item.metadata_json)
        if metadata:
            row["metadata"] = metadata
        if item.split:
            row["split"] = item.split
        if item.task_type:
            row["task_type"] = item.task_type
        for key, raw in (("domains", item.domains_json), ("lineage", item.lineage_json)):
            value = orjson.loads(raw)
            if value:
                row[key] = value
        if item.synthetic:
            row["synthetic"] = True
        source = orjson.loads(item.source_json)
        if source:
            row["source"] = source
        if item.responses:
            row["responses"] = [{"user": r.user, "answers": r.answers, "status": r.status} for r in item.responses]
        yield row
