"""``thresher eval``: run a suite on a model, compare two runs, write the stage report, import benchmarks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from thresher.cli._context import split_name
from thresher.cli.app import DbOpt, HomeOpt, _opened, _parse_pairs, _progress, console
from thresher.errors import ConfigError

eval_app = typer.Typer(help="Evals: run suites on models, compare stages with paired tests, write reports.")

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="ADAPTER:SPEC: openai:http://host/v1#model-name, callable:pkg.module:function, hf:/path/to/model",
    ),
]
SuiteOpt = Annotated[
    str, typer.Option("--suite", "-s", help="eval dataset [project/]NAME[@VERSION], or a built-in (gsm8k-mini)")
]


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _param_value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


@eval_app.command("run")
def run(
    suite: SuiteOpt,
    model: ModelOpt,
    stage: Annotated[str | None, typer.Option(help="the training stage this model is (base, sft, dpo...)")] = None,
    trained_on: Annotated[
        str | None, typer.Option(help="the training dataset version it came from, e.g. sft@v1")
    ] = None,
    scorer: Annotated[str | None, typer.Option(help="score every item with this scorer (default: the item's)")] = None,
    judge: Annotated[str | None, typer.Option(help="judge model (ADAPTER:SPEC) for --scorer judge")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="sampling param name=value (JSON value), repeatable")
    ] = None,
    samples: Annotated[int, typer.Option(min=1, help="answers per item (pass@k)")] = 1,
    concurrency: Annotated[int | None, typer.Option(min=1, help="calls in flight (default: the adapter's)")] = None,
    cache: Annotated[bool, typer.Option(help="reuse answers cached by (model, params, input)")] = True,
    api_key: Annotated[
        str | None, typer.Option(envvar="OPENAI_API_KEY", help="bearer token for an openai: model", show_default=False)
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Run a suite on a model: every answer scored, the mean with its 95% CI, per-tag breakdowns."""
    from thresher.evals import RunOptions, get_scorer, parse_model, resolve_suite, run_eval

    adapter = parse_model(model)
    if api_key and hasattr(adapter, "api_key"):
        adapter.api_key = api_key
    chosen = None
    if scorer is not None:
        chosen = get_scorer(scorer, adapter=parse_model(judge)) if scorer == "judge" and judge else get_scorer(scorer)
    params = {k: _param_value(v) for k, v in _parse_pairs(param, "--param").items()}
    options = RunOptions(
        params=params,
        samples=samples,
        scorer=chosen,
        concurrency=concurrency,
        use_cache=cache,
        stage=stage,
        training_version=trained_on,
    )
    with _opened(home, db) as (h, store):
        project, name = split_name(suite, h.project)
        store.ensure_project(project)
        s = resolve_suite(store, project, name)
        total = store.count_records(s.dataset, s.version)
        with _progress(f"{s.name} on {adapter.model}", total) as progress:
            result = run_eval(store, s, adapter, options, progress=progress)
    sm = result.summary
    lo, hi = sm["ci"]
    console.print(f"run [bold]{result.id}[/]: {escape(s.name)} x {escape(result.model)} ({escape(stage or '-')})")
    console.print(
        f"  mean {_fmt(sm['mean'])} (95% CI {_fmt(lo)}-{_fmt(hi)}), pass rate {_fmt(sm['pass_rate'])}, "
        f"{sm['items']} items, {sm['errors']} errors, {sm['pending']} pending"
    )
    console.print(
        f"  {sm['calls']} calls, {sm['cache_hits']} from cache, {sm['items_per_s']} items/s, "
        f"tokens in/out {sm['tokens_in']}/{sm['tokens_out']}"
    )
    if sm["by_tag"]:
        table = Table("tag", "n", "mean", "95% CI")
        for tag, t in sm["by_tag"].items():
            table.add_row(escape(tag), str(t["n"]), _fmt(t["mean"]), f"{_fmt(t['ci'][0])}-{_fmt(t['ci'][1])}")
        console.print(table)


@eval_app.command("runs")
def runs(
    suite: Annotated[str | None, typer.Option("--suite", "-s", help="only runs of this suite (NAME@VERSION)")] = None,
    project: Annotated[str | None, typer.Option(help="project (default: the home's)")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """List eval runs, oldest first."""
    with _opened(home, db) as (h, store):
        p = store.get_project(project or h.project)
        assert p.id is not None
        table = Table("run", "suite", "model", "stage", "trained on", "mean", "items", "status")
        for r in store.evals.list_runs(p.id, suite=suite):
            table.add_row(
                r.id,
                escape(r.suite),
                escape(r.model),
                escape(r.stage or "–"),
                escape(r.training_version or "–"),
                _fmt(r.summary.get("mean")),
                str(r.summary.get("items", "–")),
                r.status,
            )
        console.print(table)


@eval_app.command("compare")
def compare(
    run_a: Annotated[str, typer.Argument(help="the baseline run id")],
    run_b: Annotated[str, typer.Argument(help="the run compared with it")],
    as_json: Annotated[bool, typer.Option("--json", help="print the comparison as JSON")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Compare two runs of one suite version item by item: paired bootstrap, McNemar for pass/fail."""
    from thresher.evals import compare_runs

    with _opened(home, db) as (_, store):
        c = compare_runs(store, store.evals.get_run(run_a), store.evals.get_run(run_b))
    if as_json:
        console.print_json(orjson.dumps(c).decode())
        return
    console.print(
        f"{escape(c['suite'])}: B ({escape(c['b']['model'])}) - A ({escape(c['a']['model'])}) on {c['n']} items: "
        f"{_fmt(c['diff'])} (95% CI {_fmt(c['ci'][0])} to {_fmt(c['ci'][1])}); "
        f"mean A {_fmt(c['mean_a'])}, B {_fmt(c['mean_b'])}"
    )
    if c["mcnemar"]:
        m = c["mcnemar"]
        console.print(
            f"McNemar: A-only {int(m['a_only'])}, B-only {int(m['b_only'])}, p = {m['p']:.4g}"
            f" ({'exact' if m['exact'] else 'chi-square'})"
        )
    console.print(f"[bold]{c['verdict']}[/]")


@eval_app.command("report")
def report(
    suite: SuiteOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="the HTML file to write")] = Path("eval-report.html"),
    run: Annotated[
        list[str] | None, typer.Option("--run", help="runs in stage order (default: latest run of each stage)")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Write the stage report (HTML with plots, CIs, significance and per-tag breakdowns)."""
    from thresher.evals.report import pick_stage_runs, write_stage_report
    from thresher.evals.suites import resolve_suite

    with _opened(home, db) as (h, store):
        project, name = split_name(suite, h.project)
        p = store.get_project(project)
        assert p.id is not None
        if run:
            chosen = [store.evals.get_run(r, p.id) for r in run]
        else:
            chosen = pick_stage_runs(store, p.id, resolve_suite(store, project, name).name)
        path = write_stage_report(store, chosen, out)
    console.print(f"report: {escape(str(path))}")


@eval_app.command("import-benchmark")
def import_benchmark(
    file: Annotated[Path, typer.Argument(help="the benchmark file (read offline)")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="eval dataset (created if missing)")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="gsm8k, mmlu, humaneval or jsonl")] = "jsonl",
    version: Annotated[str | None, typer.Option(help="then freeze the dataset as this version")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import a benchmark file (GSM8K, MMLU, HumanEval, generic JSONL) as eval items."""
    from thresher.evals.importers import BENCHMARK_FORMATS
    from thresher.evals.importers import import_benchmark as do_import

    if fmt not in BENCHMARK_FORMATS:
        raise ConfigError(f"--format {fmt!r}: expected one of {', '.join(BENCHMARK_FORMATS)}")
    with _opened(home, db) as (h, store):
        project, name = split_name(dataset, h.project)
        ds = store.ensure_dataset(project, name)
        added = do_import(store, ds, file, fmt)
        console.print(f"{added} new eval items in {escape(project)}/{escape(name)}")
        if version:
            v = store.create_version(ds, version)
            console.print(f"version {escape(v.name)}: {v.record_count} records")


@eval_app.command("review")
def review(
    run_id: Annotated[str, typer.Argument(help="the run whose outputs people should rate")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="annotation dataset (default review-RUN)")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Send a run's outputs to human review: an annotation dataset with a quality rating (1-5)."""
    from thresher.evals.human import send_to_review

    with _opened(home, db) as (_, store):
        ds = send_to_review(store, store.evals.get_run(run_id), dataset)
        n = store.count_records(ds)
    console.print(f"{n} outputs in {escape(ds.project)}/{escape(ds.name)}: the annotation queue picks them up")


@eval_app.command("collect")
def collect(
    run_id: Annotated[str, typer.Argument(help="the run sent to review")],
    dataset: Annotated[
        str | None, typer.Option("--dataset", "-d", help="annotation dataset (default review-RUN)")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Read the people's ratings back into the run, and how well the LLM judge agrees with them."""
    from thresher.evals.human import collect_human_scores, judge_human_alignment

    with _opened(home, db) as (_, store):
        run = store.evals.get_run(run_id)
        project = next(p.name for p in store.list_projects() if p.id == run.project_id)
        ds = store.get_dataset(project, dataset or f"review-{run.id}")
        n = collect_human_scores(store, run, ds)
        agreement = judge_human_alignment(store, run)
    console.print(f"{n} items have human ratings")
    if agreement["items"]:
        console.print(
            f"judge vs people on {agreement['items']} items: exact agreement {_fmt(agreement['exact_agreement'])}, "
            f"Cohen's kappa {_fmt(agreement['cohen_kappa'])}, "
            f"Krippendorff's alpha {_fmt(agreement['krippendorff_alpha'])}"
        )
