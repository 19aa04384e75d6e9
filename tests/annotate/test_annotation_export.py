"""An export with ``answers="consensus"`` hands the views one consensus response per record."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
from annotation_support import T0

from thresher import annotate
from thresher.formats import ExportOptions
from thresher.model import Candidate, ChoiceQuestion, ComparisonContent, Message, RatingQuestion, Record
from thresher.pipeline import export_dataset
from thresher.store import Store


def test_export_with_consensus_carries_the_consensus_choice(store: Store, tmp_path: Path) -> None:
    store.ensure_project("p")
    ds = store.create_dataset(
        "p",
        "prefs",
        questions=[ChoiceQuestion(name="preference", rationale="optional"), RatingQuestion(name="quality")],
    )
    prompt = [Message(role="user", content="Name a prime.")]
    store.add_records(
        ds,
        [
            Record(
                content=ComparisonContent(
                    prompt=prompt,
                    candidates=[
                        Candidate(id="a", messages=[Message(role="assistant", content="7")]),
                        Candidate(id="b", messages=[Message(role="assistant", content="9")]),
                    ],
                )
            )
        ],
    )
    annotate.set_workflow(store, ds, annotate.Workflow(overlap=3), now=T0)
    for user, choice, score in (("x", "a", 4), ("y", "a", 5), ("z", "b", 2)):
        task = annotate.next_task(store, ds, user, [], [], now=T0)
        assert task is not None
        answers = {"preference": {"choice": choice, "rationale": f"{user} says"}, "quality": score}
        annotate.submit(store, ds, task.assignment.id, user, answers, now=T0)

    def rows(answers: Literal["all", "consensus"]) -> list[dict[str, Any]]:
        out = tmp_path / f"{answers}.jsonl"
        export_dataset(store, ds, out, "thresher", options=ExportOptions(answers=answers))
        return [orjson.loads(line) for line in out.read_bytes().splitlines()]

    (everyone,) = rows("all")
    assert sorted(r["user"] for r in everyone["responses"]) == ["x", "y", "z"]
    (agreed,) = rows("consensus")
    assert agreed["responses"] == [
        {
            "user": "consensus",
            "answers": {
                "preference": {"choice": "a", "rationale": "x says"},
                "quality": round(11 / 3, 6),
            },  # rounded to 6 places
            "status": "submitted",
        }
    ]
    pairs = tmp_path / "pairs.jsonl"
    export_dataset(store, ds, pairs, "trl-preference", options=ExportOptions(answers="consensus"))
    (pair,) = [orjson.loads(line) for line in pairs.read_bytes().splitlines()]
    assert pair["chosen"][-1]["content"] == "7" and pair["rejected"][-1]["content"] == "9"
