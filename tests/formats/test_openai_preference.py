"""OpenAI preference (DPO) JSONL: input messages + preferred/non-preferred output as a comparison."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from thresher.errors import DataError
from thresher.formats import ExportContext, ExportItem, RowError, get_format
from thresher.formats._trl import comparison_record
from thresher.model import Record, Response
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

DATA = Path(__file__).parent.parent / "data" / "formats"
PREF = DATA / "openai" / "preference.jsonl"


def _records(store: Store, project: str, name: str) -> list[Record]:
    ds = store.get_dataset(project, name)
    return [r.to_record() for page in store.iter_records(ds) for r in page]


def _jsonl(path: Path) -> list[Any]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _decode_arguments(value: Any) -> Any:
    """``function.arguments`` JSON strings parsed, everywhere in a row."""
    if isinstance(value, list):
        return [_decode_arguments(v) for v in value]
    if isinstance(value, dict):
        return {k: orjson.loads(v) if k == "arguments" else _decode_arguments(v) for k, v in value.items()}
    return value


def test_openai_preference_roundtrip(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    result = import_file(store, ds, PREF)  # auto-detected
    assert result.format == "openai-preference"
    assert (result.added, result.responses, result.invalid) == (4, 4, 0)

    records = _records(store, "p", "d")
    first, multi = records[0], records[1].content
    assert first.content.kind == "comparison"
    assert first.content.tools == []  # kept though empty, as OpenAI's own example writes it
    assert first.metadata == {"parallel_tool_calls": True}
    assert first.content.candidate("b").messages[0].content == "It is cold."
    assert multi.kind == "comparison"
    assert [m.role for m in multi.prompt] == ["system", "user", "assistant", "user"]
    assert multi.prompt[3].content == "A network call that sometimes times out."
    assert multi.candidate("a").messages[0].content.startswith("Catch the specific timeout error")  # type: ignore[union-attr]
    assert records[1].metadata == {}
    responses = store.responses_for([r.id or "" for r in records])
    assert all(
        [(x.user, x.answers) for x in responses[r.id or ""]] == [("import", {"preference": [["a"], ["b"]]})]
        for r in records
    )

    out = tmp_path / "out.jsonl"
    exported = export_dataset(store, store.get_dataset("p", "d"), out, "openai-preference")
    assert (exported.records, exported.rows) == (4, 4)
    # Semantic equality: orjson writes compact separators (", " -> ","), so bytes differ but values don't.
    # No other normalization: "tools": [] and "parallel_tool_calls" come back, multi-turn input intact.
    assert _jsonl(out) == _jsonl(PREF)


def test_tool_calls_and_tools_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    call = {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    row = {
        "input": {
            "messages": [
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "-3 °C"},
            ],
            "tools": tools,
            "parallel_tool_calls": False,
        },
        "preferred_output": [{"role": "assistant", "content": "It is -3 °C in Oslo."}],
        "non_preferred_output": [{"role": "assistant", "tool_calls": [call]}],
    }
    src = _write_jsonl(tmp_path / "tools.jsonl", [row])
    ds = sqlite_store.ensure_dataset("p", "d")
    assert import_file(sqlite_store, ds, src).format == "openai-preference"
    (rec,) = _records(sqlite_store, "p", "d")
    assert rec.content.kind == "comparison"
    assert rec.content.tools == tools
    assert rec.content.prompt[1].tool_calls[0].arguments == {"city": "Oslo"}  # type: ignore[index]
    out = tmp_path / "out.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "openai-preference")
    # Arguments go back out as the JSON string OpenAI expects, re-serialized compactly ('{"city":"Oslo"}'):
    # that spacing is the one normalization, so compare arguments decoded. Omitted content stays omitted.
    (got,) = _jsonl(out)
    assert got["non_preferred_output"][0]["tool_calls"][0]["function"]["arguments"] == '{"city":"Oslo"}'
    assert _decode_arguments(got) == _decode_arguments(row)


def test_bad_rows_name_file_line_and_field(sqlite_store: Store, tmp_path: Path) -> None:
    good = orjson.loads(PREF.read_bytes().splitlines()[0])
    wrong_role = {**good, "preferred_output": [{"role": "user", "content": "hi"}]}
    no_output = {"input": good["input"], "preferred_output": good["preferred_output"]}
    src = _write_jsonl(tmp_path / "bad.jsonl", [good, wrong_role, no_output])
    with pytest.raises(DataError) as e:
        import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, fmt="openai-preference")
    locs = [(d.loc, d.type) for d in e.value.details]
    assert locs == [
        (("bad.jsonl", 2, "preferred_output", 0, "role"), "wrong_role"),
        (("bad.jsonl", 3, "non_preferred_output"), "missing"),
    ]
    assert sqlite_store.count_records(sqlite_store.get_dataset("p", "d")) == 0


def test_sniff() -> None:
    fmt = get_format("openai-preference")
    row = orjson.loads(PREF.read_bytes().splitlines()[0])
    assert fmt.sniff(row)
    assert not fmt.sniff({"messages": row["input"]["messages"]})
    assert not fmt.sniff({**row, "extra": 1})
    with pytest.raises(RowError) as e:
        list(fmt.parse({**row, "input": {**row["input"], "functions": []}}))
    assert e.value.loc == ("input", "functions")


def test_export_from_trl_and_skips(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    trl = DATA / "trl" / "preference_conversational.jsonl"
    import_file(sqlite_store, ds, trl)
    out = tmp_path / "out.jsonl"
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "openai-preference")
    want = [
        {"input": {"messages": r["prompt"]}, "preferred_output": r["chosen"], "non_preferred_output": r["rejected"]}
        for r in _jsonl(trl)
    ]
    assert _jsonl(out) == want

    fmt = get_format("openai-preference")
    a, b = [{"role": "assistant", "content": "A"}], [{"role": "assistant", "content": "B"}]
    label = [Response(user="import", answers={"preference": [["b"], ["a"]]})]
    item = ExportItem.from_record(comparison_record([{"role": "user", "content": "?"}], a, b), label)
    assert [r["preferred_output"] for r in fmt.to_rows(item, ExportContext())] == [b]  # the label decides
    no_prompt = ExportItem.from_record(comparison_record([], a, b), label)  # OpenAI needs input messages
    assert list(fmt.to_rows(no_prompt, ExportContext())) == []
    assert "no input messages" in fmt.skip_reason(no_prompt, ExportContext())
