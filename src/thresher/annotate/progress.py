"""Dashboards: agreement per question, progress of the queue, and each annotator's throughput
and agreement with the consensus (so a lead can spot who needs help)."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from thresher.annotate.agreement import QuestionAgreement, question_agreement, units
from thresher.annotate.consensus import Votes, consensus, ranks
from thresher.annotate.queue import _stored_workflow, sync
from thresher.model import Dataset, Question, RatingQuestion
from thresher.store import Store


@dataclass
class AnnotatorStats:
    user: str
    submitted: int = 0
    skipped: int = 0
    rejected: int = 0
    median_seconds: float | None = None
    agreement_with_consensus: float | None = None


@dataclass
class Progress:
    records: int
    target: int
    submitted: int
    in_progress: int
    skipped: int
    complete: int
    annotators: list[AnnotatorStats] = field(default_factory=list)


def _answers(store: Store, dataset: Dataset) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(response id, record id, user, the annotator's own answers) of submitted responses: a
    corrected response counts with what its annotator said, not the reviewer's correction."""
    assert dataset.id is not None
    originals: dict[str, dict[str, Any]] = {}
    for rv in store.annotation.reviews(dataset_id=dataset.id):
        if rv.decision == "correct" and rv.original_answers is not None:
            originals.setdefault(rv.response_id, rv.original_answers)
    return [
        (rid, record_id, user, originals.get(rid) or orjson.loads(raw))
        for rid, record_id, user, raw in store.annotation.iter_responses(dataset.id)
    ]


def dataset_agreement(store: Store, dataset: Dataset) -> list[QuestionAgreement]:
    rows = [(record_id, user, answers) for _, record_id, user, answers in _answers(store, dataset)]
    return [question_agreement(q, units(q, rows)) for q in dataset.questions]


def progress(store: Store, dataset: Dataset) -> Progress:
    assert dataset.id is not None
    workflow = _stored_workflow(store, dataset)
    sync(store, dataset, workflow)
    counts = store.annotation.queue_counts(dataset.id, workflow.overlap)
    statuses = store.annotation.status_counts(dataset.id)
    out = Progress(
        records=counts.records,
        target=counts.records * workflow.overlap,
        submitted=counts.submitted,
        in_progress=statuses.get("leased", 0) + statuses.get("rejected", 0),
        skipped=statuses.get("skipped", 0),
        complete=counts.complete,
    )
    people: dict[str, AnnotatorStats] = {}
    seconds: dict[str, list[float]] = defaultdict(list)
    for a in store.annotation.iter_assignments(dataset.id):
        s = people.setdefault(a.user, AnnotatorStats(a.user))
        if a.status == "submitted":
            s.submitted += 1
            if a.submitted_at is not None:
                seconds[a.user].append((a.submitted_at - a.leased_at).total_seconds())
        elif a.status == "skipped":
            s.skipped += 1
    for rv in store.annotation.reviews(dataset_id=dataset.id):
        if rv.decision == "reject":
            people.setdefault(rv.user, AnnotatorStats(rv.user)).rejected += 1
    for user, values in seconds.items():
        people[user].median_seconds = round(statistics.median(values), 3)
    for user, value in _agreement_with_consensus(store, dataset).items():
        people.setdefault(user, AnnotatorStats(user)).agreement_with_consensus = value
    out.annotators = sorted(people.values(), key=lambda s: s.user)
    return out


def _agreement_with_consensus(store: Store, dataset: Dataset) -> dict[str, float]:
    """Per annotator: the mean similarity (0..1) of their answers to the consensus, over records
    with at least two responses."""
    workflow = _stored_workflow(store, dataset)
    by_record: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for _, record_id, user, answers in _answers(store, dataset):
        by_record[record_id].append((user, answers))
    scores: dict[str, list[float]] = defaultdict(list)
    for given in by_record.values():
        if len(given) < 2:
            continue
        final = consensus(dataset.questions, workflow, Votes([a for _, a in given]))
        for q in dataset.questions:
            if q.name not in final:
                continue
            for user, answers in given:
                if q.name in answers:
                    sim = similarity(q, answers[q.name], final[q.name])
                    if sim is not None:
                        scores[user].append(sim)
    return {u: round(statistics.fmean(v), 4) for u, v in scores.items() if v}


def similarity(q: Question, value: Any, final: Any) -> float | None:
    """How close one answer is to the consensus, 0..1 (1: the same)."""
    if isinstance(q, RatingQuestion):
        span = q.max - q.min
        if q.per_candidate:
            common = [c for c in final if c in value]
            return statistics.fmean(1 - abs(value[c] - final[c]) / span for c in common) if common else None
        return 1 - abs(float(value) - float(final)) / span
    if q.type == "ranking":
        from scipy.stats import kendalltau

        a, b = ranks(value), ranks(final)
        options = sorted(set(a) & set(b))
        if len(options) < 2:
            return None
        tau = kendalltau([a[o] for o in options], [b[o] for o in options]).statistic
        return None if tau is None or math.isnan(tau) else (float(tau) + 1) / 2
    if q.type == "choice":
        return float(value["choice"] == final["choice"])
    if q.type == "multi_choice":
        x, y = set(value["choices"]), set(final["choices"])
        return len(x & y) / len(x | y) if x | y else 1.0
    if q.type == "step_verdict":
        mine = {s["step"]: s["verdict"] for s in value}
        agreed = [mine.get(s["step"]) == s["verdict"] for s in final]
        return statistics.fmean(agreed) if agreed else None
    return float(orjson.dumps(value, option=orjson.OPT_SORT_KEYS) == orjson.dumps(final, option=orjson.OPT_SORT_KEYS))
