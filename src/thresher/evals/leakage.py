"""The train/eval leakage guard: find training records that match an eval item of the project.

Two tests, on text normalized alike (NFKC, lower case, every run of non-alphanumerics a single
space):

- **exact**: the record's prompt (its user turns) or its whole text equals an eval item's input;
- **n-gram**: the record's text shares a word n-gram (default 13, as in the GPT-3 and Llama
  contamination studies) with an eval item's input or reference. Items shorter than n words
  are caught by the exact test only.

Kept small on purpose: a hash set of n-grams held in memory, built from the project's eval
items when an export starts. (The curation layer's contamination index, for public benchmarks
at corpus scale, was not there when this was written.)
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from thresher.store import RecordFilter, Store

__all__ = ["DEFAULT_NGRAM", "LeakageGuard", "Match", "normalize_text"]

DEFAULT_NGRAM = 13
_NON_WORD = re.compile(r"[\W_]+")


def normalize_text(text: str) -> str:
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


@dataclass(frozen=True)
class Match:
    eval_record: str
    how: str  # "exact" or "ngram"


def _message_text(m: Any) -> str:
    if not isinstance(m, dict):
        return ""
    content = m.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (the text a record could leak through)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _prompts(kind: str, content: dict[str, Any]) -> list[str]:
    """The user turns of a record: what a training example asks."""
    messages: list[Any] = []
    if kind == "conversation":
        messages = content.get("messages") or []
    elif kind == "comparison":
        messages = content.get("prompt") or []
    elif kind == "agent_run":
        task = content.get("task")
        return [task] if isinstance(task, str) else [_message_text(m) for m in task or [] if m.get("role") == "user"]
    elif kind == "text":
        return [str(content.get("text", ""))]
    return [_message_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "user"]


class LeakageGuard:
    """Built once per export from the project's eval items; ``check`` is called per record."""

    def __init__(self, n: int = DEFAULT_NGRAM) -> None:
        if n < 1:
            raise ValueError("the n-gram length must be at least 1")
        self.n = n
        self.items = 0
        self._exact: dict[str, str] = {}
        self._grams: dict[int, str] = {}

    def __bool__(self) -> bool:
        return self.items > 0

    def _grams_of(self, text: str) -> Iterator[int]:
        words = text.split()
        n = self.n
        for i in range(len(words) - n + 1):
            yield hash(" ".join(words[i : i + n]))

    def add_eval_item(self, record_id: str, content: dict[str, Any]) -> None:
        self.items += 1
        user = normalize_text(" ".join(_message_text(m) for m in content.get("input") or [] if m.get("role") == "user"))
        if user:
            self._exact.setdefault(user, record_id)
        refs = content.get("reference")
        texts = [_message_text(m) for m in content.get("input") or []]
        texts += [refs] if isinstance(refs, str) else list(refs or [])
        for text in texts:
            for g in self._grams_of(normalize_text(text)):
                self._grams.setdefault(g, record_id)

    @classmethod
    def from_project(cls, store: Store, project: str, n: int = DEFAULT_NGRAM) -> LeakageGuard:
        guard = cls(n)
        flt = RecordFilter(kinds=["eval_item"])
        for dataset in store.list_datasets(project):
            for batch in store.iter_records(dataset, flt=flt):
                for row in batch:
                    guard.add_eval_item(row.id, orjson.loads(row.content))
        return guard

    def check(self, kind: str, content: dict[str, Any]) -> Match | None:
        """The first eval item this record matches, or None."""
        if kind == "eval_item" or not self.items:
            return None
        prompt = normalize_text(" ".join(_prompts(kind, content)))
        hit = self._exact.get(prompt) if prompt else None
        if hit is not None:
            return Match(hit, "exact")
        whole = normalize_text(" ".join(_strings(content)))
        hit = self._exact.get(whole)
        if hit is not None:
            return Match(hit, "exact")
        grams = self._grams
        for g in self._grams_of(whole):
            hit = grams.get(g)
            if hit is not None:
                return Match(hit, "ngram")
        return None

    def check_all(self, records: Iterable[tuple[str, str, dict[str, Any]]]) -> dict[str, Match]:
        """(id, kind, content) triples -> the matches among them."""
        out = {}
        for rid, kind, content in records:
            m = self.check(kind, content)
            if m is not None:
                out[rid] = m
        return out
