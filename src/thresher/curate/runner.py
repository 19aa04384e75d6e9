"""Running a pipeline: the source dataset is written to a work folder as JSON lines, each
segment of blocks turns one file into the next (a segment is a run of per-record blocks, or one
cluster block), and the last file becomes a new version of the output dataset.

Each finished segment leaves a marker, so a run that is interrupted picks up at the segment it
was in (``run_pipeline`` finds the unfinished run of the same spec and input). Records keep
their order throughout and every block is deterministic: the same input gives the same output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from thresher.curate._items import Item
from thresher.curate.blocks.base import Block, ClusterBlock, Counters, Verdict
from thresher.curate.blocks.contamination import BenchmarkSpec, ContaminationConfig
from thresher.curate.blocks.stats import StatsBlock, StatsConfig
from thresher.curate.executor import Executor, InlineExecutor
from thresher.curate.report import write_report
from thresher.curate.spec import BlockSpec, InputSpec, OutputSpec, PipelineSpec
from thresher.curate.stages import record_stage, signatures
from thresher.errors import ConfigError
from thresher.model import Dataset, Response
from thresher.store import RecordFilter, Store
from thresher.store.curation import spec_digest

Progress = Callable[[str, int], None]


@dataclass
class BlocksResult:
    output: Path
    blocks: list[dict[str, Any]]  # index, block, counters
    decision_files: list[Path]
    stats: dict[str, Any] = field(default_factory=dict)
    records_in: int = 0
    records_out: int = 0


@dataclass
class RunResult:
    run_id: str
    pipeline: str
    output_dataset: str
    version: str | None
    records_in: int
    records_out: int
    blocks: list[dict[str, Any]]
    report: Path
    resumed: bool = False


def _segments(specs: list[BlockSpec]) -> list[list[tuple[int, BlockSpec]]]:
    segs: list[list[tuple[int, BlockSpec]]] = []
    current: list[tuple[int, BlockSpec]] = []
    for i, s in enumerate(specs):
        if issubclass(s.type, ClusterBlock):
            if current:
                segs.append(current)
                current = []
            segs.append([(i, s)])
        else:
            current.append((i, s))
    if current:
        segs.append(current)
    return segs


def _spec_json(seg: list[tuple[int, BlockSpec]]) -> str:
    return orjson.dumps(
        [{"index": i, "name": s.name, "config": s.config.model_dump(mode="json")} for i, s in seg]
    ).decode()


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def run_blocks(
    specs: list[BlockSpec],
    input_path: Path,
    work_dir: Path,
    executor: Executor | None = None,
    batch_size: int = 256,
    progress: Progress | None = None,
) -> BlocksResult:
    """Run blocks over a JSONL file of items (no store needed). Finished segments are skipped."""
    executor = executor or InlineExecutor()
    work_dir.mkdir(parents=True, exist_ok=True)
    current = input_path
    summary: list[dict[str, Any]] = []
    decision_files: list[Path] = []
    stats: dict[str, Any] = {}
    for j, seg in enumerate(_segments(specs)):
        out, dec, done = (work_dir / f"stage-{j}.{ext}" for ext in ("jsonl", "decisions.jsonl", "done.json"))
        decision_files.append(dec)
        if not done.exists():
            label = "+".join(s.name for _, s in seg)
            if issubclass(seg[0][1].type, ClusterBlock):
                counters, extra = _cluster_segment(seg[0], current, out, dec, executor, batch_size, progress, label)
            else:
                counters, extra = _record_segment(seg, current, out, dec, executor, batch_size, progress, label)
            summary_rows = [
                {"index": i, "block": s.name, "counters": c} for (i, s), c in zip(seg, counters, strict=True)
            ]
            blob: dict[str, Any] = {"blocks": summary_rows, "stats": extra}
            tmp = done.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps(blob))
            os.replace(tmp, done)
        info = orjson.loads(done.read_bytes())
        summary.extend(info["blocks"])
        if info.get("stats"):
            stats = info["stats"]
        current = out
    records_in = summary[0]["counters"]["seen"] if summary else _count_lines(input_path)
    records_out = _count_lines(current) if summary else records_in
    return BlocksResult(current, summary, decision_files, stats, records_in, records_out)


def _record_segment(
    seg: list[tuple[int, BlockSpec]],
    src: Path,
    out: Path,
    dec: Path,
    executor: Executor,
    batch_size: int,
    progress: Progress | None,
    label: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    counters = [Counters() for _ in seg]
    pos = {i: k for k, (i, _) in enumerate(seg)}
    fn = partial(record_stage, _spec_json(seg))
    tmp_out, tmp_dec = out.with_suffix(".tmp"), dec.with_suffix(".tmp")
    n = 0
    with tmp_out.open("wb") as fo, tmp_dec.open("wb") as fd:
        for line, decisions in executor.map_file(fn, src, batch_size):
            by_block = {d[0]: d for d in decisions}
            for i, _ in seg:
                d = by_block.get(i)
                c = counters[pos[i]]
                if d is None:
                    c.add(Verdict("kept"))
                    continue
                c.add(Verdict(d[3], d[4]))
                if d[3] in ("dropped", "error"):
                    break
            for d in decisions:
                fd.write(orjson.dumps(d) + b"\n")
            if line is not None:
                fo.write(line + b"\n")
            n += 1
            if progress is not None and n % 1000 == 0:
                progress(label, n)
    os.replace(tmp_out, out)
    os.replace(tmp_dec, dec)
    return [c.to_dict() for c in counters], {}


def _cluster_segment(
    entry: tuple[int, BlockSpec],
    src: Path,
    out: Path,
    dec: Path,
    executor: Executor,
    batch_size: int,
    progress: Progress | None,
    label: str,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    index, spec = entry
    blk = spec.build()
    assert isinstance(blk, ClusterBlock)
    verdicts: dict[str, Verdict] = {}
    errors: dict[str, str] = {}
    order: list[str] = []  # ids in file order: the second pass need not parse the lines again
    n = 0

    def sigs() -> Iterator[tuple[str, Any]]:
        nonlocal n
        for rid, sig, err in executor.map_file(partial(signatures, _spec_json([entry])), src, batch_size):
            n += 1
            order.append(rid)
            if progress is not None and n % 1000 == 0:
                progress(label, n)
            if err is not None:
                errors[rid] = err
                continue
            yield rid, sig

    for rid_, verdict in blk.decide(sigs(), out.parent):
        verdicts[rid_] = verdict
    counters = Counters()
    tmp_out, tmp_dec = out.with_suffix(".tmp"), dec.with_suffix(".tmp")
    with src.open("rb") as fi, tmp_out.open("wb") as fo, tmp_dec.open("wb") as fd:
        lines = (raw for raw in fi if raw.strip())
        for rid, raw in zip(order, lines, strict=True):
            v: Verdict | None = verdicts.get(rid)
            if rid in errors:
                v = Verdict("error", errors[rid].split(":")[0], {"msg": errors[rid]})
            if v is None:
                counters.add(Verdict("kept"))
                fo.write(raw if raw.endswith(b"\n") else raw + b"\n")
                continue
            counters.add(v)
            fd.write(orjson.dumps([index, spec.name, rid, v.action, v.reason, v.cluster, v.detail or {}]) + b"\n")
            if v.action not in ("dropped", "error"):
                fo.write(raw if raw.endswith(b"\n") else raw + b"\n")
    os.replace(tmp_out, out)
    os.replace(tmp_dec, dec)
    extra = blk.report if isinstance(blk, StatsBlock) else {}
    return [counters.to_dict()], extra


def iter_decisions(files: list[Path]) -> Iterator[dict[str, Any]]:
    keys = ("block_index", "block", "record_id", "action", "reason", "cluster", "detail")
    for path in files:
        if not path.exists():
            continue
        with path.open("rb") as f:
            for raw in f:
                if raw.strip():
                    yield dict(zip(keys, orjson.loads(raw), strict=True))


# -- with the store ---------------------------------------------------------------------------


def _split(name: str, project: str) -> tuple[str, str]:
    if "/" in name:
        p, d = name.split("/", 1)
        return p, d
    return project, name


def _dump_source(store: Store, ds: Dataset, inp: InputSpec, path: Path, progress: Progress | None) -> None:
    version = store.get_version(ds, inp.version) if inp.version else None
    tmp = path.with_suffix(".tmp")
    n = 0
    with tmp.open("wb") as f:
        for batch in store.iter_records(ds, version=version, flt=RecordFilter(kinds=inp.kinds), batch_size=1000):
            responses = store.responses_for([r.id for r in batch], version)
            for row in batch:
                resp = [{"id": r.id, "user": r.user, "answers": r.answers} for r in responses.get(row.id, [])]
                f.write(Item.from_row(row, resp).dumps() + b"\n")
            n += len(batch)
            if progress is not None:
                progress("read input", n)
    os.replace(tmp, path)


def _resolve_evals(store: Store, project: str, specs: list[BlockSpec], work: Path) -> list[BlockSpec]:
    """Contamination against the project's eval datasets: their eval items become a benchmark file."""
    out = []
    for s in specs:
        if isinstance(s.config, ContaminationConfig) and s.config.eval_datasets:
            extra = []
            for name in s.config.eval_datasets:
                p, d = _split(name, project)
                ds = store.get_dataset(p, d)
                path = work / f"evals-{p}-{d}.jsonl"
                with path.open("wb") as f:
                    for batch in store.iter_records(ds, flt=RecordFilter(kinds=["eval_item"])):
                        for row in batch:
                            it = Item.from_row(row)
                            f.write(orjson.dumps({"task_id": f"{d}:{row.id}", "text": it.text()}) + b"\n")
                extra.append(BenchmarkSpec(path=str(path), format="thresher-eval", name=d))
            cfg = s.config.model_copy(update={"benchmarks": [*s.config.benchmarks, *extra], "eval_datasets": []})
            s = BlockSpec(s.name, cfg)
        out.append(s)
    return out


def run_pipeline(
    store: Store,
    spec: PipelineSpec,
    *,
    project: str,
    work_root: Path,
    executor: Executor | None = None,
    input: InputSpec | None = None,
    output: OutputSpec | None = None,
    fresh: bool = False,
    progress: Progress | None = None,
) -> RunResult:
    """Run ``spec`` from its input dataset to a new version of its output dataset.

    ``work_root`` holds each run's folder (stage files, decisions, the report). An unfinished run
    of the same spec over the same input is resumed unless ``fresh``.
    """
    inp = input or spec.input
    outp = output or spec.output
    if inp is None or outp is None:
        raise ConfigError(f"pipeline {spec.name!r} needs an input and an output dataset")
    proj = store.get_project(project)
    assert proj.id is not None
    sp, sd = _split(inp.dataset, project)
    src = store.get_dataset(sp, sd)
    src_version = store.get_version(src, inp.version) if inp.version else None
    op, od = _split(outp.dataset, project)
    if (op, od) == (sp, sd):
        raise ConfigError("the output dataset must differ from the input dataset (a run makes a new version of it)")
    try:
        dst = store.get_dataset(op, od)
    except Exception:
        dst = store.create_dataset(
            op, od, questions=src.questions, description=f"curated from {sp}/{sd} by {spec.name}"
        )
    source_state = (
        src.id,
        src_version.id if src_version else None,
        store.count_records(src, src_version),
        store.curation.max_seq(src),
    )
    spec_dict = spec.to_dict() | {"input": inp.model_dump(), "output": outp.model_dump()}
    digest = spec_digest(spec_dict, source_state)
    run = None if fresh else store.curation.resumable_run(proj.id, digest)
    resumed = run is not None
    if run is None:
        run = store.curation.create_run(
            proj.id,
            spec.name,
            spec_dict,
            digest,
            source_dataset_id=src.id,
            source_version_id=src_version.id if src_version else None,
            output_dataset_id=dst.id,
            run_dir=str(work_root / "{run}"),
        )
    work = Path(run.run_dir)
    work.mkdir(parents=True, exist_ok=True)
    input_path = work / "input.jsonl"
    try:
        if not input_path.exists():
            _dump_source(store, src, inp, input_path, progress)
        specs = _resolve_evals(store, project, spec.blocks, work)
        result = run_blocks(specs, input_path, work, executor, spec.batch_size, progress)
        stats = result.stats or _final_stats(result.output)
        ids_count = _write_output(store, dst, result.output, work, progress, len(specs))
        about = f"curation run {run.id} ({spec.name})"
        mine = [v for v in store.list_versions(dst) if v.description == about]
        if mine:  # made before an interruption: this run's version already exists
            version = mine[0]
        else:
            name = outp.version or f"{spec.name}-{len(store.list_versions(dst)) + 1}"
            version = store.curation.create_version_of(dst, name, _read_ids(work / "output-ids.txt"), about)
        decision_files = [*result.decision_files, work / "write.decisions.jsonl"]
        store.curation.replace_decisions(run.id, iter_decisions(decision_files))
        run_info = {
            "id": run.id,
            "pipeline": spec.name,
            "input": f"{sp}/{sd}" + (f"@{inp.version}" if inp.version else ""),
            "output": f"{op}/{od}@{version.name}",
            "records_in": result.records_in,
            "records_out": ids_count,
        }
        report = write_report(work, run_info, result.blocks, stats)
        store.curation.finish_run(
            run.id,
            status="done",
            stats={"blocks": result.blocks, "records_in": result.records_in, "records_out": ids_count},
            report=str(report),
            output_version_id=version.id,
        )
    except KeyboardInterrupt:
        raise  # the run stays "running": the next run of the same spec resumes it
    return RunResult(
        run.id, spec.name, f"{op}/{od}", version.name, result.records_in, ids_count, result.blocks, report, resumed
    )


def _final_stats(path: Path) -> dict[str, Any]:
    blk = StatsBlock(StatsConfig())
    items = (Item.loads(line) for line in path.open("rb") if line.strip())
    sigs = ((it.id, blk.signature([it])[0]) for it in items)
    for _ in blk.decide(sigs, path.parent):
        pass
    return blk.report


def _write_output(store: Store, dst: Dataset, path: Path, work: Path, progress: Progress | None, index: int) -> int:
    """Write the kept items to the output dataset. One that is not a valid record (no ``validate``
    block ran) is reported as failed at the write step; the others are written."""
    ids_path, failed = work / "output-ids.txt", work / "write.decisions.jsonl"
    n = 0
    with store.writer(dst) as w, ids_path.open("w") as ids, path.open("rb") as f, failed.open("wb") as bad:
        for raw in f:
            if not raw.strip():
                continue
            it = Item.loads(raw)
            try:
                record = it.to_record()
            except ValidationError as e:
                first = e.errors()[0]
                detail = {"field": ".".join(str(p) for p in first["loc"]), "msg": first["msg"]}
                bad.write(orjson.dumps([index, "write", it.id, "error", "invalid_record", None, detail]) + b"\n")
                continue
            responses = [Response(user=r["user"], answers=r["answers"]) for r in it.responses]
            ids.write(w.add(record, responses) + "\n")
            n += 1
            if progress is not None and n % 1000 == 0:
                progress("write output", n)
    return n


def _read_ids(path: Path) -> Iterator[str]:
    with path.open() as f:
        for line in f:
            if line.strip():
                yield line.strip()


def run_summary(blocks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for b in blocks:
        c = b["counters"]
        parts = [f"seen {c['seen']:,}", f"kept {c['kept']:,}"]
        for what in ("dropped", "changed", "flagged", "errors"):
            if c.get(what):
                parts.append(f"{what} " + ", ".join(f"{r}={n:,}" for r, n in c[what].items()))
        lines.append(f"{b['index']:>2} {b['block']:<22} " + "; ".join(parts))
    return lines


__all__ = ["Block", "BlocksResult", "RunResult", "iter_decisions", "run_blocks", "run_pipeline", "run_summary"]
