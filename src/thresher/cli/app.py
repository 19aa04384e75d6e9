"""The ``thresher`` command line: init, import, export, datasets, show, stats, version, formats, demo."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from thresher._version import __version__
from thresher.cli._context import DEFAULT_PROJECT, Home, load_home, split_name, write_home
from thresher.errors import ConfigError, DataError, ThresherError
from thresher.model import TASK_TYPES, Dataset, DatasetVersion, TaskType
from thresher.settings import HOME_MARKER
from thresher.store import RecordFilter, Store

app = typer.Typer(
    name="thresher",
    help="Thresher: the data that trains and evaluates LLMs and agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
version_app = typer.Typer(help="Dataset versions: immutable, named snapshots that exports and evals point to.")
app.add_typer(version_app, name="version")

# Piped output (CI logs, files) gets a wide fixed width instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="Thresher home folder (default: nearest thresher.toml)")]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="database URL (default: SQLite in the home; env THRESHER_DATABASE_URL)")
]
DatasetArg = Annotated[str, typer.Argument(help="dataset name, or project/dataset")]


@contextmanager
def _opened(home: Path | None, db: str | None) -> Iterator[tuple[Home, Store]]:
    h = load_home(home, db)
    store = h.open()
    try:
        yield h, store
    finally:
        store.close()


def _dataset(store: Store, h: Home, name: str, *, create: bool = False) -> Dataset:
    project, dataset = split_name(name, h.project)
    return store.ensure_dataset(project, dataset) if create else store.get_dataset(project, dataset)


def _version(store: Store, ds: Dataset, name: str | None) -> DatasetVersion | None:
    return store.get_version(ds, name) if name else None


@contextmanager
def _progress(label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; the callback takes the count done so far."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}")]
    with Progress(*columns, TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, completed=done)


# -- init -----------------------------------------------------------------------------------


@app.command()
def init(
    path: Annotated[Path, typer.Argument(help="folder to hold the home (created if missing)")] = Path("."),
    project: Annotated[str, typer.Option(help="the default project")] = DEFAULT_PROJECT,
    admin: Annotated[str | None, typer.Option(help="create this first administrator (asks for a password)")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read it from stdin")] = False,
    db: DbOpt = None,
) -> None:
    """Create a Thresher home: SQLite database (WAL), blob folder, default project, first admin."""
    from thresher.cli.users import create_user, read_password

    path.mkdir(parents=True, exist_ok=True)
    if not (path / HOME_MARKER).exists():
        write_home(path, project, db)
    with _opened(path, db) as (h, store):
        store.ensure_project(h.project)
        console.print(f"Thresher home ready in [bold]{escape(str(path.resolve()))}[/] ({store.backend})")
        if admin:
            console.print(
                escape(create_user(store, admin, read_password(password_stdin), admin=True, project=None, role=None))
            )
        console.print(f"project: {escape(h.project)}; next: thresher import FILE --dataset NAME")


# -- import / export ------------------------------------------------------------------------


def _parse_pairs(values: list[str] | None, what: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {v!r}: expected name=value")
        out[key.strip()] = val.strip()
    return out


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="file or folder (saved HF dataset, Parquet folder)")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="target dataset (created if missing)")],
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="row format (default: detected)")] = None,
    container: Annotated[str | None, typer.Option(help="file type (default: from the extension)")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="field mapping target=source (generic format)")
    ] = None,
    skip_invalid: Annotated[bool, typer.Option(help="import valid rows; write bad ones to a rejects file")] = False,
    rejects: Annotated[Path | None, typer.Option(help="rejects file (default: FILE.rejects.jsonl)")] = None,
    split: Annotated[str | None, typer.Option(help="set this split on every record")] = None,
    task_type: Annotated[str | None, typer.Option(help=f"instruction task type: {', '.join(TASK_TYPES)}")] = None,
    max_record_mb: Annotated[float, typer.Option(help="largest record accepted, in MB")] = 16.0,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Import a dataset file: all rows or none (unless --skip-invalid); duplicates are skipped."""
    from thresher.pipeline import import_file

    if task_type is not None and task_type not in TASK_TYPES:
        raise ConfigError(f"--task-type {task_type!r}: expected one of {', '.join(TASK_TYPES)}")
    with _opened(home, db) as (h, store), _progress(f"importing {file.name}") as progress:
        project, name = split_name(dataset, h.project)
        created = name not in {d.name for d in store.list_datasets(project)}
        ds = _dataset(store, h, dataset, create=True)
        try:
            result = import_file(
                store,
                ds,
                file,
                fmt=fmt,
                container=container,
                mapping=_parse_pairs(map_, "--map"),
                skip_invalid=skip_invalid,
                rejects=rejects,
                split=split,
                task_type=_task_type(task_type),
                max_record_bytes=int(max_record_mb * 1024 * 1024),
                progress=progress,
            )
        except BaseException:
            if created:  # a failed import leaves the store as it was: no empty dataset behind
                store.delete_dataset(ds)
            raise
    console.print(
        f"{escape(file.name)} ({result.format}): {result.added:,} records added, {result.duplicates:,} duplicates "
        f"skipped, {result.invalid:,} invalid, {result.responses:,} labels → {escape(ds.project)}/{escape(ds.name)}"
    )
    if result.rejects:
        console.print(f"[yellow]{result.invalid:,} bad rows written to {escape(str(result.rejects))}[/]")


def _task_type(value: str | None) -> TaskType | None:
    return value if value in TASK_TYPES else None  # type: ignore[return-value]


@app.command()
def export(
    dataset: DatasetArg,
    fmt: Annotated[str, typer.Option("--format", "-f", help="training format (see `thresher formats`)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="output file (.jsonl, .json, .parquet, .csv) or folder")],
    version: Annotated[str | None, typer.Option(help="export this frozen version")] = None,
    container: Annotated[str | None, typer.Option(help="file type (default: from the extension)")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="only these record kinds")] = None,
    split: Annotated[list[str] | None, typer.Option(help="only these splits")] = None,
    task_type: Annotated[list[str] | None, typer.Option(help="only these task types")] = None,
    option: Annotated[list[str] | None, typer.Option("--option", "-O", help="export option name=value")] = None,
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="field mapping target=column (generic format)")
    ] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Write a training file and its manifest. Eval items never go into training formats."""
    from thresher.formats import ExportOptions
    from thresher.pipeline import export_dataset

    options = ExportOptions.model_validate(_option_values(_parse_pairs(option, "--option")))
    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset)
        v = _version(store, ds, version)
        flt = RecordFilter(kinds=kind or (), splits=split or (), task_types=task_type or ())
        with _progress(f"exporting {ds.name}") as progress:
            result = export_dataset(
                store,
                ds,
                out,
                fmt,
                version=v,
                container=container,
                options=options,
                mapping=_parse_pairs(map_, "--map"),
                flt=flt,
                progress=progress,
            )
    console.print(f"{escape(str(out))}: {result.rows:,} rows from {result.records:,} records ({result.format})")
    for reason, n in result.skipped.most_common():
        console.print(f"  skipped {n:,}: {escape(reason)}")
    console.print(f"manifest: {escape(str(result.manifest))}")
    for extra in result.extra_files:
        console.print(f"also wrote: {escape(str(extra))}")


def _option_values(raw: dict[str, str]) -> dict[str, Any]:
    """``-O min_margin=1`` → 1; JSON where it parses, else the string."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        try:
            out[k] = orjson.loads(v)
        except orjson.JSONDecodeError:
            out[k] = v
    return out


# -- looking at data ------------------------------------------------------------------------


@app.command()
def datasets(
    project: Annotated[str | None, typer.Option(help="only this project")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """List datasets with their record counts and versions."""
    with _opened(home, db) as (_, store):
        table = Table("dataset", "records", "versions", "questions")
        for ds in store.list_datasets(project):
            versions = ", ".join(v.name for v in store.list_versions(ds)) or "-"
            questions = ", ".join(q.name for q in ds.questions) or "-"
            table.add_row(
                escape(f"{ds.project}/{ds.name}"), f"{store.count_records(ds):,}", escape(versions), escape(questions)
            )
        console.print(table)


@app.command()
def show(
    target: Annotated[str, typer.Argument(help="a dataset (lists records) or a record id (shows it whole)")],
    limit: Annotated[int, typer.Option(help="records per page")] = 10,
    after: Annotated[int | None, typer.Option(help="keyset cursor: show records after this seq")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="only these kinds")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON lines")] = False,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Show records of a dataset, or one record with its responses."""
    from thresher.cli._show import print_record, summary

    with _opened(home, db) as (h, store):
        project, name = split_name(target, h.project)
        datasets = {d.name: d for d in store.list_datasets(project)}
        if name not in datasets:
            record = store.get_record(target)
            responses = store.responses_for([target]).get(target, [])
            print_record(console, record, responses, as_json=as_json)
            return
        rows = store.page_records(datasets[name], flt=RecordFilter(kinds=kind or ()), after=after, limit=limit)
        if as_json:
            for r in rows:
                sys.stdout.write(r.to_record().model_dump_json(exclude_none=True) + "\n")
            return
        table = Table("seq", "id", "kind", "split", "content")
        for r in rows:
            table.add_row(str(r.seq), r.id, r.kind, escape(r.split or ""), escape(summary(r)))
        console.print(table)
        if len(rows) == limit:
            console.print(f"next page: thresher show {escape(target)} --after {rows[-1].seq}")


@app.command()
def stats(
    dataset: DatasetArg,
    version: Annotated[str | None, typer.Option(help="stats of this frozen version")] = None,
    tokenizer: Annotated[Path | None, typer.Option(help="a local tokenizer.json for exact token counts")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Counts by kind, split, task type and source, and tokens per kind."""
    from thresher.pipeline.stats import approx_tokens, token_counts, tokenizer_counter

    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset)
        v = _version(store, ds, version)
        s = store.stats(ds, v)
        counter = tokenizer_counter(tokenizer) if tokenizer else approx_tokens
        with _progress("counting tokens", total=s.total) as progress:
            tokens = token_counts(store, ds, v, counter, progress)
    title = f"{ds.project}/{ds.name}" + (f" @ {v.name}" if v else "")
    console.print(f"[bold]{escape(title)}[/]: {s.total:,} records, {s.responses:,} responses")
    unit = "tokens" if tokenizer else "tokens (approx: words + punctuation)"
    for heading, counts in (
        ("kind", s.by_kind),
        ("split", s.by_split),
        ("task type", s.by_task_type),
        ("source", s.by_source),
        (unit, dict(tokens)),
    ):
        table = Table(heading, "count", title=None)
        for key, n in counts.items():
            table.add_row(escape(str(key)), f"{n:,}")
        console.print(table)


# -- versions -------------------------------------------------------------------------------


@version_app.callback(invoke_without_command=True)
def version_main(ctx: typer.Context) -> None:
    """Without a subcommand: print Thresher's version."""
    if ctx.invoked_subcommand is None:
        console.print(f"thresher {__version__}")


@version_app.command("create")
def version_create(
    dataset: DatasetArg,
    name: Annotated[str, typer.Argument(help="version name, e.g. v1 or 2026-11-sft")],
    description: Annotated[str | None, typer.Option(help="what changed")] = None,
    home: HomeOpt = None,
    db: DbOpt = None,
) -> None:
    """Freeze the dataset's records and submitted responses under a name."""
    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset)
        v = store.create_version(ds, name, description)
    console.print(
        f"version {escape(v.name)} of {escape(v.dataset)}: {v.record_count:,} records, hash {v.manifest_hash[:16]}"
    )


@version_app.command("list")
def version_list(dataset: DatasetArg, home: HomeOpt = None, db: DbOpt = None) -> None:
    """List a dataset's versions."""
    with _opened(home, db) as (h, store):
        ds = _dataset(store, h, dataset)
        table = Table("version", "records", "manifest hash", "created")
        for v in store.list_versions(ds):
            table.add_row(escape(v.name), f"{v.record_count:,}", v.manifest_hash[:16], str(v.created_at)[:19])
        console.print(table)


# -- formats, demo --------------------------------------------------------------------------


@app.command("formats")
def list_formats() -> None:
    """List the formats Thresher reads and writes."""
    from thresher.formats import formats

    table = Table("format", "record kinds", "description")
    for name, f in formats().items():
        table.add_row(name, ", ".join(f.kinds), escape(f.description))
    console.print(table)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo home and its exports")] = Path("demo-out"),
    serve: Annotated[bool, typer.Option(help="then serve the web app on 127.0.0.1 until Ctrl+C")] = False,
    port: Annotated[int, typer.Option(help="port for --serve")] = 8600,
) -> None:
    """Build a demo home: sample data of every kind, stats, every export, queued annotation work,
    a curation run and an eval of two stages; with --serve, open it in the browser."""
    from thresher.cli._demo import run_demo

    run_demo(out, console, serve_port=port if serve else None)


def main() -> None:
    """Entry point: Thresher's errors become a clear message and exit code, not a traceback."""
    try:
        app()
    except DataError as e:
        err.print(f"[red]error:[/] {escape(e.message)}")
        for d in e.details[:50]:
            err.print(f"  {escape(str(d))}")
        if len(e.details) > 50:
            err.print(f"  … and {len(e.details) - 50} more")
        raise SystemExit(2) from None
    except ThresherError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        err.print("[yellow]interrupted: nothing half-written was kept[/]")
        raise SystemExit(130) from None
