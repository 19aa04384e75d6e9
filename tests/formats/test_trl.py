"""TRL formats: round trips on the fixture files as TRL's docs write them, and loading the exports with `datasets`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from data_paths import FORMATS_DATA
from thresher.formats import ExportOptions
from thresher.model import Record
from thresher.pipeline import ExportResult, ImportResult, export_dataset, import_file
from thresher.store import Store

TRL = FORMATS_DATA / "trl"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def roundtrip(
    store: Store,
    src: Path,
    out: Path,
    fmt_out: str,
    *,
    fmt_in: str | None = None,
    options: ExportOptions | None = None,
) -> tuple[ImportResult, ExportResult, list[dict[str, Any]]]:
    imported = import_file(store, store.ensure_dataset("p", "d"), src, fmt=fmt_in)
    exported = export_dataset(store, store.get_dataset("p", "d"), out, fmt_out, options=options or ExportOptions())
    return imported, exported, read_jsonl(out)


def load_json(path: Path, tmp_path: Path) -> datasets.Dataset:
    """The way TRL users load a local JSONL file (no network: the json builder is packaged)."""
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache"))


# -- language modeling, conversational --------------------------------------------------------


def test_conversational_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    src = TRL / "conversational.jsonl"
    out = tmp_path / "out.jsonl"
    imported, exported, rows = roundtrip(sqlite_store, src, out, "trl-conversational", fmt_in="trl-conversational")
    assert imported.counts() == {"rows": 4, "added": 4, "duplicates": 0, "invalid": 0, "responses": 0}
    assert (exported.records, exported.rows, dict(exported.skipped)) == (4, 4, {})

    expected = read_jsonl(src)
    # Normalization: every exported TRL message has a `content` key (transformers chat templates read
    # message["content"]); a tool-calling assistant turn that had none gets "". The rest is exact: the
    # arguments stay an object, the calls get no id, and the tool message keeps `name`.
    call_turn = rows[2]["messages"][1]
    assert call_turn["content"] == ""
    del call_turn["content"]
    assert rows == expected
    assert "tools" not in rows[0] and rows[2]["tools"] == expected[2]["tools"]


def test_conversational_reads_the_same_as_openai_chat(sqlite_store: Store) -> None:
    """A plain {"messages"} file fits both chat formats; either reading gives the same records."""
    src = TRL / "conversational.jsonl"
    a = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "a"), src, fmt="trl-conversational")
    b = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "b"), src, fmt="openai-chat")
    assert a.added == b.added == 4

    def hashes(name: str) -> list[str]:
        ds = sqlite_store.get_dataset("p", name)
        return [r.content_hash for page in sqlite_store.iter_records(ds) for r in page]

    assert hashes("a") == hashes("b")


def test_conversational_export_reimports_as_duplicates(sqlite_store: Store, tmp_path: Path) -> None:
    """An export read back into its own dataset is the same data: every row is a duplicate."""
    out = tmp_path / "out.jsonl"
    roundtrip(sqlite_store, TRL / "conversational.jsonl", out, "trl-conversational", fmt_in="trl-conversational")
    again = import_file(sqlite_store, sqlite_store.get_dataset("p", "d"), out, fmt="trl-conversational")
    # Row 3's tool-calling turn comes back with the exporter's `content: ""`; it must read as "no text".
    assert (again.added, again.duplicates) == (0, 4)


def test_conversational_export_loads_in_datasets(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    roundtrip(sqlite_store, TRL / "conversational.jsonl", out, "trl-conversational")
    ds = load_json(out, tmp_path)
    assert ds.column_names == ["messages", "tools"]
    assert ds.num_rows == 4
    assert ds[3]["messages"][1]["content"] == "早上好！今天有什么可以帮你的吗？☀️"
    assert ds[2]["messages"][1]["tool_calls"][0]["function"]["name"] == "control_light"
    assert ds[0]["tools"] is None and ds[2]["tools"][0]["function"]["name"] == "control_light"


# -- prompt-completion --------------------------------------------------------------------------


def test_prompt_completion_standard_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    src = TRL / "prompt_completion.jsonl"
    out = tmp_path / "out.jsonl"
    # The shape is ambiguous across tools (see bad/ambiguous.jsonl), so the format is named.
    _, exported, rows = roundtrip(
        sqlite_store,
        src,
        out,
        "trl-prompt-completion",
        fmt_in="trl-prompt-completion",
        options=ExportOptions(style="standard"),
    )
    # Exact: the leading space of " blue." and the trailing newline of the code completion survive.
    assert rows == read_jsonl(src)
    assert rows[0] == {"prompt": "The sky is", "completion": " blue."}
    assert exported.rows == 4

    ds = load_json(out, tmp_path)
    assert ds.column_names == ["prompt", "completion"]
    assert ds.to_list() == read_jsonl(src)


def test_prompt_completion_standard_exported_conversational(sqlite_store: Store, tmp_path: Path) -> None:
    """A standard file exported in the default (conversational) style: strings become one-message lists."""
    src = TRL / "prompt_completion.jsonl"
    _, _, rows = roundtrip(
        sqlite_store, src, tmp_path / "out.jsonl", "trl-prompt-completion", fmt_in="trl-prompt-completion"
    )
    expected = [
        {
            "prompt": [{"role": "user", "content": r["prompt"]}],
            "completion": [{"role": "assistant", "content": r["completion"]}],
        }
        for r in read_jsonl(src)
    ]
    assert rows == expected


def test_prompt_completion_conversational_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    src = TRL / "prompt_completion_conversational.jsonl"
    out = tmp_path / "out.jsonl"
    imported, exported, rows = roundtrip(
        sqlite_store, src, out, "trl-prompt-completion", options=ExportOptions(style="conversational")
    )
    assert imported.format == "trl-prompt-completion"
    # Exact, including row 2's system message and earlier assistant turn inside the prompt.
    assert rows == read_jsonl(src)
    assert exported.rows == 3

    ds = load_json(out, tmp_path)
    assert ds.column_names == ["prompt", "completion"]
    assert [len(p) for p in ds["prompt"]] == [1, 4, 1]


def test_prompt_completion_conversational_to_standard_skips_multi_turn(sqlite_store: Store, tmp_path: Path) -> None:
    src = TRL / "prompt_completion_conversational.jsonl"
    _, exported, rows = roundtrip(
        sqlite_store, src, tmp_path / "out.jsonl", "trl-prompt-completion", options=ExportOptions(style="standard")
    )
    # The standard style holds one user string and one answer string: row 2 (system + history) has no such form.
    assert rows == [
        {"prompt": "What color is the sky?", "completion": "It is blue."},
        {"prompt": "用中文说“谢谢”。", "completion": "谢谢！🙏"},
    ]
    assert exported.skipped == {"only a single user turn and a single text answer have a standard (string) form": 1}


# -- preference -------------------------------------------------------------------------------


PREFERENCE_FILES = [
    ("preference.jsonl", "standard", False),
    ("preference_implicit.jsonl", "standard", True),
    ("preference_conversational.jsonl", "conversational", False),
    ("preference_conversational_implicit.jsonl", "conversational", True),
]


@pytest.mark.parametrize(("name", "style", "implicit"), PREFERENCE_FILES)
def test_preference_roundtrip(sqlite_store: Store, tmp_path: Path, name: str, style: str, implicit: bool) -> None:
    src = TRL / name
    out = tmp_path / "out.jsonl"
    options = ExportOptions(style=style, implicit_prompt=implicit)
    imported, exported, rows = roundtrip(sqlite_store, src, out, "trl-preference", options=options)
    assert imported.format == "trl-preference"
    # The chosen/rejected label travels as a response by "import" on each comparison.
    assert imported.responses == imported.added == 3
    assert rows == read_jsonl(src)
    assert (exported.rows, dict(exported.skipped)) == (3, {})

    ds = load_json(out, tmp_path)
    assert ds.column_names == (["chosen", "rejected"] if implicit else ["prompt", "chosen", "rejected"])
    assert ds.num_rows == 3


def test_preference_implicit_standard_prompt_is_the_common_start(sqlite_store: Store, tmp_path: Path) -> None:
    _, _, rows = roundtrip(
        sqlite_store,
        TRL / "preference_implicit.jsonl",
        tmp_path / "out.jsonl",
        "trl-preference",
        options=ExportOptions(style="standard"),
    )
    assert rows == [
        {"prompt": "The sky is ", "chosen": "blue.", "rejected": "green."},
        {"prompt": "Water freezes at ", "chosen": "0 °C.", "rejected": "10 °C."},
        {"prompt": "熊猫主要吃", "chosen": "竹子。🐼", "rejected": "鱼。"},
    ]


def test_preference_implicit_conversational_to_explicit(sqlite_store: Store, tmp_path: Path) -> None:
    """Implicit full conversations split at the shared prefix: history stays in the prompt."""
    src = TRL / "preference_conversational_implicit.jsonl"
    _, _, rows = roundtrip(sqlite_store, src, tmp_path / "out.jsonl", "trl-preference")
    expected = []
    for r in read_jsonl(src):
        expected.append({"prompt": r["chosen"][:-1], "chosen": r["chosen"][-1:], "rejected": r["rejected"][-1:]})
    assert rows == expected
    assert [len(r["prompt"]) for r in rows] == [1, 3, 1]


def test_preference_explicit_to_implicit_and_back(sqlite_store: Store, tmp_path: Path) -> None:
    src = TRL / "preference_conversational.jsonl"
    _, _, rows = roundtrip(
        sqlite_store, src, tmp_path / "out.jsonl", "trl-preference", options=ExportOptions(implicit_prompt=True)
    )
    original = read_jsonl(src)
    assert rows == [{"chosen": r["prompt"] + r["chosen"], "rejected": r["prompt"] + r["rejected"]} for r in original]


# -- unpaired preference (KTO) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "style"),
    [("unpaired_preference.jsonl", "standard"), ("unpaired_preference_conversational.jsonl", "conversational")],
)
def test_unpaired_preference_roundtrip(sqlite_store: Store, tmp_path: Path, name: str, style: str) -> None:
    src = TRL / name
    out = tmp_path / "out.jsonl"
    imported, _, rows = roundtrip(
        sqlite_store,
        src,
        out,
        "trl-unpaired-preference",
        options=ExportOptions(style=style),
    )
    expected = read_jsonl(src)
    assert imported.format == "trl-unpaired-preference"
    assert imported.responses == len(expected)
    # Exact, labels included: rows 1 and 2 share a prompt and differ in label.
    assert rows == expected
    assert [r["label"] for r in rows] == [r["label"] for r in expected]
    assert False in [r["label"] for r in rows]

    ds = load_json(out, tmp_path)
    assert ds.column_names == ["prompt", "completion", "label"]
    assert ds["label"] == [r["label"] for r in expected]


# -- stepwise supervision -------------------------------------------------------------------------


def test_stepwise_roundtrip(sqlite_store: Store, tmp_path: Path) -> None:
    src = TRL / "stepwise_supervision.jsonl"
    out = tmp_path / "out.jsonl"
    imported, exported, rows = roundtrip(sqlite_store, src, out, "trl-stepwise")
    assert imported.format == "trl-stepwise"
    assert imported.responses == 3
    # Exact: row 3's labels go False and stay False ([true, false, false]); each step was labelled in the file.
    assert rows == read_jsonl(src)
    assert exported.rows == 3


def test_stepwise_export_loads_in_datasets(sqlite_store: Store, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    roundtrip(sqlite_store, TRL / "stepwise_supervision.jsonl", out, "trl-stepwise")
    ds = load_json(out, tmp_path)
    assert ds.column_names == ["prompt", "completions", "labels"]
    assert ds.num_rows == 3
    assert ds["labels"][1] == [True, True, True]
    assert all(len(c) == len(labels) for c, labels in zip(ds["completions"], ds["labels"], strict=True))


def test_stepwise_from_agent_run_failure(sqlite_store: Store, tmp_path: Path) -> None:
    """Without step verdicts, the run's first failing step gives the labels: correct before it, wrong at it."""
    ds = sqlite_store.ensure_dataset("p", "d")
    run = Record(
        content={
            "kind": "agent_run",
            "task": "Find the file size.",
            "steps": [
                {"type": "reasoning", "content": "I should stat the file."},
                {"type": "tool_call", "tool_call": {"name": "stat", "arguments": {"path": "/tmp/x"}}},
                {"type": "message", "content": "It is 3 bytes."},
            ],
            "outcome": {"status": "failure"},
            "failure": {"step": 1, "cause": "model_output"},
        }
    )
    unjudged = Record(
        content={"kind": "agent_run", "task": "No verdicts.", "steps": [], "outcome": {"status": "success"}}
    )
    sqlite_store.add_records(ds, [run, unjudged])
    out = tmp_path / "out.jsonl"
    result = export_dataset(sqlite_store, ds, out, "trl-stepwise")
    assert read_jsonl(out) == [
        {
            "prompt": "Find the file size.",
            "completions": ["I should stat the file.", 'stat({"path":"/tmp/x"})'],
            "labels": [True, False],
        }
    ]
    assert result.skipped == {"agent run has no step verdicts and no known failing step": 1}
