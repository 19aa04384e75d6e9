"""Background jobs (exports): a queue and a progress log in one table.

Every state change is one conditional ``UPDATE`` (``... WHERE status = 'running'``), so a job
claimed by the runner, cancelled by a user and finished by the runner at the same moment ends
in exactly one state, and the caller learns from the row count whether its change won.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import orjson
from sqlalchemy import Engine, delete, insert, select, update

from thresher.errors import NotFound
from thresher.store import tables as t

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)
ACTIVE: tuple[str, ...] = ("queued", "running")


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass(frozen=True)
class Job:
    id: str
    project_id: int
    dataset_id: int | None
    kind: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    progress: int = 0
    total: int | None = None
    result: str | None = None
    error: str | None = None
    created_by: str | None = None
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def _job(row: Any) -> Job:
    return Job(
        id=row.id,
        project_id=row.project_id,
        dataset_id=row.dataset_id,
        kind=row.kind,
        status=row.status,
        params=orjson.loads(row.params),
        progress=int(row.progress),
        total=None if row.total is None else int(row.total),
        result=row.result,
        error=row.error,
        created_by=row.created_by,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


class Jobs:
    """Repository of background jobs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        project_id: int,
        kind: str,
        params: dict[str, Any],
        *,
        dataset_id: int | None = None,
        created_by: str | None = None,
    ) -> Job:
        now = _now()
        job_id = secrets.token_hex(8)
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.jobs).values(
                    id=job_id,
                    project_id=project_id,
                    dataset_id=dataset_id,
                    kind=kind,
                    status="queued",
                    params=orjson.dumps(params).decode(),
                    progress=0,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(job_id)

    def get(self, job_id: str, project_id: int | None = None) -> Job:
        q = select(t.jobs).where(t.jobs.c.id == job_id)
        if project_id is not None:
            q = q.where(t.jobs.c.project_id == project_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return _job(row)

    def list_jobs(
        self,
        project_id: int,
        *,
        kind: str | None = None,
        dataset_id: int | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[Job]:
        """Newest first."""
        j = t.jobs
        q = select(j).where(j.c.project_id == project_id)
        if kind is not None:
            q = q.where(j.c.kind == kind)
        if dataset_id is not None:
            q = q.where(j.c.dataset_id == dataset_id)
        if status is not None:
            q = q.where(j.c.status == status)
        q = q.order_by(j.c.created_at.desc(), j.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(q)]

    # -- the runner's side ----------------------------------------------------------------

    def claim_next(self, kind: str) -> Job | None:
        """The oldest queued job of ``kind``, now marked running; None when the queue is empty."""
        j = t.jobs
        while True:
            with self.engine.connect() as conn:
                job_id = conn.execute(
                    select(j.c.id)
                    .where(j.c.kind == kind, j.c.status == "queued")
                    .order_by(j.c.created_at, j.c.id)
                    .limit(1)
                ).scalar()
            if job_id is None:
                return None
            if self._move(job_id, ("queued",), status="running"):
                return self.get(job_id)
            # another runner (or a cancel) got there first: look again

    def _move(self, job_id: str, from_: tuple[str, ...], **values: Any) -> bool:
        j = t.jobs
        with self.engine.begin() as conn:
            n = conn.execute(
                update(j).where(j.c.id == job_id, j.c.status.in_(from_)).values(updated_at=_now(), **values)
            ).rowcount
        return bool(n)

    def set_progress(self, job_id: str, progress: int, total: int | None = None) -> bool:
        """Record progress; False when the job is no longer running (cancelled): stop then."""
        values: dict[str, Any] = {"progress": progress}
        if total is not None:
            values["total"] = total
        return self._move(job_id, ("running",), **values)

    def finish(self, job_id: str, result: str, progress: int) -> bool:
        """Mark done; False when it was cancelled meanwhile (then the result should be removed)."""
        return self._move(job_id, ("running",), status="done", result=result, progress=progress)

    def fail(self, job_id: str, error: str) -> bool:
        return self._move(job_id, ACTIVE, status="failed", error=error)

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; False when it had already ended."""
        return self._move(job_id, ACTIVE, status="cancelled", error="cancelled by a user")

    def fail_running(self, kind: str, error: str) -> list[Job]:
        """Mark every running job of ``kind`` failed (at startup: their runner died with the server)."""
        j = t.jobs
        with self.engine.begin() as conn:
            ids = list(conn.execute(select(j.c.id).where(j.c.kind == kind, j.c.status == "running")).scalars())
            if ids:
                conn.execute(
                    update(j)
                    .where(j.c.id.in_(ids), j.c.status == "running")
                    .values(status="failed", error=error, updated_at=_now())
                )
        return [self.get(i) for i in ids]

    def delete(self, job_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.jobs).where(t.jobs.c.id == job_id))
