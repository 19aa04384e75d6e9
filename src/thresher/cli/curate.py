"""``thresher curate``: run a pipeline, ask why a record was dropped, run triage rules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from thresher.cli.app import DbOpt, HomeOpt, _opened, console, err
from thresher.errors import NotFound

curate_app = typer.Typer(help="Curation: pipelines of blocks (dedup, quality, PII, contamination...) and triage rules.")


@curate_app.command("run")
def run(
    pipeline: Annotated[
        Path | None, typer.Argument(help="pipeline YAML (default: the shipped default pipeline)")
    ] = None,
    input_: Annotated[str | None, typer.Option("--input", "-i", help="input dataset (overrides the file's)")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="output dataset (overrides the file's)")] = None,
    version: Annotated[str | None, typer.Option(help="input version")] = None,
    executor: Annotated[str, typer.Option(help="inline, local (processes) or ray")] = "local",
    workers: Annotated[int | None, typer.Option(help="processes (local) or CPUs (ray)")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="start over instead of resuming an unfinished run")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Run a pipeline: a new version of the output dataset, a report, a decision per dropped record."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from thresher.curate import InputSpec, OutputSpec, load_pipeline
    from thresher.curate.runner import run_pipeline, run_summary
    from thresher.errors import ConfigError
    from thresher.pipeline.executors import get_executor

    path = pipeline or Path(__file__).resolve().parent.parent / "curate" / "pipelines" / "default.yaml"
    spec = load_pipeline(path)
    inp = spec.input
    if input_:
        inp = InputSpec(dataset=input_, version=version, kinds=inp.kinds if inp else [])
    elif version and inp:
        inp = inp.model_copy(update={"version": version})
    outp = OutputSpec(dataset=output) if output else spec.output
    if inp is None or outp is None:
        raise ConfigError(f"{path}: no input or output dataset; give --input and --output")
    with _opened(home, db) as (h, store):
        columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,}")]
        with Progress(*columns, TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
            task = bar.add_task("curating", total=None)
            result = run_pipeline(
                store,
                spec,
                project=h.project,
                work_root=h.path / "curation" / "runs",
                executor=get_executor(executor, workers),
                input=inp,
                output=outp,
                fresh=fresh,
                progress=lambda label, n: bar.update(task, description=label, completed=n),
            )
    console.print(
        f"run {result.run_id}{' (resumed)' if result.resumed else ''}: {result.records_in:,} in, "
        f"{result.records_out:,} out -> {escape(result.output_dataset)}@{escape(str(result.version))}"
    )
    for line in run_summary(result.blocks):
        console.print(escape(line))
    console.print(f"report: {escape(str(result.report))}")


@curate_app.command("why")
def why(
    record_id: Annotated[str, typer.Argument(help="a record id (input or output of a run)")],
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Which block of which run dropped, changed or flagged a record, and why; and what triage did."""
    with _opened(home, db) as (_, store):
        ids = [record_id]
        try:
            rec = store.get_record(record_id)
            ids += rec.lineage
        except NotFound:
            pass
        decisions = store.curation.decisions_for(ids)
        triage = store.curation.triage_for(ids)
        if not decisions and not triage:
            console.print(f"no curation run or triage rule acted on {escape(record_id)}: it was kept as is")
            return
        for d in decisions:
            extra = ", ".join(f"{k}={v}" for k, v in d.detail.items())
            console.print(
                f"run {d.run_id} ({escape(d.pipeline)}) block {d.block_index} {escape(d.block)}: "
                f"[bold]{d.action}[/] {escape(d.reason)}" + (f" ({escape(extra)})" if extra else "")
            )
        for tr in triage:
            console.print(
                f"triage rule {escape(tr['rule'])}: {escape(tr['action'])}"
                + (f" -> record {tr['target_record_id']}" if tr["target_record_id"] else "")
                + f" {escape(str(tr['detail']))}"
            )


@curate_app.command("triage")
def triage(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="dataset to triage")],
    rules: Annotated[Path | None, typer.Argument(help="rules YAML (default: the shipped rule set)")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Run triage rules over a dataset: route failed runs, thumbs-down chats and reasoned picks."""
    from thresher.curate.triage import load_rules, triage_dataset

    with _opened(home, db) as (h, store):
        result = triage_dataset(store, h.project, dataset, load_rules(rules))
    if not result.matched:
        console.print("no rule matched any record")
    for name, n in sorted(result.matched.items()):
        console.print(f"rule {escape(name)}: {n} records")
    for key, n in sorted(result.actions.items()):
        console.print(f"  {escape(key)}: {n} done")
    for key, n in sorted(result.skipped.items()):
        console.print(f"  {escape(key)}: {n} already done")


@curate_app.command("pairs")
def pairs(
    dataset: Annotated[str, typer.Argument(help="dataset name, or project/dataset")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write")],
    kind: Annotated[
        str, typer.Option(help="preference (pairs), reward (scored candidates), kto or sft")
    ] = "preference",
    version: Annotated[str | None, typer.Option(help="dataset version")] = None,
    which: Annotated[str, typer.Option("--pairs", help="best_vs_worst, best_vs_rest or all")] = "best_vs_worst",
    min_margin: Annotated[float, typer.Option(help="drop pairs whose score gap is smaller")] = 0.0,
    weight: Annotated[list[str] | None, typer.Option(help="rating question=weight (Likert pairs)")] = None,
    question: Annotated[str | None, typer.Option(help="ranking or choice question")] = None,
    rewrite: Annotated[str | None, typer.Option(help="text question with human rewrites (sft)")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Training rows with lineage (the record and the response ids that made each row) as JSONL."""
    import orjson

    from thresher.cli.app import _parse_pairs
    from thresher.errors import ConfigError
    from thresher.formats import ExportOptions
    from thresher.formats.base import ExportContext, ExportItem
    from thresher.formats.views import kto_examples, preference_pairs, reward_rows, sft_row

    if kind not in ("preference", "reward", "kto", "sft") or which not in ("best_vs_worst", "best_vs_rest", "all"):
        raise ConfigError(
            "--kind is one of preference, reward, kto, sft; --pairs one of best_vs_worst, best_vs_rest, all"
        )
    weights = {k: float(v) for k, v in _parse_pairs(weight, "--weight").items()}
    options = ExportOptions(
        pairs=which,
        min_margin=min_margin,
        rating_weights=weights,
        preference_question=question,
        rewrite_question=rewrite,
    )
    n = 0
    with _opened(home, db) as (h, store):
        project, name = dataset.split("/", 1) if "/" in dataset else (h.project, dataset)
        ds = store.get_dataset(project, name)
        ver = store.get_version(ds, version) if version else None
        ctx = ExportContext(
            questions=store.version_questions(ver) if ver else ds.questions, options=options, dataset_name=ds.name
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as f:
            for batch in store.iter_records(ds, version=ver):
                responses = store.responses_for([r.id for r in batch], ver)
                for r in batch:
                    if r.kind == "eval_item":
                        continue  # never in training rows
                    item = ExportItem(r.id, r.kind, r.content, responses.get(r.id, []))
                    rows: list[object] = []
                    if kind == "preference":
                        rows = list(preference_pairs(item, ctx))
                    elif kind == "reward":
                        rows = list(reward_rows(item, ctx))
                    elif kind == "kto":
                        rows = list(kto_examples(item, ctx))
                    elif (row := sft_row(item, ctx)) is not None:
                        rows = [row]
                    for row_ in rows:
                        f.write(orjson.dumps(row_) + b"\n")
                        n += 1
    console.print(f"{n:,} {kind} rows with lineage -> {escape(str(out))}")
