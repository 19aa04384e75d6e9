"""The annotation queue's tables: workflows, queue rows, assignments (slots and leases), reviews.

SQL only, with plain arguments: thresher.annotate holds the rules (routing, validation,
consensus) and calls this repository. Every state change is one short transaction; the
database's constraints are the proof that a slot is held once (unique record+slot) and that a
record goes to distinct annotators (unique record+user). On SQLite, writes are also queued on a
process lock so server threads do not spin on the database's busy lock.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, bindparam, case, exists, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from thresher.errors import Conflict, NotFound
from thresher.store import tables as t
from thresher.store.rows import READ_COLUMNS, RecordRow, dumps, response_id

ACTIVE = ("leased", "rejected")  # statuses that hold a slot and can still be worked on
Route = Callable[[Any], tuple[str, str]]  # a records row -> (skill, language)

_q, _a, _r = t.annotation_queue, t.annotation_assignments, t.annotation_reviews


def _aware(ts: datetime | None) -> datetime | None:
    return ts if ts is None or ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass(frozen=True)
class Assignment:
    id: str
    dataset_id: int
    record_seq: int
    record_id: str
    user: str
    slot: int | None
    status: str
    leased_at: datetime
    lease_expires_at: datetime | None
    submitted_at: datetime | None
    draft: dict[str, Any] | None
    skip_reason: str | None
    reject_reason: str | None
    review_status: str | None

    @classmethod
    def from_row(cls, row: Any) -> Assignment:
        return cls(
            id=row.id,
            dataset_id=row.dataset_id,
            record_seq=row.record_seq,
            record_id=row.record_id,
            user=row.user_name,
            slot=row.slot,
            status=row.status,
            leased_at=_aware(row.leased_at) or row.leased_at,
            lease_expires_at=_aware(row.lease_expires_at),
            submitted_at=_aware(row.submitted_at),
            draft=orjson.loads(row.draft) if row.draft is not None else None,
            skip_reason=row.skip_reason,
            reject_reason=row.reject_reason,
            review_status=row.review_status,
        )


@dataclass(frozen=True)
class Review:
    id: str
    response_id: str
    record_seq: int
    user: str
    decision: str
    reason: str | None
    reviewer: str
    answers: dict[str, Any] | None
    original_answers: dict[str, Any] | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Review:
        return cls(
            id=row.id,
            response_id=row.response_id,
            record_seq=row.record_seq,
            user=row.user_name,
            decision=row.decision,
            reason=row.reason,
            reviewer=row.reviewer,
            answers=orjson.loads(row.answers) if row.answers is not None else None,
            original_answers=orjson.loads(row.original_answers) if row.original_answers is not None else None,
            created_at=_aware(row.created_at) or row.created_at,
        )


@dataclass(frozen=True)
class QueueCounts:
    records: int = 0
    submitted: int = 0
    complete: int = 0
    open: int = 0
    awaiting_review: int = 0


class Annotations:
    """Repository of the annotation tables (``store.annotation``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._lock: AbstractContextManager[Any] = nullcontext() if self.postgres else threading.Lock()
        self._upsert_response = _upsert_response(postgresql if self.postgres else sqlite)
        self._swept: dict[int, datetime] = {}
        self._syncing: dict[int, threading.Lock] = {}

    def _write(self) -> AbstractContextManager[Any]:
        return self._lock

    # -- profiles (skills and languages live on the membership) ---------------------------

    def set_profile(self, user: str, project_id: int, skills: list[str], languages: list[str]) -> None:
        m = t.memberships
        uid = select(t.users.c.id).where(t.users.c.name == user).scalar_subquery()
        with self.engine.begin() as conn:
            done = conn.execute(
                update(m)
                .where(m.c.user_id == uid, m.c.project_id == project_id)
                .values(skills=dumps(skills), languages=dumps(languages))
            )
        if not done.rowcount:
            raise NotFound(f"{user!r} is not a member of this project")

    # -- workflow and routing --------------------------------------------------------------

    def get_workflow(self, dataset_id: int) -> dict[str, Any] | None:
        w = t.annotation_workflows
        with self.engine.connect() as conn:
            raw = conn.execute(select(w.c.settings).where(w.c.dataset_id == dataset_id)).scalar_one_or_none()
        return orjson.loads(raw) if raw is not None else None

    def save_workflow(self, dataset_id: int, settings: dict[str, Any], routing_hash: str, now: datetime) -> bool:
        """Store the settings; returns True when the routing changed (the queue must be re-routed)."""
        w = t.annotation_workflows
        overlap = int(settings["overlap"])
        with self._write(), self.engine.begin() as conn:
            old = conn.execute(select(w).where(w.c.dataset_id == dataset_id).with_for_update()).first()
            values = {"settings": dumps(settings), "routing_hash": routing_hash, "updated_at": now}
            rerouted = old is not None and old.routing_hash != routing_hash
            if old is None:
                conn.execute(insert(w).values(dataset_id=dataset_id, synced_seq=0, **values))
            else:
                conn.execute(
                    update(w)
                    .where(w.c.dataset_id == dataset_id)
                    .values(**values, synced_seq=0 if rerouted else w.c.synced_seq)
                )
            if old is None or orjson.loads(old.settings)["overlap"] != overlap:
                self._recount(conn, _q.c.dataset_id == dataset_id, overlap)
        return rerouted

    def sync(
        self, dataset_id: int, route: Route, batch: int = 5000, *, full: bool = False, max_batches: int | None = None
    ) -> int:
        """Route records added since the last sync into the queue (all of them after a routing
        change); keyset batches, each its own transaction, at most ``max_batches`` of them.
        Returns how many rows were written."""
        # One sync per dataset at a time in this process: the others go on with what is routed.
        # A full re-route (the routing changed) waits for its turn and starts from the first record.
        lock = self._syncing.setdefault(dataset_id, threading.Lock())
        if not lock.acquire(blocking=full):
            return 0
        try:
            return self._sync(dataset_id, route, batch, full, max_batches)
        finally:
            lock.release()

    def routing_behind(self, dataset_id: int) -> bool:
        """Whether records were added since the last one routed (one cheap query)."""
        state = self.state(dataset_id)
        return state is not None and state[2] > state[1]

    def _sync(self, dataset_id: int, route: Route, batch: int, full: bool, max_batches: int | None = None) -> int:
        w, r = t.annotation_workflows, t.records
        cols = (r.c.seq, r.c.id, r.c.kind, r.c.metadata, r.c.split, r.c.task_type, r.c.domains)
        written = 0
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(r.c.seq)).where(r.c.dataset_id == dataset_id)).scalar()
            after = conn.execute(select(w.c.synced_seq).where(w.c.dataset_id == dataset_id)).scalar()
        if after is not None and full:
            after = 0
        if last is None or after is None or after >= last:
            return 0
        batches = 0
        while max_batches is None or batches < max_batches:
            batches += 1
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(*cols).where(r.c.dataset_id == dataset_id, r.c.seq > after).order_by(r.c.seq).limit(batch)
                ).all()
            if not rows:
                return written
            values = []
            for row in rows:
                skill, language = route(row)
                values.append({"record_seq": row.seq, "record_id": row.id, "skill": skill, "language": language})
            with self._write(), self.engine.begin() as conn:
                self._upsert_queue(conn, dataset_id, values)
                after = rows[-1].seq
                conn.execute(
                    update(w).where(w.c.dataset_id == dataset_id, w.c.synced_seq < after).values(synced_seq=after)
                )
            written += len(rows)
        return written

    def _upsert_queue(self, conn: Connection, dataset_id: int, values: list[dict[str, Any]]) -> None:
        base = {
            "dataset_id": dataset_id,
            "filled": 0,
            "submitted": 0,
            "is_open": True,
            "pending_review": 0,
            "awaiting_review": False,
        }
        stmt: Any = (postgresql.insert if self.postgres else sqlite.insert)(_q)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_q.c.record_seq],
            set_={"skill": stmt.excluded.skill, "language": stmt.excluded.language},
        )
        conn.execute(stmt, [base | v for v in values])  # executemany: one statement compiled once

    @staticmethod
    def _recount(conn: Connection, where: Any, overlap: int) -> None:
        """Derive the flags the indexes seek on from the counters."""
        conn.execute(
            update(_q)
            .where(where)
            .values(
                is_open=_q.c.filled < overlap,
                awaiting_review=and_(_q.c.pending_review > 0, _q.c.submitted >= overlap),
            )
        )

    # -- the queue -------------------------------------------------------------------------
    # The hot path (next task, submit) runs statements built once, with bind parameters: building
    # a statement costs more than SQLite takes to run it.

    def state(self, dataset_id: int) -> tuple[dict[str, Any], int, int] | None:
        """(workflow settings, last routed seq, last record seq) in one query; None before the first save."""
        with self.engine.connect() as conn:
            row = conn.execute(_STATE, {"d": dataset_id}).first()
        return None if row is None else (orjson.loads(row[0]), int(row[1]), int(row[2] or 0))

    def next_context(self, project: str, dataset: str, user: str) -> Any:
        """What "next task" needs before it claims, in one query: the dataset row (as
        ``dataset_row``), the user's skills and languages in the project (``m_skills``,
        ``m_languages``; None without a membership), and the workflow state (``w_settings``,
        ``w_synced``, ``last_seq``; None before the first save). None when there is no such dataset."""
        with self.engine.connect() as conn:
            return conn.execute(_NEXT_CONTEXT, {"p": project, "n": dataset, "u": user}).first()

    def profile(self, user: str, project_id: int) -> tuple[str, list[str], list[str]] | None:
        """(role, skills, languages) of a member, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(_PROFILE, {"u": user, "p": project_id}).first()
        return None if row is None else (row[0], orjson.loads(row[1]), orjson.loads(row[2]))

    def record(self, dataset_id: int, record_id: str) -> RecordRow:
        with self.engine.connect() as conn:
            row = conn.execute(_RECORD, {"d": dataset_id, "rid": record_id}).first()
        if row is None:
            raise NotFound(f"no record {record_id!r} in this dataset")
        return RecordRow(*row)

    def work_context(self, assignment_id: str, project: str) -> tuple[Assignment, Any, RecordRow | None, Any]:
        """An assignment, its dataset's row (None when not in ``project``), its record and the
        workflow state (as ``state``), on one connection: what a submission needs to be checked."""
        with self.engine.connect() as conn:
            row = conn.execute(_BY_ID, {"aid": assignment_id}).first()
            if row is None:
                raise NotFound(f"no assignment {assignment_id!r}")
            a = Assignment.from_row(row)
            ds = conn.execute(_DATASET_BY_ID, {"p": project, "d": a.dataset_id}).first()
            rec = conn.execute(_RECORD, {"d": a.dataset_id, "rid": a.record_id}).first()
            state = conn.execute(_STATE, {"d": a.dataset_id}).first()
        return a, ds, RecordRow(*rec) if rec is not None else None, state

    def assignment_for(self, record_id: str, user: str) -> Assignment | None:
        """The user's assignment on a record (a record goes to a user at most once), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_a).where(_a.c.record_id == record_id, _a.c.user_name == user)).first()
        return Assignment.from_row(row) if row is not None else None

    def record_and_suggestions(self, dataset_id: int, record_id: str) -> tuple[RecordRow, list[Any]]:
        """A task's record and its suggestions, on one connection."""
        with self.engine.connect() as conn:
            row = conn.execute(_RECORD, {"d": dataset_id, "rid": record_id}).first()
            if row is None:
                raise NotFound(f"no record {record_id!r} in this dataset")
            return RecordRow(*row), list(conn.execute(_SUGGESTIONS, {"rid": record_id}))

    def suggestion_rows(self, record_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(_SUGGESTIONS, {"rid": record_id}))

    def dataset_row(self, project: str, *, dataset_id: int | None = None, name: str | None = None) -> Any:
        """A dataset of the project, by id or by name, with ``project_name``; None if there is none."""
        stmt, params = (
            (_DATASET_BY_ID, {"d": dataset_id}) if dataset_id is not None else (_DATASET_BY_NAME, {"n": name})
        )
        with self.engine.connect() as conn:
            return conn.execute(stmt, {"p": project, **params}).first()

    def get_assignment(self, assignment_id: str) -> Assignment:
        with self.engine.connect() as conn:
            row = conn.execute(_BY_ID, {"aid": assignment_id}).first()
        if row is None:
            raise NotFound(f"no assignment {assignment_id!r}")
        return Assignment.from_row(row)

    def expire(self, dataset_id: int, now: datetime) -> int:
        """Release the slots of leases that ran out: the records go back to the queue. A dataset is
        swept at most once a second (by the caller's clock) in this process."""
        last = self._swept.get(dataset_id)
        if last is not None and last <= now < last + _SWEEP_EVERY:
            return 0
        self._swept[dataset_id] = now
        with self.engine.connect() as conn:
            due = conn.execute(_DUE, {"d": dataset_id, "now": now}).all()
        released = 0
        for aid, seq in due:
            with self._write(), self.engine.begin() as conn:
                if conn.execute(_RELEASE, {"aid": aid, "now": now}).rowcount:  # a concurrent sweep may have been first
                    conn.execute(_UNFILL, {"seq": seq})
                    released += 1
        return released

    def claim(
        self,
        dataset_id: int,
        user: str,
        fits: Sequence[tuple[str, str]],
        overlap: int,
        now: datetime,
        lease_until: datetime,
    ) -> Assignment | None:
        """The caller's task: the lease they hold, else a rejection waiting for them, else a new
        slot on the first open record that fits one of ``fits`` (skill, language) and that they
        have not had. None when nothing fits."""
        for _ in range(20):
            try:
                with self._write(), self.engine.begin() as conn:
                    held = self._held(conn, dataset_id, user)
                    if held is not None:
                        values: dict[str, Any] = {"lease_expires_at": lease_until}
                        if held.lease_expires_at is None:  # a rejection picked up again: the clock restarts
                            values["leased_at"] = now
                        conn.execute(_TOUCH, {"aid": held.id, **values})
                        return replace(held, **values)
                    found = self._candidate(conn, dataset_id, user, fits)
                    if found is None:
                        return None
                    return self._take(conn, dataset_id, found[0], found[1], user, overlap, now, lease_until)
            except (IntegrityError, _Retry):
                continue  # another annotator took that slot meanwhile: look again
            except OperationalError as e:
                if not _retryable(e):
                    raise
        raise Conflict("the queue is busy: try again")

    def _held(self, conn: Connection, dataset_id: int, user: str) -> Assignment | None:
        # A live lease first, then the oldest rejection sent back to this annotator.
        rows = [Assignment.from_row(r) for r in conn.execute(_HELD, {"d": dataset_id, "u": user})]
        leased = [a for a in rows if a.lease_expires_at is not None]
        if leased:
            return leased[0]
        rows.sort(key=lambda a: a.submitted_at or a.leased_at)
        return rows[0] if rows else None

    def _candidate(
        self, conn: Connection, dataset_id: int, user: str, fits: Sequence[tuple[str, str]]
    ) -> tuple[int, str] | None:
        # One index seek per (skill, language) the user fits: an IN list would make the planner
        # sort every open row of those values before the LIMIT.
        stmt = _CANDIDATE_PG if self.postgres else _CANDIDATE
        best: tuple[int, str] | None = None
        for skill, language in fits:
            below = best[0] if best is not None else _NO_SEQ
            row = conn.execute(stmt, {"d": dataset_id, "s": skill, "l": language, "u": user, "below": below}).first()
            if row is not None:
                best = (int(row[0]), str(row[1]))
        return best

    def _take(
        self,
        conn: Connection,
        dataset_id: int,
        seq: int,
        record_id: str,
        user: str,
        overlap: int,
        now: datetime,
        lease_until: datetime,
    ) -> Assignment:
        used = {s for (s,) in conn.execute(_USED, {"seq": seq})}
        free = [s for s in range(overlap) if s not in used]
        taken = conn.execute(_FILL, {"seq": seq, "ov": overlap})
        if not free or not taken.rowcount:
            raise _Retry  # filled meanwhile (a stale read): roll back and look again
        values = {
            "slot": free[0],
            "status": "leased",
            "leased_at": now,
            "lease_expires_at": lease_until,
            "draft": None,
            "skip_reason": None,
        }
        old = conn.execute(_OLD, {"seq": seq, "u": user}).scalar()
        if old is not None:  # their own lease ran out earlier: the same row takes the new slot
            conn.execute(_REVIVE, {"aid": old, **values})
            return self.get_assignment_in(conn, str(old))
        aid = secrets.token_hex(12)
        conn.execute(
            _INSERT,
            {
                "id": aid,
                "dataset_id": dataset_id,
                "record_seq": seq,
                "record_id": record_id,
                "user_name": user,
                **values,
            },
        )
        return Assignment(
            id=aid,
            dataset_id=dataset_id,
            record_seq=seq,
            record_id=record_id,
            user=user,
            slot=free[0],
            status="leased",
            leased_at=now,
            lease_expires_at=lease_until,
            submitted_at=None,
            draft=None,
            skip_reason=None,
            reject_reason=None,
            review_status=None,
        )

    @staticmethod
    def get_assignment_in(conn: Connection, aid: str) -> Assignment:
        return Assignment.from_row(conn.execute(_BY_ID, {"aid": aid}).one())

    def _active(self, conn: Connection, aid: str, user: str) -> Any:
        row = conn.execute(_BY_ID_LOCKED if self.postgres else _BY_ID, {"aid": aid}).first()
        if row is None or row.user_name != user:
            raise NotFound(f"no assignment {aid!r} of yours")
        if row.status not in ACTIVE or row.slot is None:
            raise Conflict(f"assignment {aid} is {row.status}: its lease ran out or it was already finished")
        return row

    def save_draft(self, aid: str, user: str, answers: dict[str, Any], lease_until: datetime) -> None:
        with self._write(), self.engine.begin() as conn:
            self._active(conn, aid, user)
            conn.execute(_TOUCH, {"aid": aid, "draft": dumps(answers), "lease_expires_at": lease_until})

    def submit(
        self, aid: str, user: str, answers: dict[str, Any], *, overlap: int, review: bool, now: datetime
    ) -> tuple[str, datetime]:
        """Store the answers as the user's submitted response and close the assignment; returns
        the response's id and creation time."""
        with self._write(), self.engine.begin() as conn:
            row = self._active(conn, aid, user)
            rid, created = self._put_response(conn, row.record_id, user, answers, "submitted", now)
            conn.execute(_SUBMITTED, {"aid": aid, "now": now, "rs": "pending" if review else None})
            conn.execute(_COUNT_SUBMIT, {"seq": row.record_seq, "inc": int(review), "ov": overlap})
        return rid, created

    def _put_response(
        self, conn: Connection, record_id: str, user: str, answers: Any, status: str, now: datetime
    ) -> tuple[str, datetime]:
        rid = response_id(record_id, user)
        values = {"id": rid, "record_id": record_id, "user_name": user, "answers": dumps(answers), "status": status}
        created = conn.execute(self._upsert_response, {**values, "created_at": now, "updated_at": now}).scalar_one()
        return rid, _aware(created) or now

    def skip(self, aid: str, user: str, reason: str, *, overlap: int) -> None:
        with self._write(), self.engine.begin() as conn:
            row = self._active(conn, aid, user)
            conn.execute(
                update(_a)
                .where(_a.c.id == aid)
                .values(status="skipped", slot=None, lease_expires_at=None, skip_reason=reason, draft=None)
            )
            conn.execute(update(_q).where(_q.c.record_seq == row.record_seq).values(filled=_q.c.filled - 1))
            self._recount(conn, _q.c.record_seq == row.record_seq, overlap)

    def amend(self, aid: str, user: str, answers: dict[str, Any], now: datetime) -> str:
        with self._write(), self.engine.begin() as conn:
            q = select(_a).where(_a.c.id == aid)
            row = conn.execute(q.with_for_update() if self.postgres else q).first()
            if row is None or row.user_name != user:
                raise NotFound(f"no assignment {aid!r} of yours")
            if row.status != "submitted":
                raise Conflict(f"assignment {aid} is {row.status}: only a submission can be amended")
            if row.review_status in ("accepted", "corrected"):
                raise Conflict(f"assignment {aid} was already {row.review_status} by a reviewer")
            return self._put_response(conn, row.record_id, user, answers, "submitted", now)[0]

    def history(self, dataset_id: int, user: str, limit: int) -> list[Assignment]:
        q = (
            select(_a)
            .where(_a.c.dataset_id == dataset_id, _a.c.user_name == user, _a.c.submitted_at.is_not(None))
            .order_by(_a.c.submitted_at.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [Assignment.from_row(r) for r in conn.execute(q)]

    def assignments_of_record(self, record_seq: int) -> list[Assignment]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(_a).where(_a.c.record_seq == record_seq).order_by(_a.c.user_name)).all()
        return [Assignment.from_row(r) for r in rows]

    # -- review ----------------------------------------------------------------------------

    def claim_review(self, dataset_id: int, reviewer: str, now: datetime, until: datetime) -> str | None:
        """The record (id) this reviewer holds, else the first complete record awaiting review
        that holds none of their own work and no other reviewer holds; None when there is none."""
        with self._write(), self.engine.begin() as conn:
            base = select(_q.c.record_seq).where(_q.c.dataset_id == dataset_id, _q.c.awaiting_review.is_(True))
            held = conn.execute(
                base.where(_q.c.review_holder == reviewer, _q.c.review_expires_at > now).limit(1)
            ).scalar()
            if held is None:
                own = exists().where(_a.c.record_seq == _q.c.record_seq, _a.c.user_name == reviewer)
                free = (_q.c.review_holder.is_(None)) | (_q.c.review_expires_at <= now)
                q = base.where(free, ~own).order_by(_q.c.record_seq).limit(1)
                held = conn.execute(q.with_for_update(skip_locked=True, of=_q) if self.postgres else q).scalar()
            if held is not None:
                conn.execute(
                    update(_q).where(_q.c.record_seq == held).values(review_holder=reviewer, review_expires_at=until)
                )
                return str(conn.execute(select(_q.c.record_id).where(_q.c.record_seq == held)).scalar_one())
            return None

    def response(self, response_id: str) -> Any:
        """A response with its record's seq and dataset (id, record_id, user_name, answers, status, seq, dataset_id)."""
        resp, r = t.responses, t.records
        q = (
            select(
                resp.c.id, resp.c.record_id, resp.c.user_name, resp.c.answers, resp.c.status, r.c.seq, r.c.dataset_id
            )
            .join(r, r.c.id == resp.c.record_id)
            .where(resp.c.id == response_id)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no response {response_id!r}")
        return row

    def decide(
        self,
        *,
        dataset_id: int,
        record_seq: int,
        response: Any,
        decision: str,
        reviewer: str,
        reason: str | None,
        correction: dict[str, Any] | None,
        changes: dict[str, Any] | None = None,
        overlap: int,
        now: datetime,
    ) -> Review:
        """Record a review of a submitted response and apply it: accept; reject (the response
        becomes a draft again and goes back to its annotator, old answers as the draft); correct
        (the response takes the reviewer's answers; the original is kept on the review)."""
        resp = t.responses
        with self._write(), self.engine.begin() as conn:
            q = select(resp.c.status, resp.c.answers).where(resp.c.id == response.id)
            cur = conn.execute(q.with_for_update() if self.postgres else q).first()
            if cur is None or cur.status != "submitted":
                raise Conflict(f"response {response.id} is not a submitted response (it was rejected or withdrawn)")
            a = conn.execute(
                select(_a).where(_a.c.record_seq == record_seq, _a.c.user_name == response.user_name)
            ).first()
            was_pending = a is not None and a.review_status == "pending"
            review = {
                "id": secrets.token_hex(12),
                "dataset_id": dataset_id,
                "record_seq": record_seq,
                "response_id": response.id,
                "assignment_id": a.id if a is not None else None,
                "user_name": response.user_name,
                "decision": decision,
                "reason": reason,
                "reviewer": reviewer,
                "answers": dumps(changes if changes is not None else correction) if correction is not None else None,
                "original_answers": cur.answers if decision == "correct" else None,
                "created_at": now,
            }
            conn.execute(insert(_r).values(**review))
            status = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}[decision]
            queue: dict[str, Any] = {"pending_review": _q.c.pending_review - int(was_pending)}
            if decision == "reject":
                conn.execute(update(resp).where(resp.c.id == response.id).values(status="draft", updated_at=now))
                queue["submitted"] = _q.c.submitted - int(a is not None and a.status == "submitted")
                if a is not None:
                    conn.execute(
                        update(_a)
                        .where(_a.c.id == a.id)
                        .values(
                            status="rejected",
                            review_status=status,
                            reject_reason=reason,
                            draft=cur.answers,
                            lease_expires_at=None,
                        )
                    )
            else:
                if correction is not None:
                    conn.execute(
                        update(resp).where(resp.c.id == response.id).values(answers=dumps(correction), updated_at=now)
                    )
                if a is not None:
                    conn.execute(update(_a).where(_a.c.id == a.id).values(review_status=status))
            conn.execute(update(_q).where(_q.c.record_seq == record_seq).values(**queue))
            self._recount(conn, _q.c.record_seq == record_seq, overlap)
            # The record leaves the reviewer's hands once nothing on it awaits review.
            conn.execute(
                update(_q)
                .where(_q.c.record_seq == record_seq, _q.c.pending_review <= 0)
                .values(review_holder=None, review_expires_at=None)
            )
        return Review.from_row(_Row(review))

    def reviews(self, *, dataset_id: int | None = None, response_ids: Sequence[str] = ()) -> list[Review]:
        """Reviews of a dataset, or of some responses; oldest first."""
        q = select(_r).order_by(_r.c.created_at, _r.c.id)
        if dataset_id is not None:
            q = q.where(_r.c.dataset_id == dataset_id)
        if response_ids:
            q = q.where(_r.c.response_id.in_(list(response_ids)))
        with self.engine.connect() as conn:
            return [Review.from_row(r) for r in conn.execute(q)]

    # -- reads for dashboards --------------------------------------------------------------

    def summary(self, dataset_id: int, user: str, fits: Sequence[tuple[str, str]]) -> tuple[int, int, int, int]:
        """(open records that fit the user and they have not had, their active tasks, their
        submissions, records awaiting review) for the queue overview."""
        mine = exists().where(_a.c.record_seq == _q.c.record_seq, _a.c.user_name == user, _a.c.status != "expired")
        available = (
            select(func.count())
            .select_from(_q)
            .where(
                _q.c.dataset_id == dataset_id,
                _q.c.is_open.is_(True),
                tuple_(_q.c.skill, _q.c.language).in_(list(fits)),
                ~mine,
            )
        )
        review = select(func.count()).where(_q.c.dataset_id == dataset_id, _q.c.awaiting_review.is_(True))
        with self.engine.connect() as conn:
            n_available = int(conn.execute(available).scalar_one())
            n_review = int(conn.execute(review).scalar_one())
        counts = self.status_counts(dataset_id, user)
        return n_available, counts.get("leased", 0) + counts.get("rejected", 0), counts.get("submitted", 0), n_review

    def queue_counts(self, dataset_id: int, overlap: int) -> QueueCounts:
        q = select(
            func.count(),
            func.coalesce(func.sum(_q.c.submitted), 0),
            func.coalesce(func.sum(case((_q.c.submitted >= overlap, 1), else_=0)), 0),
            func.coalesce(func.sum(case((_q.c.is_open.is_(True), 1), else_=0)), 0),
            func.coalesce(func.sum(case((_q.c.awaiting_review.is_(True), 1), else_=0)), 0),
        ).where(_q.c.dataset_id == dataset_id)
        with self.engine.connect() as conn:
            n, submitted, complete, open_, review = conn.execute(q).one()
        return QueueCounts(int(n), int(submitted), int(complete), int(open_), int(review))

    def status_counts(self, dataset_id: int, user: str | None = None) -> dict[str, int]:
        q = select(_a.c.status, func.count()).where(_a.c.dataset_id == dataset_id).group_by(_a.c.status)
        if user is not None:
            q = q.where(_a.c.user_name == user)
        with self.engine.connect() as conn:
            return {s: int(n) for s, n in conn.execute(q)}

    def iter_assignments(self, dataset_id: int) -> Iterator[Assignment]:
        q = select(_a).where(_a.c.dataset_id == dataset_id).order_by(_a.c.id)
        with self.engine.connect() as conn:
            for row in conn.execute(q.execution_options(yield_per=5000)):
                yield Assignment.from_row(row)

    def iter_responses(self, dataset_id: int) -> Iterator[tuple[str, str, str, str]]:
        """(response id, record id, user, answers JSON) of the dataset's submitted responses, by record."""
        resp, r = t.responses, t.records
        q = (
            select(resp.c.id, resp.c.record_id, resp.c.user_name, resp.c.answers)
            .join(r, r.c.id == resp.c.record_id)
            .where(r.c.dataset_id == dataset_id, resp.c.status == "submitted")
            .order_by(r.c.seq, resp.c.user_name)
        )
        with self.engine.connect() as conn:
            for row in conn.execute(q.execution_options(yield_per=5000)):
                yield row.id, row.record_id, row.user_name, row.answers


class _Row:
    """Attribute access over a dict, to build a dataclass from values just inserted."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class _Retry(Exception):
    """The claim raced another one: roll back and look again."""


def _retryable(e: OperationalError) -> bool:
    # PostgreSQL deadlock / serialization failure, SQLite busy: the transaction may simply be retried.
    code = getattr(e.orig, "sqlstate", None)
    return code in ("40P01", "40001") or "database is locked" in str(e)


# -- statements of the hot path, built once ----------------------------------------------------

B = bindparam
_NO_SEQ = 2**62
_w, _resp = t.annotation_workflows, t.responses
_STATE = select(
    _w.c.settings,
    _w.c.synced_seq,
    select(func.max(t.records.c.seq)).where(t.records.c.dataset_id == B("d")).scalar_subquery(),
).where(_w.c.dataset_id == B("d"))
_m = t.memberships
_PROFILE = (
    select(_m.c.role, _m.c.skills, _m.c.languages)
    .join(t.users, t.users.c.id == _m.c.user_id)
    .where(t.users.c.name == B("u"), _m.c.project_id == B("p"))
)
_RECORD = select(*(t.records.c[c] for c in READ_COLUMNS)).where(
    t.records.c.id == B("rid"), t.records.c.dataset_id == B("d")
)
_SUGGESTIONS = select(t.suggestions).where(t.suggestions.c.record_id == B("rid")).order_by(t.suggestions.c.question)
_SWEEP_EVERY = timedelta(seconds=1)
_DATASET = select(t.datasets, t.projects.c.name.label("project_name")).join(t.projects)
_DATASET_BY_ID = _DATASET.where(t.datasets.c.id == B("d"), t.projects.c.name == B("p"))
_DATASET_BY_NAME = _DATASET.where(t.datasets.c.name == B("n"), t.projects.c.name == B("p"))
_NEXT_CONTEXT = (
    select(
        t.datasets,
        t.projects.c.name.label("project_name"),
        _m.c.skills.label("m_skills"),
        _m.c.languages.label("m_languages"),
        _w.c.settings.label("w_settings"),
        _w.c.synced_seq.label("w_synced"),
        select(func.max(t.records.c.seq))
        .where(t.records.c.dataset_id == t.datasets.c.id)
        .scalar_subquery()
        .label("last_seq"),
    )
    .select_from(
        t.datasets.join(t.projects, t.projects.c.id == t.datasets.c.project_id)
        .outerjoin(
            _m,
            and_(
                _m.c.project_id == t.projects.c.id,
                _m.c.user_id == select(t.users.c.id).where(t.users.c.name == B("u")).scalar_subquery(),
            ),
        )
        .outerjoin(_w, _w.c.dataset_id == t.datasets.c.id)
    )
    .where(t.datasets.c.name == B("n"), t.projects.c.name == B("p"))
)
_BY_ID = select(_a).where(_a.c.id == B("aid"))
_BY_ID_LOCKED = _BY_ID.with_for_update()
_DUE = select(_a.c.id, _a.c.record_seq).where(
    _a.c.dataset_id == B("d"), _a.c.status.in_(ACTIVE), _a.c.lease_expires_at < B("now")
)
_RELEASE = (
    update(_a)
    .where(_a.c.id == B("aid"), _a.c.status.in_(ACTIVE), _a.c.lease_expires_at < B("now"))
    .values(status="expired", slot=None, lease_expires_at=None)
)
_UNFILL = update(_q).where(_q.c.record_seq == B("seq")).values(filled=_q.c.filled - 1, is_open=True)
_HELD = select(_a).where(_a.c.dataset_id == B("d"), _a.c.user_name == B("u"), _a.c.status.in_(ACTIVE))
_TOUCH = update(_a).where(_a.c.id == B("aid"))  # SET from the other parameters
_MINE = exists().where(_a.c.record_seq == _q.c.record_seq, _a.c.user_name == B("u"), _a.c.status != "expired")
_CANDIDATE = (
    select(_q.c.record_seq, _q.c.record_id)
    .where(
        _q.c.dataset_id == B("d"),
        _q.c.is_open.is_(True),
        _q.c.skill == B("s"),
        _q.c.language == B("l"),
        _q.c.record_seq < B("below"),
        ~_MINE,
    )
    .order_by(_q.c.record_seq)
    .limit(1)
)
_CANDIDATE_PG = _CANDIDATE.with_for_update(skip_locked=True, of=_q)
_USED = select(_a.c.slot).where(_a.c.record_seq == B("seq"), _a.c.slot.is_not(None))
_FILL = (
    update(_q)
    .where(_q.c.record_seq == B("seq"), _q.c.filled < B("ov"))
    .values(filled=_q.c.filled + 1, is_open=_q.c.filled + 1 < B("ov"))
)
_OLD = select(_a.c.id).where(_a.c.record_seq == B("seq"), _a.c.user_name == B("u"))
_REVIVE = update(_a).where(_a.c.id == B("aid"), _a.c.status == "expired")  # SET from the other parameters
_INSERT = insert(_a)
_SUBMITTED = (
    update(_a)
    .where(_a.c.id == B("aid"))
    .values(status="submitted", submitted_at=B("now"), lease_expires_at=None, draft=None, review_status=B("rs"))
)
_COUNT_SUBMIT = (
    update(_q)
    .where(_q.c.record_seq == B("seq"))
    .values(
        submitted=_q.c.submitted + 1,
        pending_review=_q.c.pending_review + B("inc"),
        # SET expressions see the old values: the flags are derived from the counters as they become.
        awaiting_review=and_(_q.c.pending_review + B("inc") > 0, _q.c.submitted + 1 >= B("ov")),
    )
)


def _upsert_response(dialect: Any) -> Any:
    stmt = dialect.insert(_resp)
    return stmt.on_conflict_do_update(
        index_elements=[_resp.c.id],
        set_={"answers": stmt.excluded.answers, "status": stmt.excluded.status, "updated_at": stmt.excluded.updated_at},
    ).returning(_resp.c.created_at)
