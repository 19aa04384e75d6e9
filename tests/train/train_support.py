"""Data helpers of the training tests (imported by name: `conftest` is ambiguous across folders)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import orjson
import pytest

pytest.importorskip("trl", reason="the train extra is not installed")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

from thresher.pipeline import import_file
from thresher.store import Store

WORDS = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "bird"]
PROJECT = "lab"


def copy_rows(n: int, seed: int, corrupt: float = 0.0) -> list[dict[str, object]]:
    """``repeat: w1 w2 w3`` -> ``w1 w2 w3``; a ``corrupt`` share of answers are shuffled words instead."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for _ in range(n):
        words = rng.sample(WORDS, 3)
        answer = " ".join(words)
        if rng.random() < corrupt:
            answer = " ".join(rng.sample(WORDS, 3))
        rows.append(
            {
                "prompt": [{"role": "user", "content": "repeat: " + " ".join(words)}],
                "completion": [{"role": "assistant", "content": answer}],
            }
        )
    return rows


def preference_rows(n: int, seed: int) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for _ in range(n):
        words = rng.sample(WORDS, 3)
        out.append(
            {
                "prompt": [{"role": "user", "content": "repeat: " + " ".join(words)}],
                "chosen": [{"role": "assistant", "content": " ".join(words)}],
                "rejected": [{"role": "assistant", "content": " ".join(reversed(words)) + " " + rng.choice(WORDS)}],
            }
        )
    return out


def kto_rows(n: int, seed: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, p in enumerate(preference_rows(n, seed)):
        good = i % 2 == 0
        out.append({"prompt": p["prompt"], "completion": p["chosen" if good else "rejected"], "label": good})
    return out


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def add_dataset(store: Store, tmp: Path, name: str, rows: list[dict[str, object]], fmt: str) -> None:
    ds = store.ensure_dataset(PROJECT, name)
    import_file(store, ds, write_jsonl(tmp / f"{name}.jsonl", rows), fmt=fmt)
    store.create_version(ds, "v1")
