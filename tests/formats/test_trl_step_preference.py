"""Step-level preference pairs: agent runs with alternatives at some steps, picked by annotators
(``step_preference`` answers) or by an app's user (``Step.chosen``), exported as TRL preference rows
that TRL reads as conversational and that import back as pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
import pytest

from thresher.formats import ExportOptions
from thresher.model import Record, Response, StepPreferenceQuestion
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

TASK = "Find me a flight to Oslo on Friday"
SEARCH = {"id": "c1", "name": "search_flights", "arguments": {"to": "OSL", "day": "fri"}}
STEPS: list[dict[str, Any]] = [
    {"type": "plan", "content": "Search flights, then pick the cheapest."},
    {
        "type": "tool_call",
        "tool_call": SEARCH,
        "alternatives": [
            {"id": "b", "tool_call": {"name": "search_flights", "arguments": {"to": "Oslo"}}, "model": "m2"},
            {"id": "c", "content": "I cannot search flights."},
        ],
    },
    {"type": "tool_result", "tool_call_id": "c1", "content": "SK123 120 EUR; DY45 95 EUR"},
    {
        "type": "message",
        "content": "DY45 at 95 EUR is the cheapest.",
        "alternatives": [{"id": "b", "content": "SK123."}],
    },
    {"type": "message", "content": "Shall I book it?", "alternatives": [{"id": "b", "content": "Book now?"}]},
]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def runs(sqlite_store: Store) -> Store:
    store = sqlite_store
    store.ensure_project("p")
    ds = store.create_dataset("p", "runs", questions=[StepPreferenceQuestion(name="best_step", title="Pick")])
    reviewed = Record.model_validate({"content": {"kind": "agent_run", "task": TASK, "steps": STEPS}})
    captured = Record.model_validate(
        {
            "content": {
                "kind": "agent_run",
                "task": "Say hi",
                "steps": [
                    {
                        "type": "message",
                        "content": "Hi.",
                        "alternatives": [{"id": "b", "content": "Hello!"}],
                        "chosen": "b",
                    }
                ],
            }
        }
    )
    plain = Record.model_validate(
        {"content": {"kind": "agent_run", "task": "t", "steps": [{"type": "message", "content": "x"}]}}
    )
    store.add_records(ds, [reviewed, captured, plain])
    [rid] = [r.id for page in store.iter_records(ds) for r in page if "Oslo" in r.content]
    # Both pick b at step 1 and "taken" at step 3; at step 4 they disagree (a tie: no pair).
    for user, last in (("ann1", "taken"), ("ann2", "b")):
        picks = [{"step": 1, "choice": "b"}, {"step": 3, "choice": "taken"}, {"step": 4, "choice": last}]
        store.save_response(Response(record_id=rid, user=user, answers={"best_step": picks}))
    return store


def test_pairs_per_step_and_rejected_option(runs: Store, tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    result = export_dataset(runs, runs.get_dataset("p", "runs"), out, "trl-step-preference")
    rows = read_jsonl(out)
    assert (result.records, result.rows) == (3, 4)
    assert dict(result.skipped) == {
        "agent run has no step with alternatives and a preferred option (answer or app user's choice)": 1
    }
    task = {"role": "user", "content": TASK}
    plan = {"role": "assistant", "content": "Search flights, then pick the cheapest."}
    # Step 1: the prompt is the task and the plan; b (the alternative call) beats the recorded call and c.
    b_call = {"type": "function", "function": {"name": "search_flights", "arguments": {"to": "Oslo"}}}
    taken_call = {"type": "function", "function": {"name": "search_flights", "arguments": {"to": "OSL", "day": "fri"}}}
    step1 = [r for r in rows if r["prompt"] == [task, plan]]
    assert [r["chosen"] for r in step1] == [[{"role": "assistant", "content": "", "tool_calls": [b_call]}]] * 2
    assert [r["rejected"] for r in step1] == [
        [{"role": "assistant", "content": "", "tool_calls": [taken_call]}],
        [{"role": "assistant", "content": "I cannot search flights."}],
    ]
    # Step 3: the run up to it; the plan and the call it led to are one assistant turn, then the result
    # (named after the call it answers).
    [step3] = [r for r in rows if len(r["prompt"]) == 3]
    assert step3["prompt"] == [
        task,
        {**plan, "tool_calls": [taken_call]},
        {"role": "tool", "content": "SK123 120 EUR; DY45 95 EUR", "name": "search_flights"},
    ]
    assert step3["chosen"] == [{"role": "assistant", "content": "DY45 at 95 EUR is the cheapest."}]
    assert step3["rejected"] == [{"role": "assistant", "content": "SK123."}]
    # The app user's pick (captured with the step) makes a pair too.
    [hi] = [r for r in rows if r["prompt"] == [{"role": "user", "content": "Say hi"}]]
    assert (hi["chosen"], hi["rejected"]) == (
        [{"role": "assistant", "content": "Hello!"}],
        [{"role": "assistant", "content": "Hi."}],
    )
    # Nothing from the tied step 4.
    assert not any(r["chosen"][0].get("content") in ("Shall I book it?", "Book now?") for r in rows)


# A chat template that renders tool calls, on a tokenizer built offline (nothing is downloaded).
TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}"
    "{% for c in m.get('tool_calls') or [] %}<call>{{ c['function']['name'] }} "
    "{{ c['function']['arguments'] | tojson }}</call>{% endfor %}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_trl_reads_the_rows_as_conversational_preference(runs: Store, tmp_path: Path) -> None:
    pytest.importorskip("trl")
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    out = tmp_path / "steps.jsonl"
    export_dataset(runs, runs.get_dataset("p", "runs"), out, "trl-step-preference")
    ds = datasets.load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert ds.column_names == ["prompt", "chosen", "rejected"] and len(ds) == 4
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")), chat_template=TEMPLATE
    )
    rendered = []
    for example in ds:
        assert is_conversational(example)
        rendered.append(maybe_apply_chat_template(example, tok))
    # TRL renders prompt + chosen and keeps what follows the prompt: the step's output as a new assistant turn.
    step1, _, step3, hi = rendered
    assert step1["prompt"] == f"<|user|>{TASK}<|end|><|assistant|>Search flights, then pick the cheapest."
    assert step1["chosen"] == '<|end|><|assistant|><call>search_flights {"to": "Oslo"}</call><|end|>'
    assert step1["rejected"] == '<|end|><|assistant|><call>search_flights {"to": "OSL", "day": "fri"}</call><|end|>'
    assert step3["prompt"].endswith('"day": "fri"}</call><|end|><|tool|>SK123 120 EUR; DY45 95 EUR<|end|><|assistant|>')
    assert (step3["chosen"], step3["rejected"]) == ("DY45 at 95 EUR is the cheapest.<|end|>", "SK123.<|end|>")
    assert hi == {"prompt": "<|user|>Say hi<|end|><|assistant|>", "chosen": "Hello!<|end|>", "rejected": "Hi.<|end|>"}


def test_rows_import_back_as_trl_preference_pairs(runs: Store, tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    export_dataset(runs, runs.get_dataset("p", "runs"), out, "trl-step-preference")
    back = import_file(runs, runs.ensure_dataset("p", "pairs"), out, fmt="trl-preference")
    assert back.counts()["added"] == 4
    again = tmp_path / "again.jsonl"
    export_dataset(runs, runs.get_dataset("p", "pairs"), again, "trl-preference")
    key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
    assert sorted(map(key, read_jsonl(again))) == sorted(map(key, read_jsonl(out)))


def test_standard_style_keeps_only_what_plain_strings_can_hold(runs: Store, tmp_path: Path) -> None:
    out = tmp_path / "steps.jsonl"
    options = ExportOptions(style="standard")
    result = export_dataset(runs, runs.get_dataset("p", "runs"), out, "trl-step-preference", options=options)
    # Only the captured single-turn pick fits: the others have earlier steps or tool calls.
    assert read_jsonl(out) == [{"prompt": "Say hi", "chosen": "Hello!", "rejected": "Hi."}]
    assert result.rows == 1


def test_the_format_is_not_auto_detected_and_refuses_import(tmp_path: Path) -> None:
    from thresher.formats import get_format
    from thresher.formats.base import RowError

    fmt = get_format("trl-step-preference")
    assert not fmt.sniff({"prompt": "a", "chosen": "b", "rejected": "c"})
    with pytest.raises(RowError, match="trl-preference"):
        list(fmt.parse({"prompt": "a", "chosen": "b", "rejected": "c"}))
