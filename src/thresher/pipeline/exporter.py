"""Export a dataset (or a frozen version of it) in a training format, with a manifest beside it.

Records stream out in keyset batches with their responses; the file is written under a
temporary name and moved into place at the end, so an interrupted export leaves nothing
half-written. Training formats never receive eval items: they are filtered in the query; nor
records that match an eval item of the project (exact or n-gram, ``thresher.evals.leakage``),
which the manifest lists under ``leakage``.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson

from thresher._version import __version__
from thresher.annotate import consensus_responses
from thresher.errors import ConfigError
from thresher.evals.leakage import DEFAULT_NGRAM, LeakageGuard
from thresher.formats import ExportContext, ExportItem, ExportOptions, RowError, get_container, get_format
from thresher.formats.containers import Container, OutRow
from thresher.model import Dataset, DatasetVersion, Response
from thresher.store import RecordFilter, Store

MANIFEST_SUFFIX = ".manifest.json"


@dataclass
class ExportResult:
    path: Path
    manifest: Path
    format: str
    records: int = 0
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    extra_files: list[Path] = field(default_factory=list)
    leaked: list[dict[str, str]] = field(default_factory=list)  # records left out: they match an eval item


def container_for_output(path: Path, container: str | None, default: str) -> Container:
    if container:
        return get_container(container)
    suffix = path.suffix.lower()
    for name in ("jsonl", "json", "csv", "parquet", "txt"):
        box = get_container(name)
        if suffix in box.extensions:
            return box
    return get_container(default)


def export_dataset(
    store: Store,
    dataset: Dataset,
    out: Path,
    fmt: str,
    *,
    version: DatasetVersion | None = None,
    container: str | None = None,
    options: ExportOptions | None = None,
    mapping: dict[str, str] | None = None,
    flt: RecordFilter = RecordFilter(),  # noqa: B008 - frozen dataclass
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
    leakage_ngram: int = DEFAULT_NGRAM,
    synthetic: Literal["include", "exclude", "only"] = "include",
) -> ExportResult:
    """``synthetic``: keep generated rows (``include``), leave them out, or export ``only`` them."""
    try:
        format_ = get_format(fmt).configure(mapping or {})
    except RowError as e:
        raise ConfigError(f"--map: {e.msg}") from None
    options = options or ExportOptions()
    questions = store.version_questions(version) if version else dataset.questions
    ctx = ExportContext(questions=questions, options=options, dataset_name=dataset.name, open_blob=store.blobs.open)
    kinds = [k for k in format_.kinds if not (format_.training and k == "eval_item")]
    if flt.kinds:
        kinds = [k for k in kinds if k in flt.kinds]
    query = RecordFilter(kinds=kinds or ["-none-"], splits=flt.splits, task_types=flt.task_types)
    box = container_for_output(out, container, format_.default_container)
    result = ExportResult(path=out, manifest=out.with_name(out.name + MANIFEST_SUFFIX), format=format_.name)
    by_kind: Counter[str] = Counter()

    raw_ok = box.writes_json_lines and not format_.writes_files
    with_responses = store.has_responses(dataset, version)  # most corpora have none: skip the lookups
    # Training exports leave out records matching any eval item of the project (exact or n-gram).
    guard = LeakageGuard.from_project(store, dataset.project, leakage_ngram) if format_.training else None
    cutoff = version.created_at if version else None  # a version's consensus counts only the reviews made before it

    def rows() -> Iterator[OutRow]:
        raw_row, to_rows = format_.raw_row, format_.to_rows  # hot loop: local names
        no_responses: list[Response] = []
        for batch in store.iter_records(dataset, version=version, flt=query, batch_size=batch_size):
            responses = store.responses_for([r.id for r in batch], version) if with_responses else {}
            if responses and options.answers == "consensus":
                responses = consensus_responses(store, dataset, responses, questions, cutoff)
            by_kind.update(r.kind for r in batch)
            written = 0
            for r in batch:
                if synthetic != "include" and bool(r.synthetic) != (synthetic == "only"):
                    result.skipped["synthetic" if r.synthetic else "not synthetic"] += 1
                    continue
                if guard and (hit := guard.check(r.kind, orjson.loads(r.content))) is not None:
                    result.leaked.append({"id": r.id, "match": hit.how, "eval_record": hit.eval_record})
                    continue
                item = ExportItem(
                    r.id,
                    r.kind,
                    r.content,
                    responses.get(r.id, no_responses),
                    r.split,
                    r.task_type,
                    r.metadata,
                    r.domains,
                    r.lineage,
                    r.source,
                    bool(r.synthetic),
                )
                raw = raw_row(item, ctx) if raw_ok else None
                if raw is not None:
                    written += 1
                    yield raw
                    continue
                wrote = 0
                for row in to_rows(item, ctx):
                    wrote += 1
                    yield row
                if not wrote:
                    result.skipped[format_.skip_reason(item, ctx)] += 1
                written += wrote
            result.records += len(batch)
            result.rows += written
            if progress is not None:
                progress(result.records)

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    try:
        if format_.writes_files:  # COCO, YOLO...: the format writes its own file or folder
            format_.write_files(partial, (r for r in rows() if isinstance(r, dict)), ctx)
        else:
            box.write(partial, rows())
        if partial.is_dir() and out.is_dir():  # a folder export (COCO, YOLO, saved HF) replaces an earlier one
            if not result.manifest.exists():
                raise ConfigError(
                    f"{out} is a folder that no earlier export made (no {result.manifest.name}); choose a new path"
                )
            _rmtree(out)
        os.replace(partial, out)
    finally:
        if partial.exists():
            partial.unlink() if partial.is_file() else _rmtree(partial)

    manifest = {
        "thresher_version": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "dataset": f"{dataset.project}/{dataset.name}",
        "version": {"name": version.name, "manifest_hash": version.manifest_hash} if version else None,
        "format": format_.name,
        "container": "files" if format_.writes_files else box.name,
        "file": out.name,
        "sha256": _sha256(out),
        "options": options.model_dump(),
        "mapping": mapping or {},
        "filters": {
            "kinds": kinds,
            "splits": list(flt.splits),
            "task_types": list(flt.task_types),
            "synthetic": synthetic,
        },
        "excluded": ["eval_item"] if format_.training else [],
        "leakage": {
            "checked": guard is not None,
            "ngram": leakage_ngram,
            "eval_items": guard.items if guard is not None else 0,
            "excluded": len(result.leaked),
            "records": result.leaked,
        },
        "counts": {
            "records": result.records,
            "rows": result.rows,
            "records_by_kind": dict(by_kind),
            "skipped": dict(result.skipped),
        },
    }
    result.extra_files = format_.finish_export(out, ctx, manifest)
    result.manifest.write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return result


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        with file.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
