"""Shared by the LLaMA-Factory formats (alpaca and sharegpt, each as SFT, DPO and KTO).

LLaMA-Factory reads a file through an entry in ``dataset_info.json`` beside it (data/README.md):
``file_name``, ``formatting``, ``ranking`` and the ``columns``/``tags`` naming the keys. Every
export writes (merges) that entry, so the file trains with no hand-written config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import orjson

from thresher.errors import ConfigError
from thresher.formats.base import ExportContext, ExportItem, Format, Row, RowError
from thresher.formats.containers import get_container

Msgs = list[dict[str, Any]]
Loc = tuple[str | int, ...]
T = TypeVar("T")

DATASET_INFO = "dataset_info.json"

# The documented defaults; optional, but written out so the entry says how to read the file.
SHAREGPT_TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


class Unfit(Exception):
    """A record (or one of its pairs) this format cannot express; the message says why."""


def dumps(value: Any) -> str:
    # Python's separators and raw UTF-8, as LLaMA-Factory's own files hold JSON-in-a-string.
    return json.dumps(value, ensure_ascii=False)


def optional_str(row: dict[str, Any], key: str) -> str:
    """An optional string column; missing or null reads as ""."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RowError(f"expected a string, got {type(value).__name__}", (key,), type="wrong_type", input=value)
    return value


def kto_tag(row: dict[str, Any]) -> bool:
    tag = row.get("kto_tag")
    if not isinstance(tag, bool):
        raise RowError(f"expected a boolean kto_tag, got {tag!r}", ("kto_tag",), type="wrong_type", input=tag)
    return tag


def metadata_of(item: ExportItem, key: str) -> dict[str, Any]:
    """``metadata[key]`` of an item, parsing the metadata JSON only when the key is in it."""
    if f'"{key}"' not in item.metadata_json:
        return {}
    value = orjson.loads(item.metadata_json).get(key)
    return value if isinstance(value, dict) else {}


def text_only(m: dict[str, Any], fmt: str, where: str) -> str:
    """A message's text; Unfit if it holds what a text-only LLaMA-Factory column cannot."""
    if m.get("reasoning"):
        raise Unfit(f"{where} has reasoning, which {fmt} cannot hold")
    content = m.get("content")
    if isinstance(content, list):
        media = sorted({p["type"] for p in content if p.get("type") != "text"})
        if media:
            raise Unfit(f"{where} has {'/'.join(media)} content; {fmt} exports text only")
        return "".join(p.get("text", "") for p in content)
    return content if isinstance(content, str) else ""


def scan_keys(path: Path, container: str) -> set[str]:
    """Every key used by some row of the written file (a column LLaMA-Factory can map)."""
    keys: set[str] = set()
    for row in get_container(container).read(path):
        if isinstance(row, Row):
            keys.update(row.data)
    return keys


def merge_dataset_info(folder: Path, name: str, entry: dict[str, Any]) -> Path:
    """Add or replace ``name`` in ``folder/dataset_info.json``, keeping every other entry."""
    path = folder / DATASET_INFO
    info: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path}: not valid JSON ({e}); fix or remove it to add the {name!r} entry") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a JSON object of dataset entries, got {type(loaded).__name__}")
        info = loaded
    info[name] = entry  # the entry describes the file just written: replaced whole, never stale
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


class LlamaFactoryFormat(Format):
    """Rows built by ``build`` (which raises Unfit with the reason), plus the dataset_info entry.

    ``columns`` is (LLaMA-Factory column, key in our rows, always written); the optional ones
    go into the entry only if some exported row has the key, since LLaMA-Factory fails on a
    mapped column that no row has.
    """

    default_container = "json"
    formatting: ClassVar[str] = "alpaca"
    ranking: ClassVar[bool] = False
    columns: ClassVar[tuple[tuple[str, str, bool], ...]] = ()
    empty_reason: ClassVar[str] = "no row for this record"

    def build(self, item: ExportItem, ctx: ExportContext) -> list[dict[str, Any]]:
        raise NotImplementedError

    def to_rows(self, item: ExportItem, ctx: ExportContext) -> Iterator[dict[str, Any]]:
        try:
            yield from self.build(item, ctx)
        except Unfit:
            return

    def skip_reason(self, item: ExportItem, ctx: ExportContext) -> str:
        try:
            self.build(item, ctx)
        except Unfit as e:
            return f"{item.kind}: {e}"
        return self.empty_reason

    def dataset_entry(self, data_path: Path, keys: set[str]) -> dict[str, Any]:
        entry: dict[str, Any] = {"file_name": data_path.name}
        if self.formatting != "alpaca":  # alpaca is the default; the README's alpaca entries leave it out
            entry["formatting"] = self.formatting
        if self.ranking:
            entry["ranking"] = True
        entry["columns"] = {col: key for col, key, always in self.columns if always or key in keys}
        if self.formatting == "sharegpt":
            entry["tags"] = dict(SHAREGPT_TAGS)
        return entry

    def finish_export(self, data_path: Path, ctx: ExportContext, manifest: dict[str, Any]) -> list[Path]:
        keys = scan_keys(data_path, str(manifest.get("container", self.default_container)))
        entry = self.dataset_entry(data_path, keys)
        return [merge_dataset_info(data_path.parent, data_path.stem, entry)]


def rows_that_fit(examples: Iterable[T], make: Callable[[T], dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the pairs (or KTO examples) that fit; Unfit with the first reason if none does."""
    rows, reasons = [], []
    for pair in examples:
        try:
            rows.append(make(pair))
        except Unfit as e:
            reasons.append(str(e))
    if not rows and reasons:
        raise Unfit(reasons[0])
    return rows
