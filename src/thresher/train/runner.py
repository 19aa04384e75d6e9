"""Run a recipe on a dataset version: export the rows, train with TRL, record the run, register the stage.

The training data is exported through the same formats as ``thresher export`` (so what the
trainer reads is what a user would export) into the run folder, with its manifest; the run
record keeps the version's manifest hash and the export's sha256, and a resumed run refuses
data that changed. The run folder holds ``recipe.yaml``, ``data/``, ``checkpoints/`` (the
trainer's, for resuming) and ``model/`` (the trained model, or the LoRA adapter).
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from thresher.errors import ConfigError
from thresher.model import Dataset, DatasetVersion
from thresher.pipeline import export_dataset
from thresher.store import Store
from thresher.store.training import Stage, TrainingRun, new_run_id
from thresher.train._deps import library_versions, require
from thresher.train.models import load_tokenizer, resolve_base
from thresher.train.recipe import Recipe, dump_recipe

DATA_FILE = "train.jsonl"
WRITE_EVERY_S = 2.0  # the loss curve reaches the run record at most this often (and at each checkpoint)


@dataclass
class RunResult:
    run: TrainingRun
    stage: Stage | None


def split_ref(ref: str, default_project: str) -> tuple[str, str, str]:
    """``[project/]dataset@version`` -> (project, dataset, version)."""
    name, at, version = ref.rpartition("@")
    if not at or not name or not version:
        raise ConfigError(f"dataset {ref!r}: expected dataset@version (training runs from a frozen version)")
    project, _, dataset = name.rpartition("/")
    return project or default_project, dataset, version


def train(
    store: Store,
    project: str,
    recipe: Recipe,
    runs_dir: Path,
    *,
    dataset: str | None = None,
    callbacks: Sequence[Any] = (),
) -> RunResult:
    """Train ``recipe`` on ``dataset`` (``dataset@version``, default: the recipe's) and record it all."""
    require("train")
    recipe.check()
    ref = dataset or recipe.dataset
    if not ref:
        raise ConfigError("no dataset: give dataset@version (recipe `dataset:` or the command line)")
    ds_project, ds_name, version_name = split_ref(ref, project)
    ds = store.get_dataset(ds_project, ds_name)
    version = store.get_version(ds, version_name)
    store.ensure_project(project)
    base_path, base_stage = resolve_base(store, project, recipe.base)
    if recipe.stage and store.training.find_stage(project, recipe.stage):
        raise ConfigError(f"stage {recipe.stage!r} already exists in project {project!r}: name the new one")

    run_id = new_run_id()
    run_dir = (runs_dir / run_id).resolve()
    data_file = _export(store, ds, version, recipe, run_dir)
    (run_dir / "recipe.yaml").write_text(dump_recipe(recipe), encoding="utf-8")
    run = TrainingRun(
        id=run_id,
        project=project,
        method=recipe.method,
        recipe=recipe.model_dump(mode="json"),
        base_model=str(base_path),
        base_stage=base_stage.name if base_stage else None,
        dataset=f"{ds.project}/{ds.name}",
        dataset_id=ds.id,
        version=version.name,
        version_id=version.id,
        manifest_hash=version.manifest_hash,
        export_sha256=_sha256(data_file),
        seed=recipe.seed,
        libraries=library_versions(),
        output_path=str(run_dir),
    )
    store.training.create_run(run)
    return _execute(store, run, recipe, data_file, resume_from=None, callbacks=callbacks)


def resume(store: Store, run_id: str, *, callbacks: Sequence[Any] = ()) -> RunResult:
    """Continue a run that stopped, from its last checkpoint, on the very data it started with."""
    require("train")
    from transformers.trainer_utils import get_last_checkpoint

    run = store.training.get_run(run_id)
    if run.status == "done":
        raise ConfigError(f"training run {run_id} is already done")
    recipe = Recipe.model_validate(run.recipe)
    data_file = Path(run.output_path) / "data" / DATA_FILE
    if not data_file.is_file() or _sha256(data_file) != run.export_sha256:
        raise ConfigError(f"training run {run_id}: its exported data is missing or changed ({data_file})")
    checkpoints = Path(run.output_path) / "checkpoints"
    last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None  # type: ignore[no-untyped-call]
    step = int(last.rsplit("-", 1)[-1]) if last else 0
    # The loss curve past the checkpoint is replayed by the resumed trainer: drop it here.
    run.loss_curve = [p for p in run.loss_curve if p["step"] <= step]
    run.status, run.error, run.step = "running", None, step
    store.training.update_run(run_id, status="running", error=None, loss_curve=run.loss_curve, step=step)
    return _execute(store, run, recipe, data_file, resume_from=last, callbacks=callbacks)


def _export(store: Store, ds: Dataset, version: DatasetVersion, recipe: Recipe, run_dir: Path) -> Path:
    out = run_dir / "data" / DATA_FILE
    result = export_dataset(store, ds, out, recipe.format, version=version, options=recipe.export)
    if result.rows == 0:
        shutil.rmtree(run_dir, ignore_errors=True)
        reasons = dict(result.skipped)
        if getattr(result, "leaked", None):  # left out: they match an eval item of the project
            reasons["matching an eval item (leakage)"] = len(result.leaked)
        skipped = ", ".join(f"{k}: {v}" for k, v in reasons.items()) or "no records of a fitting kind"
        raise ConfigError(
            f"{ds.name}@{version.name} has no {recipe.format} rows for method {recipe.method!r} ({skipped})"
        )
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_rows(data_file: Path, method: str) -> Any:
    """The exported rows as a ``datasets.Dataset`` (memory-mapped, cached inside the run folder)."""
    from datasets import load_dataset

    ds = load_dataset("json", data_files=str(data_file), split="train", cache_dir=str(data_file.parent / "cache"))
    if method == "rloo":
        ds = ds.select_columns(["prompt"])  # the completions are sampled online
    return ds


def _execute(
    store: Store,
    run: TrainingRun,
    recipe: Recipe,
    data_file: Path,
    *,
    resume_from: str | None,
    callbacks: Sequence[Any],
) -> RunResult:
    from thresher.train.trainers import build_trainer

    run_dir = Path(run.output_path)
    recorder = make_recorder(store, run)
    try:
        trainer = build_trainer(
            store, run.project, recipe, Path(run.base_model), load_rows(data_file, recipe.method), run_dir
        )
        trainer.add_callback(recorder)
        for cb in callbacks:
            trainer.add_callback(cb)
        output = trainer.train(resume_from_checkpoint=resume_from)
        model_dir = run_dir / "model"
        trainer.save_model(str(model_dir))
        load_tokenizer(Path(run.base_model)).save_pretrained(str(model_dir))
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt | Interrupted) else "failed"
        store.training.update_run(
            run.id, status=status, error=f"{type(e).__name__}: {e}"[:2000], loss_curve=run.loss_curve
        )
        raise
    metrics = {k: v for k, v in output.metrics.items() if isinstance(v, int | float) and math.isfinite(v)}
    counted = [h["num_tokens"] for h in trainer.state.log_history if "num_tokens" in h]
    if counted:  # SFT counts the tokens it trained on
        metrics["num_tokens"] = float(counted[-1])
    run.metrics, run.status, run.step = metrics, "done", int(trainer.state.global_step)
    store.training.update_run(
        run.id, status="done", metrics=metrics, step=run.step, loss_curve=run.loss_curve, checkpoint=run.checkpoint
    )
    (run_dir / "run.json").write_bytes(orjson.dumps(vars(run), option=orjson.OPT_INDENT_2, default=str) + b"\n")
    stage = store.training.create_stage(
        run.project,
        recipe.stage or f"{recipe.method}-{run.id[3:9]}",
        "ppo" if recipe.method == "rloo" else recipe.method,
        parent=run.base_stage,
        model_path=str(model_dir),
        run_id=run.id,
        description=f"{recipe.method}{' (LoRA)' if recipe.lora else ''} on {run.dataset}@{run.version}",
    )
    return RunResult(run=run, stage=stage)


class Interrupted(Exception):
    """Raised by a callback to stop a run as if it were interrupted (the run can be resumed)."""


def make_recorder(store: Store, run: TrainingRun) -> Any:
    """A ``TrainerCallback`` that writes the loss curve and the last checkpoint to the run record."""
    from transformers import TrainerCallback

    class Recorder(TrainerCallback):
        written = 0.0

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
            if not logs or "loss" not in logs:
                return
            point = {"step": int(state.global_step), "loss": float(logs["loss"])}
            for key in ("accuracy", "rewards/margins", "rewards/accuracies", "reward", "mean_token_accuracy"):
                if isinstance(logs.get(key), int | float):
                    point[key] = float(logs[key])
            run.loss_curve.append(point)
            # The whole curve is rewritten each time: at most every few seconds, so a long run
            # with frequent logging does not spend its time serialising its own history.
            if time.monotonic() - self.written >= WRITE_EVERY_S:
                self.write(int(state.global_step))

        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            run.checkpoint = str(Path(args.output_dir) / f"checkpoint-{state.global_step}")
            self.write(int(state.global_step))

        def write(self, step: int) -> None:
            store.training.update_run(run.id, loss_curve=run.loss_curve, checkpoint=run.checkpoint, step=step)
            self.written = time.monotonic()

    return Recorder()
