"""Training runs and model stages (``thresher.train``): the repository.

A *stage* is one model of a project's chain (base -> sft -> reward -> dpo ...): a local folder
holding a Hugging Face model or adapter, or an OpenAI-compatible endpoint, with its parent
stage and the training run that produced it. A *training run* records everything needed to
rebuild it: the recipe, the base model, the dataset version and its manifest hash, the seed,
the library versions, the loss curve, the output folder and the last checkpoint.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import orjson
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from thresher.errors import Conflict, NotFound
from thresher.store import tables as t

StageKind = Literal["base", "sft", "reward", "dpo", "kto", "ppo", "rloo", "external"]
STAGE_KINDS: tuple[str, ...] = get_args(StageKind)
RunStatus = Literal["running", "done", "failed", "interrupted"]


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite hands back naive UTC


@dataclass(frozen=True)
class Stage:
    id: int
    project: str
    name: str
    kind: str
    parent: str | None = None
    model_path: str | None = None
    endpoint: str | None = None
    endpoint_model: str | None = None
    run_id: str | None = None
    description: str | None = None
    created_at: datetime = field(default_factory=_now)


@dataclass
class TrainingRun:
    id: str
    project: str
    method: str
    recipe: dict[str, Any]
    base_model: str
    dataset: str  # project/name
    version: str
    manifest_hash: str
    seed: int
    output_path: str
    base_stage: str | None = None
    dataset_id: int | None = None
    version_id: int | None = None
    export_sha256: str | None = None
    libraries: dict[str, str] = field(default_factory=dict)
    status: str = "running"
    metrics: dict[str, Any] = field(default_factory=dict)
    loss_curve: list[dict[str, float]] = field(default_factory=list)
    checkpoint: str | None = None
    step: int = 0
    error: str | None = None
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)


def new_run_id() -> str:
    return "tr_" + secrets.token_hex(8)


_RUN_JSON = ("recipe", "libraries", "metrics", "loss_curve")


class Training:
    """Repository of stages and training runs (``store.training``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _project_id(self, conn: Any, project: str) -> int:
        pid = conn.execute(select(t.projects.c.id).where(t.projects.c.name == project)).scalar_one_or_none()
        if pid is None:
            raise NotFound(f"project {project!r} not found")
        return int(pid)

    # -- stages -----------------------------------------------------------------------------

    def create_stage(
        self,
        project: str,
        name: str,
        kind: str,
        *,
        parent: str | None = None,
        model_path: str | None = None,
        endpoint: str | None = None,
        endpoint_model: str | None = None,
        run_id: str | None = None,
        description: str | None = None,
    ) -> Stage:
        if kind not in STAGE_KINDS:
            raise Conflict(f"stage kind {kind!r} is not one of {', '.join(STAGE_KINDS)}")
        try:
            with self.engine.begin() as conn:
                pid = self._project_id(conn, project)
                parent_id = self._stage_row(conn, pid, project, parent).id if parent else None
                conn.execute(
                    insert(t.stages).values(
                        project_id=pid,
                        name=name,
                        kind=kind,
                        parent_id=parent_id,
                        model_path=model_path,
                        endpoint=endpoint,
                        endpoint_model=endpoint_model,
                        run_id=run_id,
                        description=description,
                        created_at=_now(),
                    )
                )
        except IntegrityError:
            raise Conflict(f"stage {name!r} already exists in project {project!r}") from None
        return self.get_stage(project, name)

    def _stage_row(self, conn: Any, pid: int, project: str, name: str) -> Any:
        row = conn.execute(select(t.stages).where(t.stages.c.project_id == pid, t.stages.c.name == name)).first()
        if row is None:
            raise NotFound(f"stage {name!r} not found in project {project!r}")
        return row

    def _stage(self, conn: Any, project: str, row: Any) -> Stage:
        parent = None
        if row.parent_id is not None:
            parent = conn.execute(select(t.stages.c.name).where(t.stages.c.id == row.parent_id)).scalar_one_or_none()
        return Stage(
            id=row.id,
            project=project,
            name=row.name,
            kind=row.kind,
            parent=parent,
            model_path=row.model_path,
            endpoint=row.endpoint,
            endpoint_model=row.endpoint_model,
            run_id=row.run_id,
            description=row.description,
            created_at=_aware(row.created_at),
        )

    def get_stage(self, project: str, name: str) -> Stage:
        with self.engine.connect() as conn:
            pid = self._project_id(conn, project)
            return self._stage(conn, project, self._stage_row(conn, pid, project, name))

    def find_stage(self, project: str, name: str) -> Stage | None:
        try:
            return self.get_stage(project, name)
        except NotFound:
            return None

    def list_stages(self, project: str) -> list[Stage]:
        with self.engine.connect() as conn:
            pid = self._project_id(conn, project)
            rows = conn.execute(select(t.stages).where(t.stages.c.project_id == pid).order_by(t.stages.c.id)).all()
            return [self._stage(conn, project, r) for r in rows]

    def lineage(self, project: str, name: str) -> list[Stage]:
        """The stage and its ancestors, the stage first and the root (the base) last."""
        chain = [self.get_stage(project, name)]
        seen = {chain[0].id}
        while chain[-1].parent is not None:
            parent = self.get_stage(project, chain[-1].parent)
            if parent.id in seen:  # a cycle cannot be built through create_stage; guard anyway
                break
            seen.add(parent.id)
            chain.append(parent)
        return chain

    # -- training runs ----------------------------------------------------------------------

    def create_run(self, run: TrainingRun) -> TrainingRun:
        values = {k: v for k, v in vars(run).items() if k != "project"}
        for key in _RUN_JSON:
            values[key] = orjson.dumps(values[key]).decode()
        with self.engine.begin() as conn:
            values["project_id"] = self._project_id(conn, run.project)
            conn.execute(insert(t.training_runs).values(**values))
        return run

    def update_run(self, run_id: str, **changes: Any) -> None:
        """Set some fields of a run (``status``, ``loss_curve``, ``step``, ``checkpoint`` ...)."""
        for key in _RUN_JSON:
            if key in changes:
                changes[key] = orjson.dumps(changes[key]).decode()
        changes["updated_at"] = _now()
        with self.engine.begin() as conn:
            done = conn.execute(update(t.training_runs).where(t.training_runs.c.id == run_id).values(**changes))
            if done.rowcount == 0:
                raise NotFound(f"training run {run_id!r} not found")

    def _run(self, project: str, mapping: Any) -> TrainingRun:
        data = {k: v for k, v in dict(mapping).items() if k not in ("project_id", "project_name")}
        for key in _RUN_JSON:
            data[key] = orjson.loads(data[key])
        data["created_at"] = _aware(data["created_at"])
        data["updated_at"] = _aware(data["updated_at"])
        return TrainingRun(project=project, **data)

    def get_run(self, run_id: str) -> TrainingRun:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.training_runs, t.projects.c.name.label("project_name"))
                .join(t.projects, t.projects.c.id == t.training_runs.c.project_id)
                .where(t.training_runs.c.id == run_id)
            ).first()
        if row is None:
            raise NotFound(f"training run {run_id!r} not found")
        return self._run(row.project_name, row._mapping)

    def list_runs(self, project: str) -> list[TrainingRun]:
        with self.engine.connect() as conn:
            pid = self._project_id(conn, project)
            rows = conn.execute(
                select(t.training_runs)
                .where(t.training_runs.c.project_id == pid)
                .order_by(t.training_runs.c.created_at, t.training_runs.c.id)
            ).all()
        return [self._run(project, r._mapping) for r in rows]
