"""What flows through a pipeline: a record as plain data (content as stored), with its labels.

Items cross process boundaries as one JSON line each, so they hold dicts, not pydantic models;
the ``validate`` block is where the record model is checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from thresher.model import Record
from thresher.store.rows import RecordRow


@dataclass(slots=True)
class Item:
    id: str  # the source record's id (decisions and lineage point to it)
    kind: str
    content: dict[str, Any]  # without "kind", as stored
    metadata: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    split: str | None = None
    task_type: str | None = None
    domains: list[str] = field(default_factory=list)
    lineage: list[str] = field(default_factory=list)
    synthetic: bool = False
    responses: list[dict[str, Any]] = field(default_factory=list)  # {"id", "user", "answers"}
    _text: str | None = None

    def text(self) -> str:
        """All the text the record holds (prompts, answers, steps), joined by newlines."""
        if self._text is None:
            self._text = content_text(self.kind, self.content)
        return self._text

    def set_content(self, content: dict[str, Any]) -> None:
        self.content = content
        self._text = None

    def dumps(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "kind": self.kind,
                "content": self.content,
                "metadata": self.metadata,
                "source": self.source,
                "split": self.split,
                "task_type": self.task_type,
                "domains": self.domains,
                "lineage": self.lineage,
                "synthetic": self.synthetic,
                "responses": self.responses,
            }
        )

    @classmethod
    def loads(cls, line: str | bytes) -> Item:
        d = orjson.loads(line)
        return cls(
            id=d["id"],
            kind=d["kind"],
            content=d["content"],
            metadata=d.get("metadata") or {},
            source=d.get("source") or {},
            split=d.get("split"),
            task_type=d.get("task_type"),
            domains=d.get("domains") or [],
            lineage=d.get("lineage") or [],
            synthetic=bool(d.get("synthetic")),
            responses=d.get("responses") or [],
        )

    @classmethod
    def from_row(cls, row: RecordRow, responses: list[dict[str, Any]] | None = None) -> Item:
        return cls(
            id=row.id,
            kind=row.kind,
            content=orjson.loads(row.content),
            metadata=orjson.loads(row.metadata),
            source=orjson.loads(row.source),
            split=row.split,
            task_type=row.task_type,
            domains=orjson.loads(row.domains),
            lineage=orjson.loads(row.lineage),
            synthetic=bool(row.synthetic),
            responses=responses or [],
        )

    def to_record(self) -> Record:
        """The record this item becomes in the output dataset; its lineage names the source record."""
        return Record.model_validate(
            {
                "content": {"kind": self.kind, **self.content},
                "metadata": self.metadata,
                "source": self.source,
                "split": self.split,
                "task_type": self.task_type,
                "domains": self.domains,
                "lineage": [self.id],
                "synthetic": self.synthetic,
            }
        )


def _message_texts(msgs: list[dict[str, Any]], parts: list[str]) -> None:
    for m in msgs:
        c = m.get("content")
        if isinstance(c, str):
            parts.append(c)
        elif isinstance(c, list):
            parts.extend(p.get("text", "") for p in c if isinstance(p, dict))
        for call in m.get("tool_calls") or []:
            parts.append(orjson.dumps(call.get("arguments", {})).decode())


def content_text(kind: str, content: dict[str, Any]) -> str:
    """All the text of a record's content (media captions and contexts included)."""
    parts: list[str] = []
    if kind == "text":
        parts.append(content["text"])
    elif kind == "conversation":
        _message_texts(content["messages"], parts)
    elif kind == "comparison":
        _message_texts(content.get("prompt", []), parts)
        for cand in content["candidates"]:
            _message_texts(cand["messages"], parts)
    elif kind == "agent_run":
        task = content["task"]
        if isinstance(task, str):
            parts.append(task)
        else:
            _message_texts(task, parts)
        for s in content.get("steps", []):
            parts.append(s.get("content") or "")
    elif kind == "media":
        parts.append(content.get("caption") or "")
        _message_texts(content.get("context") or [], parts)
    elif kind == "eval_item":
        _message_texts(content["input"], parts)
        ref = content.get("reference")
        parts.extend(ref if isinstance(ref, list) else [ref or ""])
    return "\n".join(p for p in parts if p)


def prompt_and_answer(item: Item) -> tuple[str, str]:
    """A conversation's user side and assistant side, for checks that compare them."""
    if item.kind != "conversation":
        return "", item.text()
    asked: list[str] = []
    answered: list[str] = []
    for m in item.content["messages"]:
        target = answered if m.get("role") == "assistant" else asked if m.get("role") == "user" else None
        if target is not None:
            _message_texts([m], target)
    return "\n".join(asked), "\n".join(answered)


def map_strings(value: Any, fn: Any, skip: frozenset[str] = frozenset({"id", "role", "type", "name", "uri"})) -> Any:
    """Apply ``fn`` to every text string inside content (not to ids, roles or types)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [map_strings(v, fn, skip) for v in value]
    if isinstance(value, dict):
        return {k: (v if k in skip else map_strings(v, fn, skip)) for k, v in value.items()}
    return value
