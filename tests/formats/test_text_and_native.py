"""Pre-training text (jsonl and .txt) and Thresher's own lossless format for every record kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from data_paths import FORMATS_DATA
from thresher.errors import DataError
from thresher.formats import ExportOptions
from thresher.model import RECORD_KINDS, RankingQuestion, Record, Response, TextQuestion
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

TEXT = FORMATS_DATA / "text"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def stored(store: Store, name: str) -> list[Record]:
    ds = store.get_dataset("p", name)
    return [r.to_record() for page in store.iter_records(ds) for r in page]


# -- text jsonl -----------------------------------------------------------------------------------


def test_corpus_jsonl_keeps_extra_fields_as_metadata(sqlite_store: Store) -> None:
    src = TEXT / "corpus.jsonl"
    result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src)
    assert result.format == "text"
    assert result.added == 4
    records = stored(sqlite_store, "d")
    for record, row in zip(records, read_jsonl(src), strict=True):
        assert record.content.kind == "text"
        assert record.content.text == row["text"]
        # FineWeb's flat fields and RedPajama's nested `meta` are kept as they were, `text` aside.
        assert record.metadata == {k: v for k, v in row.items() if k != "text"}
        assert (record.source.file, record.source.format) == ("corpus.jsonl", "text")
    # Row 2 is \\u-escaped, with a surrogate pair: it is decoded, not kept as escapes.
    assert records[1].content.text.startswith("Café au lait")
    assert "🥐" in records[1].content.text
    assert records[2].metadata["meta"]["source"] == "c4"
    assert [r.source.line for r in records] == [1, 2, 3, 4]


def test_corpus_jsonl_text_export(sqlite_store: Store, tmp_path: Path) -> None:
    src = TEXT / "corpus.jsonl"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src)
    out = tmp_path / "out.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "text")
    # The text format writes TRL's language-modeling rows: `text` only (metadata stays in the store).
    assert read_jsonl(out) == [{"text": r["text"]} for r in read_jsonl(src)]
    assert read_jsonl(out)[3]["text"].endswith("blank line, with a tab\there.")

    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert ds.column_names == ["text"]
    assert ds["text"] == [r["text"] for r in read_jsonl(src)]


def test_language_modeling_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    src = FORMATS_DATA / "trl" / "language_modeling.jsonl"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src)
    out = tmp_path / "out.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "text")
    assert read_jsonl(out) == read_jsonl(src)


def test_empty_text_is_rejected(sqlite_store: Store, tmp_path: Path) -> None:
    src = tmp_path / "empty.jsonl"
    src.write_text('{"text": "fine"}\n{"text": "   "}\n', encoding="utf-8")
    ds = sqlite_store.ensure_dataset("p", "d")
    with pytest.raises(DataError) as info:
        import_file(sqlite_store, ds, src, fmt="text")
    assert [(d.type, d.loc) for d in info.value.details] == [("empty_text", ("empty.jsonl", 2, "text"))]
    assert sqlite_store.count_records(ds) == 0


# -- .txt through the txt containers ----------------------------------------------------------------


def test_corpus_txt_as_one_document(sqlite_store: Store, tmp_path: Path) -> None:
    src = TEXT / "corpus.txt"
    result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, fmt="text")
    assert (result.container, result.added) == ("txt", 1)
    [record] = stored(sqlite_store, "d")
    assert record.content.text == src.read_text(encoding="utf-8")
    assert "Кафе" in record.content.text and "🌾" in record.content.text


def test_corpus_txt_roundtrip_as_one_document(sqlite_store: Store, tmp_path: Path) -> None:
    src = TEXT / "corpus.txt"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, fmt="text")
    out = tmp_path / "out.txt"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "text")
    # The file ends with one newline; writing it back must not add another.
    assert out.read_bytes() == src.read_bytes()


def test_corpus_txt_paragraphs_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    src = TEXT / "corpus.txt"
    result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, container="txt-paragraphs")
    assert (result.format, result.container, result.added) == ("text", "txt-paragraphs", 4)
    records = stored(sqlite_store, "d")
    paragraphs = src.read_text(encoding="utf-8").strip().split("\n\n")
    assert [r.content.text for r in records] == paragraphs
    assert [r.source.line for r in records] == [1, 3, 5, 7]
    out = tmp_path / "out.txt"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "text")
    assert out.read_bytes() == src.read_bytes()


# -- the native format: every kind, lossless --------------------------------------------------------


def all_kinds() -> list[Record]:
    return [
        Record(
            content={"kind": "text", "text": "Grain and chaff."},
            metadata={"url": "https://example.org", "score": 0.5, "nested": {"a": [1, 2]}},
            split="train",
            task_type="generation",
            domains=["agriculture"],
            lineage=["0123456789abcdef01234567"],
            synthetic=True,
        ),
        Record(
            content={
                "kind": "conversation",
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is this?"},
                            {
                                "type": "image",
                                "image": {"uri": "blob://sha256/aa11", "mime_type": "image/png", "size": 42},
                                "detail": "high",
                            },
                        ],
                    },
                    {"role": "assistant", "content": "A threshing floor.", "reasoning": "It is round.", "weight": 1},
                ],
            },
            split="test",
            task_type="chat",
        ),
        Record(
            content={
                "kind": "comparison",
                "prompt": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi?"}],
                "candidates": [
                    {"id": "a", "messages": [{"role": "assistant", "content": "Hello!"}], "model": "m-1"},
                    {"id": "b", "messages": [{"role": "assistant", "content": "What."}], "params": {"t": 0.7}},
                ],
            },
            domains=["chat", "tone"],
        ),
        Record(
            content={
                "kind": "agent_run",
                "task": "Get the weather in Oslo.",
                "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
                "steps": [
                    {"type": "plan", "content": "Call the weather tool.", "agent": "planner"},
                    {
                        "type": "tool_call",
                        "tool_call": {"id": "c1", "name": "weather", "arguments": {"city": "Oslo"}},
                        "latency_ms": 12.5,
                    },
                    {"type": "tool_result", "tool_call_id": "c1", "content": "HTTP 503", "is_error": True},
                    {"type": "message", "content": "It is sunny.", "tokens": 4},
                ],
                "outcome": {"status": "failure", "detail": "made up the answer", "score": 0.0},
                "failure": {"step": 3, "cause": "model_output", "reason": "ignored the tool error"},
            },
            metadata={"trace_id": "t-1"},
        ),
        Record(
            content={
                "kind": "media",
                "media_type": "video",
                "blob": {"uri": "blob://sha256/bb22", "mime_type": "video/mp4", "sha256": "bb22", "size": 1000},
                "info": {"width": 640, "height": 360, "duration_s": 2.5, "fps": 24.0, "frame_count": 60},
                "caption": "A flail at work.",
                "context": [{"role": "user", "content": "Describe the clip."}],
            }
        ),
        Record(
            content={
                "kind": "eval_item",
                "input": [{"role": "user", "content": "2 + 2 = ?"}],
                "reference": ["4", "four"],
                "choices": ["3", "4"],
                "grader": {"type": "normalized", "params": {"case": False}},
            },
            split="eval",
        ),
    ]


ENVELOPE = ("content", "content_hash", "metadata", "split", "task_type", "domains", "lineage", "synthetic")


def test_native_roundtrip_every_kind(sqlite_store: Store, tmp_path: Path) -> None:
    records = all_kinds()
    assert sorted(r.kind for r in records) == sorted(RECORD_KINDS)
    sqlite_store.ensure_project("p")
    questions = [TextQuestion(name="note", required=False), RankingQuestion(name="preference", required=False)]
    first = sqlite_store.create_dataset("p", "first", questions=questions)
    assert sqlite_store.add_records(first, records) == 6
    ids = {r.kind: r.id for r in stored(sqlite_store, "first")}
    ranking = {"preference": [["a"], ["b"]]}
    sqlite_store.save_response(Response(record_id=ids["comparison"], user="alice", answers=ranking))
    sqlite_store.save_response(Response(record_id=ids["text"], user="bob", answers={"note": "clean"}))

    out = tmp_path / "records.jsonl"
    exported = export_dataset(sqlite_store, first, out, "thresher")
    assert (exported.records, exported.rows, dict(exported.skipped)) == (6, 6, {})

    # The questions are the dataset's schema, not part of the records: the copy is made with the same ones
    # (imported labels are checked against them).
    second = sqlite_store.create_dataset("p", "second", questions=questions)
    imported = import_file(sqlite_store, second, out)
    assert imported.format == "thresher"
    assert (imported.added, imported.responses, imported.invalid) == (6, 2, 0)

    before = {r.kind: r for r in stored(sqlite_store, "first")}
    after = {r.kind: r for r in stored(sqlite_store, "second")}
    assert before.keys() == after.keys() == set(RECORD_KINDS)
    for kind in RECORD_KINDS:
        assert after[kind].model_dump(include=set(ENVELOPE)) == before[kind].model_dump(include=set(ENVELOPE)), kind
        assert after[kind].source.format == "thresher"

    def answers(name: str) -> dict[str, list[tuple[str, Any]]]:
        recs = stored(sqlite_store, name)
        by_id = sqlite_store.responses_for([r.id for r in recs if r.id])
        return {r.kind: [(x.user, x.answers) for x in by_id.get(r.id or "", [])] for r in recs}

    assert answers("second") == answers("first")
    assert answers("second")["comparison"] == [("alice", {"preference": [["a"], ["b"]]})]

    # Writing the copy again gives the same rows, ids (dataset-scoped) and import provenance aside.
    again = tmp_path / "again.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "second"), again, "thresher")

    def comparable(path: Path) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k not in ("id", "source")} for row in read_jsonl(path)]

    assert comparable(again) == comparable(out)


def test_native_format_carries_eval_items_and_training_formats_do_not(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    sqlite_store.add_records(ds, all_kinds())
    out = tmp_path / "all.jsonl"
    export_dataset(sqlite_store, ds, out, "thresher", options=ExportOptions())
    kinds = [row["content"]["kind"] for row in read_jsonl(out)]
    assert sorted(kinds) == sorted(RECORD_KINDS)
    manifest = json.loads((tmp_path / "all.jsonl.manifest.json").read_text())
    assert manifest["excluded"] == []
    assert manifest["counts"]["records_by_kind"]["eval_item"] == 1
