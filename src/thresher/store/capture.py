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
import threading
from collections import defaultdict
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, delete, exists, func, insert, select, update

from thresher.errors import DataError, ErrorDetail
from thresher.model import (
    AgentEndEvent,
    AgentRunEvent,
    AgentStepEvent,
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
        # SQLite has one writer at a time: queue capture transactions here rather than have
        # server threads spin on the database's busy lock. PostgreSQL takes them concurrently.
        self._write_lock: AbstractContextManager[Any] = (
            threading.Lock() if store.engine.dialect.name == "sqlite" else nullcontext()
        )

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
            with self._write_lock, self.store.writer(dataset) as writer:
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
        new = self._store_events(events)
        sessions: set[str] = set()
        # Every session this batch touches, its turns and feedback read in one query.
        keys = {getattr(e, "session_id", None) for _, e in new} - {None}
        self._by_session = self._rows_for(sorted(k for k in keys if k))
        self._done: set[int] = set()
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
        superseded = [old for old in (self._session(sid) for sid in sorted(sessions)) if old]
        # Write the new records (and their responses) before deciding what the old ones still hold.
        self.w.flush()
        for record_id in superseded:
            self._drop_if_unused(record_id)

    # -- the ledger -----------------------------------------------------------------------

    def _store_events(self, events: list[CaptureEvent]) -> list[tuple[int, CaptureEvent]]:
        """Insert the events not stored yet (by client id); (seq, event) of each new one."""
        ce = t.capture_events
        ids = [e.id for e in events]
        seen = set(
            self.conn.execute(
                select(ce.c.client_id).where(ce.c.project_id == self.project_id, ce.c.client_id.in_(ids))
            ).scalars()
        )
        fresh: dict[str, CaptureEvent] = {}
        for e in events:
            if e.id in seen or e.id in fresh:
                self.counts.duplicates += 1
            else:
                fresh[e.id] = e
        if not fresh:
            return []
        rows = [
            {
                "project_id": self.project_id,
                "client_id": e.id,
                "type": e.type,
                "dataset": e.dataset,
                "key": getattr(e, "session_id", None) or getattr(e, "run_id", None),
                "client_ts": e.timestamp,
                "payload": e.model_dump_json(exclude_none=True),
                "created_at": self.now,
            }
            for e in fresh.values()
        ]
        inserted = self.conn.execute(insert(ce).returning(ce.c.seq, ce.c.client_id), rows).all()
        self.counts.accepted += len(inserted)
        seqs = {client_id: int(seq) for seq, client_id in inserted}
        return sorted(((seqs[cid], e) for cid, e in fresh.items()), key=lambda x: x[0])

    def _link(self, seq: int, record_id: str) -> None:
        ce = t.capture_events
        self.conn.execute(update(ce).where(ce.c.seq == seq).values(record_id=record_id))

    def _rows(self, type_: str, key: str) -> list[tuple[int, dict[str, Any], str | None]]:
        """(seq, payload, record_id) of one session's turns or one run's steps, in client order.

        Payloads were validated when they arrived, so they are read back as plain dicts."""
        if type_ in ("turn", "feedback") and key in self._by_session:
            return self._by_session[key][type_]
        ce = t.capture_events
        query = select(ce.c.seq, ce.c.payload, ce.c.record_id, ce.c.client_ts).where(
            ce.c.project_id == self.project_id, ce.c.type == type_, ce.c.key == key
        )
        return _ordered(self.conn.execute(query).all())

    def _rows_for(self, sessions: list[str]) -> dict[str, dict[str, list[tuple[int, dict[str, Any], str | None]]]]:
        ce = t.capture_events
        out: dict[str, dict[str, list[Any]]] = {sid: {"turn": [], "feedback": []} for sid in sessions}
        if not sessions:
            return out
        query = select(ce.c.seq, ce.c.payload, ce.c.record_id, ce.c.client_ts, ce.c.type, ce.c.key).where(
            ce.c.project_id == self.project_id, ce.c.type.in_(("turn", "feedback")), ce.c.key.in_(sessions)
        )
        grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for row in self.conn.execute(query):
            grouped[(row.key, row.type)].append(row)
        for (key, type_), rows in grouped.items():
            out[key][type_] = _ordered(rows)
        return out

    # -- records --------------------------------------------------------------------------

    def _add(
        self,
        content: dict[str, Any],
        client_id: str,
        metadata: dict[str, Any],
        responses: Sequence[Response] = (),
        **meta: Any,
    ) -> str | None:
        try:
            record = Record.model_validate(
                {
                    "content": content,
                    "metadata": {**metadata, **{k: v for k, v in meta.items() if v is not None}},
                    "source": Source(endpoint="capture", client_id=client_id, model=meta.get("model")),
                }
            )
        except ValidationError as err:
            # Kept as an event (nothing is lost); a later event may complete it (e.g. a missing turn).
            log.debug("capture event %s: no record yet: %s", client_id, err.errors()[0]["msg"])
            return None
        return self.w.add(record, responses)

    def _session(self, session_id: str) -> str | None:
        """Rebuild the session's record; the id of the version it supersedes, if any."""
        turns = self._rows("turn", session_id)
        if not turns:
            return None
        previous = next((rid for _, _, rid in reversed(turns) if rid), None)
        last = turns[-1][1]
        rid = self._add(
            {"kind": "conversation", "messages": [p["message"] for _, p, _ in turns]},
            last["id"],
            last.get("metadata", {}),
            session_id=session_id,
            model=last.get("model"),
            params=last.get("params"),
        )
        if rid is None:
            return None
        ce = t.capture_events
        self.conn.execute(
            update(ce)
            .where(ce.c.project_id == self.project_id, ce.c.type == "turn", ce.c.key == session_id)
            .values(record_id=rid)
        )
        # Feedback that arrived before the turn it rates (a retry can reorder) is applied now.
        for seq, payload, linked in self._rows("feedback", session_id):
            if linked is None and seq not in self._done:
                self._feedback(seq, FeedbackEvent.model_validate(payload), turns)
        return previous if previous and previous != rid else None

    def _drop_if_unused(self, record_id: str) -> None:
        """Delete a superseded session record unless something still holds on to it: a response,
        a dataset version, or another event (records are shared by content, so another session
        that said exactly the same things points at the same record)."""
        r, ce = t.records, t.capture_events
        self.conn.execute(
            delete(r).where(
                r.c.id == record_id,
                ~exists().where(t.responses.c.record_id == record_id),
                ~exists().where(t.version_records.c.record_seq == r.c.seq),
                ~exists().where(ce.c.record_id == record_id),
            )
        )  # suggestions go with it (ON DELETE CASCADE)

    def _preference(self, seq: int, e: PreferenceEvent) -> None:
        if e.chosen not in {c.id for c in e.candidates}:
            raise DataError(
                f"event {e.id}: chosen {e.chosen!r} is not one of the candidates",
                [ErrorDetail("unknown_candidate", ("chosen",), "expected a candidate id", e.chosen)],
            )
        if e.prompt is not None:
            prompt = [m.model_dump(mode="json", exclude_none=True) for m in e.prompt]
        else:
            prompt = [p["message"] for _, p, _ in self._rows("turn", e.session_id)] if e.session_id else []
        content = {
            "kind": "comparison",
            "prompt": prompt,
            "candidates": [c.model_dump(mode="json", exclude_none=True) for c in e.candidates],
        }
        answer = {"preferred": {"choice": e.chosen, "rationale": e.reason}}
        responses = [Response(user=_user(e.user), answers=answer)]
        rid = self._add(content, e.id, e.metadata, responses, session_id=e.session_id)
        if rid:
            self._link(seq, rid)

    def _feedback(
        self, seq: int, e: FeedbackEvent, turns: list[tuple[int, dict[str, Any], str | None]] | None = None
    ) -> None:
        self._done.add(seq)
        turns = self._rows("turn", e.session_id) if turns is None else turns
        target = None
        for i, (_, p, _) in enumerate(turns):
            if p["message"]["role"] == "assistant" and (e.turn_id is None or p["id"] == e.turn_id):
                target = i
        if target is None:
            log.debug("feedback %s: session %s has no such assistant turn yet", e.id, e.session_id)
            return
        answers: dict[str, Any] = dict(e.ratings)
        if e.thumbs:
            answers["feedback"] = {"choice": e.thumbs, "rationale": e.comment}
        if not answers:
            return
        rid = self._add(
            {"kind": "conversation", "messages": [p["message"] for _, p, _ in turns[: target + 1]]},
            e.id,
            e.metadata,
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
        rid = self._add(content, e.id, e.metadata, run_id=e.run_id, model=e.model)
        if rid:
            self._link(seq, rid)

    def _agent_end(self, seq: int, e: AgentEndEvent) -> None:
        steps_ev = [AgentStepEvent.model_validate(p) for _, p, _ in self._rows("agent_step", e.run_id)]
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


def _ordered(rows: Sequence[Any]) -> list[tuple[int, dict[str, Any], str | None]]:
    # Client timestamps order events that retries may have delivered out of order.
    ordered = sorted(rows, key=lambda r: (r.client_ts if r.client_ts is not None else float("inf"), r.seq))
    return [(r.seq, orjson.loads(r.payload), r.record_id) for r in ordered]


def _dump(task: str | list[Message]) -> Any:
    return task if isinstance(task, str) else [m.model_dump(mode="json", exclude_none=True) for m in task]
