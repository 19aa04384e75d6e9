"""Eval runs, per-item results, the response cache and arena battles (``store.evals``).

Suites are not here: a suite is an eval dataset frozen as a version, stored like any other.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, and_, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from thresher.errors import Conflict, NotFound
from thresher.store import tables as t
from thresher.store.rows import dumps


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(ts: datetime | None) -> datetime | None:
    return ts if ts is None or ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass(frozen=True)
class EvalRun:
    id: str
    project_id: int
    suite_version_id: int
    suite: str
    model: str
    adapter: str
    params: dict[str, Any]
    stage: str | None
    training_version: str | None
    status: str
    summary: dict[str, Any]
    created_at: datetime
    finished_at: datetime | None = None


@dataclass
class EvalResult:
    """One item's outcome in a run. ``score`` is 0..1; ``passed`` is set for pass/fail scorers."""

    record_id: str
    output: str | None
    score: float | None
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None
    cached: bool = False
    error: str | None = None


@dataclass(frozen=True)
class CachedAnswer:
    output: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float | None


@dataclass(frozen=True)
class Battle:
    id: str
    project_id: int
    record_id: str
    prompt: list[dict[str, Any]]
    model_a: str
    model_b: str
    output_a: str
    output_b: str
    created_by: str
    created_at: datetime
    winner: str | None = None
    reason: str | None = None
    voted_at: datetime | None = None


def _run(row: Any) -> EvalRun:
    return EvalRun(
        id=row.id,
        project_id=row.project_id,
        suite_version_id=row.suite_version_id,
        suite=row.suite,
        model=row.model,
        adapter=row.adapter,
        params=orjson.loads(row.params),
        stage=row.stage,
        training_version=row.training_version,
        status=row.status,
        summary=orjson.loads(row.summary),
        created_at=_aware(row.created_at) or _now(),
        finished_at=_aware(row.finished_at),
    )


def _battle(row: Any) -> Battle:
    return Battle(
        id=row.id,
        project_id=row.project_id,
        record_id=row.record_id,
        prompt=orjson.loads(row.prompt),
        model_a=row.model_a,
        model_b=row.model_b,
        output_a=row.output_a,
        output_b=row.output_b,
        created_by=row.created_by,
        created_at=_aware(row.created_at) or _now(),
        winner=row.winner,
        reason=row.reason,
        voted_at=_aware(row.voted_at),
    )


class Evals:
    """The evals repository; each method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    # -- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        *,
        project_id: int,
        suite_version_id: int,
        suite: str,
        model: str,
        adapter: str,
        params: dict[str, Any],
        stage: str | None = None,
        training_version: str | None = None,
    ) -> EvalRun:
        run = EvalRun(
            id=secrets.token_hex(8),
            project_id=project_id,
            suite_version_id=suite_version_id,
            suite=suite,
            model=model,
            adapter=adapter,
            params=params,
            stage=stage,
            training_version=training_version,
            status="running",
            summary={},
            created_at=_now(),
        )
        values = {**run.__dict__, "params": dumps(params), "summary": "{}"}
        with self.engine.begin() as conn:
            conn.execute(insert(t.eval_runs).values(**values))
        return run

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> EvalRun:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.eval_runs)
                .where(t.eval_runs.c.id == run_id)
                .values(status=status, summary=dumps(summary), finished_at=_now())
            )
        return self.get_run(run_id)

    def get_run(self, run_id: str, project_id: int | None = None) -> EvalRun:
        q = select(t.eval_runs).where(t.eval_runs.c.id == run_id)
        if project_id is not None:
            q = q.where(t.eval_runs.c.project_id == project_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no eval run {run_id!r}")
        return _run(row)

    def list_runs(
        self, project_id: int, *, suite: str | None = None, model: str | None = None, limit: int = 1000
    ) -> list[EvalRun]:
        """Runs of a project, oldest first."""
        r = t.eval_runs
        q = select(r).where(r.c.project_id == project_id)
        if suite is not None:
            q = q.where(r.c.suite == suite)
        if model is not None:
            q = q.where(r.c.model == model)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(r.c.created_at, r.c.id).limit(limit)).all()
        return [_run(row) for row in rows]

    def delete_run(self, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(t.eval_results.delete().where(t.eval_results.c.run_id == run_id))
            conn.execute(t.eval_runs.delete().where(t.eval_runs.c.id == run_id))

    # -- results --------------------------------------------------------------------------

    def add_results(self, run_id: str, results: Sequence[EvalResult]) -> None:
        if not results:
            return
        rows = [
            {
                "run_id": run_id,
                "record_id": r.record_id,
                "output": r.output,
                "score": r.score,
                "passed": r.passed,
                "details": dumps(r.details),
                "tags": dumps(r.tags),
                "tokens_in": r.tokens_in,
                "tokens_out": r.tokens_out,
                "latency_ms": r.latency_ms,
                "cached": r.cached,
                "error": r.error,
            }
            for r in results
        ]
        with self.engine.begin() as conn:
            conn.execute(insert(t.eval_results), rows)

    def update_result(
        self, run_id: str, record_id: str, *, score: float | None, passed: bool | None, details: dict[str, Any]
    ) -> None:
        er = t.eval_results
        with self.engine.begin() as conn:
            conn.execute(
                update(er)
                .where(er.c.run_id == run_id, er.c.record_id == record_id)
                .values(score=score, passed=passed, details=dumps(details))
            )

    def page_results(self, run_id: str, *, after: str = "", limit: int = 100) -> list[EvalResult]:
        """One keyset page of a run's results in record-id order, after the record id ``after``."""
        er = t.eval_results
        q = select(er).where(er.c.run_id == run_id, er.c.record_id > after).order_by(er.c.record_id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [
            EvalResult(
                record_id=row.record_id,
                output=row.output,
                score=row.score,
                passed=row.passed,
                details=orjson.loads(row.details),
                tags=orjson.loads(row.tags),
                tokens_in=row.tokens_in,
                tokens_out=row.tokens_out,
                latency_ms=row.latency_ms,
                cached=bool(row.cached),
                error=row.error,
            )
            for row in rows
        ]

    def iter_results(self, run_id: str, batch_size: int = 2000) -> Iterator[EvalResult]:
        """A run's results in record-id order, by keyset pages."""
        after = ""
        while True:
            page = self.page_results(run_id, after=after, limit=batch_size)
            yield from page
            if len(page) < batch_size:
                return
            after = page[-1].record_id

    def results(self, run_id: str) -> list[EvalResult]:
        return list(self.iter_results(run_id))

    # -- response cache -------------------------------------------------------------------

    def cache_get(self, keys: Sequence[str]) -> dict[str, CachedAnswer]:
        c = t.eval_cache
        out: dict[str, CachedAnswer] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), 500):
                q = select(c.c.key, c.c.output, c.c.tokens_in, c.c.tokens_out, c.c.latency_ms).where(
                    c.c.key.in_(keys[i : i + 500])
                )
                for row in conn.execute(q):
                    out[row.key] = CachedAnswer(row.output, row.tokens_in, row.tokens_out, row.latency_ms)
        return out

    def cache_put(self, entries: Sequence[tuple[str, str, CachedAnswer]]) -> None:
        """Store (key, model, answer) triples; a key already there is left as it is."""
        if not entries:
            return
        now = _now()
        rows = [
            {
                "key": key,
                "model": model,
                "output": a.output,
                "tokens_in": a.tokens_in,
                "tokens_out": a.tokens_out,
                "latency_ms": a.latency_ms,
                "created_at": now,
            }
            for key, model, a in entries
        ]
        stmt = (pg_insert if self._postgres else sqlite_insert)(t.eval_cache).on_conflict_do_nothing()
        with self.engine.begin() as conn:
            conn.execute(stmt, rows)

    # -- arena ----------------------------------------------------------------------------

    def arena_models(self, project_id: int) -> dict[str, str]:
        """Each model with finished runs in the project -> its latest finished run's id."""
        r = t.eval_runs
        q = (
            select(r.c.model, r.c.id, r.c.created_at)
            .where(r.c.project_id == project_id, r.c.status == "done")
            .order_by(r.c.created_at)
        )
        with self.engine.connect() as conn:
            return {row.model: row.id for row in conn.execute(q)}

    def common_item(self, run_a: str, run_b: str) -> tuple[str, str, str] | None:
        """A random record both runs answered without error: (record_id, output of a, output of b)."""
        ra, rb = t.eval_results.alias("ra"), t.eval_results.alias("rb")
        q = (
            select(ra.c.record_id, ra.c.output, rb.c.output)
            .join(rb, and_(rb.c.record_id == ra.c.record_id, rb.c.run_id == run_b))
            .where(
                ra.c.run_id == run_a,
                ra.c.output.is_not(None),
                rb.c.output.is_not(None),
                ra.c.error.is_(None),
                rb.c.error.is_(None),
            )
            .order_by(func.random())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else (row[0], row[1], row[2])

    def create_battle(
        self,
        *,
        project_id: int,
        record_id: str,
        prompt: list[dict[str, Any]],
        model_a: str,
        model_b: str,
        output_a: str,
        output_b: str,
        created_by: str,
    ) -> Battle:
        b = Battle(
            id=secrets.token_hex(8),
            project_id=project_id,
            record_id=record_id,
            prompt=prompt,
            model_a=model_a,
            model_b=model_b,
            output_a=output_a,
            output_b=output_b,
            created_by=created_by,
            created_at=_now(),
        )
        with self.engine.begin() as conn:
            conn.execute(insert(t.arena_battles).values(**{**b.__dict__, "prompt": dumps(prompt)}))
        return b

    def get_battle(self, battle_id: str, project_id: int) -> Battle:
        ab = t.arena_battles
        with self.engine.connect() as conn:
            row = conn.execute(select(ab).where(ab.c.id == battle_id, ab.c.project_id == project_id)).first()
        if row is None:
            raise NotFound(f"no arena battle {battle_id!r}")
        return _battle(row)

    def vote(self, battle_id: str, project_id: int, voter: str, winner: str, reason: str | None) -> Battle:
        """Record the vote; a battle takes one vote, from the person it was dealt to."""
        ab = t.arena_battles
        battle = self.get_battle(battle_id, project_id)
        if battle.created_by != voter:
            raise NotFound(f"no arena battle {battle_id!r}")  # someone else's battle: not confirmed
        with self.engine.begin() as conn:
            n = conn.execute(
                update(ab)
                .where(ab.c.id == battle_id, ab.c.winner.is_(None))
                .values(winner=winner, reason=reason, voted_at=_now())
            ).rowcount
        if n != 1:
            raise Conflict(f"arena battle {battle_id} already has a vote")
        return self.get_battle(battle_id, project_id)

    def votes(self, project_id: int) -> list[tuple[str, str, str]]:
        """Every vote of the project as (model_a, model_b, winner), oldest first."""
        ab = t.arena_battles
        q = (
            select(ab.c.model_a, ab.c.model_b, ab.c.winner)
            .where(ab.c.project_id == project_id, ab.c.winner.is_not(None))
            .order_by(ab.c.voted_at, ab.c.id)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in conn.execute(q)]
