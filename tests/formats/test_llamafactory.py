"""LLaMA-Factory alpaca and sharegpt formats (SFT, DPO, KTO): import, content, export, dataset_info.json."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from data_paths import FORMATS_DATA
from thresher.errors import ConfigError, DataError
from thresher.formats import ExportContext, ExportItem, get_format
from thresher.model import Record, Response
from thresher.pipeline import ExportResult, ImportResult, export_dataset, import_file
from thresher.store import Store

LF = FORMATS_DATA / "llamafactory"
# fixture stem -> (format auto-detection must pick, kind of the imported records, row count)
CASES = {
    "alpaca": ("alpaca", "conversation", 5),
    "alpaca_dpo": ("alpaca-dpo", "comparison", 3),
    "alpaca_kto": ("alpaca-kto", "conversation", 4),
    "sharegpt": ("sharegpt", "conversation", 4),
    "sharegpt_dpo": ("sharegpt-dpo", "comparison", 3),
    "sharegpt_kto": ("sharegpt-kto", "conversation", 4),
}
TAGS = {
    "role_tag": "from",
    "content_tag": "value",
    "user_tag": "human",
    "assistant_tag": "gpt",
    "observation_tag": "observation",
    "function_tag": "function_call",
    "system_tag": "system",
}


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def semantic(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their JSON-in-a-string values parsed (sharegpt ``tools`` and function_call turns).

    The only normalization: those strings are re-serialized on export, and PostgreSQL's jsonb
    reorders object keys, so their spacing and key order may differ; everything else is exact.
    """
    out = copy.deepcopy(rows)
    for row in out:
        if isinstance(row.get("tools"), str):
            row["tools"] = json.loads(row["tools"])
        answers = [row[k] for k in ("chosen", "rejected") if isinstance(row.get(k), dict)]
        turns = [*row.get("conversations", []), *answers]
        for turn in turns:
            if turn["from"] == "function_call":
                turn["value"] = json.loads(turn["value"])
    return out


def do_import(store: Store, path: Path, dataset: str = "d") -> ImportResult:
    return import_file(store, store.ensure_dataset("p", dataset), path)


def do_export(store: Store, out: Path, fmt: str, dataset: str = "d") -> tuple[ExportResult, list[dict[str, Any]]]:
    result = export_dataset(store, store.get_dataset("p", dataset), out, fmt)
    return result, load(out)


def records(store: Store, dataset: str = "d") -> list[Record]:
    ds = store.get_dataset("p", dataset)
    return [r.to_record() for page in store.iter_records(ds) for r in page]


def responses(store: Store, recs: list[Record]) -> list[list[Response]]:
    by_id = store.responses_for([r.id for r in recs if r.id])
    return [by_id.get(r.id or "", []) for r in recs]


def expected_entry(stem: str) -> dict[str, Any]:
    """The fixture's entry (copied from LLaMA-Factory's README), with the documented default tags on sharegpt."""
    entry = dict(load(LF / "dataset_info.json")[stem])
    if entry.get("formatting") == "sharegpt":
        entry["tags"] = TAGS
    return entry


def msgs(record: Record) -> list[dict[str, Any]]:
    return [m.model_dump(exclude_none=True) for m in record.content.messages]  # type: ignore[union-attr]


# -- every fixture: detect, import, export back to the same rows and dataset_info entry ---------


@pytest.mark.parametrize("stem", list(CASES))
def test_fixture_round_trip(sqlite_store: Store, tmp_path: Path, stem: str) -> None:
    fmt, kind, n = CASES[stem]
    result = do_import(sqlite_store, LF / f"{stem}.json")
    assert (result.format, result.container) == (fmt, "json")
    assert result.counts() == {
        "rows": n,
        "added": n,
        "duplicates": 0,
        "invalid": 0,
        "responses": 0 if fmt in ("alpaca", "sharegpt") else n,
    }
    recs = records(sqlite_store)
    assert [r.kind for r in recs] == [kind] * n
    assert all(r.source.format == fmt and r.source.file == f"{stem}.json" for r in recs)

    out = tmp_path / "export" / f"{stem}.json"
    exported, rows = do_export(sqlite_store, out, fmt)
    assert exported.skipped == {}
    assert (exported.records, exported.rows) == (n, n)
    assert semantic(rows) == semantic(load(LF / f"{stem}.json"))

    info_path = out.parent / "dataset_info.json"
    assert exported.extra_files == [info_path]
    assert load(info_path) == {stem: expected_entry(stem)}
    # LLaMA-Factory loads the file with `datasets`; every column the entry maps must be there.
    loaded = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows == n
    assert set(expected_entry(stem)["columns"].values()) == set(loaded.column_names)


def test_round_trip_on_both_backends(store: Store, tmp_path: Path) -> None:
    """All six fixtures through SQLite and PostgreSQL (jsonb reorders keys: compared semantically)."""
    for stem, (fmt, _, n) in CASES.items():
        assert do_import(store, LF / f"{stem}.json", dataset=stem).added == n
        exported, rows = do_export(store, tmp_path / "out" / f"{stem}.json", fmt, dataset=stem)
        assert exported.rows == n and exported.skipped == {}
        assert semantic(rows) == semantic(load(LF / f"{stem}.json")), stem
    # One folder, six exports: dataset_info.json accumulates an entry per file.
    assert load(tmp_path / "out" / "dataset_info.json") == {stem: expected_entry(stem) for stem in CASES}


# -- what the imported records hold ------------------------------------------------------------


def test_alpaca_content(sqlite_store: Store) -> None:
    do_import(sqlite_store, LF / "alpaca.json")
    recs = records(sqlite_store)
    assert msgs(recs[0]) == [
        {"role": "user", "content": 'Rewrite the sentence using a synonym for "quickly".'},
        {"role": "assistant", "content": "The train departed rapidly."},
    ]
    assert recs[0].metadata == {}  # an empty input: the user turn is the instruction, nothing to remember
    # instruction + "\n" + input, as LLaMA-Factory joins them; the split is kept for the export.
    summary = load(LF / "alpaca.json")[1]
    assert msgs(recs[1])[0]["content"] == summary["instruction"] + "\n" + summary["input"]
    assert recs[1].metadata == {"alpaca": {"instruction": summary["instruction"], "input": summary["input"]}}
    assert msgs(recs[2])[0] == {"role": "system", "content": "You are a precise science tutor. Always give units."}
    # history pairs become earlier user/assistant turns, after the system prompt.
    history = msgs(recs[3])
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user", "assistant", "user", "assistant"]
    assert history[1]["content"] == "What is the boiling point of water at sea level?"
    assert history[4]["content"].startswith("Yes. At lower air pressure")
    assert history[5:] == [
        {"role": "user", "content": "And in Fahrenheit only?"},
        {"role": "assistant", "content": "212 °F."},
    ]
    assert msgs(recs[4])[0]["content"] == "把下面的句子翻译成英文。\n今天天气很好，我们去公园散步吧！🌸"


def test_alpaca_dpo_content(sqlite_store: Store) -> None:
    do_import(sqlite_store, LF / "alpaca_dpo.json")
    recs = records(sqlite_store)
    c = recs[1].content.model_dump(exclude_none=True)
    review = "Classify the sentiment of the review.\nThe battery died after two days. Very disappointed."
    assert c["prompt"] == [{"role": "user", "content": review}]
    assert [(x["id"], x["messages"]) for x in c["candidates"]] == [
        ("a", [{"role": "assistant", "content": "Negative"}]),
        ("b", [{"role": "assistant", "content": "Positive"}]),
    ]
    # The file's label is a ranking answer by "import": chosen (a) above rejected (b).
    for rs in responses(sqlite_store, recs):
        assert [(r.user, r.answers) for r in rs] == [("import", {"preference": [["a"], ["b"]]})]
    assert sqlite_store.get_dataset("p", "d").question("preference") is not None


def test_alpaca_kto_content(sqlite_store: Store) -> None:
    do_import(sqlite_store, LF / "alpaca_kto.json")
    recs = records(sqlite_store)
    assert [msgs(r)[-1]["content"] for r in recs] == ["Jupiter.", "Saturn.", "37 °C", "🌧️☔"]
    labels = [[r.answers["feedback"]["choice"] for r in rs] for rs in responses(sqlite_store, recs)]
    assert labels == [["up"], ["down"], ["up"], ["up"]]
    assert msgs(recs[2])[0]["content"] == "Convert the temperature to Celsius.\n98.6 °F"


def test_sharegpt_content(sqlite_store: Store) -> None:
    do_import(sqlite_store, LF / "sharegpt.json")
    recs = records(sqlite_store)
    first = recs[0].content.model_dump(exclude_none=True)
    assert first["messages"][0] == {"role": "system", "content": "You are a cheerful pet-naming assistant."}
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert first["tools"] == []  # "tools": "[]" in the file, kept apart from no tools at all (row 4)

    tools = recs[1].content.model_dump(exclude_none=True)
    assert [m["role"] for m in tools["messages"]] == [
        "system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant",
    ]  # fmt: skip
    call = tools["messages"][2]
    assert "content" not in call
    assert call["tool_calls"] == [{"name": "get_stock_price", "arguments": {"symbol": "AAPL"}}]
    assert tools["messages"][3] == {
        "role": "tool",
        "content": '{"symbol": "AAPL", "price": 189.84, "currency": "USD"}',
        "name": "get_stock_price",
    }
    assert tools["messages"][6]["tool_calls"][0]["arguments"] == {"bill_amount": 84.5, "tip_percentage": 18}
    # Bare glaive-style schemas are stored in OpenAI's wrapper, like every other format's tools.
    assert [t["type"] for t in tools["tools"]] == ["function", "function"]
    assert tools["tools"][0]["function"]["name"] == "get_stock_price"
    assert tools["tools"][1]["function"]["parameters"]["required"] == ["bill_amount", "tip_percentage"]

    last = recs[3].content.model_dump(exclude_none=True)
    assert "tools" not in last and [m["role"] for m in last["messages"]] == ["user", "assistant"]
    assert all(r.metadata == {} for r in recs)  # system came as a column everywhere


def test_sharegpt_dpo_content(sqlite_store: Store) -> None:
    do_import(sqlite_store, LF / "sharegpt_dpo.json")
    recs = records(sqlite_store)
    c = recs[1].content.model_dump(exclude_none=True)
    assert [m["role"] for m in c["prompt"]] == ["system", "user", "assistant", "user"]
    assert c["prompt"][0]["content"] == "You are a friendly cooking assistant."
    assert c["prompt"][-1]["content"] == "By hand. How long should I knead?"
    assert c["candidates"][0]["messages"][0]["content"].startswith("About 10–12 minutes")
    assert c["candidates"][1]["messages"] == [
        {"role": "assistant", "content": "Knead for an hour or more; longer is always better."}
    ]
    assert recs[1].metadata == {"sharegpt": {"system_turn": True}}
    assert recs[0].metadata == {}
    assert [[r.answers for r in rs] for rs in responses(sqlite_store, recs)] == [[{"preference": [["a"], ["b"]]}]] * 3


def test_sharegpt_kto_content(sqlite_store: Store) -> None:
    do_import(sqlite_store, LF / "sharegpt_kto.json")
    recs = records(sqlite_store)
    assert [len(msgs(r)) for r in recs] == [2, 2, 4, 2]
    assert msgs(recs[2])[-1] == {"role": "assistant", "content": "Bread Pitt."}
    labels = [[r.answers["feedback"]["choice"] for r in rs] for rs in responses(sqlite_store, recs)]
    assert labels == [["up"], ["down"], ["up"], ["up"]]


# -- multi-turn preference history and cross-format exports ------------------------------------


def test_sharegpt_dpo_history_survives_export(sqlite_store: Store, tmp_path: Path) -> None:
    do_import(sqlite_store, LF / "sharegpt_dpo.json")
    _, rows = do_export(sqlite_store, tmp_path / "dpo.json", "sharegpt-dpo")
    history = rows[1]["conversations"]
    assert [t["from"] for t in history] == ["system", "human", "gpt", "human"]
    assert history[2]["value"] == "Great! Do you have a stand mixer, or will you knead by hand?"
    assert "system" not in rows[1]  # back where it was: the first turn, not the column
    assert rows[1]["rejected"] == {"from": "gpt", "value": "Knead for an hour or more; longer is always better."}

    # The same pairs as alpaca-dpo: the history goes to `history`, the system prompt to `system`.
    exported, alpaca = do_export(sqlite_store, tmp_path / "alpaca_dpo.json", "alpaca-dpo")
    assert exported.rows == 3
    assert alpaca[1] == {
        "instruction": "By hand. How long should I knead?",
        "input": "",
        "chosen": rows[1]["chosen"]["value"],
        "rejected": "Knead for an hour or more; longer is always better.",
        "system": "You are a friendly cooking assistant.",
        "history": [["I want to bake bread this weekend.", history[2]["value"]]],
    }
    assert set(alpaca[0]) == {"instruction", "input", "chosen", "rejected"}
    # Some rows have system/history, so the entry maps those columns too.
    assert load(tmp_path / "dataset_info.json")["alpaca_dpo"]["columns"] == {
        "prompt": "instruction",
        "query": "input",
        "chosen": "chosen",
        "rejected": "rejected",
        "system": "system",
        "history": "history",
    }


def test_alpaca_skips_tool_calls_with_a_reason(sqlite_store: Store, tmp_path: Path) -> None:
    do_import(sqlite_store, LF / "sharegpt.json")
    exported, rows = do_export(sqlite_store, tmp_path / "a.json", "alpaca")
    assert (exported.records, exported.rows) == (4, 3)
    [(reason, count)] = exported.skipped.items()
    assert count == 1 and "tool calls" in reason and "alpaca" in reason
    assert rows[0] == {
        "instruction": "Something shorter?",
        "input": "",
        "output": '"Sol" or "Dot" work well.',
        "system": "You are a cheerful pet-naming assistant.",
        "history": [["What's a good name for a grey cat?", 'How about "Earl Grey", "Ash" or "Pebble"?']],
    }
    assert rows[2] == {
        "instruction": "Tell me a one-line joke about regex.",
        "input": "",
        "output": "I had a problem, so I used regex. Now I have ^(two|2) problems$.",
    }


def test_alpaca_input_split_needs_the_original(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")

    def convo(user: str, answer: str) -> dict[str, Any]:
        turns = [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
        return {"kind": "conversation", "messages": turns}

    split = {"alpaca": {"instruction": "Sum:", "input": "2 3"}}
    sqlite_store.add_records(
        ds,
        [
            Record(content=convo("Sum:\n2 3", "5")),  # from another format: no split to recover
            Record(content=convo("Sum:\n2 4", "6"), metadata=split),  # the user turn changed: the split is stale
            Record(content=convo("Sum:\n2 3", "five"), metadata=split),
        ],
    )
    _, rows = do_export(sqlite_store, tmp_path / "a.json", "alpaca")
    assert [(r["instruction"], r["input"]) for r in rows] == [("Sum:\n2 3", ""), ("Sum:\n2 4", ""), ("Sum:", "2 3")]


def test_sharegpt_parallel_calls_and_openai_tool_messages(sqlite_store: Store, tmp_path: Path) -> None:
    row = {
        "conversations": [
            {"from": "human", "value": "Weather in Paris and Oslo?"},
            {
                "from": "function_call",
                "value": json.dumps(
                    [
                        {"name": "weather", "arguments": {"city": "Paris"}},
                        {"name": "weather", "arguments": {"city": "Oslo"}},
                    ]
                ),
            },
            {"from": "observation", "value": json.dumps(["18 °C", "4 °C"], ensure_ascii=False)},
            {"from": "gpt", "value": "Paris 18 °C, Oslo 4 °C."},
        ],
        "tools": json.dumps([{"name": "weather", "description": "Weather now", "parameters": {"type": "object"}}]),
    }
    src = tmp_path / "parallel.json"
    src.write_text(json.dumps([row], ensure_ascii=False), encoding="utf-8")
    assert do_import(sqlite_store, src).format == "sharegpt"
    [rec] = records(sqlite_store)
    m = msgs(rec)
    assert [len(x.get("tool_calls", [])) for x in m] == [0, 2, 0, 0, 0]
    assert m[2:4] == [
        {"role": "tool", "content": "18 °C", "name": "weather"},
        {"role": "tool", "content": "4 °C", "name": "weather"},
    ]
    # An OpenAI-shaped conversation (call ids, a text-free call turn) writes the same rows.
    ds = sqlite_store.get_dataset("p", "d")
    openai_like = {
        "kind": "conversation",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "18 °C"},
            {"role": "assistant", "content": "18 °C."},
        ],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
    }
    sqlite_store.add_records(ds, [Record(content=openai_like)])
    exported, rows = do_export(sqlite_store, tmp_path / "out.json", "sharegpt")
    assert exported.skipped == {}
    assert semantic(rows) == semantic(
        [
            row,
            {
                "conversations": [
                    {"from": "human", "value": "Weather in Paris?"},
                    {"from": "function_call", "value": '{"name": "weather", "arguments": {"city": "Paris"}}'},
                    {"from": "observation", "value": "18 °C"},
                    {"from": "gpt", "value": "18 °C."},
                ],
                "tools": '[{"name": "weather", "parameters": {"type": "object"}}]',
            },
        ]
    )


def test_sharegpt_reads_wrapped_tools_and_a_function_call_answer() -> None:
    """OpenAI-wrapped schemas (LLaMA-Factory accepts both) are kept, not wrapped twice; a DPO answer may be a call."""
    wrapped = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    row = {
        "conversations": [{"from": "human", "value": "Weather?"}],
        "chosen": {"from": "function_call", "value": '{"name": "weather", "arguments": {}}'},
        "rejected": {"from": "gpt", "value": "Sunny, probably."},
        "tools": json.dumps(wrapped),
    }
    fmt = get_format("sharegpt-dpo")
    assert fmt.sniff(row) and not get_format("sharegpt").sniff(row)
    [parsed] = fmt.parse(row)
    content = parsed.record.content.model_dump(exclude_none=True)
    assert content["tools"] == wrapped
    call = {"name": "weather", "arguments": {}}
    assert content["candidates"][0]["messages"] == [{"role": "assistant", "tool_calls": [call]}]
    [out] = fmt.to_rows(ExportItem.from_record(parsed.record, parsed.responses), ExportContext())
    assert semantic([out]) == semantic([{**row, "tools": json.dumps([wrapped[0]["function"]])}])


def test_sharegpt_skips_what_it_cannot_hold(sqlite_store: Store, tmp_path: Path) -> None:
    ds = sqlite_store.ensure_dataset("p", "d")
    image = {"type": "image", "image": {"uri": "blob://sha256/abc"}}
    sqlite_store.add_records(
        ds,
        [
            Record(
                content={
                    "kind": "conversation",
                    "messages": [
                        {"role": "user", "content": [{"type": "text", "text": "What is this?"}, image]},
                        {"role": "assistant", "content": "A cat."},
                    ],
                }
            ),
            Record(
                content={
                    "kind": "conversation",
                    "messages": [
                        {"role": "user", "content": "Hi"},
                        {"role": "user", "content": "Anyone?"},
                        {"role": "assistant", "content": "Hello."},
                    ],
                }
            ),
        ],
    )
    exported, rows = do_export(sqlite_store, tmp_path / "s.json", "sharegpt")
    assert (exported.records, exported.rows, rows) == (2, 0, [])
    reasons = sorted(exported.skipped)
    assert len(reasons) == 2
    assert "image content" in reasons[0]
    assert "turn 1 is human where sharegpt needs gpt or function_call" in reasons[1]
    # Nothing exported: the entry still says how to read the (empty) file, with no optional columns.
    assert load(tmp_path / "dataset_info.json")["s"]["columns"] == {"messages": "conversations"}


# -- dataset_info.json -------------------------------------------------------------------------


def test_dataset_info_is_merged_not_clobbered(sqlite_store: Store, tmp_path: Path) -> None:
    do_import(sqlite_store, LF / "alpaca_kto.json")
    info = tmp_path / "dataset_info.json"
    mine = {"file_name": "mine.jsonl", "formatting": "sharegpt"}
    info.write_text(json.dumps({"mine": mine, "kto": {"file_name": "old.json", "ranking": True}}), encoding="utf-8")
    do_export(sqlite_store, tmp_path / "kto.json", "alpaca-kto")
    assert load(info) == {"mine": mine, "kto": {**expected_entry("alpaca_kto"), "file_name": "kto.json"}}

    info.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dataset_info\.json"):
        do_export(sqlite_store, tmp_path / "kto.json", "alpaca-kto")
    assert info.read_text(encoding="utf-8") == "{not json"


def test_dataset_info_for_jsonl_export(sqlite_store: Store, tmp_path: Path) -> None:
    do_import(sqlite_store, LF / "sharegpt.json")
    exported, _ = do_export(sqlite_store, tmp_path / "chat.json", "sharegpt")
    result = export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), tmp_path / "chat.jsonl", "sharegpt")
    assert result.rows == 4 and exported.rows == 4
    entries = load(tmp_path / "dataset_info.json")
    assert entries["chat"]["file_name"] == "chat.jsonl"  # same stem: the later export's file wins
    assert entries["chat"]["columns"] == {"messages": "conversations", "system": "system", "tools": "tools"}


# -- rows that do not fit --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "loc", "msg"),
    [
        (
            {"conversations": [{"from": "human", "value": "x"}, {"from": "function_call", "value": "get(1)"}]},
            ("conversations", 1, "value"),
            "JSON string",
        ),
        (
            {"conversations": [{"from": "human", "value": "x"}, {"from": "observation", "value": "1"}]},
            ("conversations", 1, "from"),
            "must directly follow a function_call",
        ),
        (
            {"conversations": [{"from": "human", "value": "x"}, {"from": "system", "value": "late"}]},
            ("conversations", 1, "from"),
            "must come first",
        ),
        (
            {"conversations": [{"from": "human", "value": "x"}, {"from": "bot", "value": "y"}]},
            ("conversations", 1, "from"),
            "unknown role 'bot'",
        ),
        ({"instruction": "x", "output": "y", "history": [["only one"]]}, ("history", 0), "pair of strings"),
        ({"instruction": "x", "input": "", "output": "y", "kto_tag": "yes"}, None, None),  # no format fits
    ],
)
def test_invalid_rows(sqlite_store: Store, tmp_path: Path, row: dict[str, Any], loc: Any, msg: str | None) -> None:
    src = tmp_path / "bad.json"
    src.write_text(json.dumps([row]), encoding="utf-8")
    with pytest.raises(DataError) as err:
        do_import(sqlite_store, src)
    if loc is None:
        assert "no known format" in str(err.value)
        return
    [detail] = err.value.details
    assert detail.loc == ("bad.json", 1, *loc)
    assert msg is not None and msg in detail.msg
    assert records(sqlite_store) == []
