"""Triage rules: the shipped defaults route failed runs, thumbs-down chats and reasoned picks."""

from __future__ import annotations

import pytest

from thresher.curate.triage import apply_rules_to_records, load_rules, parse_rules, triage_dataset
from thresher.errors import DataError
from thresher.formats.views import FEEDBACK_QUESTION
from thresher.model import ChoiceQuestion, Record, Response
from thresher.store import Store

RUN = {
    "kind": "agent_run",
    "task": "What's the total of invoices 1041 and 1042?",
    "steps": [
        {"type": "tool_call", "tool_call": {"id": "t1", "name": "get_invoice", "arguments": {"id": 1041}}},
        {"type": "tool_result", "tool_call_id": "t1", "content": '{"total": 120.50}'},
        {"type": "tool_call", "tool_call": {"id": "t2", "name": "get_invoice", "arguments": {"id": 1042}}},
        {"type": "tool_result", "tool_call_id": "t2", "content": '{"total": 79.25}'},
        {"type": "message", "content": "The total is 189.75."},
    ],
    "outcome": {"status": "failure", "detail": "wrong sum"},
    "failure": {"step": 4, "cause": "model_output", "reason": "arithmetic error"},
}
SYSTEM_RUN = {
    "kind": "agent_run",
    "task": "Email the weekly report to the team.",
    "steps": [
        {"type": "tool_call", "tool_call": {"id": "t1", "name": "send_email", "arguments": {"to": "team@x.com"}}},
        {"type": "tool_result", "tool_call_id": "t1", "content": "SMTP 421", "is_error": True},
    ],
    "outcome": {"status": "failure"},
    "failure": {"step": 1, "cause": "system", "reason": "mail server down"},
}
CHAT = {
    "kind": "conversation",
    "messages": [
        {"role": "user", "content": "Can you recommend a good book about the history of mathematics?"},
        {"role": "assistant", "content": "Books are nice."},
    ],
}
PAIR = {
    "kind": "comparison",
    "prompt": [{"role": "user", "content": "A table for two at 8?"}],
    "candidates": [
        {"id": "a", "messages": [{"role": "assistant", "content": "Sushi Ko has one at 8."}]},
        {"id": "b", "messages": [{"role": "assistant", "content": "Many places are open."}]},
    ],
}


@pytest.fixture
def seeded(sqlite_store: Store) -> tuple[Store, dict[str, str]]:
    s = sqlite_store
    s.create_project("p")
    ds = s.create_dataset(
        "p",
        "inbox",
        questions=[FEEDBACK_QUESTION, ChoiceQuestion(name="preferred", title="pick", rationale="optional")],
    )
    ids = {}
    with s.writer(ds) as w:
        ids["run"] = w.add(Record(content=RUN))
        ids["system"] = w.add(Record(content=SYSTEM_RUN))
        ids["chat"] = w.add(Record(content=CHAT), [Response(user="app:u1", answers={"feedback": {"choice": "down"}})])
        ids["pair"] = w.add(
            Record(content=PAIR),
            [Response(user="app:u1", answers={"preferred": {"choice": "a", "rationale": "answers the question"}})],
        )
    return s, ids


def test_default_rules_route_each_case(seeded: tuple[Store, dict[str, str]]) -> None:
    s, ids = seeded
    result = triage_dataset(s, "p", "inbox")
    assert result.actions == {
        "model_failure_to_sft_fix/enqueue": 1,
        "model_failure_to_sft_fix/eval_item": 1,
        "system_failure_to_system_eval/eval_item": 1,
        "thumbs_down_to_rewrite/enqueue": 1,
        "preference_with_reason_to_review/enqueue": 1,
    }
    fix = [r.to_record() for b in s.iter_records(s.get_dataset("p", "agent-sft-fixes")) for r in b]
    assert len(fix) == 1 and fix[0].lineage == [ids["run"]]
    assert fix[0].metadata["skill"] == "agents" and fix[0].metadata["language"] == "en"
    assert [q.type for q in s.get_dataset("p", "agent-sft-fixes").questions] == ["step_verdict"]
    (step_eval,) = [r.to_record() for b in s.iter_records(s.get_dataset("p", "evals-model-steps")) for r in b]
    content = step_eval.content.model_dump()
    # the run up to the failing step: task, two calls, two results; nothing of the wrong answer
    assert [m["role"] for m in content["input"]] == ["user", "assistant", "tool", "assistant", "tool"]
    assert "189.75" in content["grader"]["params"]["rubric"] and step_eval.metadata["step"] == 4
    (sys_eval,) = [r.to_record() for b in s.iter_records(s.get_dataset("p", "evals-system")) for r in b]
    assert sys_eval.metadata["eval_type"] == "system"
    assert sys_eval.content.model_dump()["grader"]["params"]["failure_reason"] == "mail server down"
    (rewrite,) = [r.to_record() for b in s.iter_records(s.get_dataset("p", "rewrites")) for r in b]
    assert rewrite.metadata["skill"] == "writing" and rewrite.metadata["task"] == "rewrite"
    (review,) = [r.to_record() for b in s.iter_records(s.get_dataset("p", "comparisons-review")) for r in b]
    assert review.metadata["app_choice"]["reason"] == "answers the question"
    # once per record and action
    again = triage_dataset(s, "p", "inbox")
    assert not again.actions and sum(again.skipped.values()) == 5


def test_on_capture_only_the_given_records(seeded: tuple[Store, dict[str, str]]) -> None:
    s, ids = seeded
    result = apply_rules_to_records(s, "p", [ids["chat"]])
    assert result.actions == {"thumbs_down_to_rewrite/enqueue": 1}


def test_tag_and_split_actions(seeded: tuple[Store, dict[str, str]]) -> None:
    s, ids = seeded
    rules = parse_rules(
        "rules:\n  - name: hold_out\n    when: {kind: agent_run, failure_cause: system}\n"
        "    then:\n      - tag: {tags: [infra]}\n      - set_split: {split: heldout}\n"
    )
    triage_dataset(s, "p", "inbox", rules)
    rec = s.get_record(ids["system"])
    assert rec.metadata["tags"] == ["infra"] and rec.split == "heldout"


@pytest.mark.parametrize(
    ("text", "line", "expect"),
    [
        ("rules:\n  - name: x\n    when: {knd: agent_run}\n    then: [{tag: {tags: [a]}}]\n", 3, "unknown condition"),
        ("rules:\n  - name: x\n    when: {}\n    then:\n      - enqueu: {dataset: d}\n", 5, "did you mean enqueue"),
        ("rules:\n  - name: x\n    when: {}\n    then:\n      - enqueue: {datset: d}\n", 5, "dataset"),
    ],
)
def test_bad_rules_name_file_and_line(text: str, line: int, expect: str) -> None:
    with pytest.raises(DataError) as e:
        parse_rules(text, "rules.yaml")
    d = e.value.details[0]
    assert d.loc[:2] == ("rules.yaml", line) and expect in d.msg


def test_shipped_rules_load() -> None:
    assert [r.name for r in load_rules()] == [
        "model_failure_to_sft_fix",
        "system_failure_to_system_eval",
        "thumbs_down_to_rewrite",
        "preference_with_reason_to_review",
    ]
