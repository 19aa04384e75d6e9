"""OpenAI chat fine-tuning JSONL: tools, tool calls with JSON-string arguments, weight, parallel_tool_calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq

from data_paths import FORMATS_DATA
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

CHAT = FORMATS_DATA / "openai" / "chat.jsonl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def normalized(row: dict[str, Any]) -> dict[str, Any]:
    """Undo the two normalizations of the OpenAI export, so the rest can be compared exactly:

    * `function.arguments` is a JSON string either way, but re-serialized compactly: compare it parsed;
    * an assistant turn that only calls tools has no `content` key (the fixture's line 3 has
      `"content": null`; the docs' line 2 omits it; the README says both mean "no text").
    """
    row = json.loads(json.dumps(row))
    for m in row["messages"]:
        if m.get("content", "") is None:
            del m["content"]
        for call in m.get("tool_calls", []):
            assert isinstance(call["function"]["arguments"], str), "OpenAI arguments must stay a JSON string"
            call["function"]["arguments"] = json.loads(call["function"]["arguments"])
    return row


def export_chat(store: Store, src: Path, out: Path, fmt_in: str | None = None) -> list[dict[str, Any]]:
    import_file(store, store.ensure_dataset("p", "d"), src, fmt=fmt_in)
    export_dataset(store, store.get_dataset("p", "d"), out, "openai-chat")
    return read_jsonl(out)


def test_chat_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    imported = import_file(sqlite_store, ds, CHAT)
    assert imported.format == "openai-chat"
    assert imported.counts() == {"rows": 5, "added": 5, "duplicates": 0, "invalid": 0, "responses": 0}
    out = tmp_path / "out.jsonl"
    exported = export_dataset(sqlite_store, ds, out, "openai-chat")
    assert (exported.records, exported.rows, dict(exported.skipped)) == (5, 5, {})

    rows = read_jsonl(out)
    assert [normalized(r) for r in rows] == [normalized(r) for r in read_jsonl(CHAT)]


def test_chat_tool_calls_weight_and_parallel_flag(sqlite_store: Store, tmp_path: Path) -> None:
    rows = export_chat(sqlite_store, CHAT, tmp_path / "out.jsonl")
    # weight: 0 on the first assistant turn and 1 on the last (0 must not be dropped as falsy).
    assert [m.get("weight") for m in rows[0]["messages"]] == [None, None, 0, None, 1]
    # tool call ids and their results' tool_call_id are kept as written.
    call = rows[1]["messages"][2]["tool_calls"][0]
    assert call == {
        "id": "call_Xq3v9LmT2bK8wR1s",
        "type": "function",
        "function": {"name": "get_current_weather", "arguments": call["function"]["arguments"]},
    }
    assert json.loads(call["function"]["arguments"]) == {"location": "Tokyo, Japan", "unit": "celsius"}
    assert rows[1]["messages"][3]["tool_call_id"] == "call_Xq3v9LmT2bK8wR1s"
    # two parallel calls, then two tool results answering them in order.
    calls = rows[2]["messages"][1]["tool_calls"]
    assert [c["id"] for c in calls] == ["call_a1B2c3D4e5F6g7H8", "call_Z9y8X7w6V5u4T3s2"]
    assert [m["tool_call_id"] for m in rows[2]["messages"][2:4]] == [c["id"] for c in calls]
    # tools and parallel_tool_calls are top-level keys, only where the file had them.
    assert [("tools" in r, r.get("parallel_tool_calls")) for r in rows] == [
        (False, None),
        (True, None),
        (True, True),
        (False, None),
        (False, None),
    ]
    assert rows[2]["tools"] == read_jsonl(CHAT)[2]["tools"]


def test_chat_parallel_tool_calls_false_is_kept(sqlite_store: Store, tmp_path: Path) -> None:
    row = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        "parallel_tool_calls": False,
    }
    rows = export_chat(sqlite_store, write_jsonl(tmp_path / "in.jsonl", [row]), tmp_path / "out.jsonl")
    assert rows == [row]


def test_chat_image_parts_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    row = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this picture?"},
                    {"type": "image_url", "image_url": {"url": "https://example.org/cat.png", "detail": "low"}},
                ],
            },
            {"role": "assistant", "content": "A cat on a mat."},
        ]
    }
    rows = export_chat(sqlite_store, write_jsonl(tmp_path / "in.jsonl", [row]), tmp_path / "out.jsonl")
    assert rows == [row]


def test_trl_tool_calls_get_ids_that_their_results_answer(sqlite_store: Store, tmp_path: Path) -> None:
    """TRL's tool calls have no id and its tool message has `name`, not `tool_call_id`.

    Normalization: OpenAI needs ids, so the export makes them up; every tool message must then carry the
    tool_call_id of the call it answers (OpenAI rejects a tool message without one), and the arguments
    object becomes a JSON string.
    """
    src = FORMATS_DATA / "trl" / "conversational.jsonl"
    rows = export_chat(sqlite_store, src, tmp_path / "out.jsonl", fmt_in="trl-conversational")
    call_turn, tool_turn = rows[2]["messages"][1], rows[2]["messages"][2]
    [call] = call_turn["tool_calls"]
    assert call["id"]
    assert call["type"] == "function" and call["function"]["name"] == "control_light"
    assert json.loads(call["function"]["arguments"]) == {"room": "living room", "state": "on"}
    assert tool_turn["role"] == "tool"
    assert tool_turn.get("tool_call_id") == call["id"]
    assert tool_turn["content"] == "The lights in the living room are now on."


def test_chat_export_loads_in_datasets(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    export_chat(sqlite_store, CHAT, out)
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert ds.column_names == ["messages", "tools", "parallel_tool_calls"]
    assert ds.num_rows == 5
    assert ds["parallel_tool_calls"] == [None, None, True, None, None]
    assert ds[2]["messages"][1]["tool_calls"][1]["id"] == "call_Z9y8X7w6V5u4T3s2"
    assert ds[0]["messages"][2]["weight"] == 0


def test_chat_parquet_export_keeps_every_column(sqlite_store: Store, tmp_path: Path) -> None:
    """Parquet needs one schema; `tools` and `parallel_tool_calls` appear only on later rows and must survive."""
    out = tmp_path / "out.parquet"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), CHAT)
    export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "openai-chat")
    table = pq.read_table(out)
    assert sorted(table.column_names) == ["messages", "parallel_tool_calls", "tools"]
    rows = table.to_pylist()
    assert rows[2]["parallel_tool_calls"] is True
    assert rows[1]["tools"][0]["function"]["name"] == "get_current_weather"
