"""Training rows carry lineage back to the record and the responses that made them."""

from __future__ import annotations

from thresher.formats import ExportOptions
from thresher.formats.base import ExportContext, ExportItem
from thresher.formats.views import (
    FEEDBACK_QUESTION,
    PREFERENCE_QUESTION,
    kto_examples,
    preference_pairs,
    reward_rows,
    rewrite_question,
    sft_row,
)
from thresher.model import RatingQuestion, Record, Response

PAIR = Record(
    content={
        "kind": "comparison",
        "prompt": [{"role": "user", "content": "Name a prime."}],
        "candidates": [
            {"id": "a", "messages": [{"role": "assistant", "content": "7"}], "model": "m1"},
            {"id": "b", "messages": [{"role": "assistant", "content": "8"}], "model": "m2"},
            {"id": "c", "messages": [{"role": "assistant", "content": "9"}], "model": "m3"},
        ],
    }
)


def item(record: Record, responses: list[Response], rid: str = "rec1") -> ExportItem:
    it = ExportItem.from_record(record, responses)
    it.id = rid
    return it


def test_pairs_and_reward_rows_from_rankings_name_their_responses() -> None:
    responses = [
        Response(id="r1", user="ann", answers={"preference": [["a"], ["b", "c"]]}),
        Response(id="r2", user="bob", answers={"preference": [["a"], ["c"], ["b"]]}),
        Response(id="r3", user="cy", answers={"other": 1}),
    ]
    ctx = ExportContext(questions=[PREFERENCE_QUESTION], options=ExportOptions(pairs="all"))
    pairs = preference_pairs(item(PAIR, responses), ctx)
    assert [(p.chosen[0]["content"], p.rejected[0]["content"]) for p in pairs] == [("7", "9"), ("7", "8"), ("9", "8")]
    assert all(p.lineage == ("rec1", "r1", "r2") for p in pairs)
    rows = reward_rows(item(PAIR, responses), ctx)
    assert [(r.candidate, r.score) for r in rows] == [("a", 0.0), ("b", -1.5), ("c", -1.0)]
    assert rows[0].lineage == ("rec1", "r1", "r2") and rows[0].model == "m1"


def test_min_margin_and_ties_with_weighted_likert() -> None:
    q = [RatingQuestion(name=d, dimension=d, min=1, max=5, per_candidate=True) for d in ("help", "correct")]
    responses = [
        Response(id="r1", user="ann", answers={"help": {"a": 5, "b": 4, "c": 4}, "correct": {"a": 5, "b": 1, "c": 1}})
    ]
    opts = ExportOptions(rating_weights={"help": 1.0, "correct": 2.0}, pairs="all", min_margin=0.5)
    pairs = preference_pairs(item(PAIR, responses), ExportContext(questions=q, options=opts))  # type: ignore[arg-type]
    assert [(p.chosen[0]["content"], p.rejected[0]["content"]) for p in pairs] == [("7", "8"), ("7", "9")]  # b=c tie
    assert pairs[0].lineage == ("rec1", "r1")


def test_kto_from_thumbs_and_sft_from_rewrites() -> None:
    chat = Record(
        content={
            "kind": "conversation",
            "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}],
        }
    )
    responses = [
        Response(id="t1", user="app:u1", answers={"feedback": {"choice": "down"}}),
        Response(id="w1", user="ann", answers={"ideal_response": "Hello! How can I help?"}),
    ]
    ctx = ExportContext(
        questions=[FEEDBACK_QUESTION, rewrite_question()], options=ExportOptions(rewrite_question="ideal_response")
    )
    (kto,) = kto_examples(item(chat, responses, "c1"), ctx)
    assert kto.label is False and kto.lineage == ("c1", "t1")
    row = sft_row(item(chat, responses, "c1"), ctx)
    assert row is not None and row.messages[-1]["content"] == "Hello! How can I help?" and row.lineage == ("c1", "w1")
