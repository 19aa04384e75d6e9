"""Any table of rows, read through a field mapping (``--map target=column``).

Content targets: ``text`` (a document), ``prompt`` + ``response`` (+ ``system``) (one
exchange), or ``messages`` (a column of OpenAI-style messages, or their JSON text as CSV
cells hold). Envelope targets: ``split``, ``task_type``, ``domains`` (a list or a
comma-separated string), ``id`` (kept as ``metadata["source_id"]``). Columns not mapped
become metadata. Export writes the same column names back, metadata columns included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from thresher.errors import ConfigError
from thresher.formats._chat import make_record, model_dump, parse_messages, to_openai_messages
from thresher.formats.base import ExportContext, ExportItem, Format, Parsed, RowError
from thresher.formats.registry import register_format
from thresher.formats.views import sft_messages
from thresher.model import TASK_TYPES

CONTENT_TARGETS = ("text", "prompt", "response", "system", "messages")
ENVELOPE_TARGETS = ("split", "task_type", "domains", "id")
_SPLIT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")  # Record.split's pattern, checked here to name the column
_NEEDS_MAPPING = (
    "format 'generic' needs a field mapping: pass --map target=column "
    "(e.g. --map prompt=question --map response=answer, or --map text=body, or --map messages=conversation)"
)


def _check_mapping(mapping: dict[str, str]) -> None:
    def bad(msg: str) -> RowError:
        return RowError(f"generic mapping: {msg}", type="bad_option")

    targets = set(mapping)
    unknown = sorted(targets - {*CONTENT_TARGETS, *ENVELOPE_TARGETS})
    if unknown:
        raise bad(f"unknown target(s) {unknown}; expected some of {[*CONTENT_TARGETS, *ENVELOPE_TARGETS]}")
    if not all(isinstance(c, str) and c for c in mapping.values()):
        raise bad("every target needs a column name (target=column)")
    if len(set(mapping.values())) != len(mapping):
        raise bad("each column can be mapped to one target only")
    modes = [m for m in ({"text"}, {"prompt", "response"}, {"messages"}) if m & targets]
    if len(modes) != 1:
        raise bad("map exactly one of: text, prompt and response, or messages")
    if modes[0] == {"prompt", "response"} and not {"prompt", "response"} <= targets:
        raise bad("prompt and response go together")
    if "system" in targets and "prompt" not in targets:
        raise bad("system goes with prompt and response")


@register_format
class Generic(Format):
    name = "generic"
    description = "Any table through a field mapping (--map text=..., prompt=... response=..., or messages=...)"
    kinds = ("text", "conversation", "comparison", "agent_run")

    def __init__(self, mapping: dict[str, str] | None = None) -> None:
        self.mapping: dict[str, str] = dict(mapping or {})  # target -> column; empty on the registry instance

    def configure(self, mapping: dict[str, str]) -> Generic:
        if not mapping:
            if self.mapping:
                return self
            raise ConfigError(_NEEDS_MAPPING)  # the exporter configures every format, mapping or not
        _check_mapping(mapping)
        return Generic(mapping)

    def sniff(self, row: dict[str, Any]) -> bool:
        return False  # any row fits some mapping: never chosen by auto-detection

    # -- reading -------------------------------------------------------------------------

    def _value(self, row: dict[str, Any], target: str) -> Any:
        col = self.mapping[target]
        if col not in row:
            raise RowError(f"missing column {col!r} (mapped to {target}); the row has {sorted(row)}", (col,), "missing")
        return row[col]

    def _str(self, row: dict[str, Any], target: str, *, required: bool) -> str | None:
        """A string cell; None (or "") is an error when required, else absent."""
        col, value = self.mapping[target], self._value(row, target)
        if value is None or value == "":
            if required:
                raise RowError(f"column {col!r} (mapped to {target}) is empty", (col,), "empty", value)
            return None
        if not isinstance(value, str):
            raise RowError(
                f"column {col!r} (mapped to {target}): expected a string, got {type(value).__name__}",
                (col,),
                "wrong_type",
                value,
            )
        return value

    def _messages(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        col, value = self.mapping["messages"], self._value(row, "messages")
        if isinstance(value, str):  # CSV cells (and some exports) hold the list as JSON text
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError as e:
                msg = f"column {col!r} (mapped to messages): invalid JSON: {e}"
                raise RowError(msg, (col,), "invalid_json", value[:80]) from None
        return [model_dump(m) for m in parse_messages(value, (col,))]

    def _domains(self, row: dict[str, Any]) -> list[str]:
        col, value = self.mapping["domains"], self._value(row, "domains")
        if value is None:
            return []
        if isinstance(value, str):
            return [d.strip() for d in value.split(",") if d.strip()]
        if isinstance(value, list) and all(isinstance(d, str) for d in value):
            return value
        msg = f"column {col!r} (mapped to domains): expected a comma-separated string or a list of strings"
        raise RowError(msg, (col,), "wrong_type", value)

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        if not self.mapping:
            raise RowError(_NEEDS_MAPPING, type="bad_option")
        m = self.mapping
        content: dict[str, Any]
        if "text" in m:
            text = self._str(row, "text", required=True)
            if text is None or not text.strip():
                raise RowError(f"column {m['text']!r} (mapped to text) is empty", (m["text"],), "empty_text")
            content, where = {"kind": "text", "text": text}, m["text"]
        elif "messages" in m:
            content, where = {"kind": "conversation", "messages": self._messages(row)}, m["messages"]
        else:
            system = self._str(row, "system", required=False) if "system" in m else None
            messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system is not None else []
            messages.append({"role": "user", "content": self._str(row, "prompt", required=True)})
            messages.append({"role": "assistant", "content": self._str(row, "response", required=True)})
            content, where = {"kind": "conversation", "messages": messages}, m["response"]
        envelope: dict[str, Any] = {}
        if "split" in m:
            split = self._str(row, "split", required=False)
            if split is not None and not _SPLIT_RE.match(split):
                msg = (
                    f"column {m['split']!r} (mapped to split): expected letters, digits, '_', '.' or '-', got {split!r}"
                )
                raise RowError(msg, (m["split"],), "bad_split", split)
            envelope["split"] = split
        if "task_type" in m:
            task = self._str(row, "task_type", required=False)
            if task is not None and task not in TASK_TYPES:
                msg = (
                    f"column {m['task_type']!r} (mapped to task_type): unknown task type {task!r}; "
                    f"expected one of {list(TASK_TYPES)}"
                )
                raise RowError(msg, (m["task_type"],), "bad_task_type", task)
            envelope["task_type"] = task
        if "domains" in m:
            envelope["domains"] = self._domains(row)
        mapped = set(m.values())
        metadata = {k: v for k, v in row.items() if k not in mapped}
        if "id" in m and self._value(row, "id") is not None:
            metadata["source_id"] = row[m["id"]]
        yield Parsed(make_record(content, (where,), metadata=metadata, **envelope))

    # -- writing -------------------------------------------------------------------------

    def _export_messages(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]] | None:
        messages = sft_messages(item, ctx)
        if messages is None and item.kind == "conversation":
            messages = item.content()["messages"]  # a generic table need not end in an answer
        return messages

    def _content_cells(self, item: ExportItem, ctx: ExportContext) -> dict[str, Any] | None:
        m = self.mapping
        if "text" in m:
            return {"text": item.content()["text"]} if item.kind == "text" else None
        messages = self._export_messages(item, ctx)
        if messages is None:
            return None
        if "messages" in m:
            return {"messages": to_openai_messages(messages)}
        # prompt/response: exactly [system?] user assistant, plain text, no tool calls.
        system = messages[0] if messages and messages[0]["role"] == "system" else None
        rest = messages[1:] if system else messages
        if [x["role"] for x in rest] != ["user", "assistant"] or (system and "system" not in m):
            return None  # more turns, or a system prompt with no column to keep it
        if any(not isinstance(x.get("content"), str) or x.get("tool_calls") for x in messages):
            return None
        cells = {"prompt": rest[0]["content"], "response": rest[1]["content"]}
        if "system" in m:
            cells["system"] = system["content"] if system else None
        return cells

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        if not self.mapping:
            raise ConfigError(_NEEDS_MAPPING)
        cells = self._content_cells(item, ctx)
        if cells is None:
            return
        metadata: dict[str, Any] = orjson.loads(item.metadata_json)
        domains: list[str] = orjson.loads(item.domains_json)
        envelope = {
            "split": item.split,
            "task_type": item.task_type,
            # A comma-separated string fits every container (CSV cells, one Parquet schema).
            "domains": ",".join(domains) or None,
            "id": metadata.get("source_id"),
        }
        row = {col: cells[t] if t in CONTENT_TARGETS else envelope[t] for t, col in self.mapping.items()}
        for key, value in metadata.items():
            if key != "source_id" and key not in row:
                row[key] = value
        yield row

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        m = self.mapping
        if "text" in m:
            return f"generic (text) has no row for a {item.kind} record"
        if "messages" in m:
            return f"{item.kind} record has no conversation to write"
        return f"{item.kind} record is not one plain-text exchange ([system], user, assistant) for prompt/response"
