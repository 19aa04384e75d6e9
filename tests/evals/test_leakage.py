"""Training exports leave out records that match an eval item (exact or n-gram); the manifest lists them."""

from __future__ import annotations

import json
from pathlib import Path

from thresher.evals.leakage import LeakageGuard
from thresher.model import ConversationContent, EvalItemContent, Message, Record, TextContent
from thresher.pipeline import export_dataset
from thresher.store import Store

LONG_Q = (
    "A farmer has seventeen sheep and all but nine run away through a hole in the fence; "
    "how many sheep does the farmer have left at the end of the day?"
)


def conv(user: str, answer: str = "ok") -> Record:
    return Record(
        content=ConversationContent(
            messages=[Message(role="user", content=user), Message(role="assistant", content=answer)]
        )
    )


def test_export_excludes_leaked_records(store: Store, tmp_path: Path) -> None:
    store.create_project("p")
    evals = store.create_dataset("p", "evals")
    store.add_records(
        evals,
        [
            Record(content=EvalItemContent(input=[Message(role="user", content=LONG_Q)], reference="9")),
            Record(content=EvalItemContent(input=[Message(role="user", content="What is 2+2?")], reference="4")),
        ],
    )
    sft = store.create_dataset("p", "sft")
    store.add_records(
        sft,
        [
            conv("what is 2 + 2 ?", "4"),  # exact after normalization
            conv("Please help. " + LONG_Q.upper().replace(";", ","), "9"),  # a 13-gram in common
            conv("Tell me a joke about sheep.", "Baa."),  # clean
            conv("What is 2+2 in binary?", "100"),  # shares words, not the item
        ],
    )
    out = tmp_path / "sft.jsonl"
    result = export_dataset(store, sft, out, "openai-chat")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["messages"][0]["content"] for r in rows] == ["Tell me a joke about sheep.", "What is 2+2 in binary?"]
    manifest = json.loads(result.manifest.read_text())
    leak = manifest["leakage"]
    assert leak["checked"] and leak["ngram"] == 13 and leak["eval_items"] == 2 and leak["excluded"] == 2
    assert sorted(r["match"] for r in leak["records"]) == ["exact", "ngram"]

    # An n longer than the item (32 words): only the exact match remains.
    result = export_dataset(store, sft, tmp_path / "sft20.jsonl", "openai-chat", leakage_ngram=40)
    assert json.loads(result.manifest.read_text())["leakage"]["excluded"] == 1


def test_non_training_exports_are_not_filtered(store: Store, tmp_path: Path) -> None:
    store.create_project("p")
    ds = store.create_dataset("p", "mixed")
    store.add_records(
        ds,
        [
            Record(content=EvalItemContent(input=[Message(role="user", content="What is 2+2?")], reference="4")),
            Record(content=TextContent(text="what is 2+2")),
        ],
    )
    result = export_dataset(store, ds, tmp_path / "all.jsonl", "thresher")
    assert json.loads(result.manifest.read_text())["leakage"]["checked"] is False


def test_guard_matching_rules() -> None:
    g = LeakageGuard(n=5)
    assert not g
    g.add_eval_item("e1", {"input": [{"role": "user", "content": "one two three four five six"}], "reference": "x"})
    assert g.check("text", {"text": "ONE two, three four five!"}).how == "ngram"  # type: ignore[union-attr]
    assert g.check("text", {"text": "one two three four five six"}).how == "exact"  # type: ignore[union-attr]
    assert g.check("text", {"text": "one two three four"}) is None
    assert g.check("eval_item", {"input": [{"role": "user", "content": "one two three four five six"}]}) is None
