"""Curation runs, their per-record decisions, versions made of a run's output, and the triage log.

``store.curation`` is this repository. A run's decisions are written in bulk when it finishes;
the version a run makes holds exactly the records the run kept (not whatever else the output
dataset holds), with the responses they carry.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import Conflict, NotFound
from thresher.model import Dataset, DatasetVersion
from thresher.store import tables as t
from thresher.store.rows import dumps

if TYPE_CHECKING:
    from thresher.store.store import Store

_CHUNK = 500


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class RunRow:
    id: str
    project_id: int
    pipeline: str
    spec: dict[str, Any]
    spec_hash: str
    source_dataset_id: int | None
    source_version_id: int | None
    output_dataset_id: int | None
    output_version_id: int | None
    status: str
    stats: dict[str, Any]
    run_dir: str
    report: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class DecisionRow:
    run_id: str
    pipeline: str
    block_index: int
    block: str
    record_id: str
    action: str
    reason: str
    cluster: str | None
    detail: dict[str, Any]
    run_created_at: datetime


def _run(row: Any) -> RunRow:
    return RunRow(
        id=row.id,
        project_id=row.project_id,
        pipeline=row.pipeline,
        spec=orjson.loads(row.spec),
        spec_hash=row.spec_hash,
        source_dataset_id=row.source_dataset_id,
        source_version_id=row.source_version_id,
        output_dataset_id=row.output_dataset_id,
        output_version_id=row.output_version_id,
        status=row.status,
        stats=orjson.loads(row.stats),
        run_dir=row.run_dir,
        report=row.report,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


class Curation:
    """Runs, decisions and the triage log. Reached as ``store.curation``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._engine = store.engine

    # -- runs ------------------------------------------------------------------------------

    def create_run(
        self,
        project_id: int,
        pipeline: str,
        spec: dict[str, Any],
        spec_hash: str,
        *,
        source_dataset_id: int | None,
        source_version_id: int | None,
        output_dataset_id: int | None,
        run_dir: str,
    ) -> RunRow:
        rid = secrets.token_hex(8)
        with self._engine.begin() as conn:
            conn.execute(
                insert(t.curation_runs).values(
                    id=rid,
                    project_id=project_id,
                    pipeline=pipeline,
                    spec=dumps(spec),
                    spec_hash=spec_hash,
                    source_dataset_id=source_dataset_id,
                    source_version_id=source_version_id,
                    output_dataset_id=output_dataset_id,
                    status="running",
                    stats="{}",
                    run_dir=run_dir.replace("{run}", rid),
                    created_at=_now(),
                )
            )
        return self.get_run(rid)

    def get_run(self, run_id: str) -> RunRow:
        with self._engine.connect() as conn:
            row = conn.execute(select(t.curation_runs).where(t.curation_runs.c.id == run_id)).first()
        if row is None:
            raise NotFound(f"no curation run {run_id!r}")
        return _run(row)

    def resumable_run(self, project_id: int, spec_hash: str) -> RunRow | None:
        """The latest unfinished run of the same spec over the same input, to pick up where it stopped."""
        r = t.curation_runs
        q = (
            select(r)
            .where(r.c.project_id == project_id, r.c.spec_hash == spec_hash, r.c.status == "running")
            .order_by(r.c.created_at.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            row = conn.execute(q).first()
        return _run(row) if row is not None else None

    def list_runs(self, project_id: int, limit: int = 50) -> list[RunRow]:
        r = t.curation_runs
        q = select(r).where(r.c.project_id == project_id).order_by(r.c.created_at.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [_run(row) for row in conn.execute(q)]

    def finish_run(
        self,
        run_id: str,
        *,
        status: str,
        stats: dict[str, Any],
        report: str | None = None,
        output_version_id: int | None = None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(t.curation_runs)
                .where(t.curation_runs.c.id == run_id)
                .values(
                    status=status,
                    stats=dumps(stats),
                    report=report,
                    output_version_id=output_version_id,
                    finished_at=_now(),
                )
            )

    # -- decisions ---------------------------------------------------------------------------

    def replace_decisions(self, run_id: str, decisions: Iterable[dict[str, Any]]) -> int:
        """Write a run's decisions (replacing any from an interrupted attempt) in one transaction."""
        d = t.curation_decisions
        n = 0
        with self._engine.begin() as conn:
            conn.execute(d.delete().where(d.c.run_id == run_id))
            batch: list[dict[str, Any]] = []
            for dec in decisions:
                batch.append(
                    {
                        "run_id": run_id,
                        "block_index": dec["block_index"],
                        "block": dec["block"],
                        "record_id": dec["record_id"],
                        "action": dec["action"],
                        "reason": str(dec["reason"])[:128],
                        "cluster": dec.get("cluster"),
                        "detail": dumps(dec.get("detail") or {}),
                    }
                )
                if len(batch) >= 2000:
                    conn.execute(insert(d), batch)
                    n += len(batch)
                    batch = []
            if batch:
                conn.execute(insert(d), batch)
                n += len(batch)
        return n

    def decisions_for(self, record_ids: Sequence[str]) -> list[DecisionRow]:
        """What every run did to these records, oldest run first, in block order."""
        d, r = t.curation_decisions, t.curation_runs
        q = (
            select(d, r.c.pipeline, r.c.created_at.label("run_created_at"))
            .join(r, r.c.id == d.c.run_id)
            .where(d.c.record_id.in_(list(record_ids)))
            .order_by(r.c.created_at, d.c.run_id, d.c.block_index, d.c.seq)
        )
        with self._engine.connect() as conn:
            return [
                DecisionRow(
                    run_id=row.run_id,
                    pipeline=row.pipeline,
                    block_index=row.block_index,
                    block=row.block,
                    record_id=row.record_id,
                    action=row.action,
                    reason=row.reason,
                    cluster=row.cluster,
                    detail=orjson.loads(row.detail),
                    run_created_at=row.run_created_at,
                )
                for row in conn.execute(q)
            ]

    def max_seq(self, dataset: Dataset) -> int:
        """The newest record's ``seq`` in a dataset (0 when empty): with the count, a cheap "has it changed"."""
        from sqlalchemy import func

        with self._engine.connect() as conn:
            q = select(func.max(t.records.c.seq)).where(t.records.c.dataset_id == dataset.id)
            return int(conn.execute(q).scalar_one() or 0)

    # -- versions of a run's output ------------------------------------------------------

    def create_version_of(
        self, dataset: Dataset, name: str, record_ids: Iterable[str], description: str | None = None
    ) -> DatasetVersion:
        """A version holding exactly ``record_ids`` of ``dataset`` and their submitted responses."""
        from thresher.store.store import open_version, seal_version

        rec, resp = t.records, t.responses
        try:
            with self._engine.begin() as conn:
                vid = open_version(conn, dataset, name, description)
                for chunk in _chunks(record_ids, _CHUNK):
                    rows = conn.execute(
                        select(rec.c.seq).where(rec.c.dataset_id == dataset.id, rec.c.id.in_(chunk))
                    ).all()
                    if rows:
                        conn.execute(insert(t.version_records), [{"version_id": vid, "record_seq": s} for (s,) in rows])
                    answers = conn.execute(
                        select(resp.c.id, resp.c.record_id, resp.c.user_name, resp.c.answers, resp.c.status).where(
                            resp.c.record_id.in_(chunk), resp.c.status == "submitted"
                        )
                    ).all()
                    if answers:
                        conn.execute(
                            insert(t.version_responses),
                            [
                                {
                                    "version_id": vid,
                                    "response_id": a.id,
                                    "record_id": a.record_id,
                                    "user_name": a.user_name,
                                    "answers": a.answers,
                                    "status": a.status,
                                }
                                for a in answers
                            ],
                        )
                seal_version(conn, vid)
        except IntegrityError:
            raise Conflict(f"version {name!r} of {dataset.project}/{dataset.name} already exists") from None
        return self._store.get_version(dataset, name)

    def version_by_id(self, version_id: int) -> tuple[str, str]:
        """(dataset name, version name) of a version id, for reports."""
        v, d = t.dataset_versions, t.datasets
        q = select(d.c.name, v.c.name).join(d, d.c.id == v.c.dataset_id).where(v.c.id == version_id)
        with self._engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no version {version_id}")
        return row[0], row[1]

    # -- records: metadata that triage sets ----------------------------------------------------

    def update_record_meta(
        self, record_id: str, *, metadata: dict[str, Any] | None = None, split: str | None = None
    ) -> None:
        """Merge keys into a record's metadata and/or set its split. Content never changes."""
        r = t.records
        with self._engine.begin() as conn:
            row = conn.execute(select(r.c.metadata).where(r.c.id == record_id)).first()
            if row is None:
                raise NotFound(f"no record {record_id!r}")
            values: dict[str, Any] = {}
            if metadata:
                current = orjson.loads(row[0])
                for key, value in metadata.items():
                    if key == "tags" and isinstance(value, list):
                        value = sorted({*current.get("tags", []), *value})
                    current[key] = value
                values["metadata"] = dumps(current)
            if split is not None:
                values["split"] = split
            if values:
                conn.execute(update(r).where(r.c.id == record_id).values(**values))

    # -- triage log ------------------------------------------------------------------------

    def log_triage(
        self,
        project_id: int,
        rule: str,
        record_id: str,
        action: str,
        target_record_id: str | None,
        detail: dict[str, Any],
    ) -> bool:
        """Note that a rule acted on a record; False when it already had (nothing to do again)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(t.triage_log).values(
                        project_id=project_id,
                        rule=rule,
                        record_id=record_id,
                        action=action,
                        target_record_id=target_record_id,
                        detail=dumps(detail),
                        created_at=_now(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def triage_done(self, project_id: int, rule: str, record_id: str, action: str) -> bool:
        tl = t.triage_log
        q = select(tl.c.seq).where(
            tl.c.project_id == project_id, tl.c.rule == rule, tl.c.record_id == record_id, tl.c.action == action
        )
        with self._engine.connect() as conn:
            return conn.execute(q).first() is not None

    def triage_for(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        tl = t.triage_log
        q = select(tl).where(tl.c.record_id.in_(list(record_ids))).order_by(tl.c.seq)
        with self._engine.connect() as conn:
            return [
                {
                    "rule": row.rule,
                    "record_id": row.record_id,
                    "action": row.action,
                    "target_record_id": row.target_record_id,
                    "detail": orjson.loads(row.detail),
                }
                for row in conn.execute(q)
            ]


def spec_digest(*parts: Any) -> str:
    return hashlib.sha256(b"\x00".join(orjson.dumps(p, option=orjson.OPT_SORT_KEYS) for p in parts)).hexdigest()


def _chunks(values: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for v in values:
        chunk.append(v)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
