"""The 11 question types: answers that fit pass normalized, others fail naming what was expected."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from thresher.model import (
    QUESTION_ADAPTER,
    QUESTION_TYPES,
    AnswerError,
    ChoiceQuestion,
    ConversationQuestion,
    MultiChoiceQuestion,
    Question,
    RankingQuestion,
    RatingQuestion,
    Record,
    RecordingQuestion,
    RegionQuestion,
    SpanQuestion,
    StepPreferenceQuestion,
    StepVerdictQuestion,
    TextQuestion,
    TimelineSegmentQuestion,
    TrackQuestion,
    TrajectoryQuestion,
    TranscriptQuestion,
    validate_answers,
)


def _msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


TEXT = Record(content={"kind": "text", "text": "Alice met Bob."})  # 14 characters
CONVERSATION = Record(
    content={"kind": "conversation", "messages": [_msg("user", "hi"), _msg("assistant", "hello there")]}
)
COMPARISON = Record(
    content={
        "kind": "comparison",
        "prompt": [_msg("user", "q")],
        "candidates": [
            {"id": "a", "messages": [_msg("assistant", "1")]},
            {"id": "b", "messages": [_msg("assistant", "2")]},
            {"id": "c", "messages": [_msg("assistant", "3")]},
        ],
    }
)
AGENT_RUN = Record(
    content={
        "kind": "agent_run",
        "task": "t",
        "steps": [
            {"type": "plan", "content": "p"},
            {"type": "tool_call", "tool_call": {"name": "ls"}},
            {"type": "message", "content": "done"},
        ],
    }
)
IMAGE = Record(
    content={
        "kind": "media",
        "media_type": "image",
        "blob": {"uri": "blob://sha256/aa"},
        "info": {"width": 100, "height": 50},
    }
)
VIDEO = Record(
    content={
        "kind": "media",
        "media_type": "video",
        "blob": {"uri": "blob://sha256/bb"},
        "info": {"width": 100, "height": 50, "duration_s": 10.0, "frame_count": 30},
    }
)


def _fails(q: Any, value: Any, match: str, record: Record | None = None) -> None:
    with pytest.raises(ValueError, match=match):
        q.validate_value(value, record)


# -- text ---------------------------------------------------------------------------------------


def test_text() -> None:
    q = TextQuestion(name="ideal", min_length=3, max_length=10)
    assert q.validate_value("  abc  ") == "  abc  "
    _fails(q, 5, "expected a string")
    _fails(q, "  ab   ", "expected at least 3 characters")  # whitespace does not count
    _fails(q, "abcdefghijk", "expected at most 10 characters, got 11")


def test_text_default_needs_one_character() -> None:
    q = TextQuestion(name="t")
    assert q.validate_value("x") == "x"
    _fails(q, "   ", "expected at least 1 characters")


def test_question_name_pattern() -> None:
    with pytest.raises(ValidationError, match="name"):
        TextQuestion(name="Bad Name")
    with pytest.raises(ValidationError, match="name"):
        TextQuestion(name="1abc")


# -- rating -------------------------------------------------------------------------------------


def test_rating() -> None:
    q = RatingQuestion(name="helpful", min=1, max=7, anchors={1: "useless", 7: "perfect"})
    assert q.validate_value(1) == 1
    assert q.validate_value(7) == 7
    _fails(q, 0, r"expected an integer from 1 to 7, got 0")
    _fails(q, 8, r"expected an integer from 1 to 7, got 8")
    _fails(q, 3.0, r"expected an integer from 1 to 7, got 3.0")
    _fails(q, "3", r"expected an integer from 1 to 7, got '3'")
    _fails(q, True, r"expected an integer from 1 to 7, got True")


def test_rating_scale_and_anchor_bounds() -> None:
    with pytest.raises(ValidationError, match=r"min \(5\) must be below max \(5\)"):
        RatingQuestion(name="r", min=5, max=5)
    with pytest.raises(ValidationError, match=r"anchors \[0, 6\] are outside 1..5"):
        RatingQuestion(name="r", anchors={0: "none", 3: "mid", 6: "over"})
    assert RatingQuestion(name="r", anchors={1: "lo", 5: "hi"}).anchors == {1: "lo", 5: "hi"}


def test_rating_per_candidate() -> None:
    q = RatingQuestion(name="quality", per_candidate=True)
    assert q.validate_value({"a": 5, "b": 3}, COMPARISON) == {"a": 5, "b": 3}
    assert q.validate_value({"a": 2}, COMPARISON) == {"a": 2}  # rating some candidates is allowed
    _fails(q, 4, r"expected a score per candidate", COMPARISON)
    _fails(q, {"a": 5, "z": 1}, r"unknown candidates \['z'\]; expected some of \['a', 'b', 'c'\]", COMPARISON)
    _fails(q, {"a": 9}, r"expected an integer from 1 to 5, got 9", COMPARISON)


# -- ranking ------------------------------------------------------------------------------------


def test_ranking_with_ties() -> None:
    q = RankingQuestion(name="rank", options=["x", "y", "z"])
    assert q.validate_value([["y"], ["x", "z"]]) == [["y"], ["x", "z"]]
    _fails(q, [["y"], []], "a ranking group must not be empty")
    _fails(q, [["y"], ["x", "y"]], "an option appears twice")
    _fails(q, [["y"], ["x"]], r"expected a ranking of exactly \['x', 'y', 'z'\], got \['x', 'y'\]")
    _fails(q, [["y"], ["x", "w", "z"]], r"expected a ranking of exactly \['x', 'y', 'z'\]")


def test_ranking_without_ties() -> None:
    q = RankingQuestion(name="rank", options=["x", "y"], allow_ties=False)
    assert q.validate_value([["x"], ["y"]]) == [["x"], ["y"]]
    _fails(q, [["x", "y"]], "ties are not allowed")


def test_ranking_shape_errors() -> None:
    q = RankingQuestion(name="rank", options=["x", "y"])
    with pytest.raises(ValidationError, match="list"):
        q.validate_value("x > y")
    with pytest.raises(ValidationError, match="list"):
        q.validate_value(["x", "y"])


def test_ranking_of_comparison_candidates() -> None:
    q = RankingQuestion(name="rank")
    assert q.validate_value([["c"], ["a"], ["b"]], COMPARISON) == [["c"], ["a"], ["b"]]
    _fails(q, [["a"], ["b"]], r"expected a ranking of exactly \['a', 'b', 'c'\]", COMPARISON)
    _fails(q, [["a"]], "has no options and the record has no candidates", TEXT)


# -- choice -------------------------------------------------------------------------------------


def test_choice_with_fixed_options() -> None:
    q = ChoiceQuestion(name="label", options=["pos", "neg"])
    assert q.validate_value({"choice": "pos"}) == {"choice": "pos", "rationale": None}
    assert q.validate_value({"choice": "neg", "rationale": "sad"}) == {"choice": "neg", "rationale": "sad"}
    _fails(q, {"choice": "meh"}, r"expected one of \['pos', 'neg'\], got 'meh'")
    with pytest.raises(ValidationError, match="choice"):
        q.validate_value({"rationale": "no choice"})
    with pytest.raises(ValidationError, match="extra"):
        q.validate_value({"choice": "pos", "why": "x"})


def test_choice_rationale_none() -> None:
    q = ChoiceQuestion(name="label", options=["pos", "neg"], rationale="none")
    assert q.validate_value({"choice": "pos", "rationale": ""})["choice"] == "pos"
    _fails(q, {"choice": "pos", "rationale": "because"}, "takes no rationale")


def test_choice_rationale_optional() -> None:
    q = ChoiceQuestion(name="label", options=["pos", "neg"], rationale="optional")
    assert q.validate_value({"choice": "pos"})["rationale"] is None
    assert q.validate_value({"choice": "pos", "rationale": "why"})["rationale"] == "why"


def test_choice_rationale_required() -> None:
    q = ChoiceQuestion(name="label", options=["pos", "neg"], rationale="required")
    assert q.validate_value({"choice": "pos", "rationale": "clear"})["rationale"] == "clear"
    _fails(q, {"choice": "pos"}, "a rationale is required")
    _fails(q, {"choice": "pos", "rationale": "   "}, "a rationale is required")


def test_choice_of_comparison_candidates() -> None:
    q = ChoiceQuestion(name="preferred")
    assert q.validate_value({"choice": "b"}, COMPARISON) == {"choice": "b", "rationale": None}
    _fails(q, {"choice": "d"}, r"expected one of \['a', 'b', 'c'\], got 'd'", COMPARISON)
    _fails(q, {"choice": "a"}, "has no options and the record has no candidates", CONVERSATION)


# -- multi_choice -------------------------------------------------------------------------------


def test_multi_choice() -> None:
    q = MultiChoiceQuestion(name="topics", options=["x", "y", "z"], min_choices=1)
    assert q.validate_value({"choices": ["z", "x"]}) == {"choices": ["z", "x"], "rationale": None}
    _fails(q, {"choices": ["x", "w"]}, r"unknown options \['w'\]; expected some of \['x', 'y', 'z'\]")
    _fails(q, {"choices": ["x", "x"]}, "an option is chosen twice")
    _fails(q, {"choices": []}, "expected at least 1 choices")
    _fails(q, {"choices": ["x"], "rationale": "r"}, "takes no rationale")  # default rationale="none"
    with pytest.raises(ValidationError, match="valid dictionary"):
        q.validate_value(["x"])
    with pytest.raises(ValidationError, match="choices"):
        q.validate_value({"rationale": None})


def test_multi_choice_needs_options() -> None:
    with pytest.raises(ValidationError, match="options"):
        MultiChoiceQuestion(name="m", options=[])


# -- span ---------------------------------------------------------------------------------------


def test_span_against_record_text() -> None:
    q = SpanQuestion(name="ents", labels=["PER", "LOC"])
    value = [{"start": 10, "end": 13, "label": "PER"}, {"start": 0, "end": 5, "label": "PER"}]
    assert q.validate_value(value, TEXT) == [
        {"start": 10, "end": 13, "label": "PER", "field": "text"},
        {"start": 0, "end": 5, "label": "PER", "field": "text"},
    ]
    assert q.validate_value([{"start": 0, "end": 14, "label": "LOC"}], TEXT)[0]["end"] == 14  # the whole text
    _fails(q, [{"start": 10, "end": 15, "label": "PER"}], r"span 10..15 is past the end of text \(14 chars\)", TEXT)
    _fails(q, [{"start": 3, "end": 3, "label": "PER"}], "span 3..3: end must be after start")
    _fails(q, [{"start": 0, "end": 2, "label": "ORG"}], r"unknown label 'ORG'; expected one of \['PER', 'LOC'\]")
    with pytest.raises(ValidationError, match="start"):
        q.validate_value([{"start": -1, "end": 2, "label": "PER"}])


def test_span_overlap() -> None:
    spans = [{"start": 0, "end": 5, "label": "PER"}, {"start": 4, "end": 8, "label": "LOC"}]
    _fails(SpanQuestion(name="s", labels=["PER", "LOC"]), spans, "spans 0..5 and 4..8 overlap")
    contained = [{"start": 0, "end": 10, "label": "PER"}, {"start": 2, "end": 3, "label": "LOC"}]
    _fails(SpanQuestion(name="s", labels=["PER", "LOC"]), contained, "spans 0..10 and 2..3 overlap")
    touching = [{"start": 0, "end": 5, "label": "PER"}, {"start": 5, "end": 8, "label": "LOC"}]
    assert len(SpanQuestion(name="s", labels=["PER", "LOC"]).validate_value(touching)) == 2
    allowed = SpanQuestion(name="s", labels=["PER", "LOC"], allow_overlap=True)
    assert len(allowed.validate_value(spans, TEXT)) == 2


def test_span_in_conversation_messages() -> None:
    q = SpanQuestion(name="s", labels=["X"])
    ok = [
        {"start": 0, "end": 11, "label": "X", "field": "messages.1"},
        {"start": 0, "end": 2, "label": "X", "field": "messages.0"},
    ]
    assert len(q.validate_value(ok, CONVERSATION)) == 2  # same offsets in different fields do not overlap
    _fails(q, [{"start": 0, "end": 3, "label": "X", "field": "messages.0"}], "past the end of messages.0", CONVERSATION)
    _fails(
        q,
        [{"start": 0, "end": 1, "label": "X", "field": "messages.2"}],
        "the conversation has 2 messages",
        CONVERSATION,
    )
    _fails(
        q, [{"start": 0, "end": 1, "label": "X"}], "field 'text' does not exist on a conversation record", CONVERSATION
    )


# -- step_verdict -------------------------------------------------------------------------------


def test_step_verdict_against_step_count() -> None:
    q = StepVerdictQuestion(name="steps")
    value = [
        {"step": 2, "verdict": "correct"},
        {"step": 1, "verdict": "wrong", "cause": "model_output", "corrected": {"name": "ls", "arguments": {"p": "/"}}},
        {"step": 0, "verdict": "unclear", "note": "?"},
    ]
    out = q.validate_value(value, AGENT_RUN)
    assert [v["step"] for v in out] == [0, 1, 2]  # sorted by step
    assert out[0] == {"step": 0, "verdict": "unclear", "note": "?"}  # nulls dropped
    assert out[1]["corrected"] == {"name": "ls", "arguments": {"p": "/"}}
    _fails(q, [{"step": 3, "verdict": "correct"}], r"steps \[3\] do not exist; the run has 3 steps", AGENT_RUN)
    _fails(q, [{"step": 0, "verdict": "correct"}, {"step": 0, "verdict": "wrong", "cause": "tool"}], "two verdicts")
    _fails(q, [{"step": 0, "verdict": "correct"}], "step verdicts apply to agent_run records", TEXT)
    with pytest.raises(ValidationError, match="verdict"):
        q.validate_value([{"step": 0, "verdict": "meh"}])


def test_step_verdict_require_cause() -> None:
    wrong = [{"step": 1, "verdict": "wrong"}]
    _fails(StepVerdictQuestion(name="s"), wrong, "step 1: a wrong step needs a cause", AGENT_RUN)
    assert StepVerdictQuestion(name="s", require_cause=False).validate_value(wrong, AGENT_RUN) == wrong


# -- region -------------------------------------------------------------------------------------


def test_region_box_against_image_size() -> None:
    q = RegionQuestion(name="objs", labels=["cat", "dog"])
    assert q.validate_value([{"label": "cat", "box": [0, 0, 100, 50]}], IMAGE) == [
        {"label": "cat", "box": [0.0, 0.0, 100.0, 50.0]}
    ]
    _fails(q, [{"label": "cat", "box": [50, 0, 60, 10]}], r"is outside the 100x50 image", IMAGE)
    _fails(q, [{"label": "cat", "box": [0, 10, 10, 45]}], r"is outside the 100x50 image", IMAGE)
    _fails(q, [{"label": "cat", "box": [-1, 0, 10, 10]}], r"is outside the 100x50 image", IMAGE)
    assert q.validate_value([{"label": "cat", "box": [50, 0, 60, 10]}]) != []  # no record: no bounds
    _fails(q, [{"label": "bird", "box": [0, 0, 1, 1]}], r"unknown label 'bird'; expected one of \['cat', 'dog'\]")


@pytest.mark.parametrize(
    ("region", "match"),
    [
        ({"label": "cat"}, "exactly one of box, polygon, mask"),
        ({"label": "cat", "box": [0, 0, 1, 1], "polygon": [[0, 0], [1, 0], [1, 1]]}, "exactly one of"),
        ({"label": "cat", "box": [0, 0, 1]}, r"box must be \[x, y, width, height\]"),
        ({"label": "cat", "box": [0, 0, 0, 1]}, "positive size"),
        ({"label": "cat", "polygon": [[0, 0], [1, 1]]}, "at least 3"),
        ({"label": "cat", "polygon": [[0, 0], [1, 1], [2]]}, "at least 3"),
    ],
)
def test_region_shape_errors(region: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        RegionQuestion(name="r", labels=["cat"], shapes=["box", "polygon", "mask"]).validate_value([region])


def test_region_polygon_and_mask() -> None:
    q = RegionQuestion(name="r", labels=["cat"], shapes=["polygon", "mask"])
    polygon = {"label": "cat", "polygon": [[0, 0], [10, 0], [10, 10]]}
    mask = {"label": "cat", "mask": {"size": [50, 100], "counts": "abc"}, "frame": 0}
    assert q.validate_value([polygon, mask], IMAGE) == [
        {"label": "cat", "polygon": [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0]]},
        {"label": "cat", "mask": {"size": [50, 100], "counts": "abc"}, "frame": 0},
    ]
    _fails(q, [{"label": "cat", "box": [0, 0, 1, 1]}], r"box regions are not allowed; expected \['polygon', 'mask'\]")
    only_box = RegionQuestion(name="r", labels=["cat"])
    _fails(only_box, [polygon], r"polygon regions are not allowed; expected \['box'\]")


def test_region_polygon_against_image_size() -> None:
    q = RegionQuestion(name="r", labels=["cat"], shapes=["polygon"])
    outside = {"label": "cat", "polygon": [[0, 0], [500, 0], [500, 400]]}  # the image is 100x50
    _fails(q, [outside], "outside the 100x50 image", IMAGE)


# -- timeline_segment ---------------------------------------------------------------------------


def test_timeline_segment_against_duration() -> None:
    q = TimelineSegmentQuestion(name="acts", labels=["jump", "run"])
    value = [{"start": 0, "end": 2.5, "label": "run"}, {"start": 9, "end": 10.0, "label": "jump"}]
    assert q.validate_value(value, VIDEO) == [
        {"start": 0.0, "end": 2.5, "label": "run"},
        {"start": 9.0, "end": 10.0, "label": "jump"},
    ]
    _fails(q, [{"start": 9, "end": 10.5, "label": "jump"}], r"segment 9.0..10.5 ends after the media \(10.0 s\)", VIDEO)
    _fails(q, [{"start": 3, "end": 2, "label": "jump"}], "segment 3.0..2.0: end must be after start")
    _fails(q, [{"start": 1, "end": 2, "label": "swim"}], r"unknown label 'swim'; expected one of \['jump', 'run'\]")
    _fails(q, [{"start": 1, "end": 2}], "unknown label None")
    with pytest.raises(ValidationError, match="start"):
        q.validate_value([{"start": -1, "end": 2, "label": "run"}])


# -- track --------------------------------------------------------------------------------------


def test_track_keyframes_and_frame_count() -> None:
    q = TrackQuestion(name="tracks", labels=["car"])
    track = {
        "track_id": "1",
        "label": "car",
        "keyframes": [{"frame": 0, "box": [0, 0, 5, 5]}, {"frame": 29, "box": [1, 1, 5, 5]}],
    }
    out = q.validate_value([track], VIDEO)
    assert out[0]["keyframes"][1] == {"frame": 29, "box": [1.0, 1.0, 5.0, 5.0], "outside": False}
    backwards = dict(track, keyframes=[{"frame": 5, "box": [0, 0, 1, 1]}, {"frame": 2, "box": [0, 0, 1, 1]}])
    _fails(q, [backwards], "track 1: keyframes must be in increasing frame order")
    repeated = dict(track, keyframes=[{"frame": 2, "box": [0, 0, 1, 1]}, {"frame": 2, "box": [0, 0, 1, 1]}])
    _fails(q, [repeated], "increasing frame order")
    past = dict(track, keyframes=[{"frame": 30, "box": [0, 0, 1, 1]}])
    _fails(q, [past], "track 1: frame 30 is past the video's end", VIDEO)
    assert q.validate_value([past]) != []  # no record: no frame count
    _fails(q, [track, dict(track)], "track ids must be unique")
    _fails(q, [dict(track, label="bus")], r"unknown label 'bus'; expected one of \['car'\]")
    with pytest.raises(ValidationError, match="keyframes"):
        q.validate_value([dict(track, keyframes=[])])
    with pytest.raises(ValidationError, match="box"):
        q.validate_value([dict(track, keyframes=[{"frame": 0, "box": [0, 0, 1]}])])


# -- transcript ---------------------------------------------------------------------------------


def test_transcript_speakers() -> None:
    q = TranscriptQuestion(name="asr", speakers=["A", "B"])
    value = [
        {"start": 0, "end": 1.5, "speaker": "A", "text": "hi"},
        {"start": 1.5, "end": 3, "speaker": "B", "text": "yo"},
    ]
    assert q.validate_value(value, VIDEO) == [
        {"start": 0.0, "end": 1.5, "speaker": "A", "text": "hi"},
        {"start": 1.5, "end": 3.0, "speaker": "B", "text": "yo"},
    ]
    _fails(
        q, [{"start": 0, "end": 1, "speaker": "C", "text": "x"}], r"unknown speaker 'C'; expected one of \['A', 'B'\]"
    )
    _fails(q, [{"start": 0, "end": 1, "text": "x"}], "unknown speaker None")
    _fails(q, [{"start": 0, "end": 1, "speaker": "A"}], "segment 0.0..1.0 has no text")
    _fails(q, [{"start": 0, "end": 11, "speaker": "A", "text": "x"}], "ends after the media", VIDEO)
    free = TranscriptQuestion(name="asr")
    assert free.validate_value([{"start": 0, "end": 1, "text": "x"}]) == [{"start": 0.0, "end": 1.0, "text": "x"}]


# -- validate_answers ---------------------------------------------------------------------------


def test_validate_answers_normalizes_and_collects_errors() -> None:
    questions: list[Question] = [
        ChoiceQuestion(name="preferred"),
        RatingQuestion(name="quality", per_candidate=True),
        RankingQuestion(name="rank"),
        TextQuestion(name="note", required=False),
        TextQuestion(name="ideal"),
    ]
    answers = {
        "preferred": {"choice": 7},
        "quality": {"a": 6},
        "rank": [["a"], ["b"], ["c"]],
        "bogus": 1,
    }
    out, errors = validate_answers(questions, answers, COMPARISON)
    assert out == {"rank": [["a"], ["b"], ["c"]]}
    assert all(isinstance(e, AnswerError) for e in errors)
    by_loc = {e.loc: e for e in errors}
    assert set(by_loc) == {("preferred", "choice"), ("quality",), ("bogus",), ("ideal",)}
    assert "string" in by_loc[("preferred", "choice")].msg
    assert by_loc[("preferred", "choice")].value == {"choice": 7}
    assert "from 1 to 5" in by_loc[("quality",)].msg
    assert "no question named 'bogus'" in by_loc[("bogus",)].msg
    assert "ideal" in by_loc[("bogus",)].msg  # names what was expected
    assert by_loc[("ideal",)].msg == "a required question has no answer"


def test_validate_answers_nested_location() -> None:
    q = SpanQuestion(name="ents", labels=["PER"])
    _, errors = validate_answers([q], {"ents": [{"start": 0, "end": 1, "label": "PER"}, {"start": "x", "end": 2}]})
    assert len(errors) == 1
    assert errors[0].loc[:3] == ("ents", 1, "start")


def test_validate_answers_partial_skips_missing_required() -> None:
    questions: list[Question] = [TextQuestion(name="a"), TextQuestion(name="b")]
    out, errors = validate_answers(questions, {"a": "x"}, partial=True)
    assert (out, errors) == ({"a": "x"}, [])
    _, errors = validate_answers(questions, {"a": "x"})
    assert [e.loc for e in errors] == [("b",)]


def test_validate_answers_all_good() -> None:
    questions: list[Question] = [StepVerdictQuestion(name="steps"), TextQuestion(name="why", required=False)]
    out, errors = validate_answers(questions, {"steps": [{"step": 2, "verdict": "correct", "note": None}]}, AGENT_RUN)
    assert errors == []
    assert out == {"steps": [{"step": 2, "verdict": "correct"}]}


# -- QUESTION_ADAPTER ---------------------------------------------------------------------------

EVERY_TYPE: list[Question] = [
    TextQuestion(name="q_text", title="Ideal", description="**write**", min_length=2, max_length=50, markdown=False),
    RatingQuestion(
        name="q_rating", dimension="helpfulness", min=1, max=7, anchors={1: "bad", 7: "good"}, per_candidate=True
    ),
    RankingQuestion(name="q_ranking", options=["a", "b"], allow_ties=False),
    ChoiceQuestion(name="q_choice", options=["x", "y"], rationale="required", required=False),
    MultiChoiceQuestion(name="q_multi", options=["x", "y"], rationale="optional", min_choices=1),
    SpanQuestion(name="q_span", labels=["PER"], allow_overlap=True),
    StepVerdictQuestion(name="q_steps", require_cause=False),
    RegionQuestion(name="q_region", labels=["cat"], shapes=["polygon", "mask"]),
    TimelineSegmentQuestion(name="q_timeline", labels=["jump"], with_text=True),
    TrackQuestion(name="q_track", labels=["car"]),
    TranscriptQuestion(name="q_transcript", speakers=["A"]),
    ConversationQuestion(name="q_conversation", title="Fix the conversation"),
    TrajectoryQuestion(name="q_trajectory", plan_only=True, tools=["search"]),
    StepPreferenceQuestion(name="q_step_pref", rationale="required"),
    RecordingQuestion(name="q_recording", tags={"emotion": ["neutral", "happy"]}, min_seconds=1, max_seconds=10),
]


def test_every_question_type_is_covered() -> None:
    assert sorted(q.type for q in EVERY_TYPE) == sorted(QUESTION_TYPES)
    assert len(QUESTION_TYPES) == 15


@pytest.mark.parametrize("question", EVERY_TYPE, ids=lambda q: q.type)
def test_question_adapter_round_trips_json(question: Question) -> None:
    raw = QUESTION_ADAPTER.dump_json(question)
    back = QUESTION_ADAPTER.validate_json(raw)
    assert type(back) is type(question)
    assert back == question
    assert QUESTION_ADAPTER.dump_python(back) == QUESTION_ADAPTER.dump_python(question)


def test_question_adapter_dispatches_on_type() -> None:
    q = QUESTION_ADAPTER.validate_python({"type": "rating", "name": "r", "min": 0, "max": 10})
    assert isinstance(q, RatingQuestion) and (q.min, q.max) == (0, 10)
    with pytest.raises(ValidationError, match="type"):
        QUESTION_ADAPTER.validate_python({"type": "essay", "name": "e"})
    with pytest.raises(ValidationError, match="extra"):
        QUESTION_ADAPTER.validate_python({"type": "text", "name": "t", "colour": "red"})


# -- authoring from scratch: trajectories, step preferences, recordings ---------------------------

RUN_WITH_ALTERNATIVES = Record(
    content={
        "kind": "agent_run",
        "task": "find the file",
        "tools": [{"type": "function", "function": {"name": "ls"}}],
        "steps": [
            {"type": "plan", "content": "list, then answer"},
            {
                "type": "tool_call",
                "tool_call": {"name": "ls"},
                "alternatives": [{"id": "b", "tool_call": {"name": "find"}}, {"id": "c", "content": "I cannot"}],
            },
            {"type": "message", "content": "done"},
        ],
    }
)


def test_trajectory_checks_tools_against_the_record() -> None:
    q = TrajectoryQuestion(name="t")
    good = {"steps": [{"type": "plan", "content": "p"}, {"type": "tool_call", "tool_call": {"name": "ls"}}]}
    assert q.validate_value(good, RUN_WITH_ALTERNATIVES)["steps"][1]["tool_call"]["name"] == "ls"
    with pytest.raises(ValueError, match="unknown tool 'rm'"):
        q.validate_value({"steps": [{"type": "tool_call", "tool_call": {"name": "rm"}}]}, RUN_WITH_ALTERNATIVES)
    with pytest.raises(ValueError, match="must be a JSON object"):
        q.validate_value({"steps": [{"type": "tool_call", "tool_call": {"name": "ls", "arguments": "{bad"}}]})
    with pytest.raises(ValueError, match="plan steps only"):
        TrajectoryQuestion(name="t", plan_only=True).validate_value(good)
    with pytest.raises(ValidationError):
        q.validate_value({"steps": []})


def test_step_preference_choices_come_from_the_step() -> None:
    q = StepPreferenceQuestion(name="s")
    assert q.validate_value([{"step": 1, "choice": "b"}], RUN_WITH_ALTERNATIVES) == [{"step": 1, "choice": "b"}]
    assert q.validate_value([{"step": 1, "choice": "taken"}], RUN_WITH_ALTERNATIVES)[0]["choice"] == "taken"
    with pytest.raises(ValueError, match="expected one of \\['taken', 'b', 'c'\\]"):
        q.validate_value([{"step": 1, "choice": "z"}], RUN_WITH_ALTERNATIVES)
    with pytest.raises(ValueError, match="no alternatives"):
        q.validate_value([{"step": 0, "choice": "taken"}], RUN_WITH_ALTERNATIVES)
    with pytest.raises(ValueError, match="rationale is required"):
        StepPreferenceQuestion(name="s", rationale="required").validate_value([{"step": 1, "choice": "b"}])


def test_an_alternative_cannot_be_called_taken() -> None:
    with pytest.raises(ValidationError, match="names the recorded step"):
        Record(
            content={
                "kind": "agent_run",
                "task": "t",
                "steps": [{"type": "message", "content": "x", "alternatives": [{"id": "taken", "content": "y"}]}],
            }
        )
    with pytest.raises(ValidationError, match="neither 'taken' nor"):
        Record(
            content={
                "kind": "agent_run",
                "task": "t",
                "steps": [
                    {"type": "message", "content": "x", "alternatives": [{"id": "b", "content": "y"}], "chosen": "q"}
                ],
            }
        )


def test_recording_checks_the_selected_take_and_tags() -> None:
    q = RecordingQuestion(name="r", tags={"emotion": ["neutral", "happy"]}, min_seconds=1, max_seconds=10)
    take = {"blob": {"uri": "blob://sha256/ab", "mime_type": "audio/webm"}, "duration_s": 3.2}
    out = q.validate_value({"takes": [take], "tags": {"emotion": "happy"}})
    assert out["selected"] == 0 and out["tags"] == {"emotion": "happy"}
    with pytest.raises(ValueError, match="selected take 1 does not exist"):
        q.validate_value({"takes": [take], "selected": 1})
    with pytest.raises(ValueError, match=r"lasts 0\.2 s"):
        q.validate_value({"takes": [{**take, "duration_s": 0.2}]})
    with pytest.raises(ValueError, match="tag emotion: expected one of"):
        q.validate_value({"takes": [take], "tags": {"emotion": "angry"}})
