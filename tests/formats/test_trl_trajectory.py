"""Planning data as SFT rows: trajectories and plans written by annotators (``trajectory`` answers)
exported as TRL conversational rows that `datasets` and TRL read, and that import back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from thresher.model import Record, Response, TrajectoryQuestion
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def tasks(sqlite_store: Store) -> Store:
    store = sqlite_store
    store.ensure_project("p")
    ds = store.create_dataset("p", "tasks", questions=[TrajectoryQuestion(name="trajectory", title="Write it")])
    records = {
        "rome": Record.model_validate({"content": {"kind": "text", "text": "Plan a 2-day trip to Rome."}}),
        "oslo": Record.model_validate(
            {"content": {"kind": "agent_run", "task": "Weather in Oslo?", "tools": [WEATHER_TOOL], "steps": []}}
        ),
        "unfinished": Record.model_validate({"content": {"kind": "text", "text": "Look up the time in Lima."}}),
        "unanswered": Record.model_validate({"content": {"kind": "text", "text": "Nobody wrote this one."}}),
    }
    store.add_records(ds, records.values())
    by_text = {r.content: r.id for page in store.iter_records(ds) for r in page}
    ids = {k: next(rid for text, rid in by_text.items() if k in text.lower()) for k in ("rome", "oslo", "lima")}
    answers = {
        "rome": {
            "steps": [{"type": "plan", "content": "Day 1: Colosseum."}, {"type": "plan", "content": "Day 2: Vatican."}],
            "final": "Two days: the Colosseum, then the Vatican.",
        },
        "oslo": {
            "steps": [
                {"type": "reasoning", "content": "I need the forecast."},
                {"type": "tool_call", "tool_call": {"id": "c1", "name": "weather", "arguments": {"city": "Oslo"}}},
                {"type": "tool_result", "tool_call_id": "c1", "content": "-3C, snow"},
            ],
            "final": "It is -3C and snowing in Oslo.",
        },
        "lima": {
            "steps": [
                {"type": "tool_call", "tool_call": {"id": "t", "name": "clock", "arguments": {"city": "Lima"}}},
                {"type": "tool_result", "tool_call_id": "t", "content": "09:12"},
            ]
        },
    }
    for key, value in answers.items():
        store.save_response(Response(record_id=ids[key], user="writer", answers={"trajectory": value}))
    return store


def test_trajectories_become_sft_conversations(tasks: Store, tmp_path: Path) -> None:
    out = tmp_path / "plans.jsonl"
    result = export_dataset(tasks, tasks.get_dataset("p", "tasks"), out, "trl-trajectory")
    assert (result.records, result.rows) == (4, 2)
    assert sum(result.skipped.values()) == 2  # ends in a tool result with no final; no answer at all
    rome, oslo = read_jsonl(out)
    # Plan steps are what planning data trains on: assistant content (consecutive plans share a turn).
    assert rome == {
        "messages": [
            {"role": "user", "content": "Plan a 2-day trip to Rome."},
            {"role": "assistant", "content": "Day 1: Colosseum.\nDay 2: Vatican."},
            {"role": "assistant", "content": "Two days: the Colosseum, then the Vatican."},
        ]
    }
    call = {"type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}}
    assert oslo == {
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": "", "tool_calls": [call], "reasoning_content": "I need the forecast."},
            {"role": "tool", "content": "-3C, snow", "name": "weather"},
            {"role": "assistant", "content": "It is -3C and snowing in Oslo."},
        ],
        "tools": [WEATHER_TOOL],
    }


def test_trl_reads_them_and_they_import_back(tasks: Store, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from trl.data_utils import is_conversational

    out = tmp_path / "plans.jsonl"
    export_dataset(tasks, tasks.get_dataset("p", "tasks"), out, "trl-trajectory")
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert len(ds) == 2 and all(is_conversational(ex) for ex in ds)
    back = import_file(tasks, tasks.ensure_dataset("p", "sft"), out, fmt="trl-conversational")
    assert back.counts()["added"] == 2
    again = tmp_path / "again.jsonl"
    export_dataset(tasks, tasks.get_dataset("p", "sft"), again, "trl-conversational")
    assert read_jsonl(again) == read_jsonl(out)


def test_a_system_prompt_option_leads_each_row(tasks: Store, tmp_path: Path) -> None:
    from thresher.formats import ExportOptions

    out = tmp_path / "plans.jsonl"
    options = ExportOptions(system_prompt="You plan trips.")
    export_dataset(tasks, tasks.get_dataset("p", "tasks"), out, "trl-trajectory", options=options)
    assert [r["messages"][0] for r in read_jsonl(out)] == [{"role": "system", "content": "You plan trips."}] * 2
