"""Training views: how records and their responses become SFT rows."""

from __future__ import annotations

from thresher.formats import ExportContext, ExportItem
from thresher.formats.views import sft_messages, step_labels
from thresher.model import Record, Response, StepVerdictQuestion

RUN = {
    "kind": "agent_run",
    "task": "What is 120.50 + 79.25?",
    "steps": [
        {"type": "tool_call", "tool_call": {"id": "t1", "name": "calc", "arguments": {"expr": "120.50+79.25"}}},
        {"type": "tool_result", "tool_call_id": "t1", "content": "199.75"},
        {"type": "message", "content": "The total is 189.75."},
    ],
    "outcome": {"status": "failure"},
    "failure": {"step": 2, "cause": "model_output"},
}
CTX = ExportContext(questions=[StepVerdictQuestion(name="steps")])


def item(responses: list[Response]) -> ExportItem:
    return ExportItem.from_record(Record(content=RUN), responses)


def test_failed_run_without_a_correction_is_not_sft_data() -> None:
    verdicts = [{"step": 2, "verdict": "wrong", "cause": "model_output"}]
    assert sft_messages(item([Response(user="rev", answers={"steps": verdicts})]), CTX) is None


def test_a_corrected_step_turns_a_failed_run_into_sft_data() -> None:
    verdicts = [
        {"step": 0, "verdict": "correct"},
        {"step": 1, "verdict": "correct"},
        {"step": 2, "verdict": "wrong", "cause": "model_output", "corrected": "The total is 199.75."},
    ]
    messages = sft_messages(item([Response(user="rev", answers={"steps": verdicts})]), CTX)
    assert messages is not None
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["tool_calls"][0]["name"] == "calc"
    assert messages[-1]["content"] == "The total is 199.75."


def test_a_system_failure_gives_no_step_labels_but_a_model_failure_does() -> None:
    system = {**RUN, "failure": {"step": 1, "cause": "system"}}
    assert step_labels(ExportItem.from_record(Record(content=system)), ExportContext()) is None
    steps = step_labels(ExportItem.from_record(Record(content=RUN)), ExportContext())
    assert steps is not None and steps.labels == [True, True, False]


def test_an_edited_conversation_replaces_the_original_in_sft_rows() -> None:
    from thresher.formats import ExportOptions
    from thresher.model import ConversationQuestion, validate_answers

    chat = Record(
        content={
            "kind": "conversation",
            "messages": [
                {"role": "user", "content": "Capital of Australia?"},
                {"role": "assistant", "content": "Sydney."},
                {"role": "user", "content": "Sure?"},
                {"role": "assistant", "content": "Yes."},
            ],
        }
    )
    question = ConversationQuestion(name="fixed")
    edited = [
        {"role": "user", "content": "Capital of Australia?"},
        {"role": "assistant", "content": "Canberra."},  # the first answer fixed; the follow-up removed
    ]
    answers, errors = validate_answers([question], {"fixed": edited}, chat)
    assert errors == []
    # An answer with no assistant turn is refused with the question's name in the path.
    _, bad = validate_answers([question], {"fixed": [{"role": "user", "content": "hi"}]}, chat)
    assert bad and bad[0].loc == ("fixed",) and "assistant" in bad[0].msg
    ctx = ExportContext(questions=[question], options=ExportOptions(rewrite_question="fixed"))
    rows = sft_messages(ExportItem.from_record(chat, [Response(user="ann", answers=answers)]), ctx)
    assert rows == edited
    # Without the edit, the original conversation is the row.
    original = sft_messages(ExportItem.from_record(chat, []), ctx)
    assert original is not None and original[-1]["content"] == "Yes."
