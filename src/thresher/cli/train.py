"""``thresher train ...``: training runs from dataset versions, stages, handoff bundles, comparisons."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from thresher.cli._context import Home, load_home
from thresher.errors import ConfigError
from thresher.store import Store

train_app = typer.Typer(
    help="Training runs (SFT, LoRA, reward, DPO, KTO, RLOO) from dataset versions; stages; handoff to other tools.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 140)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Thresher home folder (default: nearest thresher.toml)")]
DbOpt = Annotated[str | None, typer.Option("--db", help="database URL (default: SQLite in the home)")]
ProjectOpt = Annotated[str | None, typer.Option("--project", "-p", help="project (default: the home's)")]


@contextmanager
def _opened(home: Path | None, db: str | None) -> Iterator[tuple[Home, Store]]:
    h = load_home(home, db)
    store = h.open()
    try:
        yield h, store
    finally:
        store.close()


def _curve(points: list[dict[str, float]]) -> str:
    if not points:
        return "-"
    return f"{points[0]['loss']:.3f} -> {points[-1]['loss']:.3f}"


@train_app.command("run")
def run(
    recipe: Annotated[Path | None, typer.Argument(help="recipe YAML (method, base, lora, train, ...)")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="dataset@version to train on")] = None,
    base: Annotated[
        str | None, typer.Option("--base", help="base stage or model folder (overrides the recipe)")
    ] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="register the trained model as this stage")] = None,
    resume_id: Annotated[str | None, typer.Option("--resume", help="resume this run from its last checkpoint")] = None,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Train a recipe on a dataset version; the run, its loss curve and the new stage are recorded."""
    from thresher.train import load_recipe, resume, train

    with _opened(home, db) as (h, store):
        if resume_id:
            result = resume(store, resume_id)
        else:
            if recipe is None:
                raise ConfigError("give a recipe YAML (or --resume RUN_ID)")
            r = load_recipe(recipe, base=base, stage=stage, dataset=dataset)
            result = train(store, project or h.project, r, h.path / "runs")
        run_ = result.run
        console.print(
            f"run {run_.id}: {run_.method} on {escape(run_.dataset)}@{escape(run_.version)} "
            f"(manifest {run_.manifest_hash[:12]}), {run_.step} steps, loss {_curve(run_.loss_curve)}"
        )
        if result.stage:
            console.print(
                f"stage {escape(result.stage.name)} <- {escape(str(result.stage.parent))}: {result.stage.model_path}"
            )


@train_app.command("list")
def list_(project: ProjectOpt = None, home: HomeOpt = None, db: DbOpt = None) -> None:
    """Training runs and stages, with their lineage."""
    with _opened(home, db) as (h, store):
        name = project or h.project
        runs = Table("run", "method", "data (manifest)", "base", "status", "steps", "loss", "output", title="runs")
        for r in store.training.list_runs(name):
            runs.add_row(
                r.id,
                r.method + (" lora" if r.recipe.get("lora") else ""),
                escape(f"{r.dataset}@{r.version} ({r.manifest_hash[:12]})"),
                escape(r.base_stage or r.base_model),
                r.status,
                str(r.step),
                _curve(r.loss_curve),
                escape(r.output_path),
            )
        console.print(runs)
        stages = Table("stage", "kind", "parent", "model", "run", title="stages")
        for s in store.training.list_stages(name):
            model = s.model_path or f"{s.endpoint} ({s.endpoint_model})"
            stages.add_row(escape(s.name), s.kind, escape(s.parent or "-"), escape(model), s.run_id or "-")
        console.print(stages)


@train_app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="stage name")],
    path: Annotated[Path | None, typer.Option("--path", help="a local folder holding the model")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="an OpenAI-compatible base URL")] = None,
    model: Annotated[str | None, typer.Option("--model", help="the endpoint's model id")] = None,
    parent: Annotated[str | None, typer.Option("--parent", help="the stage it was trained from")] = None,
    kind: Annotated[str, typer.Option("--kind", help="base, sft, reward, dpo, kto, ppo or external")] = "external",
    description: Annotated[str | None, typer.Option("--description")] = None,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Register a model trained elsewhere (or a base model) as a stage of the project."""
    if (path is None) == (endpoint is None):
        raise ConfigError("give exactly one of --path FOLDER or --endpoint URL")
    if endpoint and not model:
        raise ConfigError("--endpoint needs --model (the model id the endpoint serves)")
    if path is not None and not path.exists():
        raise ConfigError(f"{path}: no such folder")
    with _opened(home, db) as (h, store):
        name_ = project or h.project
        store.ensure_project(name_)
        s = store.training.create_stage(
            name_,
            name,
            kind,
            parent=parent,
            model_path=str(path.resolve()) if path else None,
            endpoint=endpoint,
            endpoint_model=model,
            description=description,
        )
        console.print(f"stage {escape(s.name)} ({s.kind}) <- {escape(s.parent or '-')}")


@train_app.command("handoff")
def handoff(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML (method, base, lora, train)")],
    tool: Annotated[str, typer.Option("--tool", "-t", help="axolotl, llama-factory, openai or unsloth")],
    out: Annotated[Path, typer.Option("--out", "-o", help="bundle folder")],
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="dataset@version")] = None,
    base: Annotated[str | None, typer.Option("--base", help="base model as the other tool names it")] = None,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Export a dataset version for another trainer, with a ready config pointing at the files."""
    from thresher.train import load_recipe, split_ref, write_handoff

    r = load_recipe(recipe, base=base, dataset=dataset)
    if not r.dataset:
        raise ConfigError("no dataset: give --dataset dataset@version")
    with _opened(home, db) as (h, store):
        ds_project, ds_name, version = split_ref(r.dataset, project or h.project)
        ds = store.get_dataset(ds_project, ds_name)
        bundle = write_handoff(store, ds, store.get_version(ds, version), r, tool, out)
    console.print(
        f"{bundle.tool} bundle in {escape(str(bundle.folder))}: {bundle.rows} rows, config {bundle.config.name}"
    )
    console.print(f"run inside it:\n  {escape(bundle.command)}")


@train_app.command("tiny-base")
def tiny_base(
    out: Annotated[Path, typer.Argument(help="folder for the model")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="dataset@version whose text trains the tokenizer")],
    name: Annotated[str, typer.Option("--stage", help="register it as this base stage")] = "base",
    project: ProjectOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Build a tiny random Llama with a tokenizer trained on a dataset version (CPU demos, no download)."""
    from thresher.train import build_tiny_model, split_ref
    from thresher.train.compare import version_texts

    with _opened(home, db) as (h, store):
        name_ = project or h.project
        ds_project, ds_name, version = split_ref(dataset, name_)
        ds = store.get_dataset(ds_project, ds_name)
        texts = version_texts(store, ds, store.get_version(ds, version))
        build_tiny_model(out, texts)
        store.ensure_project(name_)
        store.training.create_stage(name_, name, "base", model_path=str(out.resolve()), description="tiny random Llama")
    console.print(f"tiny model in {escape(str(out))}, stage {escape(name)}")


@train_app.command("compare")
def compare(
    recipe: Annotated[Path, typer.Argument(help="recipe YAML: the same recipe trains both versions")],
    a: Annotated[str, typer.Option("--a", help="dataset@version A (e.g. raw)")],
    b: Annotated[str, typer.Option("--b", help="dataset@version B (e.g. curated)")],
    suite: Annotated[str, typer.Option("--suite", "-s", help="eval suite: an eval dataset of the project[@version]")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML report (a .json is written beside it)")] = Path(
        "compare.html"
    ),
    base: Annotated[
        str | None, typer.Option("--base", help="base stage or model folder (overrides the recipe)")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="generation length for the evals")] = 32,
    project: ProjectOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Fine-tune the same base on two dataset versions, evaluate base and both, and report which helped."""
    from thresher.train import load_recipe
    from thresher.train.compare import compare_versions

    r = load_recipe(recipe, base=base)
    with _opened(home, db) as (h, store):
        report = compare_versions(
            store, project or h.project, r, a, b, suite, h.path / "runs", out, max_tokens=max_tokens
        )
        for side in report.sides:
            s = side.eval_run.summary
            console.print(f"{escape(side.label):<28} stage {escape(side.stage.name):<36} mean {s.get('mean') or 0:.3f}")
    console.print(f"[bold]{escape(report.headline)}[/]")
    console.print(f"report: {escape(str(report.path))}")
