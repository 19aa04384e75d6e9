"""Import/export throughput of Thresher against raw baselines measured in the same run.

    .venv/bin/python benchmarks/import_export.py            # full run (200k records, 1M for peak RSS)
    .venv/bin/python benchmarks/import_export.py --quick    # smoke run (5k records, 20k for peak RSS)
    .venv/bin/python benchmarks/import_export.py --profile --records 50000   # cProfile of import and export

Figures (see benchmarks/README.md):
  import sqlite    thresher.pipeline.import_file into SQLite vs raw sqlite3 executemany of the same rows
  export           thresher.pipeline.export_dataset (trl-conversational JSONL) vs bare orjson.dumps of the rows
  import postgres  import_file into a throwaway PostgreSQL vs raw psycopg COPY of the same rows
  peak RSS         a child process importing --peak-records records into SQLite
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from thresher.model import Dataset
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store
from thresher.store.engine import _sqlite_on_connect as sqlite_on_connect
from thresher.store.rows import RECORD_COLUMNS

PROJECT, DATASET = "bench", "chat"
IMPORT_FORMAT = "openai-chat"
EXPORT_FORMAT = "trl-conversational"
GOALS = {"import_sqlite": 0.33, "export": 0.5, "peak_rss_mb": 300.0}

# -- the data -----------------------------------------------------------------------------------

_WORD_TEXT = (
    "the of and to in is that for it as with was on be by this are from at or an have not which but "
    "data model training set token answer question function value return list string number error "
    "file python code example result test user system assistant message prompt input output query "
    "table index record batch memory process thread server client request response network cache "
    "latency explain describe summarize compare write translate improve review check build deploy "
    "configure simple quick careful detailed short long better faster clear correct wrong possible "
    "important first second next last every each many few more most some other same different new "
    "old good because however therefore although while when where how why what who could would "
    "should might please thanks sure here there also only just even still already again always never "
    "often café naïve Zürich résumé 東京 données größe señor 42 3.14 2026 1024 v2 #include {x} [i] a+b"
)
_WORDS = tuple(_WORD_TEXT.split())
_SYSTEM_PROMPTS = (
    "You are a helpful assistant.",
    "You are a concise assistant. Answer in at most three sentences.",
    "You are an expert Python programmer. Explain your reasoning and show code where it helps.",
    "You are a friendly tutor for high-school mathematics. Work through problems step by step.",
    "You are a customer support agent for a cloud storage company. Be polite and precise.",
    "You are a translator. Translate the user's text faithfully and keep the formatting.",
    "Tu es un assistant utile qui répond en français.",
    "You are a careful reviewer. Point out mistakes, then suggest a corrected version.",
)


def _text(rng: random.Random, n_words: int) -> str:
    words = rng.choices(_WORDS, k=n_words)
    out: list[str] = []
    start = 0
    while start < n_words:
        end = min(n_words, start + rng.randint(6, 16))
        sentence = " ".join(words[start:end])
        out.append(sentence[:1].upper() + sentence[1:] + rng.choice((".", ".", ".", "?", "!")))
        start = end
    return " ".join(out)


def chat_row(rng: random.Random) -> dict[str, Any]:
    """One OpenAI-chat row: optional system prompt, 1-3 user/assistant exchanges (~1 KB of JSON on average)."""
    messages: list[dict[str, str]] = []
    if rng.random() < 0.6:
        messages.append({"role": "system", "content": rng.choice(_SYSTEM_PROMPTS)})
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        messages.append({"role": "user", "content": _text(rng, rng.randint(4, 36))})
        messages.append({"role": "assistant", "content": _text(rng, rng.randint(14, 106))})
    return {"messages": messages}


def write_chat_jsonl(path: Path, n: int, seed: int = 1234) -> int:
    """Write ``n`` deterministic chat rows as JSONL, streaming; returns the file size in bytes."""
    rng = random.Random(seed)
    with path.open("wb", buffering=1 << 20) as f:
        for _ in range(n):
            f.write(orjson.dumps(chat_row(rng)))
            f.write(b"\n")
    return path.stat().st_size


# -- measuring ----------------------------------------------------------------------------------


@dataclass
class Rate:
    records: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else float("inf")


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    gc.collect()
    out: list[float] = []
    t0 = time.perf_counter()
    yield out
    out.append(time.perf_counter() - t0)


def open_dataset(home: Path, url: str | None = None) -> tuple[Store, Dataset]:
    store = Store.open(home, url=url)
    return store, store.ensure_dataset(PROJECT, DATASET)


def thresher_import(home: Path, path: Path, url: str | None = None) -> Rate:
    """``import_file`` (detect nothing: the format is given; parse, validate, hash, write); setup excluded."""
    store, ds = open_dataset(home, url)
    try:
        with stopwatch() as t:
            result = import_file(store, ds, path, fmt=IMPORT_FORMAT)
    finally:
        store.close()
    if result.added != result.rows:
        print(f"  note: {result.rows - result.added} duplicate rows in the generated file", file=sys.stderr)
    return Rate(result.added, t[0])


def thresher_export(home: Path, out: Path) -> Rate:
    store = Store.open(home)
    try:
        ds = store.get_dataset(PROJECT, DATASET)
        with stopwatch() as t:
            result = export_dataset(store, ds, out, EXPORT_FORMAT)
    finally:
        store.close()
    return Rate(result.records, t[0])


def stored_rows(sqlite_file: Path) -> list[tuple[Any, ...]]:
    """The records thresher wrote, as the tuples ``RecordWriter`` binds (same columns, values and types)."""
    conn = sqlite3.connect(sqlite_file)
    try:
        cur = conn.execute(f"SELECT {', '.join(RECORD_COLUMNS)} FROM records ORDER BY seq")
        i_syn, i_created = RECORD_COLUMNS.index("synthetic"), RECORD_COLUMNS.index("created_at")
        rows = []
        for r in cur:
            r = list(r)
            r[i_syn] = bool(r[i_syn])
            r[i_created] = datetime.fromisoformat(r[i_created])
            rows.append(tuple(r))
        return rows
    finally:
        conn.close()


def empty_schema(home: Path, url: str | None = None) -> int:
    """A fresh store (the same Alembic schema: unique index, secondary indexes, FK); returns the dataset id."""
    store, ds = open_dataset(home, url)
    store.close()
    assert ds.id is not None
    return ds.id


def raw_sqlite_insert(home: Path, rows: list[tuple[Any, ...]]) -> Rate:
    """Baseline: one ``executemany`` of the pre-computed rows in one transaction, with thresher's PRAGMAs."""
    dataset_id = empty_schema(home)
    assert all(r[1] == dataset_id for r in rows[:1])
    conn = sqlite3.connect(home / "thresher.db", isolation_level=None)
    try:
        sqlite_on_connect(conn, None)  # thresher's own PRAGMAs, whatever they are today
        sql = (
            f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) VALUES ({', '.join('?' * len(RECORD_COLUMNS))}) "
            "ON CONFLICT (dataset_id, content_hash) DO NOTHING"
        )
        with stopwatch() as t:
            conn.execute("BEGIN")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
    finally:
        conn.close()
    return Rate(len(rows), t[0])


def raw_postgres_copy(url: str, home: Path, rows: list[tuple[Any, ...]]) -> Rate:
    """Baseline: psycopg 3 ``COPY ... FROM STDIN`` (``write_row``) straight into the records table, one transaction."""
    import psycopg
    from _postgres import psycopg_url

    dataset_id = empty_schema(home, url)
    assert all(r[1] == dataset_id for r in rows[:1])
    with psycopg.connect(psycopg_url(url)) as conn:
        copy_sql = f"COPY records ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
        with stopwatch() as t, conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)
        (count,) = conn.execute("SELECT count(*) FROM records").fetchone() or (0,)
    assert count == len(rows), (count, len(rows))
    return Rate(len(rows), t[0])


def raw_orjson_write(rows_file: Path, out: Path) -> Rate:
    """Baseline: the exported row dicts (pre-loaded) written with a bare ``orjson.dumps`` per row."""
    with rows_file.open("rb") as f:
        rows = [orjson.loads(line) for line in f]
    with stopwatch() as t, out.open("wb") as f:
        for row in rows:
            f.write(orjson.dumps(row))
            f.write(b"\n")
    return Rate(len(rows), t[0])


def raw_sqlite_read_write(db: Path, out: Path) -> Rate:
    """Second export baseline, the floor for any exporter: raw sqlite3 reads the stored content
    in order and writes it out as lines, with no conversion at all."""
    conn = sqlite3.connect(db)
    n = 0
    with stopwatch() as t, out.open("wb") as f:
        cur = conn.execute("SELECT content FROM records ORDER BY seq")
        while batch := cur.fetchmany(2000):
            for (content,) in batch:
                f.write(content.encode())
                f.write(b"\n")
            n += len(batch)
    conn.close()
    return Rate(n, t[0])


def peak_rss_import(path: Path, home: Path) -> dict[str, Any]:
    """Import in a child process; peak RSS from the child's own high-water mark and from psutil sampling."""
    import psutil  # type: ignore[import-untyped]

    cmd = [sys.executable, str(Path(__file__).resolve()), "--_rss-child", str(path), str(home)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    sampled = 0
    proc = psutil.Process(child.pid)
    while child.poll() is None:
        try:
            sampled = max(sampled, proc.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.05)
    out, _ = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the RSS child failed with exit code {child.returncode}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    report["sampled_rss_mb"] = sampled / 2**20
    return report


def _peak_rss_mb() -> float:
    """This process's high-water RSS. ``VmHWM`` rather than ``ru_maxrss``: Linux carries the parent's
    high-water mark across fork+exec into ``ru_maxrss``, so a child of a big parent would report the parent's."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _rss_child(path: Path, home: Path) -> None:
    rate = thresher_import(home, path)
    print(json.dumps({"records": rate.records, "seconds": rate.seconds, "maxrss_mb": _peak_rss_mb()}))


# -- reporting ----------------------------------------------------------------------------------


def rate_line(label: str, ours: Rate, baseline_label: str, base: Rate, goal: float | None) -> dict[str, Any]:
    ratio = ours.per_second / base.per_second
    verdict = "" if goal is None else ("  ok" if ratio >= goal else "  BELOW GOAL")
    goal_text = f" (goal >= {goal:.2f})" if goal is not None else ""
    print(
        f"{label}: {ours.per_second:,.0f} rec/s  baseline {baseline_label}: {base.per_second:,.0f} rec/s  "
        f"ratio {ratio:.2f}{goal_text}{verdict}",
        flush=True,
    )
    return {
        "rate": ours.per_second,
        "seconds": ours.seconds,
        "baseline_rate": base.per_second,
        "baseline_seconds": base.seconds,
        "ratio": ratio,
        "goal": goal,
    }


def code_version() -> str:
    """The commit measured (read-only git), noting uncommitted changes under src/."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{head} + uncommitted changes in src/" if dirty else head


def describe_machine(pg_version: str | None = None) -> str:
    parts = [
        f"python {platform.python_version()}",
        f"sqlite {sqlite3.sqlite_version}",
        f"orjson {orjson.__version__}",
        f"{os.cpu_count()} cpus",
    ]
    if pg_version:
        parts.append(pg_version)
    return ", ".join(parts)


# -- the runs -----------------------------------------------------------------------------------


def run_benchmarks(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"records": args.records, "peak_records": args.peak_records}
    phases = set(args.only.split(",")) if args.only else {"sqlite", "export", "postgres", "rss"}
    data = work / "chats.jsonl"
    size = write_chat_jsonl(data, args.records, args.seed)
    results["avg_bytes_per_record"] = size / args.records
    print(f"data: {args.records:,} chat records, {size / 1e6:.1f} MB, {size / args.records:,.0f} B/record avg")
    print(f"machine: {describe_machine()}", flush=True)
    results["code"] = code_version()
    print(f"code: {results['code']}", flush=True)

    sqlite_home = work / "sqlite"
    rows: list[tuple[Any, ...]] = []
    if phases & {"sqlite", "export", "postgres"}:
        ours = thresher_import(sqlite_home, data)
        rows = stored_rows(sqlite_home / "thresher.db")
        if "sqlite" in phases:
            base = raw_sqlite_insert(work / "raw-sqlite", rows)
            results["import_sqlite"] = rate_line(
                "import sqlite", ours, "raw sqlite3 executemany", base, GOALS["import_sqlite"]
            )

    if "export" in phases:
        out = work / "export" / "train.jsonl"
        ours = thresher_export(sqlite_home, out)
        base = raw_orjson_write(out, work / "export" / "raw.jsonl")
        results["export"] = rate_line("export trl-conversational", ours, "bare orjson.dumps", base, GOALS["export"])
        floor = raw_sqlite_read_write(sqlite_home / "thresher.db", work / "export" / "raw-read.jsonl")
        results["export_vs_read"] = rate_line(
            "export trl-conversational", ours, "raw sqlite3 read + write of the stored text", floor, None
        )

    if "postgres" in phases:
        results["import_postgres"] = run_postgres(data, work, rows)
    rows = []
    gc.collect()

    if "rss" in phases:
        peak_file = work / "peak.jsonl"
        peak_size = write_chat_jsonl(peak_file, args.peak_records, args.seed + 1)
        report = peak_rss_import(peak_file, work / "peak-home")
        peak = max(report["maxrss_mb"], report["sampled_rss_mb"])
        ok = "  ok" if peak < GOALS["peak_rss_mb"] else "  ABOVE GOAL"
        print(
            f"peak RSS importing {args.peak_records:,} records ({peak_size / 1e6:,.0f} MB) into sqlite: {peak:,.0f} MB "
            f"(VmHWM {report['maxrss_mb']:,.0f} MB, sampled {report['sampled_rss_mb']:,.0f} MB; "
            f"{report['records'] / report['seconds']:,.0f} rec/s)  (goal < {GOALS['peak_rss_mb']:.0f} MB){ok}",
            flush=True,
        )
        results["peak_rss"] = {**report, "peak_mb": peak, "goal_mb": GOALS["peak_rss_mb"]}
    return results


def run_postgres(data: Path, work: Path, rows: list[tuple[Any, ...]]) -> dict[str, Any] | None:
    import _postgres

    if not _postgres.available():
        print("import postgres: skipped (no PostgreSQL server binaries; apt-get install postgresql)")
        return None
    with _postgres.PostgresServer() as server:
        print(f"postgres: {server.version} (throwaway server, fsync=off)", flush=True)
        ours = thresher_import(work / "pg-home", data, server.new_database())
        base = raw_postgres_copy(server.new_database(), work / "pg-raw-home", rows)
        return rate_line("import postgres", ours, "raw psycopg COPY", base, None)


# -- profiling ----------------------------------------------------------------------------------


def profile_run(label: str, fn: Callable[[], Any], top: int, dump: Path | None) -> None:
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    if dump is not None:
        prof.dump_stats(dump)
    stats = pstats.Stats(prof, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    entries = stats.stats  # type: ignore[attr-defined]
    print(f"\n== {label}: {total:.2f} s under cProfile ==")
    print(f"{'self %':>7} {'cum %':>7} {'calls':>10}  function")
    by_self = sorted(entries.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    for (file, line, name), (_cc, nc, tt, ct, _callers) in by_self:
        print(f"{100 * tt / total:7.1f} {100 * ct / total:7.1f} {nc:>10,}  {_where(file, line, name)}")
    print(f"-- thresher functions by inclusive time (top {top}) --")
    ours = [(k, v) for k, v in entries.items() if "/thresher/" in k[0]]
    for (file, line, name), (_cc, nc, tt, ct, _callers) in sorted(ours, key=lambda kv: kv[1][3], reverse=True)[:top]:
        print(f"{100 * tt / total:7.1f} {100 * ct / total:7.1f} {nc:>10,}  {_where(file, line, name)}")


def _where(file: str, line: int, name: str) -> str:
    if file == "~":
        return name
    marker = "/site-packages/"
    short = file.split(marker, 1)[1] if marker in file else file.split("/src/", 1)[-1]
    return f"{short}:{line}({name})"


def run_profile(args: argparse.Namespace, work: Path) -> None:
    data = work / "chats.jsonl"
    write_chat_jsonl(data, args.records, args.seed)
    home = work / "sqlite"
    store, ds = open_dataset(home)
    dump_dir = Path(args.profile_dir) if args.profile_dir else None
    if dump_dir:
        dump_dir.mkdir(parents=True, exist_ok=True)
    try:
        profile_run(
            f"import sqlite, {args.records:,} records",
            lambda: import_file(store, ds, data, fmt=IMPORT_FORMAT),
            args.top,
            dump_dir / "import.prof" if dump_dir else None,
        )
        profile_run(
            f"export {EXPORT_FORMAT}, {args.records:,} records",
            lambda: export_dataset(store, ds, work / "out.jsonl", EXPORT_FORMAT),
            args.top,
            dump_dir / "export.prof" if dump_dir else None,
        )
    finally:
        store.close()


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=None, help="records for the rate figures (default 200,000)")
    p.add_argument("--peak-records", type=int, default=None, help="records for the peak RSS figure (default 1M)")
    p.add_argument("--quick", action="store_true", help="smoke run: 5,000 records, 20,000 for peak RSS")
    p.add_argument("--only", help="comma-separated subset of: sqlite,export,postgres,rss")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--workdir", help="where temporary files go (default: a new folder in $TMPDIR)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--profile", action="store_true", help="instead of the figures: cProfile import and export")
    p.add_argument("--profile-dir", help="with --profile: save import.prof/export.prof here (for snakeviz etc.)")
    p.add_argument("--top", type=int, default=25, help="with --profile: functions to list")
    p.add_argument("--_rss-child", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.records is None:
        args.records = 5_000 if args.quick else 200_000
    if args.peak_records is None:
        args.peak_records = 20_000 if args.quick else 1_000_000
    return args


def _sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind, so the PostgreSQL server and temp files are cleaned up


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._rss_child:
        _rss_child(Path(args._rss_child[0]), Path(args._rss_child[1]))
        return 0
    signal.signal(signal.SIGTERM, _sigterm)
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="thresher-bench-", dir=args.workdir) as tmp:
        if args.profile:
            run_profile(args, Path(tmp))
            return 0
        t0 = time.perf_counter()
        results = run_benchmarks(args, Path(tmp))
        results["machine"] = describe_machine()
        results["wall_seconds"] = time.perf_counter() - t0
        print(f"total wall time {results['wall_seconds']:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
