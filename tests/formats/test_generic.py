"""The generic format: any table through a field mapping, written back under the same column names."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from thresher.errors import ConfigError, DataError
from thresher.formats import RowError, get_format
from thresher.model import Record
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

DATA = Path(__file__).parent.parent / "data" / "formats"
PROMPTS = DATA / "generic" / "prompts.csv"
RECORDS = DATA / "generic" / "records.json"
CSV_MAP = {"id": "id", "prompt": "prompt", "response": "response"}


def _records(store: Store, name: str = "d") -> list[Record]:
    ds = store.get_dataset("p", name)
    return [r.to_record() for page in store.iter_records(ds) for r in page]


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _texts(rec: Record) -> list[tuple[str, Any]]:
    assert rec.content.kind == "conversation"
    return [(m.role, m.content) for m in rec.content.messages]


def test_csv_roundtrip(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    result = import_file(store, ds, PROMPTS, mapping=CSV_MAP)  # a mapping means the generic format
    assert (result.format, result.container, result.added) == ("generic", "csv", 5)

    records = _records(store)
    assert _texts(records[0]) == [("user", "What is 2+2?"), ("assistant", "4")]
    assert _texts(records[2])[0] == ("user", 'Explain the "Hello, world" program.')
    assert _texts(records[3])[1] == ("assistant", "Soft rain on the roof,\nthe gutters hum along.")
    assert _texts(records[4]) == [("user", "“早上好”是什么意思？"), ("assistant", "Good morning ☀️")]
    # Unmapped columns become metadata; the id is kept (as read: CSV cells are strings).
    assert records[0].metadata == {"category": "math", "source_id": "1"}
    assert records[0].task_type is None and records[0].domains == []

    out = tmp_path / "out.csv"
    exported = export_dataset(store, store.get_dataset("p", "d"), out, "generic", mapping=CSV_MAP)
    assert (exported.rows, dict(exported.skipped)) == (5, {})
    assert _csv_rows(out) == _csv_rows(PROMPTS)
    # Same column order and csv.writer quoting/line endings: the file comes back byte for byte.
    assert out.read_bytes() == PROMPTS.read_bytes()


def test_category_is_not_a_task_type(sqlite_store: Store) -> None:
    # The CSV's categories (math, art, ...) are not Thresher task types, so they stay metadata;
    # mapping them to task_type is refused with the column named.
    with pytest.raises(DataError) as e:
        import_file(
            sqlite_store, sqlite_store.ensure_dataset("p", "d"), PROMPTS, mapping={**CSV_MAP, "task_type": "category"}
        )
    first = e.value.details[0]
    assert (first.loc, first.type, first.input) == (("prompts.csv", 2, "category"), "bad_task_type", "math")
    assert "'category'" in first.msg and "task type" in first.msg


def test_json_with_custom_names(sqlite_store: Store, tmp_path: Path) -> None:
    mapping = {"prompt": "question", "response": "answer"}
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), RECORDS, mapping=mapping)
    records = _records(sqlite_store)
    assert _texts(records[1]) == [("user", 'Who wrote "Pride and Prejudice"?'), ("assistant", "Jane Austen")]
    assert [r.metadata for r in records] == [{"topic": t} for t in ("computing", "literature", "physics", "emoji")]
    out = tmp_path / "out.json"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "generic", mapping=mapping)
    # Values and key order match; only the fixture's missing final newline differs in bytes.
    assert json.loads(out.read_bytes()) == json.loads(RECORDS.read_bytes())
    assert list(json.loads(out.read_bytes())[0]) == ["question", "answer", "topic"]


def test_parquet_roundtrip_with_envelope(sqlite_store: Store, tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [
        {"uid": 7, "sys": "Answer in one word.", "q": "Capital of France?", "a": "Paris", "part": "train",
         "tags": "geography,trivia", "score": 0.9},
        {"uid": 8, "sys": None, "q": "2 + 3?", "a": "5", "part": "test", "tags": "math", "score": None},
    ]  # fmt: skip
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(rows), src)
    mapping = {"id": "uid", "system": "sys", "prompt": "q", "response": "a", "split": "part", "domains": "tags"}
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, mapping=mapping)

    first, second = _records(sqlite_store)
    assert _texts(first) == [
        ("system", "Answer in one word."),
        ("user", "Capital of France?"),
        ("assistant", "Paris"),
    ]
    assert _texts(second) == [("user", "2 + 3?"), ("assistant", "5")]  # a null system cell means none
    assert (first.split, first.domains, first.metadata) == (
        "train",
        ["geography", "trivia"],
        {"score": 0.9, "source_id": 7},
    )
    assert (second.split, second.domains) == ("test", ["math"])

    out = tmp_path / "out.parquet"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "generic", mapping=mapping)
    table = pq.read_table(out)
    assert table.to_pylist() == rows
    assert table.schema.field("uid").type == pa.int64()  # the id keeps its type through metadata


def test_messages_column_as_json_text(sqlite_store: Store, tmp_path: Path) -> None:
    convo = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "See you."},
    ]
    src = tmp_path / "chats.csv"
    with src.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["conversation", "domains"])
        w.writerow([json.dumps(convo), "chat, smalltalk"])
    mapping = {"messages": "conversation", "domains": "domains"}
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, mapping=mapping)
    (rec,) = _records(sqlite_store)
    assert _texts(rec) == [(m["role"], m["content"]) for m in convo]
    assert rec.domains == ["chat", "smalltalk"]

    out = tmp_path / "out.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "generic", mapping=mapping)
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == [
        {"conversation": convo, "domains": "chat,smalltalk"}
    ]
    # A real list (JSONL, Parquet) reads the same: the re-import is all duplicates.
    again = import_file(sqlite_store, sqlite_store.get_dataset("p", "d"), out, mapping=mapping)
    assert (again.added, again.duplicates) == (0, 1)


def test_text_mapping_and_list_domains(sqlite_store: Store, tmp_path: Path) -> None:
    src = tmp_path / "docs.jsonl"
    src.write_text('{"body": "A document.", "tags": ["web", "en"], "url": "https://example.com"}\n')
    mapping = {"text": "body", "domains": "tags"}
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, mapping=mapping)
    (rec,) = _records(sqlite_store)
    assert rec.content.kind == "text" and rec.content.text == "A document."
    assert (rec.domains, rec.metadata) == (["web", "en"], {"url": "https://example.com"})
    out = tmp_path / "out.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "generic", mapping=mapping)
    assert orjson.loads(out.read_bytes()) == {"body": "A document.", "tags": "web,en", "url": "https://example.com"}


def test_missing_column_names_file_line_and_column(sqlite_store: Store) -> None:
    with pytest.raises(DataError) as e:
        import_file(
            sqlite_store,
            sqlite_store.ensure_dataset("p", "d"),
            PROMPTS,
            mapping={"prompt": "question", "response": "response"},
        )
    assert len(e.value.details) == 5
    first = e.value.details[0]
    assert (first.loc, first.type) == (("prompts.csv", 2, "question"), "missing")
    assert "'question'" in first.msg and "prompt" in first.msg
    assert sqlite_store.count_records(sqlite_store.get_dataset("p", "d")) == 0


def test_wrong_type_names_the_column(sqlite_store: Store, tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text('{"q": "fine", "a": "ok"}\n{"q": 5, "a": "x"}\n{"q": "m", "a": "y", "c": 3}\n')
    with pytest.raises(DataError) as e:
        import_file(
            sqlite_store,
            sqlite_store.ensure_dataset("p", "d"),
            src,
            mapping={"prompt": "q", "response": "a", "domains": "c"},
        )
    assert [(d.loc, d.type) for d in e.value.details] == [
        (("rows.jsonl", 1, "c"), "missing"),
        (("rows.jsonl", 2, "q"), "wrong_type"),
        (("rows.jsonl", 3, "c"), "wrong_type"),
    ]
    assert "expected a string, got int" in e.value.details[1].msg


def test_unconfigured_and_bad_mappings(sqlite_store: Store, tmp_path: Path) -> None:
    fmt = get_format("generic")
    assert not fmt.sniff({"text": "a"}) and not fmt.sniff({"prompt": "a", "response": "b"})
    with pytest.raises(RowError) as e:
        list(fmt.parse({"prompt": "a", "response": "b"}))
    assert "needs a field mapping" in e.value.msg
    configured = fmt.configure({"prompt": "q", "response": "a"})
    assert configured is not fmt and not fmt.mapping  # type: ignore[attr-defined]  # a configured copy
    assert configured.configure({}) is configured
    assert len(list(configured.parse({"q": "x", "a": "y"}))) == 1

    ds = sqlite_store.ensure_dataset("p", "d")
    with pytest.raises(DataError) as de:
        import_file(sqlite_store, ds, PROMPTS, fmt="generic")
    assert "needs a field mapping" in de.value.details[0].msg
    for bad, words in [
        ({"prompt": "prompt"}, "prompt and response go together"),
        ({"bogus": "prompt"}, "unknown target"),
        ({"text": "prompt", "prompt": "id", "response": "response"}, "exactly one of"),
        ({"split": "category"}, "exactly one of"),
        ({"prompt": "prompt", "response": "prompt"}, "one target only"),
        ({"system": "id", "messages": "prompt"}, "system goes with prompt"),
    ]:
        with pytest.raises(DataError, match=words):
            import_file(sqlite_store, ds, PROMPTS, mapping=bad)
    with pytest.raises(ConfigError, match="needs a field mapping"):
        export_dataset(sqlite_store, ds, tmp_path / "x.csv", "generic")


def test_export_skips_what_the_mapping_cannot_hold(sqlite_store: Store, tmp_path: Path) -> None:
    # OpenAI chat rows 1-4: multi-turn, tool calls, or multi-turn after a system prompt; none is one exchange.
    chats = tmp_path / "chats.jsonl"
    chats.write_bytes(b"".join(line + b"\n" for line in (DATA / "openai" / "chat.jsonl").read_bytes().splitlines()[:4]))
    ds = sqlite_store.ensure_dataset("p", "d")
    import_file(sqlite_store, ds, chats)
    import_file(sqlite_store, sqlite_store.get_dataset("p", "d"), PROMPTS, mapping=CSV_MAP)
    out = tmp_path / "out.csv"
    result = export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "generic", mapping=CSV_MAP)
    assert (result.records, result.rows) == (9, 5)
    assert result.skipped == {
        "conversation record is not one plain-text exchange ([system], user, assistant) for prompt/response": 4
    }
    assert _csv_rows(out) == _csv_rows(PROMPTS)
