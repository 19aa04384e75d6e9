"""Exporting: eval items stay out of training files, the manifest describes the file, versions are frozen."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from data_paths import FORMATS_DATA
from thresher.formats import ExportOptions
from thresher.model import Dataset, Record, Response, TextQuestion
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

TRAINING_FORMATS = [
    "openai-chat",
    "text",
    "trl-conversational",
    "trl-preference",
    "trl-prompt-completion",
    "trl-stepwise",
    "trl-unpaired-preference",
]
EVAL_MARK = "EVAL-ONLY: what is the airspeed of an unladen swallow?"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_item() -> Record:
    return Record(
        content={
            "kind": "eval_item",
            "input": [{"role": "user", "content": EVAL_MARK}, {"role": "assistant", "content": "Which swallow?"}],
            "reference": "African or European?",
        }
    )


def mixed_dataset(store: Store) -> Dataset:
    """Conversations, preference pairs, a stepwise run, a text and an eval item."""
    ds = store.ensure_dataset("p", "d")
    import_file(store, ds, FORMATS_DATA / "openai" / "chat.jsonl")
    import_file(store, store.get_dataset("p", "d"), FORMATS_DATA / "trl" / "preference.jsonl")
    import_file(store, store.get_dataset("p", "d"), FORMATS_DATA / "trl" / "stepwise_supervision.jsonl")
    import_file(store, store.get_dataset("p", "d"), FORMATS_DATA / "trl" / "unpaired_preference.jsonl")
    store.add_records(
        store.get_dataset("p", "d"), [Record(content={"kind": "text", "text": "A document."}), eval_item()]
    )
    return store.get_dataset("p", "d")


@pytest.mark.parametrize("fmt", TRAINING_FORMATS)
def test_training_exports_never_hold_eval_items(sqlite_store: Store, tmp_path: Path, fmt: str) -> None:
    ds = mixed_dataset(sqlite_store)
    out = tmp_path / f"{fmt}.jsonl"
    result = export_dataset(sqlite_store, ds, out, fmt)
    assert result.rows > 0, "the format exports something from this dataset"
    assert EVAL_MARK not in out.read_text(encoding="utf-8")
    manifest = json.loads(result.manifest.read_text())
    assert "eval_item" not in manifest["counts"]["records_by_kind"]
    assert manifest["excluded"] == ["eval_item"]
    assert "eval_item" not in manifest["filters"]["kinds"]


def test_native_export_holds_eval_items(sqlite_store: Store, tmp_path: Path) -> None:
    ds = mixed_dataset(sqlite_store)
    out = tmp_path / "all.jsonl"
    result = export_dataset(sqlite_store, ds, out, "thresher")
    rows = read_jsonl(out)
    assert len(rows) == sqlite_store.count_records(ds) == result.rows
    [item] = [r for r in rows if r["content"]["kind"] == "eval_item"]
    assert item["content"]["input"][0]["content"] == EVAL_MARK
    manifest = json.loads(result.manifest.read_text())
    assert manifest["excluded"] == []
    assert manifest["counts"]["records_by_kind"]["eval_item"] == 1


def test_manifest(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    import_file(sqlite_store, ds, FORMATS_DATA / "openai" / "chat.jsonl")
    import_file(sqlite_store, ds, FORMATS_DATA / "trl" / "preference_conversational.jsonl")
    failed_run = Record(
        content={
            "kind": "agent_run",
            "task": "Book a table.",
            "steps": [{"type": "message", "content": "Booked (not really)."}],
            "outcome": {"status": "failure"},
        }
    )
    unranked = Record(
        content={
            "kind": "comparison",
            "prompt": [{"role": "user", "content": "Pick one."}],
            "candidates": [
                {"id": "a", "messages": [{"role": "assistant", "content": "A"}]},
                {"id": "b", "messages": [{"role": "assistant", "content": "B"}]},
            ],
        }
    )
    sqlite_store.add_records(ds, [failed_run, unranked, eval_item()])
    ds = sqlite_store.get_dataset("p", "d")
    version = sqlite_store.create_version(ds, "v1", description="first cut")

    out = tmp_path / "export" / "sft.jsonl"
    result = export_dataset(sqlite_store, ds, out, "openai-chat", version=version)
    assert result.manifest == tmp_path / "export" / "sft.jsonl.manifest.json"
    manifest = json.loads(result.manifest.read_text())

    assert manifest["dataset"] == "p/d"
    assert manifest["version"] == {"name": "v1", "manifest_hash": version.manifest_hash}
    assert len(version.manifest_hash) == 64
    assert manifest["format"] == "openai-chat"
    assert manifest["container"] == "jsonl"
    assert manifest["file"] == "sft.jsonl"
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    # 5 chats + 3 ranked comparisons (their chosen answer) are rows; the failed run and the unranked
    # comparison are skipped, each with its reason; the eval item is not read at all.
    assert manifest["counts"] == {
        "records": 10,
        "rows": 8,
        "records_by_kind": {"conversation": 5, "comparison": 4, "agent_run": 1},
        "skipped": {
            "comparison has no preference answer to pick the best candidate": 1,
            "agent run failed": 1,
        },
    }
    assert manifest["options"]["style"] == "conversational"
    assert dict(result.skipped) == manifest["counts"]["skipped"]
    assert len(read_jsonl(out)) == 8


def test_manifest_without_version(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    import_file(sqlite_store, ds, FORMATS_DATA / "trl" / "language_modeling.jsonl")
    out = tmp_path / "lm.jsonl"
    result = export_dataset(sqlite_store, ds, out, "text")
    manifest = json.loads(result.manifest.read_text())
    assert manifest["version"] is None
    assert manifest["counts"]["skipped"] == {}
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not list(tmp_path.glob(".*partial*")), "no temporary file is left behind"


def test_exported_version_is_frozen(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    import_file(store, ds, FORMATS_DATA / "openai" / "chat.jsonl")
    ds = store.add_questions(store.get_dataset("p", "d"), [TextQuestion(name="ideal_response")])
    version = store.create_version(ds, "v1")
    first = export_dataset(store, ds, tmp_path / "v1-a.jsonl", "openai-chat", version=version)

    # More records, and a human rewrite of an old one, after the version was made.
    import_file(store, ds, FORMATS_DATA / "trl" / "conversational.jsonl")
    haiku = next(r for page in store.iter_records(ds) for r in page if "haiku" in r.content)
    store.save_response(
        Response(record_id=haiku.id, user="alice", answers={"ideal_response": "Green, then red, then green"})
    )
    assert store.count_records(ds) == 9

    options = ExportOptions(rewrite_question="ideal_response")
    again = export_dataset(store, ds, tmp_path / "v1-b.jsonl", "openai-chat", version=version, options=options)
    live = export_dataset(store, ds, tmp_path / "live.jsonl", "openai-chat", options=options)

    assert (tmp_path / "v1-b.jsonl").read_bytes() == (tmp_path / "v1-a.jsonl").read_bytes()
    assert (first.rows, again.rows, live.rows) == (5, 5, 9)
    manifest = json.loads(again.manifest.read_text())
    assert manifest["version"]["name"] == "v1"
    assert manifest["sha256"] == json.loads(first.manifest.read_text())["sha256"]
    assert store.get_version(ds, "v1").manifest_hash == version.manifest_hash
    assert "Green, then red, then green" in (tmp_path / "live.jsonl").read_text()


def test_human_rewrite_changes_sft_exports(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    import_file(store, ds, FORMATS_DATA / "openai" / "chat.jsonl")
    ds = store.add_questions(store.get_dataset("p", "d"), [TextQuestion(name="ideal_response")])
    records = [r for page in store.iter_records(ds) for r in page]
    options = ExportOptions(rewrite_question="ideal_response")

    plain = {}
    for fmt in ("openai-chat", "trl-conversational", "trl-prompt-completion"):
        export_dataset(store, ds, tmp_path / f"before-{fmt}.jsonl", fmt, options=options)
        plain[fmt] = read_jsonl(tmp_path / f"before-{fmt}.jsonl")

    rewrite = "v0.4: streaming JSONL import; Python 3.8 dropped; `--out` is now `--output`."
    store.save_response(Response(record_id=records[0].id, user="reviewer", answers={"ideal_response": rewrite}))

    for fmt in ("openai-chat", "trl-conversational", "trl-prompt-completion"):
        export_dataset(store, ds, tmp_path / f"after-{fmt}.jsonl", fmt, options=options)
        after = read_jsonl(tmp_path / f"after-{fmt}.jsonl")
        assert after[1:] == plain[fmt][1:], "only the rewritten record changes"
        assert after[0] != plain[fmt][0]
        messages = after[0]["completion"] if fmt == "trl-prompt-completion" else after[0]["messages"]
        assert messages[-1] == {"role": "assistant", "content": rewrite}

    # The earlier turns are kept; only the last assistant turn is replaced.
    chat = read_jsonl(tmp_path / "after-openai-chat.jsonl")[0]["messages"]
    assert [m["role"] for m in chat] == ["system", "user", "assistant", "user", "assistant"]
    assert chat[2]["content"] == "Lots of things."

    # Without the option the file's own answer is exported.
    export_dataset(store, ds, tmp_path / "no-option.jsonl", "openai-chat")
    assert read_jsonl(tmp_path / "no-option.jsonl") == plain["openai-chat"]
    # A draft is not an answer yet.
    store.save_response(
        Response(record_id=records[4].id, user="reviewer", answers={"ideal_response": "draft"}, status="draft")
    )
    export_dataset(store, ds, tmp_path / "draft.jsonl", "openai-chat", options=options)
    assert read_jsonl(tmp_path / "draft.jsonl")[4] == plain["openai-chat"][4]
