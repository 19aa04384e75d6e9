"""Demo annotation work for ``make demo``: users of each role, profiles, and queued tasks of each
LLM task type, built from the sample records in ``thresher/demo_data``.

The passwords are printable on purpose: they are for a local demo, shown on the console.
"""

from __future__ import annotations

from contextlib import suppress
from importlib.resources import files
from typing import Any

import orjson

from thresher.annotate.demo_authoring import seed_demo_authoring
from thresher.annotate.queue import set_workflow
from thresher.annotate.workflow import RoutingRule, Workflow
from thresher.errors import Conflict
from thresher.model import (
    TASK_TYPES,
    ChoiceQuestion,
    Dataset,
    MultiChoiceQuestion,
    Question,
    RankingQuestion,
    RatingQuestion,
    Record,
    SpanQuestion,
    StepVerdictQuestion,
    Suggestion,
    TextQuestion,
)
from thresher.store import Store

DEMO_USERS = (  # name, password, role, skills, languages
    ("demo-annotator", "annotate-the-demo", "annotator", ["general", "coding"], ["en"]),
    ("demo-annotator-2", "annotate-the-demo-2", "annotator", ["general"], ["en"]),
    ("demo-reviewer", "review-the-demo", "reviewer", ["general", "coding"], ["en"]),
    ("demo-engineer", "engineer-the-demo", "engineer", ["general", "coding"], ["en"]),
)

GUIDELINES = """# How to annotate

- Read the whole task before answering; the **question descriptions** say what each answer means.
- Judge the answer a careful expert would give, not the one you would like to hear.
- When unsure, say so in a note or skip the task with a reason: a skip is better than a guess.
"""

_LIKERT = {1: "very poor", 2: "poor", 3: "acceptable", 4: "good", 5: "excellent"}


def _rows(name: str) -> list[dict[str, Any]]:
    text = files("thresher.demo_data").joinpath(name).read_text(encoding="utf-8")
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def _records(name: str) -> list[Record]:
    """Records of a ``.thresher.jsonl`` sample (labels left out: the demo queues them as work)."""
    return [Record.model_validate({k: v for k, v in row.items() if k != "responses"}) for row in _rows(name)]


def _comparisons() -> list[Record]:
    """The sample comparisons, and the sample preference pairs as comparisons of two candidates."""
    out = _records("comparisons.thresher.jsonl")
    for row in _rows("preferences.trl.jsonl"):
        content = {
            "kind": "comparison",
            "prompt": row["prompt"],
            "candidates": [{"id": "a", "messages": row["rejected"]}, {"id": "b", "messages": row["chosen"]}],
        }
        out.append(Record.model_validate({"content": content, "metadata": {"skill": "general"}}))
    return out


def _dataset(
    store: Store, project: str, name: str, questions: list[Question], records: list[Record], workflow: Workflow
) -> Dataset:
    try:
        ds = store.create_dataset(project, name, guidelines=GUIDELINES, questions=questions)
    except Conflict:  # seeded before: leave it as it is
        return store.get_dataset(project, name)
    store.add_records(ds, records)
    set_workflow(store, ds, workflow)
    return ds


def seed_demo_annotation(store: Store, project: str) -> dict[str, Any]:
    """Create the demo users, their profiles and datasets with queued work of each task type.

    Returns ``{"users": [{name, password, role}], "datasets": {name: records}}`` for the console.
    """
    p = store.ensure_project(project)
    assert p.id is not None
    users = []
    for name, password, role, skills, languages in DEMO_USERS:
        with suppress(Conflict):  # a second run keeps the account (and whatever password it has now)
            store.accounts.create_user(name, password)
        store.accounts.set_role(name, p.id, role, skills=skills, languages=languages)
        users.append({"name": name, "password": password, "role": role})

    instructions = _records("instructions.thresher.jsonl")
    comparisons = _comparisons()
    made: list[Dataset] = []

    # Write or rewrite the ideal response, pre-filled from a model's suggestion.
    rewrite = _dataset(
        store,
        project,
        "demo-rewrite",
        [
            TextQuestion(
                name="ideal_response",
                title="Write the ideal response",
                description="Start from the model's draft; fix what is wrong, keep what is right.",
            )
        ],
        instructions[:5],
        Workflow(overlap=1, review="all"),
    )
    made.append(rewrite)
    for row in store.page_records(rewrite, limit=100):
        record = row.to_record()
        last = record.content.messages[-1].text() if record.content.kind == "conversation" else ""
        if last:
            store.save_suggestion(
                Suggestion(record_id=row.id, question="ideal_response", value=last, agent="draft-model-7b", score=0.6)
            )

    # Likert ratings per dimension, each with its description and anchors.
    made.append(
        _dataset(
            store,
            project,
            "demo-likert",
            [
                RatingQuestion(
                    name=dim,
                    dimension=dim,
                    min=1,
                    max=5,
                    anchors=_LIKERT,
                    description=desc,
                )
                for dim, desc in (
                    ("helpfulness", "Does the answer do what the user asked?"),
                    ("correctness", "Is every statement in the answer true?"),
                    ("style", "Is it clear, concise and well formatted?"),
                )
            ],
            instructions,
            Workflow(overlap=2),
        )
    )

    # Rank the candidates (ties allowed), and pairwise choice with a rationale.
    made.append(
        _dataset(
            store,
            project,
            "demo-ranking",
            [RankingQuestion(name="ranking", title="Rank the answers", description="Best first; ties share a place.")],
            comparisons,
            Workflow(overlap=2),
        )
    )
    made.append(
        _dataset(
            store,
            project,
            "demo-pairwise",
            [
                ChoiceQuestion(
                    name="preferred",
                    title="Which answer is better, and why?",
                    rationale="required",
                    description="Name what decided it: correctness first, then helpfulness, then style.",
                )
            ],
            comparisons,
            Workflow(overlap=2, rules=[RoutingRule(match={"kind": "comparison"}, skill="general")]),
        )
    )

    # Labels and multi-labels: the instruction's task type and the answer's issues.
    made.append(
        _dataset(
            store,
            project,
            "demo-labels",
            [
                ChoiceQuestion(name="task_type", title="Task type", options=[t for t in TASK_TYPES], rationale="none"),
                MultiChoiceQuestion(
                    name="issues",
                    title="Issues in the answer",
                    options=["factual_error", "incomplete", "verbose", "unsafe", "off_topic"],
                    required=False,
                ),
            ],
            instructions,
            Workflow(overlap=1, rules=[RoutingRule(match={"task_type": "extraction"}, skill="coding")]),
        )
    )

    # Span labels in text.
    corpus = [
        Record.model_validate({"content": {"kind": "text", "text": row["text"]}, "metadata": {"url": row.get("url")}})
        for row in _rows("corpus.jsonl")
    ]
    made.append(
        _dataset(
            store,
            project,
            "demo-spans",
            [SpanQuestion(name="entities", title="Mark the terms", labels=["TERM", "PLACE", "ORGANISM"])],
            corpus,
            Workflow(overlap=1),
        )
    )

    # Agent-run review: a verdict per step, the cause of a wrong one, an optional correction.
    made.append(
        _dataset(
            store,
            project,
            "demo-agent-review",
            [
                StepVerdictQuestion(
                    name="steps",
                    title="Review each step",
                    description="Mark the first failing step; say whether the model, the system or a tool failed.",
                )
            ],
            _records("agent_runs.thresher.jsonl"),
            Workflow(overlap=1, review="all"),
        )
    )
    # Authoring from scratch: conversations from briefs, trajectories, step preferences, recorded speech.
    made.extend(seed_demo_authoring(store, project))
    return {"users": users, "datasets": {ds.name: store.count_records(ds) for ds in made}}
