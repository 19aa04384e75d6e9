"""``thresher generate``: candidates from models, synthetic data, frontier selection for experts."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape

from thresher.cli._context import split_name
from thresher.cli.app import DbOpt, HomeOpt, _opened, _parse_pairs, _progress, console
from thresher.errors import ConfigError

generate_app = typer.Typer(help="Generate and select: candidates for ranking, synthetic data, frontier prompts.")

ModelsOpt = Annotated[
    list[str],
    typer.Option(
        "--model",
        "-m",
        help="ADAPTER:SPEC (openai:http://host/v1#name, callable:pkg.mod:fn, hf:/path); repeatable. "
        "Per model: append ' n=4 temperature=0.8 ...' in the same quoted value",
    ),
]
ApiKeyOpt = Annotated[
    str | None, typer.Option(envvar="OPENAI_API_KEY", help="bearer token for openai: models", show_default=False)
]


def _value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def parse_model_option(value: str, default_n: int, params: dict[str, Any]) -> dict[str, Any]:
    """``"openai:http://h/v1#m n=2 temperature=0.7"`` -> a ModelSpec dict (JSON values, else text)."""
    spec, *pairs = value.split()
    own = {k: _value(v) for k, v in _parse_pairs(pairs, f"--model {spec}").items()}
    n = own.pop("n", default_n)
    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"--model {spec}: n must be a whole number of 1 or more, got {n!r}")
    return {"model": spec, "params": {**params, **own}, "n": n}


def _choices(models: list[str], n: int, param: list[str] | None, api_key: str | None) -> list[Any]:
    from thresher.generate import ModelSpec

    params = {k: _value(v) for k, v in _parse_pairs(param, "--param").items()}
    out = []
    for m in models:
        choice = ModelSpec.model_validate(parse_model_option(m, n, params)).build()
        if api_key and hasattr(choice.adapter, "api_key"):
            choice.adapter.api_key = api_key
        out.append(choice)
    return out


def _version(store: Any, dataset: Any, version: str | None) -> Any:
    return store.get_version(dataset, version) if version else None


@generate_app.command("candidates")
def candidates(
    source: Annotated[str, typer.Argument(help="the prompts: [project/]DATASET[@VERSION]")],
    model: ModelsOpt,
    target: Annotated[
        str | None, typer.Argument(help="where the comparisons go: [project/]DATASET (made if new)")
    ] = None,
    n: Annotated[int, typer.Option("-n", min=1, max=64, help="candidates per prompt from each model")] = 2,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="sampling param for every model, name=value (JSON)")
    ] = None,
    question: Annotated[
        str | None, typer.Option(help="write suggestions on this text question of the source instead")
    ] = None,
    version: Annotated[str | None, typer.Option(help="name of the target's new version (default v<n+1>)")] = None,
    split: Annotated[str | None, typer.Option(help="only prompts of this split")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="calls in flight")] = 32,
    cache: Annotated[bool, typer.Option(help="reuse cached answers (what makes a re-run resume)")] = True,
    api_key: ApiKeyOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """N candidates per prompt from each model, as comparisons ready for ranking (or as suggestions).

    Interrupted? Run the same command again: cached answers are not asked again, and records
    already written are not written twice."""
    from thresher.generate import CandidateOptions, generate_candidates

    picked = _choices(model, n, param, api_key)
    with _opened(home, db) as (h, store):
        src_name, _, src_version = source.partition("@")
        project, name = split_name(src_name, h.project)
        src = store.get_dataset(project, name)
        dst = None
        if target is not None:
            tproject, tname = split_name(target, h.project)
            dst = store.ensure_dataset(tproject, tname)
        options = CandidateOptions(
            concurrency=concurrency, use_cache=cache, version=version, question=question, split=split
        )
        sv = _version(store, src, src_version)
        total = store.count_records(src, sv)
        with _progress(f"candidates for {src.name}", total) as progress:
            result = generate_candidates(store, src, dst, picked, options, source_version=sv, progress=progress)
    where = f"{result.target} @ {result.version}" if result.version else (result.target or "")
    what = "suggestions" if question else "comparisons"
    console.print(
        f"{result.written} new {what} in [bold]{escape(where)}[/] ({result.duplicates} already there), "
        f"{result.candidates} candidates from {result.prompts} prompts"
    )
    console.print(
        f"  {result.calls} calls, {result.cache_hits} from cache, {result.candidates_per_s:.1f} candidates/s, "
        f"{result.errors} prompts failed"
    )
    for why, k in result.skipped.items():
        console.print(f"  skipped {k}: {escape(why)}")
    if result.first_error:
        console.print(f"  [yellow]first error[/]: {escape(result.first_error)} (run again to retry those prompts)")
    if result.errors:
        raise typer.Exit(1)


@generate_app.command("synthetic")
def synthetic(
    target: Annotated[str, typer.Argument(help="where the rows go: [project/]DATASET (made if new)")],
    model: Annotated[str, typer.Option("--model", "-m", help="ADAPTER:SPEC of the model that writes")],
    topic: Annotated[list[str], typer.Option("--topic", "-t", help="a seed topic; repeatable")],
    task_type: Annotated[
        list[str] | None, typer.Option("--task-type", help="an InstructGPT task type; repeatable (default: all nine)")
    ] = None,
    domain: Annotated[list[str] | None, typer.Option("--domain", "-d", help="a domain; repeatable")] = None,
    per: Annotated[int, typer.Option("--per", min=1, help="variants per topic x task type x domain")] = 1,
    prompts_only: Annotated[bool, typer.Option(help="prompts without responses")] = False,
    response_model: Annotated[
        str | None, typer.Option(help="ADAPTER:SPEC that answers the prompts (default: --model)")
    ] = None,
    template: Annotated[str, typer.Option(help="a shipped template name or a YAML file")] = "default",
    version: Annotated[str | None, typer.Option(help="name of the new version (default v<n+1>)")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024)] = 16,
    cache: Annotated[bool, typer.Option(help="reuse cached answers")] = True,
    api_key: ApiKeyOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Templated prompts (and responses) from seed topics x task types x domains, marked synthetic."""
    from thresher.generate import INSTRUCT_TASK_TYPES, SyntheticSpec, generate_synthetic

    spec = SyntheticSpec(
        topics=topic,
        task_types=task_type or INSTRUCT_TASK_TYPES,
        domains=domain or ("general",),
        per_combination=per,
        pairs=not prompts_only,
        template=template,
    )
    spec.check()
    writer = _choices([model], 1, None, api_key)[0]
    answerer = _choices([response_model], 1, None, api_key)[0] if response_model else None
    total = len(spec.topics) * len(spec.task_types) * len(spec.domains) * per
    with _opened(home, db) as (h, store):
        project, name = split_name(target, h.project)
        store.ensure_project(project)
        ds = store.ensure_dataset(project, name)
        with _progress(f"synthetic rows for {ds.name}", total) as progress:
            result = generate_synthetic(
                store,
                ds,
                spec,
                writer,
                response_model=answerer,
                concurrency=concurrency,
                use_cache=cache,
                version=version,
                progress=progress,
            )
    console.print(
        f"{result.written} new synthetic rows in [bold]{escape(result.target or '')} @ {result.version}[/] "
        f"({result.duplicates} already there, {result.errors} failed), {result.calls} calls"
    )
    if result.first_error:
        console.print(f"  [yellow]first error[/]: {escape(result.first_error)}")


@generate_app.command("frontier")
def frontier(
    source: Annotated[str, typer.Argument(help="the prompts: [project/]DATASET[@VERSION]")],
    target: Annotated[str, typer.Argument(help="the expert dataset the kept prompts go to (made if new)")],
    model: Annotated[str, typer.Option("--model", "-m", help="ADAPTER:SPEC of the current model")],
    samples: Annotated[int, typer.Option("-k", "--samples", min=1, max=64, help="answers per prompt")] = 4,
    grading: Annotated[str, typer.Option(help="reference, judge or self_consistency")] = "reference",
    judge: Annotated[str | None, typer.Option(help="ADAPTER:SPEC of the judge (--grading judge)")] = None,
    scorer: Annotated[str | None, typer.Option(help="reference grading: this scorer for every item")] = None,
    keep_below: Annotated[float, typer.Option(help="keep prompts whose score is below this (0..1]")] = 1.0,
    budget: Annotated[int | None, typer.Option(min=0, help="at most this many prompts, the hardest first")] = None,
    skill: Annotated[str | None, typer.Option(help="the skill the expert queue requires")] = "expert",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="sampling param name=value")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=1024)] = 16,
    cache: Annotated[bool, typer.Option(help="reuse cached answers")] = True,
    api_key: ApiKeyOpt = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Keep the prompts the model fails or disagrees with itself on; queue them for experts."""
    from thresher.generate import FrontierOptions, expert_dataset, select_frontier

    if grading not in ("reference", "judge", "self_consistency"):
        raise ConfigError(f"--grading {grading!r}: expected reference, judge or self_consistency")
    picked = _choices([model], 1, param, api_key)[0]
    options = FrontierOptions(
        samples=samples,
        grading=grading,  # type: ignore[arg-type]
        scorer=scorer,
        judge=judge,
        keep_below=keep_below,
        budget=budget,
        skill=skill or None,
        concurrency=concurrency,
        use_cache=cache,
    )
    with _opened(home, db) as (h, store):
        src_name, _, src_version = source.partition("@")
        project, name = split_name(src_name, h.project)
        src = store.get_dataset(project, name)
        tproject, tname = split_name(target, h.project)
        dst = expert_dataset(store, tproject, tname)
        sv = _version(store, src, src_version)
        with _progress(f"grading {src.name}", store.count_records(src, sv)) as progress:
            result = select_frontier(store, src, dst, picked, options, source_version=sv, progress=progress)

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    console.print(
        f"graded {result.graded} prompts: pass rate {pct(result.pass_rate_before)}; selected {result.selected} "
        f"(pass rate {pct(result.pass_rate_selected)}), {result.written} new in [bold]{escape(result.target or '')}[/]"
        + (f" for skill {escape(skill)}" if skill else "")
    )
    console.print(f"  {result.calls} calls, {result.cache_hits} from cache, {result.errors} prompts failed")
    for why, k in result.skipped.items():
        console.print(f"  skipped {k}: {escape(why)}")
