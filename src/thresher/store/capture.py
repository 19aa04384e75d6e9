"""Capture events become records, exactly once.

Two steps, each exactly once:

1. **Ingest** (the request): each event is inserted into the ledger, ``capture_events``, under
   its client id; a retried event conflicts and is counted as a duplicate. Only what can become
   a record is stored: the events' own rules are checked on arrival (``thresher.model.capture``).
2. **Records** (``materialize``): the events after the project's ``records`` cursor become
   records, in seq order, in one transaction with the cursor's move, so none is made twice or
   skipped. The server's capture worker does it behind intake (a request then costs the ledger
   insert alone, whatever the session's length); ``apply`` does both steps in the caller, for
   stores without a worker (the CLI, tests, an app run without its lifespan).

What each kind of event becomes:

- ``turn``: the session's conversation is one record, kept current: new turns that come after
  every stored one are appended to it (a late retry of an earlier turn rebuilds it from all its
  turns); the previous version is deleted unless something holds on to it (a response, a
  dataset version), in which case it stays as history;
- ``preference``: a comparison of the candidates with the user's pick and reason as a
  response to the ``preferred`` question;
- ``feedback``: the conversation up to the rated assistant turn, with thumbs as the
  ``feedback`` question (KTO-ready) and ratings as one rating question per dimension;
  sliced from the session's current record and the batch's new turns (already valid), so its
  cost does not grow with the session by re-reading and re-validating every turn;
- ``agent_run``, or ``agent_step``s closed by ``agent_end``: an ``agent_run`` record.

An event that cannot become a record yet (feedback before its turn, say) stays in the ledger,
and a later event completes it. Triage (the same worker, after the records) follows behind a
cursor of its own, ``triage``.

Group commit (ingest): concurrent requests queue up; one committer thread takes the oldest
requests waiting, up to a bound in events and in expected time, inserts them in one
transaction, and completes each request's future. A commit costs the same for one event as for
a thousand, and SQLite has one writer anyway. A request waits on its own future (an async
server awaits it without holding a thread), not on a condition all waiters wake up for. If
anything in a group fails, the group is rolled back and each request is retried alone, so one
bad request fails only itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Connection, bindparam, case, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from thresher.errors import DataError, ErrorDetail, NotFound
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
from thresher.model.content import ComparisonContent, ConversationContent
from thresher.model.record import hash_dump
from thresher.store import tables as t
from thresher.store.engine import begin_write
from thresher.store.writer import RecordWriter

log = logging.getLogger("thresher.capture")

PREFERRED = ChoiceQuestion(
    name="preferred", title="Which answer did the user prefer, and why?", rationale="optional", required=False
)
FEEDBACK = ChoiceQuestion(
    name="feedback", title="Is the last answer good?", options=["up", "down"], rationale="optional", required=False
)
RECORDS, TRIAGE = "records", "triage"  # the cursors (`capture_cursors.name`)
_EVENT: TypeAdapter[CaptureEvent] = TypeAdapter(CaptureEvent)


class _CursorMoved(Exception):
    """Another worker made these records meanwhile."""


@dataclass
class CaptureCounts:
    accepted: int = 0
    duplicates: int = 0
    record_ids: list[str] = field(default_factory=list)  # records this request's events made or moved on (apply)
    accepted_ids: list[str] = field(default_factory=list)  # client ids of the events stored now
    made: dict[str, int] = field(default_factory=dict)  # records written by dataset, by this call (apply)


def captured_after_query(project_id: int, after: int, upto: int, limit: int) -> Any:
    """(seq, record_id) of a project's events in (after, upto], in seq order."""
    ce = t.capture_events
    return (
        select(ce.c.seq, ce.c.record_id)
        # `+ 0`: not the project index (SQLite would then sort all the project's events for each
        # batch) but a range of the primary key, which is already in seq order.
        .where((ce.c.project_id + 0) == project_id, ce.c.seq > after, ce.c.seq <= upto)
        .order_by(ce.c.seq)
        .limit(limit)
    )


def _cursor_is(project_id: int, name: str) -> Any:
    c = t.capture_cursors
    return (c.c.project_id == project_id) & (c.c.name == name)


def _user(user: str | None) -> str:
    return f"app:{user or 'anonymous'}"


@dataclass
class _Request:
    """One call of ``submit``, waiting for the committer."""

    project: str
    events: list[CaptureEvent]
    future: Future[CaptureCounts] = field(default_factory=Future)


# The committer takes waiting requests up to this many events, and up to about GROUP_SECONDS of work
# (by the recent CPU cost per event), so a request never waits behind a huge group: latency stays
# near one group's time while the commit is still shared by everything that waited.
GROUP_EVENTS = 1000
GROUP_SECONDS = 0.05
COMMITTER_IDLE_SECONDS = 1.0
# The writes of a records transaction hold SQLite's one write lock, which intake waits for: a
# transaction takes as many events as its writes store in about this long. (Reading the events
# and building their records comes first and holds no lock; the bigger the transaction, the
# fewer queries per event.)
MATERIALIZE_SECONDS = 0.015


class Capture:
    """Stores capture events (``ingest``) and turns them into records (``materialize``)."""

    def __init__(self, store: Any) -> None:
        self.store = store  # thresher.store.Store (typed loosely: store.py imports this module)
        self._cv = threading.Condition()
        self._pending: list[_Request] = []
        self._committer: threading.Thread | None = None
        self.group_events = GROUP_EVENTS
        self.group_seconds = GROUP_SECONDS
        self.materialize_seconds = MATERIALIZE_SECONDS
        self._per_event = 0.0001  # seconds of ingest work per event, a moving average
        self._per_write = 0.00005  # seconds of records writes per event, a moving average
        self._materializing = threading.Lock()  # one records transaction at a time in this process

    def event_counts(self, project_id: int) -> dict[str, int]:
        """Stored events by type (each client id once)."""
        ce = t.capture_events
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(ce.c.type, func.count()).where(ce.c.project_id == project_id).group_by(ce.c.type)
            ).all()
        return {str(r[0]): int(r[1]) for r in rows}

    # -- cursors ----------------------------------------------------------------------------

    def cursor(self, project_id: int, name: str) -> int:
        """The last event seq the ``records`` step (or ``triage``) has done in the project; 0: none."""
        with self.store.engine.connect() as conn:
            seq = conn.execute(select(t.capture_cursors.c.seq).where(_cursor_is(project_id, name))).scalar()
        return int(seq or 0)

    def records_cursor(self, project_id: int) -> int:
        return self.cursor(project_id, RECORDS)

    def triage_cursor(self, project_id: int) -> int:
        return self.cursor(project_id, TRIAGE)

    def _ensure_cursor(self, project_id: int, name: str) -> None:
        c = t.capture_cursors
        with self.store.engine.connect() as conn:
            if conn.execute(select(c.c.seq).where(_cursor_is(project_id, name))).first():
                return
        try:
            with self.store.engine.begin() as conn:
                conn.execute(insert(c).values(project_id=project_id, name=name, seq=0))
        except IntegrityError:  # made by another worker meanwhile
            pass

    def advance_triage_cursor(self, project_id: int, seq: int) -> None:
        """Move the triage cursor forward to ``seq`` (never back: two workers may overlap for a moment)."""
        c = t.capture_cursors
        self._ensure_cursor(project_id, TRIAGE)
        with self.store.engine.begin() as conn:
            conn.execute(update(c).where(_cursor_is(project_id, TRIAGE), c.c.seq < seq).values(seq=seq))

    def last_event_seq(self, project_id: int) -> int:
        ce = t.capture_events
        with self.store.engine.connect() as conn:
            seq = conn.execute(select(func.max(ce.c.seq)).where(ce.c.project_id == project_id)).scalar()
        return int(seq or 0)

    def status(self, project_id: int) -> dict[str, int]:
        """The last event stored, and how far records and triage have come (event seqs)."""
        return {
            "last_event": self.last_event_seq(project_id),
            "records": self.records_cursor(project_id),
            "triage": self.triage_cursor(project_id),
        }

    def wait(self, project_id: int, timeout: float = 30.0, *, triage: bool = False) -> bool:
        """Wait until every event stored so far has become its record (and, with ``triage``, been
        triaged); False if that took longer than ``timeout`` seconds."""
        last = self.last_event_seq(project_id)
        deadline = time.monotonic() + timeout
        while True:
            done = self.triage_cursor(project_id) if triage else self.records_cursor(project_id)
            if done >= last:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    # -- the workers' side ------------------------------------------------------------------

    def projects_with_events(self) -> list[tuple[int, str]]:
        """(id, name) of the projects that have capture events."""
        ce, p = t.capture_events, t.projects
        q = select(p.c.id, p.c.name).where(exists().where(ce.c.project_id == p.c.id)).order_by(p.c.id)
        with self.store.engine.connect() as conn:
            return [(int(r.id), str(r.name)) for r in conn.execute(q)]

    def captured_after(self, project_id: int, after: int, limit: int) -> tuple[int, list[str]]:
        """The records that events after seq ``after`` became (in event order, each once), up to
        the records cursor (events not yet made into records wait), and the last event seq read
        (``after`` when none). Events whose record was superseded since (a session that moved on)
        point nowhere: its successor is linked from a later event."""
        q = captured_after_query(project_id, after, self.records_cursor(project_id), limit)
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).all()
        ids = list(dict.fromkeys(str(r.record_id) for r in rows if r.record_id is not None))
        return (int(rows[-1].seq) if rows else after), ids

    def materialize_limit(self) -> int:
        """Events per records transaction: about ``materialize_seconds`` of writes."""
        return max(1, min(self.group_events, int(self.materialize_seconds / max(self._per_write, 1e-7))))

    def materialize(self, project_id: int, limit: int | None = None, made: dict[str, int] | None = None) -> int:
        """Turn the project's next stored events (after its records cursor, ``limit`` at most)
        into records, in one transaction that moves the cursor past them; how many events that
        was (0: all are done). With ``made``, the records written are counted in it by dataset.
        An event that fails to apply is skipped with an error in the log: it stays in the
        ledger, and the events after it are not held up."""
        limit = limit or self.materialize_limit()
        with self._materializing:
            while True:
                after = self.records_cursor(project_id)
                rows = self._events_after(project_id, after, limit)
                if not rows:
                    return 0
                try:
                    if not self._materialize(project_id, after, rows, made):
                        continue  # another worker moved the cursor meanwhile: read again
                except (OperationalError, InterfaceError):
                    raise  # the database, not the event (locked, gone for a moment): skip nothing, retry later
                except Exception:
                    if len(rows) > 1:
                        limit = 1  # find the event that fails: one at a time
                        continue
                    log.exception("capture event %s (seq %s) made no record", rows[0][1].id, rows[0][0])
                    self._skip(project_id, after, rows[0][0])
                    return 1
                return len(rows)

    def materialize_all(self, project_id: int, made: dict[str, int] | None = None) -> int:
        """``materialize`` until every stored event of the project is done; how many were."""
        done = 0
        while n := self.materialize(project_id, made=made):
            done += n
        return done

    def _events_after(self, project_id: int, after: int, limit: int) -> list[tuple[int, CaptureEvent]]:
        ce = t.capture_events
        q = (
            select(ce.c.seq, ce.c.payload)
            .where((ce.c.project_id + 0) == project_id, ce.c.seq > after)
            .order_by(ce.c.seq)
            .limit(limit)
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(q).all()
        # Payloads were validated on arrival; read back, they are the events again.
        return [(int(r.seq), _EVENT.validate_json(r.payload)) for r in rows]

    def _lock_cursor(self, conn: Connection, project_id: int) -> int:
        """The records cursor, locked for this transaction (a write: SQLite's write lock, or the
        row's lock on PostgreSQL), so two workers never make the same records."""
        c = t.capture_cursors
        conn.execute(update(c).where(_cursor_is(project_id, RECORDS)).values(seq=c.c.seq))
        return int(conn.execute(select(c.c.seq).where(_cursor_is(project_id, RECORDS))).scalar_one())

    def _materialize(
        self, project_id: int, after: int, rows: list[tuple[int, CaptureEvent]], made: dict[str, int] | None
    ) -> bool:
        project = self._project_name(project_id)
        by_dataset: dict[str, list[tuple[int, CaptureEvent]]] = defaultdict(list)
        for seq, e in rows:
            by_dataset[e.dataset].append((seq, e))
        # Datasets (and their questions) first, in their own short transactions: with SQLite,
        # creating one inside the records transaction would wait on itself.
        datasets = {name: self._dataset(project, name, [e for _, e in evs]) for name, evs in by_dataset.items()}
        self._ensure_cursor(project_id, RECORDS)
        upto = rows[-1][0]
        try:
            with self.store.engine.connect() as conn, conn.begin(), ExitStack() as writers:
                batches = []
                for name, evs in by_dataset.items():
                    writer = writers.enter_context(self.store.writer(datasets[name], connection=conn))
                    batches.append(_Batch(writer, project_id, upto))
                    batches[-1].prepare(evs)
                # The first write: from here on the write lock is held (SQLite), or the cursor's
                # row (PostgreSQL). Reading and building the records above held neither.
                if self._lock_cursor(conn, project_id) != after:
                    raise _CursorMoved  # rolls back; the writers' buffers are dropped
                start = time.thread_time()  # CPU time: a wait for the disk or the CPU is not the batch's size
                for batch in batches:
                    batch.write()
                conn.execute(update(t.capture_cursors).where(_cursor_is(project_id, RECORDS)).values(seq=upto))
            self._per_write = 0.8 * self._per_write + 0.2 * (time.thread_time() - start) / len(rows)
        except _CursorMoved:
            return False
        if made is not None:
            for name, batch in zip(by_dataset, batches, strict=True):
                made[name] = made.get(name, 0) + batch.w.added
        return True

    def _skip(self, project_id: int, after: int, seq: int) -> None:
        c = t.capture_cursors
        with self.store.engine.begin() as conn:
            conn.execute(update(c).where(_cursor_is(project_id, RECORDS), c.c.seq == after).values(seq=seq))

    def _project_name(self, project_id: int) -> str:
        with self.store.engine.connect() as conn:
            return str(conn.execute(select(t.projects.c.name).where(t.projects.c.id == project_id)).scalar_one())

    # -- the request's side -----------------------------------------------------------------

    def apply(self, project: str, events: Sequence[CaptureEvent]) -> CaptureCounts:
        """Store the events and make their records now (for a store without a capture worker);
        ``record_ids`` are the records the events stored now became."""
        counts = self.ingest(project, events)
        project_id = self._project_id(project)
        self.materialize_all(project_id, made=counts.made)
        if counts.accepted_ids:
            ce = t.capture_events
            q = select(ce.c.client_id, ce.c.record_id).where(
                ce.c.project_id == project_id, ce.c.client_id.in_(counts.accepted_ids)
            )
            with self.store.engine.connect() as conn:
                record_of = {str(r.client_id): r.record_id for r in conn.execute(q)}
            made = (record_of.get(cid) for cid in counts.accepted_ids)
            counts.record_ids = list(dict.fromkeys(str(rid) for rid in made if rid is not None))
        return counts

    def ingest(self, project: str, events: Sequence[CaptureEvent]) -> CaptureCounts:
        """Store the events (each client id once); returns when committed. Their records are
        made by ``materialize``."""
        return self.submit(project, events).result()

    def submit(self, project: str, events: Sequence[CaptureEvent]) -> Future[CaptureCounts]:
        """``ingest`` without waiting: the future is done once the events are committed (an
        async caller awaits it, holding no thread meanwhile)."""
        request = _Request(project, list(events))
        with self._cv:
            self._pending.append(request)
            if self._committer is None:
                self._committer = threading.Thread(target=self._commit_pending, name="thresher-commit", daemon=True)
                self._committer.start()
            else:
                self._cv.notify()
        return request.future

    def _commit_pending(self) -> None:
        """The committer thread: commit the waiting requests, the oldest first, a group at a time;
        end after a second with nothing to do (the next ``submit`` starts another)."""
        while True:
            with self._cv:
                if not self._pending:
                    self._cv.wait(COMMITTER_IDLE_SECONDS)
                if not self._pending:
                    self._committer = None
                    return
                group = self._take()
            if group:
                self._commit_group(group)

    def group_limit(self) -> int:
        """How many events the next group may take: the size bound, or fewer when that much work
        would take longer than ``group_seconds`` at the recent cost per event."""
        by_time = int(self.group_seconds / max(self._per_event, 1e-6))
        return max(1, min(self.group_events, by_time))

    def _take(self, room: int | None = None) -> list[_Request]:
        """Requests in arrival order while they fit the limit (or ``room`` events); with no
        ``room`` given, always at least one."""
        group: list[_Request] = []
        size, limit = 0, self.group_limit() if room is None else room
        while self._pending and ((room is None and not group) or size + len(self._pending[0].events) <= limit):
            request = self._pending.pop(0)
            # Running, its future can no longer be cancelled (by a client that hung up: the
            # awaiting request is cancelled, and with it the future), so setting its result
            # cannot fail. One cancelled already is dropped: its client sends the events again.
            if request.future.set_running_or_notify_cancel():
                group.append(request)
                size += len(request.events)
        return group

    def _commit_group(self, group: list[_Request], *, top_up: bool = True) -> None:
        try:
            # The cost is this thread's CPU time: waits for the GIL or the disk (a busy machine)
            # would shrink groups just when their shared commit saves the most.
            start = time.thread_time()
            results = self._commit(group, top_up=top_up)
            n = sum(len(r.events) for r in group)
            if n:
                self._per_event = 0.8 * self._per_event + 0.2 * (time.thread_time() - start) / n
        except Exception as e:
            if len(group) == 1:
                group[0].future.set_exception(e)
                return
            for request in group:  # find the bad request: each alone, in its own transaction
                self._commit_group([request], top_up=False)
            return
        for request, counts in zip(group, results, strict=True):
            request.future.set_result(counts)

    def _project_id(self, project: str) -> int:
        try:
            pid = self.store.get_project(project).id
        except NotFound:
            raise NotFound(f"no project named {project!r}") from None
        assert pid is not None
        return int(pid)

    def _commit(self, group: list[_Request], *, top_up: bool = True) -> list[CaptureCounts]:
        """All the group's events in one transaction; per request, what it added. With
        ``top_up``, the requests that arrived while the write lock was awaited (the worker
        holding it) join the group, appended to it: they would otherwise wait for this commit
        and then their own."""
        by_project: dict[str, list[CaptureEvent]] = defaultdict(list)
        ids: dict[str, int] = {}
        rows: dict[str, dict[str, tuple[Any, ...]]] = defaultdict(dict)

        def prepare(requests: list[_Request]) -> None:
            for request in requests:
                project = request.project
                if project not in ids:
                    ids[project] = self._project_id(project)
                by_project[project].extend(request.events)
                for cid, row in _ledger_rows(ids[project], request.events).items():
                    rows[project].setdefault(cid, row)

        prepare(group)
        inserted: set[tuple[str, str]] = set()  # (project, client id) of each event stored now
        with self.store.engine.connect() as conn, conn.begin():
            begin_write(conn)
            if top_up:
                with self._cv:
                    late = self._take(self.group_limit() - sum(len(r.events) for r in group))
                group.extend(late)
                prepare(late)
            for project, events in by_project.items():
                inserted.update((project, cid) for cid in _store_events(conn, ids[project], events, rows[project]))
        results = []
        claimed: set[tuple[str, str]] = set()
        for request in group:
            counts = CaptureCounts()
            for e in request.events:
                key = (request.project, e.id)
                if key in inserted and key not in claimed:
                    claimed.add(key)
                    counts.accepted += 1
                    counts.accepted_ids.append(e.id)
                else:
                    counts.duplicates += 1
            results.append(counts)
        return results

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


_LEDGER_COLUMNS = ("project_id", "client_id", "type", "dataset", "key", "client_ts", "payload", "created_at")
_INSERT_LEDGER_HEAD = f"INSERT INTO capture_events ({', '.join(_LEDGER_COLUMNS)})"


def _ledger_rows(project_id: int, events: list[CaptureEvent]) -> dict[str, tuple[Any, ...]]:
    """Each client id's ledger row (its first event), without the time: built before the write
    transaction, so the lock is not held while events are serialized."""
    rows: dict[str, tuple[Any, ...]] = {}
    for e in events:
        if e.id not in rows:
            key = getattr(e, "session_id", None) or getattr(e, "run_id", None)
            rows[e.id] = (project_id, e.id, e.type, e.dataset, key, e.timestamp, e.model_dump_json(exclude_none=True))
    return rows


def _store_events(
    conn: Connection, project_id: int, events: list[CaptureEvent], rows: dict[str, tuple[Any, ...]]
) -> list[str]:
    """Insert the events not stored yet (by client id); the client ids of the new ones."""
    ids = list(rows)
    if conn.dialect.name == "sqlite":
        seen = _stored_sqlite(conn, project_id, ids)
    else:
        ce = t.capture_events
        seen = set(
            conn.execute(select(ce.c.client_id).where(ce.c.project_id == project_id, ce.c.client_id.in_(ids))).scalars()
        )
    fresh = [cid for cid in ids if cid not in seen]
    if not fresh:
        return []
    _check_runs(conn, project_id, [e for e in events if e.id not in seen])
    now = datetime.now(UTC)
    if conn.dialect.name == "sqlite":
        stamp = now.replace(tzinfo=None).isoformat(" ", "microseconds")  # as its DATETIME stores it
        _insert_sqlite(conn, [(*rows[cid], stamp) for cid in fresh])
    else:
        conn.execute(
            insert(t.capture_events), [dict(zip(_LEDGER_COLUMNS, (*rows[cid], now), strict=True)) for cid in fresh]
        )
    return fresh


# SQLite's driver, not SQLAlchemy: its per-row parameter handling was most of the insert's time,
# inside the one write lock. And few statements: the driver lets go of the GIL for each step (each
# row of an executemany), and with the event loop busy, each return to it waited for the GIL.
_CHUNK = 100  # rows per statement: 800 parameters, under SQLite's oldest limit (999)


def _stored_sqlite(conn: Connection, project_id: int, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for i in range(0, len(ids), _CHUNK):
        part = ids[i : i + _CHUNK]
        q = f"SELECT client_id FROM capture_events WHERE project_id = ? AND client_id IN ({','.join('?' * len(part))})"
        seen.update(r[0] for r in conn.exec_driver_sql(q, (project_id, *part)))
    return seen


def _insert_sqlite(conn: Connection, rows: list[tuple[Any, ...]]) -> None:
    one = f"({', '.join('?' * len(_LEDGER_COLUMNS))})"
    for i in range(0, len(rows), _CHUNK):
        part = rows[i : i + _CHUNK]
        values = ", ".join([one] * len(part))
        conn.exec_driver_sql(f"{_INSERT_LEDGER_HEAD} VALUES {values}", tuple(v for row in part for v in row))


def _check_runs(conn: Connection, project_id: int, events: list[CaptureEvent]) -> None:
    """An ``agent_end`` without a task needs a step of its run that has one (stored, or in the batch)."""
    ends = [e for e in events if isinstance(e, AgentEndEvent) and e.task is None]
    if not ends:
        return
    with_task = {e.run_id for e in events if isinstance(e, AgentStepEvent) and e.task is not None}
    ce = t.capture_events
    for e in ends:
        if e.run_id in with_task:
            continue
        q = select(ce.c.payload).where(ce.c.project_id == project_id, ce.c.type == "agent_step", ce.c.key == e.run_id)
        if not any(orjson.loads(p).get("task") is not None for p in conn.execute(q).scalars()):
            raise DataError(
                f"event {e.id}: run {e.run_id!r} has no task (send it on the first step or on the end event)",
                [ErrorDetail("missing", ("task",), "expected the run's task")],
            )


def _rating(dim: str, scale: tuple[int, int]) -> RatingQuestion:
    try:
        return RatingQuestion(name=dim, dimension=dim, min=scale[0], max=scale[1], required=False)
    except ValidationError as e:
        raise DataError(
            f"rating dimension {dim!r}: expected a lowercase name (letters, digits, _) and a scale min < max",
            [ErrorDetail("invalid_rating", ("ratings", dim), str(e.errors()[0]["msg"]))],
        ) from None


class _Batch:
    """One dataset's events, made into records inside one transaction (the writer's).

    ``upto`` is the last event of the records transaction: the ledger's later events (stored
    since, not yet made into records) are left out of every query, as if not there yet."""

    def __init__(self, writer: RecordWriter, project_id: int, upto: int) -> None:
        self.w = writer
        self.conn: Connection = writer.connection
        self.project_id = project_id
        self.upto = upto
        self._links: list[dict[str, Any]] = []  # event seq -> the record it became, written at the end
        self._unlink: list[int] = []  # seqs of turns no longer their session's last, written at the end
        self._superseded: list[str] = []  # session records replaced by a newer version

    def prepare(self, new: list[tuple[int, CaptureEvent]]) -> None:
        """Make the records of these events (seq, event), in seq order, and what to link and
        unlink: reads only, so the write lock is free meanwhile (``write`` stores it all)."""
        sessions: dict[str, dict[int, TurnEvent]] = defaultdict(dict)  # the new turns of each session
        # Sessions whose history an event needs (feedback, a pick without its own prompt): their
        # turns and feedback read in one query. Sessions that only grew get their new turns
        # appended to the record they had (see `_sessions`), without reading their history.
        keys = {e.session_id for _, e in new if isinstance(e, FeedbackEvent | PreferenceEvent) and e.session_id}
        fresh_turns: dict[str, dict[int, TurnEvent]] = defaultdict(dict)
        for seq, e in new:
            if isinstance(e, TurnEvent) and e.session_id in keys:
                fresh_turns[e.session_id][seq] = e
        # Their conversation is the session's current record plus this batch's new turns (no turn
        # payload read, parsed or validated again); a session where that does not hold (a late
        # retry, a turn that made no record) falls back to reading all its turns.
        need_ids = {e.session_id for _, e in new if isinstance(e, FeedbackEvent) and e.turn_id}
        self._history = self._histories(sorted(keys), fresh_turns, need_ids)
        self._by_session = self._rows_for(sorted(keys - set(self._history)))
        for seq, e in new:
            if isinstance(e, TurnEvent):
                sessions[e.session_id][seq] = e
            elif isinstance(e, PreferenceEvent):
                self._preference(seq, e)
            elif isinstance(e, FeedbackEvent):
                self._feedback(seq, e)
            elif isinstance(e, AgentRunEvent):
                self._agent_run(seq, e)
            elif isinstance(e, AgentEndEvent):
                self._agent_end(seq, e)
        self._superseded = self._sessions(sessions)

    def write(self) -> None:
        """Store what ``prepare`` made: the records, each event's link to the record it became
        (a session's record to its last turn), and the end of the session records superseded."""
        ce = t.capture_events
        # The new records (and their responses) first, then what the old ones still hold.
        self.w.flush()
        if self._unlink:
            self.conn.execute(update(ce).where(ce.c.seq.in_(self._unlink)).values(record_id=None))
        if self._links:
            stmt = update(ce).where(ce.c.seq == bindparam("_seq")).values(record_id=bindparam("_rid"))
            self.conn.execute(stmt, self._links)
        self._drop_unused(self._superseded)

    def _link(self, seq: int, record_id: str) -> None:
        self._links.append({"_seq": seq, "_rid": record_id})

    def _rows(self, type_: str, key: str) -> list[tuple[int, dict[str, Any], str | None]]:
        """(seq, payload, record_id) of one session's turns or one run's steps, in client order.

        Payloads were validated when they arrived, so they are read back as plain dicts."""
        if type_ in ("turn", "feedback") and key in self._by_session:
            return self._by_session[key][type_]
        ce = t.capture_events
        query = select(ce.c.seq, ce.c.payload, ce.c.record_id, ce.c.client_ts).where(
            ce.c.project_id == self.project_id, ce.c.type == type_, ce.c.key == key, ce.c.seq <= self.upto
        )
        return _ordered(self.conn.execute(query).all())

    def _prefetch(self, sessions: list[str]) -> None:
        """Read these sessions' turns and feedback for ``_rows``, in one query for all."""
        self._by_session.update(self._rows_for(sorted(set(sessions) - set(self._by_session))))

    def _rows_for(self, sessions: list[str]) -> dict[str, dict[str, list[tuple[int, dict[str, Any], str | None]]]]:
        ce = t.capture_events
        out: dict[str, dict[str, list[Any]]] = {sid: {"turn": [], "feedback": []} for sid in sessions}
        if not sessions:
            return out
        query = select(ce.c.seq, ce.c.payload, ce.c.record_id, ce.c.client_ts, ce.c.type, ce.c.key).where(
            ce.c.project_id == self.project_id,
            ce.c.type.in_(("turn", "feedback")),
            ce.c.key.in_(sessions),
            ce.c.seq <= self.upto,
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

    def _add_valid(
        self,
        content: dict[str, Any],
        client_id: str,
        metadata: dict[str, Any],
        responses: Sequence[Response] = (),
        **meta: Any,
    ) -> str | None:
        """``_add`` for content built from messages that are valid already (dumped from validated
        models): only the rules across messages are checked again, not every message, so a
        feedback on turn 100 costs a slice and a hash, not 100 validations. Same record, same hash."""
        messages = content["messages"] if content["kind"] == "conversation" else content["prompt"]
        problem = _conversation_problem(messages) if messages or content["kind"] == "conversation" else None
        if problem:
            log.debug("capture event %s: no record yet: %s", client_id, problem)
            return None
        # The writer reads only the kind, the dump and the hash of this record, which goes no further.
        # A copy of a template: model_construct inspects default factories on every call.
        record = _SHELLS[content["kind"]].model_copy(
            update={
                "metadata": {**metadata, **{k: v for k, v in meta.items() if v is not None}},
                "source": Source(endpoint="capture", client_id=client_id, model=meta.get("model")),
            }
        )
        record._dump = content
        record.content_hash = hash_dump(content)
        return self.w.add(record, responses)

    def _sessions(self, new_turns: dict[str, dict[int, TurnEvent]]) -> list[str]:
        """Store each session's conversation as it is now; the ids of the versions superseded.

        When a session's new turns come after every stored one, they are appended to the
        messages of the record it had; otherwise (a first turn, a retry that arrived late) the
        conversation is rebuilt from all its turns. A fixed number of queries for all sessions."""
        if not new_turns:
            return []
        keys = sorted(new_turns)
        fresh_seqs = [seq for turns in new_turns.values() for seq in turns]
        stats, previous, held = self._turn_stats(keys, fresh_seqs)
        superseded: list[str] = []
        unlink: list[int] = []
        orders = {sid: _in_client_order(turns) for sid, turns in new_turns.items()}
        # Each session's record it had, when its new turns can simply be appended to that.
        base: dict[str, list[dict[str, Any]]] = {}
        for sid in keys:
            st, old_messages = stats.get(sid), held.get(previous[sid] or "")
            if st is not None and old_messages is not None and _appends(st, old_messages, new_turns[sid], orders[sid]):
                base[sid] = old_messages
        # The sessions rebuilt from all their turns have them read in one query, not one each.
        self._prefetch([sid for sid in keys if sid not in base])
        for sid in keys:
            fresh, order = new_turns[sid], orders[sid]
            if sid in base:
                # Every new turn comes after every stored one: append to the record the session had.
                messages = base[sid] + [fresh[seq].message.model_dump(mode="json", exclude_none=True) for seq in order]
                last = fresh[order[-1]].model_dump(mode="json", exclude_none=True)
                last_seq = order[-1]
                linked_seq = stats[sid].linked_seq
                was_linked = [int(linked_seq)] if linked_seq is not None else []
                add = self._add_valid  # the old messages were valid, the new ones were validated on arrival
            else:  # a first turn, or a retry that arrived late: rebuild from all the turns
                turns = self._rows("turn", sid)
                messages = [p["message"] for _, p, _ in turns]
                last, last_seq = turns[-1][1], turns[-1][0]
                was_linked = [seq for seq, _, linked_rid in turns if linked_rid is not None]
                add = self._add
            rid = add(
                {"kind": "conversation", "messages": messages},
                last["id"],
                last.get("metadata", {}),
                session_id=sid,
                model=last.get("model"),
                params=last.get("params"),
            )
            if rid is None:
                continue
            # Only the session's last turn points at its record: an update touches one row, not
            # all the turns, and the previous record is free to go once no event points at it.
            unlink += was_linked
            self._link(last_seq, rid)
            if previous[sid] and previous[sid] != rid:
                superseded.append(str(previous[sid]))
        self._unlink += unlink
        self._pending_feedback(keys)
        return superseded

    def _turn_stats(
        self, keys: list[str], fresh_seqs: list[int]
    ) -> tuple[dict[str, Any], dict[str, str | None], dict[str, list[dict[str, Any]]]]:
        """Per session: what its stored turns (those not in ``fresh_seqs``) add up to, the record
        it has now, and that record's messages. A fixed number of queries for all sessions."""
        ce = t.capture_events
        # Counted in the database, not read row by row: a long session's history is not read
        # again for every turn it grows by.
        linked_seq = func.max(case((ce.c.record_id.is_not(None), ce.c.seq)))
        stats = {
            row.key: row
            for row in self.conn.execute(
                select(
                    ce.c.key,
                    func.count().label("n"),
                    func.count(ce.c.client_ts).label("n_ts"),
                    func.max(ce.c.client_ts).label("max_ts"),
                    func.max(ce.c.seq).label("max_seq"),
                    linked_seq.label("linked_seq"),
                )
                .where(
                    ce.c.project_id == self.project_id,
                    ce.c.seq <= self.upto,
                    ce.c.type == "turn",
                    ce.c.key.in_(keys),
                    ce.c.seq.not_in(fresh_seqs),
                )
                .group_by(ce.c.key)
            )
        }
        linked = [int(row.linked_seq) for row in stats.values() if row.linked_seq is not None]
        rows = self.conn.execute(select(ce.c.seq, ce.c.record_id).where(ce.c.seq.in_(linked)))
        record_of = {row.seq: row.record_id for row in rows}
        previous = {sid: record_of.get(stats[sid].linked_seq) if sid in stats else None for sid in keys}
        held = self._messages_of({rid for rid in previous.values() if rid})
        return stats, previous, held

    def _histories(
        self, keys: list[str], fresh_turns: dict[str, dict[int, TurnEvent]], need_ids: set[str]
    ) -> dict[str, tuple[list[dict[str, Any]], list[str] | None, list[int]]]:
        """(messages, turn ids or None, each message's event seq) of the sessions whose
        conversation is their current record followed by this batch's new turns; the others are
        left out (read from their turns)."""
        if not keys:
            return {}
        fresh_seqs = [seq for turns in fresh_turns.values() for seq in turns]
        stats, previous, held = self._turn_stats(keys, fresh_seqs)
        ids_of: dict[str, list[str]] = defaultdict(list)
        if need_ids:  # feedback naming its turn: the stored turns' ids (short columns, no payload)
            ce = t.capture_events
            query = select(ce.c.seq, ce.c.client_id, ce.c.client_ts, ce.c.key).where(
                ce.c.project_id == self.project_id,
                ce.c.seq <= self.upto,
                ce.c.type == "turn",
                ce.c.key.in_(sorted(need_ids)),
                ce.c.seq.not_in(fresh_seqs),
            )
            for row in sorted(self.conn.execute(query).all(), key=_client_order):
                ids_of[row.key].append(str(row.client_id))
        out: dict[str, tuple[list[dict[str, Any]], list[str] | None, list[int]]] = {}
        for sid in keys:
            fresh = fresh_turns.get(sid, {})
            order = _in_client_order(fresh)
            st = stats.get(sid)
            if st is None:
                old_messages: list[dict[str, Any]] = []
            else:
                held_messages = held.get(previous[sid] or "")
                if held_messages is None or not _appends(st, held_messages, fresh, order):
                    continue
                old_messages = held_messages
            messages = old_messages + [fresh[seq].message.model_dump(mode="json", exclude_none=True) for seq in order]
            ids = ids_of[sid] + [fresh[seq].id for seq in order] if sid in need_ids else None
            seqs = [0] * len(old_messages) + order  # the stored turns came before every event of the batch
            out[sid] = (messages, ids, seqs)
        return out

    def _history_at(self, sid: str, before: int) -> tuple[list[dict[str, Any]], list[str] | None]:
        """A session's messages (and turn ids) as they were when event ``before`` arrived: what an
        event refers to does not depend on how the events were batched."""
        messages, ids, seqs = self._history[sid]
        keep = [i for i, s in enumerate(seqs) if s < before]
        return [messages[i] for i in keep], (None if ids is None else [ids[i] for i in keep])

    def _messages_of(self, record_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
        """The messages of these (conversation) records, by id."""
        if not record_ids:
            return {}
        r = t.records
        rows = self.conn.execute(select(r.c.id, r.c.content).where(r.c.id.in_(sorted(record_ids)))).all()
        return {row.id: orjson.loads(row.content).get("messages", []) for row in rows}

    def _pending_feedback(self, sessions: list[str]) -> None:
        """Feedback that arrived before the turn it rates (a retry can reorder) is applied now."""
        ce = t.capture_events
        rows = self.conn.execute(
            select(ce.c.seq, ce.c.payload, ce.c.key).where(
                ce.c.project_id == self.project_id,
                ce.c.seq <= self.upto,
                ce.c.type == "feedback",
                ce.c.key.in_(sessions),
                ce.c.record_id.is_(None),
            )
        ).all()
        linked = {link["_seq"] for link in self._links}  # (links are written at the batch's end)
        self._prefetch([row.key for row in rows if row.seq not in linked])
        for row in sorted(rows, key=lambda r: r.seq):
            if row.seq not in linked:  # (this batch's feedback too, once its turns are in)
                self._feedback(row.seq, FeedbackEvent.model_validate_json(row.payload), late=True)

    def _drop_unused(self, record_ids: list[str]) -> None:
        """Delete superseded session records unless something still holds on to them: a response,
        a dataset version, or another event (records are shared by content, so another session
        that said exactly the same things points at the same record)."""
        if not record_ids:
            return
        r, ce = t.records, t.capture_events
        self.conn.execute(
            delete(r).where(
                r.c.id.in_(record_ids),
                ~exists().where(t.responses.c.record_id == r.c.id),
                ~exists().where(t.version_records.c.record_seq == r.c.seq),
                ~exists().where(ce.c.record_id == r.c.id),
            )
        )  # suggestions go with it (ON DELETE CASCADE)

    def _preference(self, seq: int, e: PreferenceEvent) -> None:
        if e.prompt is None and e.session_id in self._history:
            # The session's messages are valid already: validate the candidates alone.
            try:
                candidates = [c.model_dump(mode="json", exclude_none=True) for c in e.candidates]
                content = ComparisonContent.model_validate(
                    {"kind": "comparison", "prompt": [], "candidates": candidates}
                ).model_dump(mode="json", exclude_none=True)
            except ValidationError as err:
                log.debug("capture event %s: no record: %s", e.id, err.errors()[0]["msg"])
                return
            content["prompt"] = self._history_at(e.session_id, seq)[0]
            answer = {"preferred": {"choice": e.chosen, "rationale": e.reason}}
            responses = [Response(user=_user(e.user), answers=answer)]
            rid = self._add_valid(content, e.id, e.metadata, responses, session_id=e.session_id)
            if rid:
                self._link(seq, rid)
            return
        if e.prompt is not None:
            prompt = [m.model_dump(mode="json", exclude_none=True) for m in e.prompt]
        else:
            turns = self._rows("turn", e.session_id) if e.session_id else []
            prompt = [p["message"] for s, p, _ in turns if s < seq]  # the session as the pick arrived
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

    def _feedback(self, seq: int, e: FeedbackEvent, *, late: bool = False) -> None:
        """Feedback rates the turn it names, or else the last assistant turn before it arrived
        (``late`` feedback, kept since it came before any, the first one after it), in the
        session as it was once both had arrived: the same record however events were batched."""
        if e.session_id in self._history and not late:
            _, ids, seqs = self._history[e.session_id]
            if e.turn_id is None or ids is not None:
                named = [s for i, s in zip(ids or [], seqs, strict=False) if i == e.turn_id]
                messages, ids = self._history_at(e.session_id, max([seq, *named[-1:]]) + 1)
                self._feedback_on(seq, e, messages, ids)
                return
        turns = self._rows("turn", e.session_id)
        target = None
        for i, (s, p, _) in enumerate(turns):
            if p["message"]["role"] != "assistant":
                continue
            if e.turn_id is not None:
                if p["id"] == e.turn_id:
                    target = i
            elif s < seq:
                target = i
        # The session as it was once the feedback (and the turn it names) had arrived.
        upto = seq + 1 if target is None or e.turn_id is None else max(seq, turns[target][0]) + 1
        if target is None and late and e.turn_id is None:
            after = [i for i, (s, p, _) in enumerate(turns) if p["message"]["role"] == "assistant" and s > seq]
            target, upto = (after[0], turns[after[0]][0] + 1) if after else (None, upto)
        if target is None:
            log.debug("feedback %s: session %s has no such assistant turn yet", e.id, e.session_id)
            return
        answers = _feedback_answers(e)
        if not answers:
            return
        rid = self._add(
            {
                "kind": "conversation",
                "messages": [p["message"] for s, p, _ in turns[: target + 1] if s < upto],
            },
            e.id,
            e.metadata,
            [Response(user=_user(e.user), answers=answers)],
            session_id=e.session_id,
        )
        if rid:
            self._link(seq, rid)

    def _feedback_on(self, seq: int, e: FeedbackEvent, messages: list[dict[str, Any]], ids: list[str] | None) -> None:
        """Feedback on a session whose messages (valid already) and turn ids are at hand."""
        target = None
        for i in range(len(messages) - 1, -1, -1):
            if messages[i]["role"] == "assistant" and (e.turn_id is None or (ids is not None and ids[i] == e.turn_id)):
                target = i
                break
        if target is None:
            log.debug("feedback %s: session %s has no such assistant turn yet", e.id, e.session_id)
            return
        answers = _feedback_answers(e)
        if not answers:
            return
        rid = self._add_valid(
            {"kind": "conversation", "messages": messages[: target + 1]},
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
        if task is None:  # (checked on arrival: only a step removed since could cause it)
            log.warning("capture event %s: run %r has no task: no record", e.id, e.run_id)
            return
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


# Records whose content is set as a dump (``_add_valid``): only their kind is read from ``content``.
_SHELLS = {
    "conversation": Record.model_construct(content=ConversationContent.model_construct(messages=[])),
    "comparison": Record.model_construct(content=ComparisonContent.model_construct(prompt=[], candidates=[])),
}


def _appends(st: Any, old_messages: list[dict[str, Any]], fresh: dict[int, TurnEvent], order: list[int]) -> bool:
    """Whether a session's record holds all its stored turns (``st``) and its new turns, in
    ``order``, all come after them, so that record's messages plus the new ones are the session."""
    if len(old_messages) != st.n:
        return False
    if not order:
        return True
    # An old turn without a client time sorts after those with one, so its key is (inf, seq).
    last_stored = (float("inf") if st.n_ts < st.n else st.max_ts, st.max_seq)
    return bool((_ts(fresh[order[0]].timestamp), order[0]) > last_stored)


def _conversation_problem(messages: list[dict[str, Any]]) -> str | None:
    """``check_conversation`` on dumped (already valid) messages: what is wrong, or None."""
    if not messages:
        return "a conversation needs at least one message"
    calls = [c for m in messages for c in (m.get("tool_calls") or [])]
    call_ids = {c.get("id") for c in calls if c.get("id")}
    ids_known = all(c.get("id") for c in calls)
    for i, m in enumerate(messages):
        if m["role"] == "tool" and m.get("tool_call_id") and ids_known and m["tool_call_id"] not in call_ids:
            return f"message {i}: tool_call_id {m['tool_call_id']!r} answers no tool call"
    return None


def _in_client_order(turns: dict[int, TurnEvent]) -> list[int]:
    """The seqs of these turns in the order the client sent them (by its clock, then by arrival)."""
    return sorted(turns, key=lambda seq: (_ts(turns[seq].timestamp), seq))


def _ts(ts: float | None) -> float:
    return ts if ts is not None else float("inf")  # no client time: after those that have one


def _feedback_answers(e: FeedbackEvent) -> dict[str, Any]:
    """A feedback event as answers: its ratings, and thumbs with the comment as the rationale."""
    answers: dict[str, Any] = dict(e.ratings)
    if e.thumbs:
        answers["feedback"] = {"choice": e.thumbs, "rationale": e.comment}
    return answers


def _client_order(row: Any) -> tuple[float, int]:
    # Client timestamps order events that retries may have delivered out of order.
    return (row.client_ts if row.client_ts is not None else float("inf"), row.seq)


def _ordered(rows: Sequence[Any]) -> list[tuple[int, dict[str, Any], str | None]]:
    return [(r.seq, orjson.loads(r.payload), r.record_id) for r in sorted(rows, key=_client_order)]


def _dump(task: str | list[Message]) -> Any:
    return task if isinstance(task, str) else [m.model_dump(mode="json", exclude_none=True) for m in task]
