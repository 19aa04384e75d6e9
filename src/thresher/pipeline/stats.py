"""Token statistics, streamed over a dataset (counts come from the store in one query each)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from thresher.errors import MissingExtra
from thresher.model import Dataset, DatasetVersion
from thresher.store import Store

TokenCounter = Callable[[str], int]
_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_tokens(text: str) -> int:
    """Words and punctuation marks: close to BPE counts for English, no model file needed."""
    return sum(1 for _ in _WORDS.finditer(text))


def tokenizer_counter(path: Path) -> TokenCounter:
    """Exact counts with a local Hugging Face ``tokenizer.json`` (no download)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingExtra("tokenizers", "hf") from None
    tok = Tokenizer.from_file(str(path))
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


def content_text(kind: str, content: dict[str, Any]) -> str:
    """All the text a record holds, for counting (media captions and contexts included)."""
    parts: list[str] = []

    def messages(msgs: list[dict[str, Any]]) -> None:
        for m in msgs:
            c = m.get("content")
            if isinstance(c, str):
                parts.append(c)
            elif isinstance(c, list):
                parts.extend(p.get("text", "") for p in c)
            for call in m.get("tool_calls") or []:
                parts.append(orjson.dumps(call.get("arguments", {})).decode())

    if kind == "text":
        parts.append(content["text"])
    elif kind == "conversation":
        messages(content["messages"])
    elif kind == "comparison":
        messages(content.get("prompt", []))
        for cand in content["candidates"]:
            messages(cand["messages"])
    elif kind == "agent_run":
        task = content["task"]
        parts.append(task) if isinstance(task, str) else messages(task)
        for s in content.get("steps", []):
            parts.append(s.get("content") or "")
    elif kind == "media":
        parts.append(content.get("caption") or "")
        messages(content.get("context") or [])
    elif kind == "eval_item":
        messages(content["input"])
        ref = content.get("reference")
        parts.extend(ref if isinstance(ref, list) else [ref or ""])
    return "\n".join(p for p in parts if p)


def token_counts(
    store: Store,
    dataset: Dataset,
    version: DatasetVersion | None = None,
    counter: TokenCounter = approx_tokens,
    progress: Callable[[int], None] | None = None,
) -> Counter[str]:
    """Tokens per record kind, streaming the records in keyset batches."""
    totals: Counter[str] = Counter()
    seen = 0
    for batch in store.iter_records(dataset, version=version):
        for r in batch:
            totals[r.kind] += counter(content_text(r.kind, orjson.loads(r.content)))
        seen += len(batch)
        if progress is not None:
            progress(seen)
    return totals
