"""The annotator's side: workflow settings, next task, draft, submit, skip, amend, history.

Every function takes ``now`` (the clock is injectable: tests move time instead of sleeping).
Answers are validated here against the dataset's questions and the record (drafts partially,
submissions fully); the store applies the state change in one transaction.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import TypeAdapter

from thresher.annotate.workflow import Router, Workflow, fitting
from thresher.errors import Conflict, DataError, ErrorDetail, NotFound
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


ROUTE_BATCH = 5000  # records routed inside a request; the rest goes to a background thread


def sync_soon(store: Store, dataset: Dataset, workflow: Workflow | None = None) -> int:
    """Route one batch of new records now and the rest in a background thread: a request never
    routes a whole dataset (a million records take seconds), yet gets work from the first batch
    at once. Returns how many were routed now."""
    assert dataset.id is not None
    router = Router(workflow or _stored_workflow(store, dataset))
    done = store.annotation.sync(dataset.id, router, ROUTE_BATCH, max_batches=1)
    if done >= ROUTE_BATCH and store.annotation.routing_behind(dataset.id):
        # One routing per dataset runs at a time (a lock in the store): a second thread started
        # meanwhile returns at once.
        threading.Thread(
            target=store.annotation.sync, args=(dataset.id, router, ROUTE_BATCH), name="thresher-route", daemon=True
        ).start()
    return done


def dataset_by_id(store: Store, project: str, dataset_id: int) -> Dataset:
    row = store.annotation.dataset_row(project, dataset_id=dataset_id)
    if row is None:
        raise NotFound(f"no dataset {dataset_id} in project {project!r}")
    return _dataset(row)


@dataclass(frozen=True)
class NextContext:
    """What a "next task" request needs before it claims, read in one query."""

    dataset: Dataset
    skills: list[str]
    languages: list[str]
    member: bool  # False: no membership (an administrator or an API key): no skills, no languages
    state: tuple[dict[str, Any], int, int] | None


def next_context(store: Store, project: str, name: str, user: str) -> NextContext:
    row = store.annotation.next_context(project, name, user)
    if row is None:
        raise NotFound(f"no dataset {project}/{name}")
    member = row.m_skills is not None
    state = None
    if row.w_settings is not None:
        state = (orjson.loads(row.w_settings), int(row.w_synced), int(row.last_seq or 0))
    return NextContext(
        dataset=_dataset(row),
        skills=orjson.loads(row.m_skills) if member else [],
        languages=orjson.loads(row.m_languages) if member else [],
        member=member,
        state=state,
    )


@dataclass(frozen=True)
class WorkContext:
    """An assignment with its dataset, record and workflow, read on one connection."""

    assignment: Assignment
    dataset: Dataset
    record: RecordRow
    workflow: Workflow


def work_context(store: Store, project: str, assignment_id: str) -> WorkContext:
    a, ds, record, state = store.annotation.work_context(assignment_id, project)
    if ds is None:
        raise NotFound(f"no dataset {a.dataset_id} in project {project!r}")
    if record is None:
        raise NotFound(f"no record {a.record_id!r} in this dataset")
    workflow = Workflow.model_validate_json(state[0]) if state is not None else Workflow()
    return WorkContext(a, _dataset(ds), record, workflow)


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


def check_draft(dataset: Dataset, record: RecordRow, answers: dict[str, Any]) -> dict[str, Any]:
    """A draft keeps work in progress (a tool call without its name yet, a take too short): answers
    that already fit are normalized, the others kept as typed; only unknown questions are refused.
    Submitting checks everything."""
    names = {q.name for q in dataset.questions}
    unknown = sorted(set(answers) - names)
    if unknown:
        details = [ErrorDetail("invalid_answer", ("answers", n), f"no question named {n!r}", None) for n in unknown]
        raise DataError(f"the draft for record {record.id} answers questions the dataset does not have", details)
    normalized, _ = validate_answers(dataset.questions, answers, record.to_record(), partial=True)
    return {name: normalized.get(name, value) for name, value in answers.items()}


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
    state = store.annotation.state(dataset.id)  # one query: settings, and whether records came since
    return next_task_in(store, dataset, user, skills, languages, state, now)


def next_task_in(
    store: Store,
    dataset: Dataset,
    user: str,
    skills: list[str],
    languages: list[str],
    state: tuple[dict[str, Any], int, int] | None,
    now: datetime | None = None,
) -> Task | None:
    """``next_task`` with the workflow state (``Annotations.state``) the caller read already."""
    assert dataset.id is not None
    now = now or utcnow()
    if state is None:
        workflow = _stored_workflow(store, dataset)
        sync_soon(store, dataset, workflow)
    else:
        workflow = Workflow.model_validate(state[0])
        if state[2] > state[1]:
            sync_soon(store, dataset, workflow)
    store.annotation.expire(dataset.id, now)
    until = now + timedelta(seconds=workflow.lease_seconds)
    held = store.annotation.claim(dataset.id, user, fitting(skills, languages), workflow.overlap, now, until)
    return task_of(store, dataset, held) if held is not None else None


def task_of(store: Store, dataset: Dataset, assignment: Assignment) -> Task:
    assert dataset.id is not None
    record, rows = store.annotation.record_and_suggestions(dataset.id, assignment.record_id)
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
        for r in rows
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
    until = (now or utcnow()) + timedelta(seconds=get_workflow(store, dataset).lease_seconds)
    store.annotation.save_draft(assignment_id, user, check_draft(dataset, record, answers), until)


def submit(
    store: Store,
    dataset: Dataset,
    assignment_id: str,
    user: str,
    answers: dict[str, Any],
    now: datetime | None = None,
    context: WorkContext | None = None,
) -> Response:
    """``context``: what the caller read already (``work_context``: one query less each); the
    assignment's state is checked again in the store's transaction."""
    if context is not None and context.assignment.id == assignment_id and context.assignment.user == user:
        a, record, workflow = context.assignment, context.record, context.workflow
    else:
        a = own(store, assignment_id, user)
        record = _record(store, dataset, a.record_id)
        workflow = get_workflow(store, dataset)
    normalized = check_answers(dataset, record, answers, partial=False)
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


def respond(
    store: Store,
    dataset: Dataset,
    record_id: str,
    user: str,
    answers: dict[str, Any],
    status: str,
    now: datetime | None = None,
) -> Response | None:
    """A response sent straight to a record (``PUT .../responses/me``), under the queue's rules
    when the dataset has a workflow: the caller must hold the record's task (a draft is saved
    with it and extends the lease; a submission submits it, counted against the overlap) or
    have submitted it (a submission then amends it). Otherwise a Conflict: such a response would
    go past the overlap, the leases and review. None when the dataset has no workflow (no queue):
    the caller stores the response as it is."""
    assert dataset.id is not None
    if store.annotation.get_workflow(dataset.id) is None:
        return None
    a = store.annotation.assignment_for(record_id, user)
    if a is not None and a.status in ("leased", "rejected"):
        if status == "draft":
            save_draft(store, dataset, a.id, user, answers, now)
            return Response(record_id=record_id, user=user, answers=answers, status="draft")
        return submit(store, dataset, a.id, user, answers, now)
    if a is not None and a.status == "submitted" and status == "submitted":
        return amend(store, dataset, a.id, user, answers, now)
    held = "is not assigned to you" if a is None or a.status in ("expired", "skipped") else f"is {a.status}"
    raise Conflict(f"record {record_id} {held}: take it from the queue (POST .../queue/next) to answer it")


def _response(store: Store, record_id: str, user: str, rid: str) -> Response:
    found = [r for r in store.list_responses(record_id, user=user) if r.id == rid]
    if not found:
        raise NotFound(f"no response {rid!r}")
    return found[0]
