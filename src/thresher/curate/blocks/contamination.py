"""Contamination: word n-gram overlap (13-grams by default) with benchmark files the user
supplies (GSM8K, MMLU, HumanEval as those projects ship them, or any JSONL) and the project's
own eval datasets. A contaminated record is flagged (or dropped) with the matching item.

The benchmark's n-grams are kept as hashes of word tuples (a dict of ints, not the n-grams
themselves), so 10,000 items take a few megabytes; a record costs one hash per word position.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import Field

from thresher.curate._items import Item
from thresher.curate.blocks.base import KEEP, Block, BlockConfig, Verdict, drop, flagged, register_block
from thresher.errors import DataError, ErrorDetail

_WORD = re.compile(r"\w+")
BenchFormat = Literal["gsm8k", "mmlu", "humaneval", "jsonl", "thresher-eval"]


class BenchmarkSpec(BlockConfig):
    path: str
    format: BenchFormat
    name: str | None = None
    fields: list[str] = Field(default_factory=list, description="jsonl: the fields holding the text")


def read_benchmark(spec: BenchmarkSpec) -> list[tuple[str, str]]:
    """``(item id, text)`` per benchmark item; the id is ``name:line``."""
    path = Path(spec.path)
    name = spec.name or path.stem
    if not path.is_file():
        raise DataError(f"benchmark file {path} not found", [ErrorDetail("not_found", (str(path),), "no such file")])
    out: list[tuple[str, str]] = []
    if spec.format == "mmlu":
        with path.open(newline="", encoding="utf-8") as f:
            for line, row in enumerate(csv.reader(f), 1):
                if len(row) != 6:
                    msg = f"expected 6 columns (question, A, B, C, D, answer), got {len(row)}"
                    raise DataError("bad MMLU row", [ErrorDetail("invalid_row", (str(path), line), msg, row)])
                out.append((f"{name}:{line}", "\n".join(row[:5])))
        return out
    fields = {
        "gsm8k": ["question", "answer"],
        "humaneval": ["prompt", "canonical_solution"],
        "thresher-eval": ["text"],
        "jsonl": spec.fields or ["text"],
    }[spec.format]
    with path.open("rb") as f:
        for line, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                row = orjson.loads(raw)
            except orjson.JSONDecodeError as e:
                raise DataError(
                    "bad benchmark line", [ErrorDetail("invalid_json", (str(path), line), str(e))]
                ) from None
            missing = [k for k in fields if not isinstance(row.get(k), str)]
            if missing:
                msg = f"expected text fields {fields} ({spec.format}); missing or not text: {missing}"
                raise DataError("bad benchmark row", [ErrorDetail("missing", (str(path), line, missing[0]), msg)])
            item_id = str(row.get("task_id") or f"{name}:{line}")
            out.append((item_id, "\n".join(row[k] for k in fields)))
    return out


class NgramIndex:
    """Hashes of every word n-gram of the benchmark items, mapped to the first item that has it.

    Hashes of word tuples are only comparable within one process (string hashing is seeded per
    process), so each process builds its own index: executors build blocks once per process.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.grams: dict[int, int] = {}
        self.items: list[tuple[str, str]] = []  # (benchmark, item id)

    def add(self, benchmark: str, item_id: str, text: str) -> None:
        idx = len(self.items)
        self.items.append((benchmark, item_id))
        words = _WORD.findall(text.lower())
        n, grams = self.n, self.grams
        for i in range(len(words) - n + 1):
            grams.setdefault(hash(tuple(words[i : i + n])), idx)

    def match(self, text: str) -> tuple[int, int] | None:
        """(item index, word position) of the first n-gram of ``text`` found in the index."""
        words = _WORD.findall(text.lower())
        n, get = self.n, self.grams.get
        for i in range(len(words) - n + 1):
            hit = get(hash(tuple(words[i : i + n])))
            if hit is not None:
                return hit, i
        return None


class ContaminationConfig(BlockConfig):
    benchmarks: list[BenchmarkSpec] = Field(default_factory=list)
    eval_datasets: list[str] = Field(
        default_factory=list, description="the project's eval datasets (their eval_item records) to check against"
    )
    n: int = Field(default=13, ge=3, le=50, description="n-gram size in words")
    action: Literal["flag", "drop"] = "flag"
    metadata_key: str = "contamination"


@register_block("contamination")
class Contamination(Block):
    """Flags (or drops) records sharing a word n-gram with a benchmark or eval item."""

    Config = ContaminationConfig
    config: ContaminationConfig

    def __init__(self, config: ContaminationConfig) -> None:
        super().__init__(config)
        self.index = NgramIndex(config.n)
        for spec in config.benchmarks:
            name = spec.name or Path(spec.path).stem
            for item_id, text in read_benchmark(spec):
                self.index.add(name, item_id, text)

    def apply(self, item: Item) -> Verdict:
        if item.kind == "eval_item":
            return KEEP  # eval items are the benchmark side, not training data
        hit = self.index.match(item.text())
        if hit is None:
            return KEEP
        benchmark, item_id = self.index.items[hit[0]]
        detail: dict[str, Any] = {"benchmark": benchmark, "item": item_id, "word": hit[1], "n": self.config.n}
        if self.config.action == "drop":
            return drop("contaminated", **detail)
        item.metadata[self.config.metadata_key] = {"benchmark": benchmark, "item": item_id}
        return flagged("contaminated", **detail)
