"""Record kinds, content parts and the content hash."""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from thresher.model import (
    AgentRunContent,
    AudioPart,
    ComparisonContent,
    Content,
    ConversationContent,
    EvalItemContent,
    ImagePart,
    MediaContent,
    MediaInfo,
    Message,
    Record,
    Step,
    TextContent,
    TextPart,
    VideoPart,
    content_hash,
    normalize,
)

CONTENT: TypeAdapter[Any] = TypeAdapter(Content)


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


# -- valid records of every kind ----------------------------------------------------------------

VALID: dict[str, dict[str, Any]] = {
    "text": {"kind": "text", "text": "A document."},
    "conversation": {
        "kind": "conversation",
        "messages": [
            {"role": "system", "content": "Be brief."},
            user("Weather in Paris?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Paris"}}],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            assistant("18C and sunny."),
        ],
        "tools": [{"type": "function", "function": {"name": "weather"}}],
    },
    "comparison": {
        "kind": "comparison",
        "prompt": [user("Say hi")],
        "candidates": [
            {"id": "a", "messages": [assistant("hi")], "model": "m1"},
            {"id": "b", "messages": [assistant("hello")], "model": "m2"},
        ],
    },
    "agent_run": {
        "kind": "agent_run",
        "task": "Find the file",
        "steps": [
            {"type": "plan", "content": "look around"},
            {"type": "tool_call", "tool_call": {"id": "t1", "name": "ls", "arguments": {}}},
            {"type": "tool_result", "tool_call_id": "t1", "content": "a.txt"},
        ],
        "outcome": {"status": "success"},
    },
    "media": {
        "kind": "media",
        "media_type": "image",
        "blob": {"uri": "blob://sha256/" + "0" * 64, "mime_type": "image/png"},
        "info": {"width": 640, "height": 480},
    },
    "eval_item": {"kind": "eval_item", "input": [user("2+2?")], "reference": "4"},
}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_kind_validates_and_dispatches_on_kind(kind: str) -> None:
    content = CONTENT.validate_python(VALID[kind])
    assert content.kind == kind
    record = Record(content=VALID[kind])
    assert record.kind == kind
    assert record.content_hash == content_hash(content)
    assert len(record.content_hash) == 64


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValidationError, match="kind"):
        CONTENT.validate_python({"kind": "poem", "text": "x"})


def test_extra_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="extra"):
        TextContent.model_validate({"kind": "text", "text": "x", "title": "t"})


# -- text ---------------------------------------------------------------------------------------


def test_text_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="at least 1 character"):
        TextContent(text="")


# -- conversation -------------------------------------------------------------------------------


def test_conversation_must_not_be_empty() -> None:
    with pytest.raises(ValidationError, match="at least one message"):
        ConversationContent(messages=[])


def test_tool_message_answering_an_unknown_call_id() -> None:
    messages = [
        user("q"),
        {"role": "assistant", "tool_calls": [{"id": "c1", "name": "f"}]},
        {"role": "tool", "tool_call_id": "c2", "content": "r"},
    ]
    with pytest.raises(ValidationError, match="'c2' answers no tool call"):
        ConversationContent.model_validate({"messages": messages})


def test_tool_message_answering_a_known_call_id() -> None:
    messages = [
        user("q"),
        {"role": "assistant", "tool_calls": [{"id": "c1", "name": "f"}, {"id": "c2", "name": "g"}]},
        {"role": "tool", "tool_call_id": "c2", "content": "r"},
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
    ]
    conv = ConversationContent.model_validate({"messages": messages})
    assert [m.tool_call_id for m in conv.messages[2:]] == ["c2", "c1"]


@pytest.mark.parametrize("role", ["user", "system", "tool"])
def test_tool_calls_only_on_assistant_messages(role: str) -> None:
    with pytest.raises(ValidationError, match=f"only assistant messages may have tool_calls, not '{role}'"):
        Message.model_validate({"role": role, "content": "x", "tool_calls": [{"name": "f"}]})


def test_message_needs_content_or_tool_calls() -> None:
    with pytest.raises(ValidationError, match="needs content or tool_calls"):
        Message(role="assistant")
    with pytest.raises(ValidationError, match="needs content or tool_calls"):
        Message.model_validate({"role": "assistant", "tool_calls": []})  # empty list counts as none


def test_message_with_only_tool_calls_is_valid() -> None:
    m = Message.model_validate({"role": "assistant", "tool_calls": [{"name": "f", "arguments": '{"x": 1}'}]})
    assert m.tool_calls is not None
    assert m.tool_calls[0].arguments == '{"x": 1}'  # unparseable-as-dict arguments kept as a string
    assert m.text() == ""


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(ValidationError, match="role"):
        Message.model_validate({"role": "robot", "content": "x"})


def test_message_weight_is_zero_or_one() -> None:
    assert Message(role="assistant", content="x", weight=0).weight == 0
    with pytest.raises(ValidationError, match="weight"):
        Message.model_validate({"role": "assistant", "content": "x", "weight": 2})


# -- comparison ---------------------------------------------------------------------------------


def test_comparison_needs_two_candidates() -> None:
    data = dict(VALID["comparison"], candidates=[{"id": "a", "messages": [assistant("hi")]}])
    with pytest.raises(ValidationError, match="at least 2 items"):
        ComparisonContent.model_validate(data)


def test_comparison_candidate_ids_must_be_unique() -> None:
    cand = {"id": "a", "messages": [assistant("hi")]}
    data = dict(VALID["comparison"], candidates=[cand, dict(cand, messages=[assistant("yo")])])
    with pytest.raises(ValidationError, match=r"candidate ids must be unique, got \['a', 'a'\]"):
        ComparisonContent.model_validate(data)


def test_comparison_candidate_needs_messages() -> None:
    data = dict(VALID["comparison"], candidates=[{"id": "a", "messages": []}, {"id": "b", "messages": []}])
    with pytest.raises(ValidationError, match="at least 1 item"):
        ComparisonContent.model_validate(data)


def test_comparison_with_implicit_prompt_and_lookup() -> None:
    data = dict(VALID["comparison"], prompt=[])
    comp = ComparisonContent.model_validate(data)
    assert comp.candidate("b").messages[0].text() == "hello"
    with pytest.raises(KeyError):
        comp.candidate("zzz")


# -- agent_run ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "step",
    [
        {"type": "plan", "content": "p"},
        {"type": "reasoning", "content": "r"},
        {"type": "tool_call", "tool_call": {"id": "t", "name": "search", "arguments": {"q": "x"}}},
        {"type": "tool_result", "tool_call_id": "t", "content": "found", "is_error": False},
        {"type": "message", "content": "done", "agent": "writer"},
        {"type": "handoff", "handoff_to": "reviewer"},
        {"type": "error", "content": "timeout", "latency_ms": 3.5, "tokens": 10},
    ],
    ids=lambda s: s["type"],
)
def test_agent_run_with_each_step_type(step: dict[str, Any]) -> None:
    run = AgentRunContent.model_validate({"task": "t", "steps": [step]})
    assert run.steps[0].type == step["type"]
    assert run.outcome.status == "unknown"


def test_tool_call_step_needs_tool_call() -> None:
    with pytest.raises(ValidationError, match="a tool_call step needs tool_call"):
        Step(type="tool_call", content="x")


def test_handoff_step_needs_target() -> None:
    with pytest.raises(ValidationError, match="a handoff step needs handoff_to"):
        Step(type="handoff")
    with pytest.raises(ValidationError, match="a handoff step needs handoff_to"):
        Step(type="handoff", handoff_to="")


@pytest.mark.parametrize("stype", ["plan", "reasoning", "message", "error", "tool_result"])
def test_text_steps_need_content(stype: str) -> None:
    with pytest.raises(ValidationError, match=f"a {stype} step needs content"):
        Step.model_validate({"type": stype})


def test_step_rejects_negative_latency_and_tokens() -> None:
    with pytest.raises(ValidationError, match="latency_ms"):
        Step(type="plan", content="p", latency_ms=-1)
    with pytest.raises(ValidationError, match="tokens"):
        Step(type="plan", content="p", tokens=-1)


def test_failure_step_past_the_end() -> None:
    steps = [{"type": "plan", "content": "a"}, {"type": "message", "content": "b"}]
    ok = AgentRunContent.model_validate({"task": "t", "steps": steps, "failure": {"step": 1, "cause": "tool"}})
    assert ok.failure is not None and ok.failure.step == 1
    with pytest.raises(ValidationError, match=r"failure\.step 2 is past the last step \(1\)"):
        AgentRunContent.model_validate({"task": "t", "steps": steps, "failure": {"step": 2}})
    with pytest.raises(ValidationError, match=r"failure\.step 0 is past"):
        AgentRunContent.model_validate({"task": "t", "steps": [], "failure": {"step": 0}})


def test_agent_run_task_must_not_be_blank_and_may_be_messages() -> None:
    with pytest.raises(ValidationError, match="task must not be empty"):
        AgentRunContent(task="   ")
    run = AgentRunContent.model_validate({"task": [user("do it")]})
    assert isinstance(run.task, list) and run.task[0].text() == "do it"


# -- media --------------------------------------------------------------------------------------


def test_media_with_full_technical_metadata() -> None:
    m = MediaContent.model_validate(
        {
            "media_type": "video",
            "blob": {"uri": "blob://sha256/ab", "size": 10},
            "info": {"width": 1920, "height": 1080, "duration_s": 2.5, "fps": 30, "frame_count": 75, "codec": "h264"},
            "caption": "a dog",
            "context": [user("describe")],
        }
    )
    assert m.info.frame_count == 75 and m.info.fps == 30


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width", 0),
        ("height", -1),
        ("orientation", 0),
        ("orientation", 9),
        ("duration_s", -0.1),
        ("fps", 0),
        ("frame_count", -1),
        ("sample_rate", 0),
        ("channels", 0),
    ],
)
def test_media_info_bounds(field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field):
        MediaInfo.model_validate({field: value})


@pytest.mark.parametrize(("field", "value"), [("orientation", 1), ("orientation", 8), ("duration_s", 0)])
def test_media_info_bounds_inclusive(field: str, value: float) -> None:
    assert getattr(MediaInfo.model_validate({field: value}), field) == value


def test_media_type_and_blob_required() -> None:
    with pytest.raises(ValidationError, match="media_type"):
        MediaContent.model_validate({"media_type": "pdf", "blob": {"uri": "x"}})
    with pytest.raises(ValidationError, match="uri"):
        MediaContent.model_validate({"media_type": "image", "blob": {"uri": ""}})
    with pytest.raises(ValidationError, match="size"):
        MediaContent.model_validate({"media_type": "image", "blob": {"uri": "x", "size": -1}})


# -- eval_item ----------------------------------------------------------------------------------


def test_eval_item_needs_reference_or_grader() -> None:
    with pytest.raises(ValidationError, match="needs a reference or a grader"):
        EvalItemContent.model_validate({"input": [user("q")]})
    graded = EvalItemContent.model_validate({"input": [user("q")], "grader": {"type": "regex", "params": {"p": "4"}}})
    assert graded.grader is not None and graded.grader.type == "regex"
    multi = EvalItemContent.model_validate({"input": [user("q")], "reference": ["4", "four"], "choices": ["4", "5"]})
    assert multi.reference == ["4", "four"]


def test_eval_item_rejects_unknown_grader_and_empty_input() -> None:
    with pytest.raises(ValidationError, match="type"):
        EvalItemContent.model_validate({"input": [user("q")], "grader": {"type": "vibes"}})
    with pytest.raises(ValidationError, match="at least one message"):
        EvalItemContent.model_validate({"input": [], "reference": "4"})


# -- content parts ------------------------------------------------------------------------------


def test_content_parts_by_blob_reference() -> None:
    m = Message.model_validate(
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is "},
                {"type": "image", "image": {"uri": "blob://sha256/aa", "mime_type": "image/png"}, "detail": "high"},
                {"type": "audio", "audio": {"uri": "blob://sha256/bb"}},
                {"type": "video", "video": {"uri": "https://example.com/v.mp4"}},
                {"type": "text", "text": "this?"},
            ],
        }
    )
    assert isinstance(m.content, list)
    assert [type(p) for p in m.content] == [TextPart, ImagePart, AudioPart, VideoPart, TextPart]
    image = m.content[1]
    assert isinstance(image, ImagePart) and image.image.uri == "blob://sha256/aa" and image.detail == "high"
    assert m.text() == "What is this?"  # media parts are left out


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image", "image": "blob://sha256/aa"},  # a bare string, not a blob reference
        {"type": "image", "image": {"uri": "x"}, "detail": "ultra"},
        {"type": "audio", "video": {"uri": "x"}},
        {"type": "sticker", "sticker": {"uri": "x"}},
        {"type": "text"},
    ],
)
def test_invalid_content_parts(part: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Message.model_validate({"role": "user", "content": [part]})


# -- content hash -------------------------------------------------------------------------------


def test_hash_is_identical_for_nfc_and_nfd() -> None:
    nfc = unicodedata.normalize("NFC", "café naïve")
    nfd = unicodedata.normalize("NFD", "café naïve")
    assert nfc != nfd
    assert content_hash(TextContent(text=nfc)) == content_hash(TextContent(text=nfd))
    conv_nfc = ConversationContent(messages=[Message(role="user", content=nfc)])
    conv_nfd = ConversationContent(messages=[Message(role="user", content=nfd)])
    assert content_hash(conv_nfc) == content_hash(conv_nfd)


def test_hash_ignores_surrounding_whitespace() -> None:
    assert content_hash(TextContent(text="hello world")) == content_hash(TextContent(text="  hello world\n"))
    a = ConversationContent.model_validate({"messages": [user("hi"), assistant("yo")]})
    b = ConversationContent.model_validate({"messages": [user(" hi\t"), assistant("\nyo ")]})
    assert content_hash(a) == content_hash(b)


def test_hash_ignores_key_order() -> None:
    def conv(args: dict[str, Any], tool: dict[str, Any]) -> ConversationContent:
        return ConversationContent.model_validate(
            {
                "messages": [
                    user("q"),
                    {"role": "assistant", "tool_calls": [{"id": "1", "name": "f", "arguments": args}]},
                ],
                "tools": [tool],
            }
        )

    a = conv({"a": 1, "b": {"x": 1, "y": 2}}, {"name": "f", "type": "function"})
    b = conv({"b": {"y": 2, "x": 1}, "a": 1}, {"type": "function", "name": "f"})
    assert content_hash(a) == content_hash(b)


def test_hash_ignores_nulls_and_empty_containers() -> None:
    a = ConversationContent.model_validate({"messages": [user("q")]})
    b = ConversationContent.model_validate({"messages": [user("q")], "tools": []})
    assert content_hash(a) == content_hash(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"kind": "text", "text": "hello"}, {"kind": "text", "text": "hello!"}),
        ({"kind": "text", "text": "Hello"}, {"kind": "text", "text": "hello"}),
        ({"kind": "text", "text": "a b"}, {"kind": "text", "text": "a  b"}),  # inner whitespace counts
        (
            {"kind": "conversation", "messages": [user("hi")]},
            {"kind": "conversation", "messages": [assistant("hi")]},
        ),
        (
            {"kind": "conversation", "messages": [user("a"), assistant("b")]},
            {"kind": "conversation", "messages": [user("b"), assistant("a")]},
        ),
        ({"kind": "text", "text": "4"}, {"kind": "eval_item", "input": [user("4")], "reference": "4"}),
    ],
)
def test_hash_differs_for_different_content(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert content_hash(CONTENT.validate_python(a)) != content_hash(CONTENT.validate_python(b))


def test_hash_is_independent_of_metadata_split_and_source() -> None:
    content = {"kind": "text", "text": "same text"}
    plain = Record(content=content)
    decorated = Record(
        content=content,
        metadata={"score": 0.9, "lang": "en"},
        split="train",
        task_type="generation",
        domains=["news"],
        source={"file": "a.jsonl", "line": 3, "format": "text"},
        synthetic=True,
    )
    assert plain.content_hash == decorated.content_hash == content_hash(TextContent(text="same text"))
    assert plain.content_hash != Record(content={"kind": "text", "text": "other text"}).content_hash


def test_record_keeps_a_given_hash() -> None:
    assert Record(content={"kind": "text", "text": "x"}, content_hash="abc").content_hash == "abc"


def test_record_split_pattern() -> None:
    assert Record(content={"kind": "text", "text": "x"}, split="train.v2-a_b").split == "train.v2-a_b"
    with pytest.raises(ValidationError, match="split"):
        Record(content={"kind": "text", "text": "x"}, split="has space")


def test_normalize() -> None:
    value = {"b": [" x ", None, {}], "a": None, "c": {}, "d": [], "e": {"f": None}, "g": 0, "h": False}
    assert normalize(value) == {"b": ["x", None, {}], "g": 0, "h": False}
