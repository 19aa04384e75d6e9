"""Capture events become records, exactly once.

Each event is inserted into ``capture_events`` under its client id; a retried event conflicts
and is counted as a duplicate, doing nothing else. New events are turned into records in the
same transaction, so an event is never stored without its record (or the other way round):

- ``turn``: the session's conversation is rebuilt from all its turns and stored as one
  record; the previous version of it is deleted unless something holds on to it (a response,
  a dataset version), in which case it stays as history;
- ``preference``: a comparison of the candidates with the user's pick and reason as a
  response to the ``preferred`` question;
- ``feedback``: the conversation up to the rated assistant turn, with thumbs as the
  ``feedback`` question (KTO-ready) and ratings as one rating question per dimension;
- ``agent_run``, or ``agent_step``s closed by ``agent_end``: an ``agent_run`` record.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, and_, delete, exists, func, insert, select, update

from thresher.errors import DataError, ErrorDetail
from thresher.model import (
    AgentEndEvent,
    AgentRunEvent,
    CaptureEvent,
    ChoiceQuestion,
    Dataset,
    FeedbackEvent,
    Message,
    PreferenceEvent,
    Question,
    RatingQuestion,
    Record,
    Response,
    Source,
    Step,
    TurnEvent,
)
from thresher.store import tables as t
from thresher.store.writer import RecordWriter

log = logging.getLogger("thresher.capture")

PREFERRED = ChoiceQuestion(
    name="preferred", title="Which answer did the user prefer, and why?", rationale="optional", required=False
)
FEEDBACK = ChoiceQuestion(
    name="feedback", title="Is the last answer good?", options=["up", "down"], rationale="optional", required=False
)
_EVENT = TypeAdapter(CaptureEvent)


@dataclass
class CaptureCounts:
    accepted: int = 0
    duplicates: int = 0


def _user(user: str | None) -> str:
    return f"app:{user or 'anonymous'}"


class Capture:
    """Applies batches of capture events to a project's datasets."""

    def __init__(self, store: Any) -> None:
        self.store = store  # thresher.store.Store (typed loosely: store.py imports this module)

    def event_counts(self, project_id: int) -> dict[str, int]:
        """Stored events by type (each client id once)."""
        ce = t.capture_events
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(ce.c.type, func.count()).where(ce.c.project_id == project_id).group_by(ce.c.type)
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    def apply(self, project: str, events: Sequence[CaptureEvent]) -> CaptureCounts:
        counts = CaptureCounts()
        by_dataset: dict[str, list[CaptureEvent]] = defaultdict(list)
        for e in events:
            by_dataset[e.dataset].append(e)
        # One transaction per dataset: a failure midway is safe, since a retried batch skips
        # the events already stored and redoes only the rest.
        for name, group in by_dataset.items():
            dataset = self._dataset(project, name, group)
            assert dataset.id is not None
            with self.store.writer(dataset) as writer:
                _Batch(writer, dataset, counts).run(group)
        return counts

    def _dataset(self, project: str, name: str, events: list[CaptureEvent]) -> Dataset:
        ds: Dataset = self.store.ensure_dataset(project, name)
        wanted: list[Question] = [PREFERRED, FEEDBACK]
        for e in events:
            if isinstance(e, FeedbackEvent):
                for dim in e.ratings:
                    wanted.append(_rating(dim, e.scale))
        missing = [q for q in wanted if ds.question(q.name) is None]
        if missing:
            ds = self.store.add_questions(ds, list({q.name: q for q in missing}.values()))
        return ds


def _rating(dim: str, scale: tuple[int, int]) -> RatingQuestion:
    try:
        return RatingQuestion(name=dim, dimension=dim, min=scale[0], max=scale[1], required=False)
    except ValidationError as e:
        raise DataError(
            f"rating dimension {dim!r}: expected a lowercase name (letters, digits, _) and a scale min < max",
            [ErrorDetail("invalid_rating", ("ratings", dim), str(e.errors()[0]["msg"]))],
        ) from None


class _Batch:
    """One dataset's events inside one transaction (the writer's)."""

    def __init__(self, writer: RecordWriter, dataset: Dataset, counts: CaptureCounts) -> None:
        self.w = writer
        self.conn: Connection = writer.connection
        self.dataset = dataset
        self.project_id = self._project_id()
        self.counts = counts
        self.now = datetime.now(UTC)

    def _project_id(self) -> int:
        row = self.conn.execute(select(t.datasets.c.project_id).where(t.datasets.c.id == self.dataset.id)).one()
        return int(row.project_id)

    def run(self, events: list[CaptureEvent]) -> None:
        sessions: set[str] = set()
        new: list[tuple[int, CaptureEvent]] = []
        for e in events:
            seq = self._store_event(e)
            if seq is None:
                self.counts.duplicates += 1
                continue
            self.counts.accepted += 1
            new.append((seq, e))
        for seq, e in new:
            if isinstance(e, TurnEvent):
                sessions.add(e.session_id)
            elif isinstance(e, PreferenceEvent):
                self._preference(seq, e)
            elif isinstance(e, FeedbackEvent):
                self._feedback(seq, e)
            elif isinstance(e, AgentRunEvent):
                self._agent_run(seq, e)
            elif isinstance(e, AgentEndEvent):
                self._agent_end(seq, e)
        for session_id in sorted(sessions):
            self._session(session_id)

    # -- the ledger -----------------------------------------------------------------------

    def _store_event(self, e: CaptureEvent) -> int | None:
        """Insert the event; its seq, or None when this client id is already stored."""
        ce = t.capture_events
        seen = self.conn.execute(
            select(ce.c.seq).where(ce.c.project_id == self.project_id, ce.c.client_id == e.id)
        ).first()
        if seen is not None:
            return None
        key = getattr(e, "session_id", None) or getattr(e, "run_id", None)
        seq = self.conn.execute(
            insert(ce)
            .values(
                project_id=self.project_id,
                client_id=e.id,
                type=e.type,
                dataset=e.dataset,
                key=key,
                client_ts=e.timestamp,
                payload=e.model_dump_json(exclude_none=True),
                created_at=self.now,
            )
            .returning(ce.c.seq)
        ).scalar_one()
        return int(seq)

    def _link(self, seq: int, record_id: str) -> None:
        ce = t.capture_events
        self.conn.execute(update(ce).where(ce.c.seq == seq).values(record_id=record_id))

    def _events(self, type_: str, key: str) -> list[tuple[int, Any, str | None]]:
        """(seq, event, record_id) of one session's turns or one run's steps, in client order."""
        ce = t.capture_events
        query = select(ce.c.seq, ce.c.payload, ce.c.record_id, ce.c.client_ts).where(
            ce.c.project_id == self.project_id, ce.c.type == type_, ce.c.key == key
        )
        rows = list(self.conn.execute(query).all())
        # Client timestamps order events that retries may have delivered out of order.
        rows.sort(key=lambda r: (r.client_ts if r.client_ts is not None else float("inf"), r.seq))
        return [(r.seq, _EVENT.validate_json(r.payload), r.record_id) for r in rows]

    # -- records --------------------------------------------------------------------------

    def _add(self, content: dict[str, Any], e: Any, responses: Sequence[Response] = (), **meta: Any) -> str | None:
        try:
            record = Record.model_validate(
                {
                    "content": content,
                    "metadata": {**e.metadata, **{k: v for k, v in meta.items() if v is not None}},
                    "source": Source(endpoint="capture", client_id=e.id, model=meta.get("model")),
                }
            )
        except ValidationError as err:
            # Kept as an event (nothing is lost); a later event may complete it (e.g. a missing turn).
            log.warning("capture event %s: no record yet: %s", e.id, err.errors()[0]["msg"])
            return None
        rid = self.w.add(record, responses)
        self.w.flush()
        return rid

    def _history(self, session_id: str, upto_seq: int | None = None) -> list[tuple[int, TurnEvent]]:
        turns = [(seq, ev) for seq, ev, _ in self._events("turn", session_id)]
        if upto_seq is not None:
            cut = next((i for i, (seq, _) in enumerate(turns) if seq == upto_seq), None)
            turns = turns[: cut + 1] if cut is not None else turns
        return turns

    def _session(self, session_id: str) -> None:
        turns = self._history(session_id)
        previous = next((rid for _, _, rid in reversed(self._events("turn", session_id)) if rid), None)
        last = turns[-1][1]
        messages = [ev.message.model_dump(mode="json", exclude_none=True) for _, ev in turns]
        rid = self._add(
            {"kind": "conversation", "messages": messages},
            last,
            session_id=session_id,
            model=last.model,
            params=last.params,
        )
        if rid is None:
            return
        for seq, _ in turns:
            self._link(seq, rid)
        if previous and previous != rid:
            self._drop_if_unused(previous)

    def _drop_if_unused(self, record_id: str) -> None:
        """Delete a superseded session record unless a response or a version holds on to it."""
        r = t.records
        used = select(r.c.seq).where(
            r.c.id == record_id,
            exists().where(t.responses.c.record_id == record_id)
            | exists().where(and_(t.version_records.c.record_seq == r.c.seq)),
        )
        if self.conn.execute(used).first() is None:
            self.conn.execute(delete(t.suggestions).where(t.suggestions.c.record_id == record_id))
            self.conn.execute(delete(r).where(r.c.id == record_id))

    def _preference(self, seq: int, e: PreferenceEvent) -> None:
        prompt = e.prompt
        if prompt is None and e.session_id:
            prompt = [ev.message for _, ev in self._history(e.session_id)]
        content = {
            "kind": "comparison",
            "prompt": [m.model_dump(mode="json", exclude_none=True) for m in prompt or []],
            "candidates": [c.model_dump(mode="json", exclude_none=True) for c in e.candidates],
        }
        if e.chosen not in {c.id for c in e.candidates}:
            raise DataError(
                f"event {e.id}: chosen {e.chosen!r} is not one of the candidates",
                [ErrorDetail("unknown_candidate", ("chosen",), "expected a candidate id", e.chosen)],
            )
        answer = {"preferred": {"choice": e.chosen, "rationale": e.reason}}
        rid = self._add(content, e, [Response(user=_user(e.user), answers=answer)], session_id=e.session_id)
        if rid:
            self._link(seq, rid)

    def _feedback(self, seq: int, e: FeedbackEvent) -> None:
        turns = self._history(e.session_id)
        target = None
        for tseq, ev in turns:
            if ev.message.role == "assistant" and (e.turn_id is None or ev.id == e.turn_id):
                target = tseq
        if target is None:
            log.warning("feedback %s: session %s has no such assistant turn yet", e.id, e.session_id)
            return
        upto = self._history(e.session_id, target)
        answers: dict[str, Any] = dict(e.ratings)
        if e.thumbs:
            answers["feedback"] = {"choice": e.thumbs, "rationale": e.comment}
        if not answers:
            return
        messages = [ev.message.model_dump(mode="json", exclude_none=True) for _, ev in upto]
        rid = self._add(
            {"kind": "conversation", "messages": messages},
            e,
            [Response(user=_user(e.user), answers=answers)],
            session_id=e.session_id,
        )
        if rid:
            self._link(seq, rid)

    def _agent_run(self, seq: int, e: AgentRunEvent) -> None:
        content = {
            "kind": "agent_run",
            "task": _dump(e.task),
            "steps": [s.model_dump(mode="json", exclude_none=True) for s in e.steps],
            "outcome": e.outcome.model_dump(mode="json", exclude_none=True),
        }
        if e.tools:
            content["tools"] = e.tools
        if e.failure:
            content["failure"] = e.failure.model_dump(mode="json", exclude_none=True)
        rid = self._add(content, e, run_id=e.run_id, model=e.model)
        if rid:
            self._link(seq, rid)

    def _agent_end(self, seq: int, e: AgentEndEvent) -> None:
        steps_ev = [ev for _, ev, _ in self._events("agent_step", e.run_id)]
        steps_ev.sort(key=lambda s: s.index if s.index is not None else 1 << 30)
        task = e.task or next((s.task for s in steps_ev if s.task), None)
        if task is None:
            raise DataError(
                f"event {e.id}: run {e.run_id!r} has no task (send it on the first step or on the end event)",
                [ErrorDetail("missing", ("task",), "expected the run's task")],
            )
        steps: list[Step] = [s.step for s in steps_ev]
        run = AgentRunEvent(
            id=e.id,
            dataset=e.dataset,
            run_id=e.run_id,
            task=task,
            steps=steps,
            outcome=e.outcome,
            failure=e.failure,
            model=e.model,
            metadata=e.metadata,
        )
        self._agent_run(seq, run)


def _dump(task: str | list[Message]) -> Any:
    return task if isinstance(task, str) else [m.model_dump(mode="json", exclude_none=True) for m in task]
