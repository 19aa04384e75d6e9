"""The dataset-effectiveness report on a synthetic copy task: clean labels beat corrupted ones, and two
equal datasets come out "within noise"."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import orjson
import pytest
from train_support import PROJECT, add_dataset, write_jsonl

from thresher.pipeline import import_file
from thresher.store import Store
from thresher.train import build_tiny_model, load_recipe
from thresher.train.compare import WITHIN_NOISE, compare_versions

pytest.importorskip("thresher.evals.adapters.hf")


# "The first word of three": a tiny model generalises it to unseen triples within a few dozen steps.
WORDS = ["red", "blue", "green", "cat", "dog", "sun", "moon", "tree", "fish", "bird"]
TRIPLES = list(itertools.permutations(WORDS, 3))
random.Random(0).shuffle(TRIPLES)
TRAIN, HELD_OUT = TRIPLES[:400], TRIPLES[400:440]  # the eval items are triples never trained on


def first_word_rows(corrupt: float = 0.0, seed: int = 11) -> list[dict[str, object]]:
    """``first word: a b c`` -> ``a``; a ``corrupt`` share of labels are a random word instead."""
    rng = random.Random(seed)
    return [
        {
            "prompt": [{"role": "user", "content": "first word: " + " ".join(t)}],
            "completion": [{"role": "assistant", "content": rng.choice(WORDS) if rng.random() < corrupt else t[0]}],
        }
        for t in TRAIN
    ]


def eval_items() -> list[dict[str, object]]:
    return [
        {
            "content": {
                "kind": "eval_item",
                "input": [{"role": "user", "content": "first word: " + " ".join(t)}],
                "reference": t[0],
            },
            "task_type": "extraction",
            "domains": ["animals" if t[0] in ("cat", "dog", "fish", "bird") else "things"],
        }
        for t in HELD_OUT
    ]


@pytest.fixture(scope="module")
def first_word_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = ["first word: " + " ".join(t) for t in TRIPLES[:200]]
    return build_tiny_model(tmp_path_factory.mktemp("first") / "first-base", texts, vocab_size=300, hidden=48)


@pytest.fixture
def first_word_lab(lab: Store, tmp_path: Path) -> Store:
    add_dataset(lab, tmp_path, "clean", first_word_rows(), "trl-prompt-completion")
    add_dataset(lab, tmp_path, "clean-again", first_word_rows(), "trl-prompt-completion")
    add_dataset(lab, tmp_path, "corrupted", first_word_rows(corrupt=1.0), "trl-prompt-completion")
    suite = lab.ensure_dataset(PROJECT, "first-evals")
    import_file(lab, suite, write_jsonl(tmp_path / "evals.jsonl", eval_items()), fmt="thresher")
    lab.create_version(suite, "v1")
    return lab


def test_compare_says_which_version_helped_or_within_noise(
    first_word_lab: Store, first_word_model: Path, tmp_path: Path
) -> None:
    train = {"max_steps": 70, "batch_size": 16, "learning_rate": 3e-3, "logging_steps": 10}
    recipe = load_recipe({"method": "sft", "base": str(first_word_model), "seed": 0, "train": train})
    runs = tmp_path / "runs"
    report = compare_versions(
        first_word_lab, PROJECT, recipe, "corrupted@v1", "clean@v1", "first-evals@v1", runs, tmp_path / "r1.html"
    )
    assert report.verdict == "clean@v1 helped", report.headline
    assert report.a_vs_b["diff"] > 0.15 and report.a_vs_b["ci"][0] > 0, report.headline
    page = report.path.read_text()
    assert "clean@v1 helped" in page and "<svg" in page and "domain:animals" in page
    data = orjson.loads(report.path.with_suffix(".json").read_bytes())
    base, a, b = data["sides"]
    assert base["label"] == "base" and a["stage"] != b["stage"]
    version = first_word_lab.get_version(first_word_lab.get_dataset(PROJECT, "clean"), "v1")
    assert b["manifest_hash"] == version.manifest_hash
    assert first_word_lab.training.get_stage(PROJECT, b["stage"]).parent == base["stage"]

    # Equal data gives equal models whatever the length of training: a short run shows it.
    short = recipe.model_copy(update={"train": recipe.train.model_copy(update={"max_steps": 12})})
    same = compare_versions(
        first_word_lab, PROJECT, short, "clean@v1", "clean-again@v1", "first-evals@v1", runs, tmp_path / "r2.html"
    )
    assert same.verdict == WITHIN_NOISE, same.headline
    assert "Within noise" in same.path.read_text()
