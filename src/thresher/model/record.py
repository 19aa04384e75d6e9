"""The record envelope: content plus where it came from, what it is for and what it derives from."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from datetime import datetime
from typing import Any, Literal, get_args

import orjson
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from thresher.model.content import Content

TaskType = Literal[
    "generation",
    "open_qa",
    "brainstorming",
    "chat",
    "rewrite",
    "summarization",
    "classification",
    "closed_qa",
    "extraction",
    "other",
]
TASK_TYPES: tuple[str, ...] = get_args(TaskType)


class Source(BaseModel):
    """Where a record came from: a file and line, or an endpoint and the client's event id."""

    model_config = ConfigDict(extra="forbid")

    file: str | None = None
    line: int | None = Field(default=None, ge=1)
    format: str | None = None
    endpoint: str | None = None
    client_id: str | None = None
    model: str | None = Field(default=None, description="the model that generated the content, if any")
    import_id: str | None = None


class Record(BaseModel):
    """Every item in a dataset. Content is immutable: an edit makes a new record with lineage."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    content: Content
    content_hash: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: Source = Field(default_factory=Source)
    split: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    task_type: TaskType | None = None
    domains: list[str] = Field(default_factory=list)
    lineage: list[str] = Field(default_factory=list, description="ids of the records this derives from")
    synthetic: bool = False
    created_at: datetime | None = None
    _dump: dict[str, Any] | None = PrivateAttr(default=None)

    @property
    def kind(self) -> str:
        return self.content.kind

    @model_validator(mode="after")
    def _fill_hash(self) -> Record:
        if self.content_hash is None:
            self._dump = self.content.model_dump(mode="json", exclude_none=True)
            self.content_hash = hash_dump(self._dump)
        return self

    def dump_content(self) -> dict[str, Any]:
        """The content as JSON-ready dict without nulls; made once (content is never changed in place)."""
        if self._dump is None:
            self._dump = self.content.model_dump(mode="json", exclude_none=True)
        return self._dump


def normalize(value: Any) -> Any:
    """Canonical form for hashing: NFC Unicode, trimmed strings; null, "" and empty containers dropped.

    So ``"content": ""`` on a tool-calling turn (as TRL writes it) hashes like no content.
    Leaves inside a dict are handled inline: this runs on every imported record.
    """
    t = type(value)
    if t is str:
        return _text(value)
    if t is list:
        return [normalize(v) for v in value]
    if t is not dict:
        return value
    out = {}
    for k, v in value.items():
        tv = type(v)
        if tv is str:
            v = _text(v)
        elif tv is dict or tv is list:
            v = normalize(v)
        elif v is None:
            continue
        if tv in (str, dict, list) and not v:
            continue
        out[k] = v
    return out


def _text(value: str) -> str:
    if not value.isascii():  # ASCII is always NFC: skip the table look-ups
        value = unicodedata.normalize("NFC", value)
    return value.strip()


def content_hash(content: BaseModel) -> str:
    """sha256 of the normalized content, so the same data from two files hashes alike."""
    return hash_dump(content.model_dump(mode="json", exclude_none=True))


def hash_dump(dump: dict[str, Any]) -> str:
    return hashlib.sha256(json_bytes(normalize(dump), sort_keys=True)).hexdigest()


def json_bytes(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON. orjson, except for integers beyond 64 bits, which only the json module writes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")).encode()
