"""Agreement against hand-computed values, and consensus rules (pure functions, no database)."""

from __future__ import annotations

from typing import Any

import pytest

from thresher.annotate import Votes, Workflow, consensus
from thresher.annotate.agreement import question_agreement, units
from thresher.model import (
    ChoiceQuestion,
    MultiChoiceQuestion,
    Question,
    RankingQuestion,
    RatingQuestion,
    StepVerdictQuestion,
    TextQuestion,
)

CHOICE = ChoiceQuestion(name="label", options=["yes", "no"])


def _rows(name: str, table: dict[str, list[Any]]) -> list[tuple[str, str, dict[str, Any]]]:
    """(record, user, answers) from {user: [value per record]}; None leaves a record unanswered."""
    return [(f"r{i}", user, {name: v}) for user, values in table.items() for i, v in enumerate(values) if v is not None]


def test_cohen_kappa_of_two_raters_matches_the_hand_computed_value() -> None:
    # 50 items: both yes 20, a yes / b no 5, a no / b yes 10, both no 15.
    # po = 35/50 = 0.7; pe = (25*30 + 25*20) / 50^2 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    rows = _rows("label", {"a": [{"choice": x} for x in a], "b": [{"choice": x} for x in b]})
    result = question_agreement(CHOICE, units(CHOICE, rows))
    assert result.metric == "fleiss_kappa" and result.n_items == 50 and result.n_annotators == 2
    (pair,) = result.pairs
    assert (pair.a, pair.b, pair.metric, pair.n) == ("a", "b", "cohen_kappa", 50)
    assert pair.value == pytest.approx(0.4)
    # Fleiss with two raters: p_e from pooled marginals (45/100 yes): (0.7 - 0.505) / (1 - 0.505)
    assert result.value == pytest.approx((0.7 - 0.505) / 0.495, abs=1e-6)


def test_krippendorff_alpha_matches_the_published_example() -> None:
    # Krippendorff's reliability data (3 coders, 15 units, missing values): interval alpha = 0.811.
    nan = None
    data = {
        "c1": [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        "c2": [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        "c3": [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    }
    q = RatingQuestion(name="score", min=1, max=4)
    result = question_agreement(q, units(q, _rows("score", data)))
    assert result.metric == "krippendorff_alpha"
    assert result.value == pytest.approx(0.811, abs=5e-4)
    assert result.n_items == 12 and result.n_annotators == 3  # units with at least two values


def test_kendall_tau_per_pair_and_undefined_values() -> None:
    q = RankingQuestion(name="rank", options=["a", "b", "c"])
    same, reversed_ = [["a"], ["b"], ["c"]], [["c"], ["b"], ["a"]]
    rows = _rows("rank", {"x": [same, same], "y": [same, reversed_]})
    result = question_agreement(q, units(q, rows))
    (pair,) = result.pairs
    assert pair.metric == "kendall_tau" and pair.n == 2 and pair.value == pytest.approx(0.0)  # (1 + -1) / 2
    lonely = question_agreement(CHOICE, units(CHOICE, _rows("label", {"x": [{"choice": "yes"}]})))
    assert lonely.value is None and lonely.pairs == [] and lonely.n_items == 0  # one annotator: undefined
    same_label = _rows("label", {"x": [{"choice": "yes"}] * 3, "y": [{"choice": "yes"}] * 3})
    assert question_agreement(CHOICE, units(CHOICE, same_label)).pairs[0].value is None  # no variation


def test_step_verdicts_are_compared_per_step() -> None:
    q = StepVerdictQuestion(name="steps")
    run = [{"step": 0, "verdict": "correct"}, {"step": 1, "verdict": "wrong", "cause": "tool"}]
    other = [{"step": 0, "verdict": "correct"}, {"step": 1, "verdict": "correct"}]
    result = question_agreement(q, units(q, _rows("steps", {"x": [run], "y": [other]})))
    assert result.n_items == 2 and result.pairs[0].n == 2


WF = Workflow()


def test_default_rules_mean_for_ratings_and_majority_for_labels() -> None:
    questions: list[Question] = [
        RatingQuestion(name="quality"),
        CHOICE,
        MultiChoiceQuestion(name="tags", options=["x", "y", "z"]),
    ]
    votes = Votes(
        [
            {"quality": 2, "label": {"choice": "yes", "rationale": "clear"}, "tags": {"choices": ["x", "y"]}},
            {"quality": 3, "label": {"choice": "yes", "rationale": None}, "tags": {"choices": ["x"]}},
            {"quality": 5, "label": {"choice": "no", "rationale": None}, "tags": {"choices": ["y", "z"]}},
        ]
    )
    out = consensus(questions, WF, votes)
    assert out == {
        "quality": pytest.approx(10 / 3),
        "label": {"choice": "yes", "rationale": "clear"},
        "tags": {"choices": ["x", "y"], "rationale": None},  # each chosen by more than half
    }
    median = consensus(questions[:1], Workflow(consensus={"quality": "median"}), votes)
    assert median == {"quality": 3.0}


def test_a_tie_has_no_majority_and_a_reviewer_wins_it() -> None:
    text = TextQuestion(name="rewrite")
    votes = Votes([{"label": {"choice": "yes"}, "rewrite": "A"}, {"label": {"choice": "no"}, "rewrite": "B"}])
    assert consensus([CHOICE, text], WF, votes) == {}
    votes.corrections.append({"rewrite": "C"})
    assert consensus([CHOICE, text], WF, votes) == {"rewrite": "C"}  # text: reviewer_wins by default
    accepted = Votes(votes.answers, accepted=[{"label": {"choice": "no"}}])
    rule = Workflow(consensus={"label": "reviewer_wins"})
    assert consensus([CHOICE], rule, accepted) == {"label": {"choice": "no", "rationale": None}}


def test_rankings_by_mean_place_with_ties() -> None:
    q = RankingQuestion(name="rank")
    votes = Votes([{"rank": [["a"], ["b"], ["c"]]}, {"rank": [["b"], ["a"], ["c"]]}])
    assert consensus([q], WF, votes) == {"rank": [["a", "b"], ["c"]]}
    per = RatingQuestion(name="score", per_candidate=True)
    assert consensus([per], WF, Votes([{"score": {"a": 1, "b": 4}}, {"score": {"a": 2, "b": 5}}])) == {
        "score": {"a": 1.5, "b": 4.5}
    }


def test_mean_is_refused_for_labels() -> None:
    from thresher.errors import DataError

    with pytest.raises(DataError) as e:
        Workflow(consensus={"label": "mean", "nope": "majority"}).check([CHOICE])
    assert sorted(d.loc for d in e.value.details) == [("consensus", "label"), ("consensus", "nope")]
