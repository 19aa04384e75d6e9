"""The reviewer's side: the next record awaiting review, decisions, and a record's consensus.

A review decision is one of ``accept``; ``reject`` with a reason (the response goes back to its
annotator, first in their queue, their old answers as the draft); ``correct`` with answers (the
response takes the reviewer's answers, the original stays on the review for agreement).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from thresher.annotate.consensus import Votes, consensus
from thresher.annotate.queue import _stored_workflow, check_answers, dataset_by_id, get_workflow, utcnow
from thresher.annotate.workflow import ConsensusRule
from thresher.errors import Conflict, DataError, ErrorDetail
from thresher.model import Dataset, Response
from thresher.store import RecordRow, Store
from thresher.store.annotation import Assignment, Review

Decision = Literal["accept", "reject", "correct"]


@dataclass(frozen=True)
class ReviewItem:
    dataset: Dataset
    record: RecordRow
    responses: list[Response]
    assignments: dict[str, Assignment]  # by user
    consensus: dict[str, Any]


def review_next(store: Store, dataset: Dataset, reviewer: str, now: datetime | None = None) -> ReviewItem | None:
    """The record this reviewer holds, else the first complete one awaiting review (held for the lease time)."""
    assert dataset.id is not None
    now = now or utcnow()
    workflow = _stored_workflow(store, dataset)
    record_id = store.annotation.claim_review(
        dataset.id, reviewer, now, now + timedelta(seconds=workflow.lease_seconds)
    )
    return review_item(store, dataset, record_id) if record_id is not None else None


def review_item(store: Store, dataset: Dataset, record_id: str) -> ReviewItem:
    record = store.get_dataset_record(dataset, record_id)
    responses = [r for r in store.list_responses(record_id) if r.status == "submitted"]
    assignments = {a.user: a for a in store.annotation.assignments_of_record(record.seq)}
    votes = votes_for(store, {record_id: responses})
    return ReviewItem(
        dataset,
        record,
        responses,
        assignments,
        consensus(dataset.questions, get_workflow(store, dataset), votes[record_id]),
    )


def decide(
    store: Store,
    project: str,
    response_id: str,
    reviewer: str,
    decision: Decision,
    reason: str | None = None,
    answers: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Review:
    row = store.annotation.response(response_id)
    dataset = dataset_by_id(store, project, row.dataset_id)
    if row.user_name == reviewer:
        raise Conflict("a reviewer does not review their own response")
    correction = changes = None
    if decision == "reject" and not (reason and reason.strip()):
        raise DataError("a rejection needs a reason", [ErrorDetail("missing", ("reason",), "say what to fix")])
    if decision == "correct":
        if not answers:
            raise DataError(
                "a correction needs answers", [ErrorDetail("missing", ("answers",), "the corrected answers")]
            )
        record = store.get_dataset_record(dataset, row.record_id)
        correction = check_answers(dataset, record, {**orjson.loads(row.answers), **answers}, partial=False)
        changes = {k: v for k, v in correction.items() if k in answers}  # what the reviewer said, for reviewer_wins
    assert dataset.id is not None
    return store.annotation.decide(
        dataset_id=dataset.id,
        record_seq=row.seq,
        response=row,
        decision=decision,
        reviewer=reviewer,
        reason=reason,
        correction=correction,
        changes=changes,
        overlap=get_workflow(store, dataset).overlap,
        now=now or utcnow(),
    )


def votes_for(store: Store, responses: dict[str, list[Response]], before: datetime | None = None) -> dict[str, Votes]:
    """What each record's consensus is computed from; only reviews made before ``before`` count
    (a version's creation: its export stays the same whatever is reviewed later)."""
    ids = [r.id for rs in responses.values() for r in rs if r.id]
    reviews = store.annotation.reviews(response_ids=ids) if ids else []
    if before is not None:
        cutoff = before if before.tzinfo else before.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        reviews = [rv for rv in reviews if rv.created_at < cutoff]
    latest: dict[str, Review] = {}
    fixes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rv in reviews:  # oldest first
        latest[rv.response_id] = rv
        if rv.decision == "correct" and rv.answers is not None:
            fixes[rv.response_id].append(rv.answers)
    out = {}
    for record_id, rs in responses.items():
        accepted = [r.answers for r in rs if r.id in latest and latest[r.id].decision in ("accept", "correct")]
        corrections = [fix for r in rs for fix in fixes.get(r.id or "", [])]
        out[record_id] = Votes([r.answers for r in rs], accepted, corrections)
    return out


def record_consensus(
    store: Store, dataset: Dataset, record_id: str
) -> tuple[dict[str, Any], dict[str, ConsensusRule], int]:
    """(final answers, rule per question, number of submitted responses) of one record."""
    record = store.get_dataset_record(dataset, record_id)
    responses = [r for r in store.list_responses(record.id) if r.status == "submitted"]
    workflow = get_workflow(store, dataset)
    votes = votes_for(store, {record.id: responses})[record.id]
    rules = {q.name: workflow.rule_for(q) for q in dataset.questions}
    return consensus(dataset.questions, workflow, votes), rules, len(responses)


def consensus_responses(
    store: Store,
    dataset: Dataset,
    responses: dict[str, list[Response]],
    questions: Sequence[Any],
    before: datetime | None,
) -> dict[str, list[Response]]:
    """For exports: each record's responses replaced by one ``consensus`` response (none when no
    question reached one)."""
    workflow = get_workflow(store, dataset)
    votes = votes_for(store, responses, before)
    out: dict[str, list[Response]] = {}
    for record_id, v in votes.items():
        answers = consensus(list(questions), workflow, v)
        if answers:
            out[record_id] = [Response(record_id=record_id, user="consensus", answers=answers)]
    return out
