"""The annotator's side: workflow settings, next task, draft, submit, skip, amend, history.

Every function takes ``now`` (the clock is injectable: tests move time instead of sleeping).
Answers are validated here against the dataset's questions and the record (drafts partially,
submissions fully); the store applies the state change in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter

from thresher.annotate.workflow import Router, Workflow, fitting
from thresher.errors import DataError, ErrorDetail, NotFound
from thresher.model import Dataset, Question, Response, Suggestion, validate_answers
from thresher.store import RecordRow, Store
from thresher.store.annotation import Assignment


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Task:
    """What an annotator needs to do one record's work."""

    assignment: Assignment
    dataset: Dataset
    record: RecordRow
    suggestions: list[Suggestion]

    @property
    def questions(self) -> list[Question]:
        return self.dataset.questions


# -- workflow ------------------------------------------------------------------------------


def get_workflow(store: Store, dataset: Dataset) -> Workflow:
    assert dataset.id is not None
    state = store.annotation.state(dataset.id)
    return Workflow.model_validate(state[0]) if state is not None else Workflow()


def _stored_workflow(store: Store, dataset: Dataset) -> Workflow:
    """The workflow, stored with its defaults the first time a queue is used."""
    assert dataset.id is not None
    raw = store.annotation.get_workflow(dataset.id)
    if raw is not None:
        return Workflow.model_validate(raw)
    workflow = Workflow()
    store.annotation.save_workflow(dataset.id, workflow.model_dump(mode="json"), workflow.routing_hash(), utcnow())
    return workflow


def set_workflow(store: Store, dataset: Dataset, workflow: Workflow, now: datetime | None = None) -> Workflow:
    """Store the settings; a change of routing re-routes the whole queue (keyset batches)."""
    assert dataset.id is not None
    workflow.check(dataset.questions)
    rerouted = store.annotation.save_workflow(
        dataset.id, workflow.model_dump(mode="json"), workflow.routing_hash(), now or utcnow()
    )
    store.annotation.sync(dataset.id, Router(workflow), full=rerouted)
    return workflow


def sync(store: Store, dataset: Dataset, workflow: Workflow | None = None) -> int:
    """Bring records added since the last call into the queue; returns how many were routed."""
    assert dataset.id is not None
    return store.annotation.sync(dataset.id, Router(workflow or _stored_workflow(store, dataset)))


def dataset_by_id(store: Store, project: str, dataset_id: int) -> Dataset:
    row = store.annotation.dataset_row(project, dataset_id=dataset_id)
    if row is None:
        raise NotFound(f"no dataset {dataset_id} in project {project!r}")
    return _dataset(row)


def dataset_named(store: Store, project: str, name: str) -> Dataset:
    """Like ``store.get_dataset``, by a statement built once (the queue's routes call it on every request)."""
    row = store.annotation.dataset_row(project, name=name)
    if row is None:
        raise NotFound(f"no dataset {project}/{name}")
    return _dataset(row)


_QUESTIONS = TypeAdapter(list[Question])


def _dataset(row: Any) -> Dataset:
    return Dataset(
        id=row.id,
        project=row.project_name,
        name=row.name,
        description=row.description,
        guidelines=row.guidelines,
        questions=_QUESTIONS.validate_json(row.questions),
        created_at=row.created_at,
    )


# -- answers -------------------------------------------------------------------------------


def check_answers(dataset: Dataset, record: RecordRow, answers: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Normalized answers, or a DataError whose details name each bad answer (``loc`` from ``answers``)."""
    normalized, errors = validate_answers(dataset.questions, answers, record.to_record(), partial=partial)
    if errors:
        details = [ErrorDetail("invalid_answer", ("answers", *e.loc), e.msg, e.value) for e in errors]
        raise DataError(f"the answers to record {record.id} do not fit the questions", details)
    return normalized


# -- the queue -----------------------------------------------------------------------------


def next_task(
    store: Store,
    dataset: Dataset,
    user: str,
    skills: list[str],
    languages: list[str],
    now: datetime | None = None,
) -> Task | None:
    """The task the user holds, else a rejection sent back to them, else new fitting work; None if none."""
    assert dataset.id is not None
    now = now or utcnow()
    state = store.annotation.state(dataset.id)  # one query: settings, and whether records came since
    if state is None:
        workflow = _stored_workflow(store, dataset)
        sync(store, dataset, workflow)
    else:
        workflow = Workflow.model_validate(state[0])
        if state[2] > state[1]:
            sync(store, dataset, workflow)
    store.annotation.expire(dataset.id, now)
    until = now + timedelta(seconds=workflow.lease_seconds)
    held = store.annotation.claim(dataset.id, user, fitting(skills, languages), workflow.overlap, now, until)
    return task_of(store, dataset, held) if held is not None else None


def task_of(store: Store, dataset: Dataset, assignment: Assignment) -> Task:
    record = _record(store, dataset, assignment.record_id)
    suggestions = [
        Suggestion(
            id=r.id,
            record_id=r.record_id,
            question=r.question,
            value=orjson.loads(r.value),
            agent=r.agent,
            score=r.score,
            created_at=r.created_at,
        )
        for r in store.annotation.suggestion_rows(record.id)
    ]
    return Task(assignment, dataset, record, suggestions)


def _record(store: Store, dataset: Dataset, record_id: str) -> RecordRow:
    assert dataset.id is not None
    return store.annotation.record(dataset.id, record_id)


def own(store: Store, assignment_id: str, user: str) -> Assignment:
    a = store.annotation.get_assignment(assignment_id)
    if a.user != user:
        raise NotFound(f"no assignment {assignment_id!r} of yours")
    return a


def save_draft(
    store: Store, dataset: Dataset, assignment_id: str, user: str, answers: dict[str, Any], now: datetime | None = None
) -> None:
    """Keep partial answers with the assignment and extend its lease."""
    a = own(store, assignment_id, user)
    record = _record(store, dataset, a.record_id)
    normalized = check_answers(dataset, record, answers, partial=True)
    until = (now or utcnow()) + timedelta(seconds=get_workflow(store, dataset).lease_seconds)
    store.annotation.save_draft(assignment_id, user, normalized, until)


def submit(
    store: Store, dataset: Dataset, assignment_id: str, user: str, answers: dict[str, Any], now: datetime | None = None
) -> Response:
    a = own(store, assignment_id, user)
    record = _record(store, dataset, a.record_id)
    normalized = check_answers(dataset, record, answers, partial=False)
    workflow = get_workflow(store, dataset)
    now = now or utcnow()
    rid, created = store.annotation.submit(
        assignment_id, user, normalized, overlap=workflow.overlap, review=workflow.review == "all", now=now
    )
    return Response(
        id=rid,
        record_id=a.record_id,
        user=user,
        answers=normalized,
        status="submitted",
        created_at=created,
        updated_at=now,
    )


def skip(store: Store, dataset: Dataset, assignment_id: str, user: str, reason: str) -> None:
    own(store, assignment_id, user)
    store.annotation.skip(assignment_id, user, reason, overlap=get_workflow(store, dataset).overlap)


def amend(
    store: Store, dataset: Dataset, assignment_id: str, user: str, answers: dict[str, Any], now: datetime | None = None
) -> Response:
    """Change a submission that no reviewer has accepted yet."""
    a = own(store, assignment_id, user)
    record = _record(store, dataset, a.record_id)
    normalized = check_answers(dataset, record, answers, partial=False)
    rid = store.annotation.amend(assignment_id, user, normalized, now or utcnow())
    return _response(store, a.record_id, user, rid)


def _response(store: Store, record_id: str, user: str, rid: str) -> Response:
    found = [r for r in store.list_responses(record_id, user=user) if r.id == rid]
    if not found:
        raise NotFound(f"no response {rid!r}")
    return found[0]
