"""Training fixtures: a tiny model built offline, and a home with a small copy task in three shapes
(SFT prompt-completion, preference pairs, KTO thumbs), each imported and frozen as version v1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("trl", reason="the train extra is not installed")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"

from train_support import PROJECT, WORDS, add_dataset, copy_rows, kto_rows, preference_rows

from thresher.store import Store
from thresher.train.tiny import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = ["repeat: " + " ".join(WORDS) + " " + " ".join(reversed(WORDS))] * 20
    texts += [r["prompt"][0]["content"] for r in copy_rows(50, 0)]  # type: ignore[index]
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama", texts, vocab_size=300, hidden=48)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Store]:
    """A store with datasets sft, prefs, kto (each with version v1) in project ``lab``."""
    store = Store.open(tmp_path / "home")
    store.create_project(PROJECT)
    add_dataset(store, tmp_path, "sft", copy_rows(64, 1), "trl-prompt-completion")
    add_dataset(store, tmp_path, "prefs", preference_rows(48, 2), "trl-preference")
    add_dataset(store, tmp_path, "kto", kto_rows(48, 3), "trl-unpaired-preference")
    try:
        yield store
    finally:
        store.close()
