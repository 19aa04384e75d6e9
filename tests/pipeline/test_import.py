"""Importing: bad input is reported by file, line and field; an import is all or nothing, on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from data_paths import FORMATS_DATA
from thresher.errors import DataError, ErrorDetail
from thresher.model import Dataset
from thresher.pipeline import import_file
from thresher.store import Store

BAD = FORMATS_DATA / "bad"
MB = 1024 * 1024


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def chat_line(i: int) -> str:
    row = {
        "messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]
    }
    return json.dumps(row)


def snapshot(store: Store, ds: Dataset) -> list[tuple[str, str, str]]:
    return [(r.id, r.content_hash, r.content) for page in store.iter_records(ds) for r in page]


def import_error(store: Store, path: Path, **kwargs: Any) -> tuple[DataError, Dataset]:
    ds = store.ensure_dataset("p", "d")
    with pytest.raises(DataError) as info:
        import_file(store, ds, path, **kwargs)
    assert store.count_records(ds) == 0, "a failed import must write nothing"
    return info.value, ds


def only_detail(err: DataError) -> ErrorDetail:
    assert len(err.details) == 1, err.details
    return err.details[0]


# -- bad input: the error names the file, the line, the field and what was expected -------------------


def test_truncated_file(sqlite_store: Store) -> None:
    err, _ = import_error(sqlite_store, BAD / "truncated.jsonl")
    d = only_detail(err)
    assert d.loc == ("truncated.jsonl", 3)
    assert d.type == "invalid_json"
    assert "truncated" in d.msg and "expected one JSON object per line" in d.msg
    assert "truncated.jsonl:3:" in str(err)
    assert "nothing was imported" in str(err)


def test_invalid_utf8(sqlite_store: Store) -> None:
    err, _ = import_error(sqlite_store, BAD / "invalid_utf8.jsonl")
    d = only_detail(err)
    assert (d.type, d.loc) == ("invalid_utf8", ("invalid_utf8.jsonl", 2))
    assert "expected UTF-8" in d.msg
    assert "invalid_utf8.jsonl:2:" in str(err)


def test_unknown_role(sqlite_store: Store) -> None:
    err, _ = import_error(sqlite_store, BAD / "unknown_role.jsonl")
    d = only_detail(err)
    assert (d.type, d.loc) == ("unknown_role", ("unknown_role.jsonl", 3, "messages", 1, "role"))
    assert "'wizard'" in d.msg and "expected one of" in d.msg and "'assistant'" in d.msg
    assert d.input == "wizard"
    assert "unknown_role.jsonl:3: messages[1].role: unknown role 'wizard'" in str(err)


def test_empty_conversation(sqlite_store: Store) -> None:
    err, _ = import_error(sqlite_store, BAD / "empty_conversation.jsonl")
    d = only_detail(err)
    assert (d.type, d.loc) == ("empty_conversation", ("empty_conversation.jsonl", 2, "messages"))
    assert "expected at least one message" in d.msg


def test_not_an_object_line(sqlite_store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "rows.jsonl", [chat_line(1), "[1, 2, 3]", '"a string"', chat_line(4)])
    err, _ = import_error(sqlite_store, path, fmt="openai-chat")
    assert [(d.type, d.loc) for d in err.details] == [
        ("not_an_object", ("rows.jsonl", 2)),
        ("not_an_object", ("rows.jsonl", 3)),
    ]
    assert "expected a JSON object, got list" in err.details[0].msg
    assert "expected a JSON object, got str" in err.details[1].msg


USER = {"role": "user", "content": "x"}
WEIGHT_2 = {"role": "assistant", "content": "x", "weight": 2}
WRONG_TYPES = [
    ({"messages": "hello"}, "openai-chat", ("messages",), "expected a list of messages, got str"),
    ({"messages": [USER, "oops"]}, "openai-chat", ("messages", 1), "expected a message object, got str"),
    ({"messages": [USER], "tools": {"a": 1}}, "openai-chat", ("tools",), "expected a list of tool definitions"),
    ({"messages": [WEIGHT_2]}, "openai-chat", ("messages", 0, "weight"), "0 or 1"),
    ({"prompt": 5, "completion": "x"}, "trl-prompt-completion", ("prompt",), "expected a string or a list of messages"),
    ({"prompt": "a", "completion": "b", "label": "yes"}, "trl-unpaired-preference", ("label",), "expected a boolean"),
    ({"prompt": "p", "completions": ["a", "b"], "labels": [True]}, "trl-stepwise", ("labels",), "expected one label"),
    ({"text": 42}, "text", ("text",), "expected a string"),
]  # fmt: skip


@pytest.mark.parametrize(("row", "fmt", "loc", "expected"), WRONG_TYPES)
def test_wrong_types(
    sqlite_store: Store, tmp_path: Path, row: dict[str, Any], fmt: str, loc: tuple[Any, ...], expected: str
) -> None:
    path = write_lines(tmp_path / "rows.jsonl", [json.dumps(row)])
    err, _ = import_error(sqlite_store, path, fmt=fmt)
    d = only_detail(err)
    assert d.loc == ("rows.jsonl", 1, *loc)
    assert expected in d.msg


def test_wrong_content_type_names_the_field(sqlite_store: Store, tmp_path: Path) -> None:
    """A number where the text goes: the location is the message's `content` (not a pydantic union branch)."""
    row = {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "ok"}]}
    path = write_lines(tmp_path / "rows.jsonl", [json.dumps(row)])
    err, _ = import_error(sqlite_store, path, fmt="openai-chat")
    d = only_detail(err)
    assert d.loc == ("rows.jsonl", 1, "messages", 0, "content")
    assert "string" in d.msg
    assert "rows.jsonl:1: messages[0].content:" in str(err)


def test_every_bad_line_is_reported_up_to_the_cap(sqlite_store: Store, tmp_path: Path) -> None:
    lines = [chat_line(i) if i % 3 else '{"messages": []}' for i in range(1, 31)]
    path = write_lines(tmp_path / "rows.jsonl", lines)
    err, _ = import_error(sqlite_store, path)
    assert [d.loc[1] for d in err.details] == list(range(3, 31, 3))
    err, _ = import_error(sqlite_store, path, max_errors=4)
    assert len(err.details) == 4


def test_line_over_the_record_limit(sqlite_store: Store, tmp_path: Path) -> None:
    """A 50 MB line: refused at the default 16 MB per record, imported once the limit is raised."""
    path = tmp_path / "big.jsonl"
    big_text = "grain " * (50 * MB // 6)
    with path.open("w", encoding="utf-8") as f:
        f.write('{"text": "before"}\n')
        f.write(json.dumps({"text": big_text}) + "\n")
        f.write('{"text": "after"}\n')
    assert path.stat().st_size > 50 * MB

    err, ds = import_error(sqlite_store, path, fmt="text")
    d = only_detail(err)
    assert (d.type, d.loc) == ("record_too_large", ("big.jsonl", 2))
    assert "expected at most" in d.msg and "MB" in d.msg

    result = import_file(sqlite_store, ds, path, fmt="text", max_record_bytes=64 * MB)
    assert (result.added, result.invalid) == (3, 0)
    texts = [r.to_record().content.text for page in sqlite_store.iter_records(ds) for r in page]
    assert [len(t) for t in texts] == [len("before"), len(big_text), len("after")]


# -- atomicity, skipping, duplicates, interruption (both backends) ------------------------------------


def thousand_rows_bad_at_900(tmp_path: Path) -> Path:
    lines = [json.dumps({"text": f"document number {i}"}) for i in range(1, 1001)]
    lines[899] = json.dumps({"text": 42})
    return write_lines(tmp_path / "thousand.jsonl", lines)


def test_bad_row_900_of_1000_imports_nothing(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    earlier = import_file(store, ds, FORMATS_DATA / "trl" / "language_modeling.jsonl")
    assert earlier.added == 4
    before = snapshot(store, ds)

    path = thousand_rows_bad_at_900(tmp_path)
    with pytest.raises(DataError) as info:
        import_file(store, ds, path, fmt="text")
    d = only_detail(info.value)
    assert (d.type, d.loc) == ("wrong_type", ("thousand.jsonl", 900, "text"))
    assert store.count_records(ds) == 4
    assert snapshot(store, ds) == before


def test_skip_invalid_imports_the_rest_and_writes_rejects(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    path = thousand_rows_bad_at_900(tmp_path)
    result = import_file(store, ds, path, fmt="text", skip_invalid=True)
    assert (result.rows, result.added, result.invalid) == (1000, 999, 1)
    assert store.count_records(ds) == 999
    assert result.rejects == tmp_path / "thousand.jsonl.rejects.jsonl"
    [reject] = [json.loads(line) for line in result.rejects.read_text(encoding="utf-8").splitlines()]
    assert reject["line"] == 900
    assert reject["row"] == {"text": 42}
    assert reject["error"]["type"] == "wrong_type"
    assert reject["error"]["loc"] == ["thousand.jsonl", 900, "text"]
    assert "expected a string" in reject["error"]["msg"]
    texts = {r.to_record().content.text for page in store.iter_records(ds) for r in page}
    assert "document number 899" in texts and "document number 901" in texts


def test_skip_invalid_rejects_undecodable_lines_too(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    rejects = tmp_path / "out" / "why.jsonl"
    rejects.parent.mkdir()
    result = import_file(sqlite_store, ds, BAD / "invalid_utf8.jsonl", skip_invalid=True, rejects=rejects)
    assert (result.added, result.invalid, result.rejects) == (2, 1, rejects)
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["line"] == 2 and reject["error"]["type"] == "invalid_utf8"


def test_importing_twice_adds_nothing(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    src = FORMATS_DATA / "trl" / "preference.jsonl"
    first = import_file(store, ds, src)
    assert (first.added, first.duplicates, first.responses) == (3, 0, 3)
    before = snapshot(store, ds)
    second = import_file(store, store.get_dataset("p", "d"), src)
    assert (second.rows, second.added, second.duplicates, second.responses) == (3, 0, 3, 0)
    assert snapshot(store, ds) == before


def test_duplicates_within_one_file(store: Store, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "dup.jsonl", [chat_line(1), chat_line(2), chat_line(1)])
    result = import_file(store, store.ensure_dataset("p", "d"), path)
    assert (result.added, result.duplicates) == (2, 1)


def test_interrupted_import_leaves_the_store_unchanged(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    import_file(store, ds, FORMATS_DATA / "openai" / "chat.jsonl")
    before = snapshot(store, ds)
    path = write_lines(tmp_path / "five_thousand.jsonl", [chat_line(i) for i in range(5000)])
    seen: list[int] = []

    def progress(rows: int) -> None:
        seen.append(rows)
        if rows >= 3000:  # past the writer's first 2000-row batch: those rows are written, not committed
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(store, ds, path, progress=progress)
    assert seen == [1000, 2000, 3000]
    assert store.count_records(ds) == 5
    assert snapshot(store, ds) == before

    # Nothing is left locked or half-done: the same file imports in full afterwards.
    result = import_file(store, store.get_dataset("p", "d"), path)
    assert (result.added, result.duplicates) == (5000, 0)
    assert store.count_records(ds) == 5005
