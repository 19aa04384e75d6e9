"""Annotation queue under load: 50 annotators on a live ``thresher serve`` (SQLite), next -> submit.

    .venv/bin/python benchmarks/queue_latency.py                         # 1,000,000 records, overlap 2
    .venv/bin/python benchmarks/queue_latency.py --records 100000 --seconds 30 --think-ms 0

Each annotator is a logged-in user with a profile (a quarter of the records need French, which
a third of the annotators speak) and its own HTTP client; it loops: ``POST .../queue/next``,
think, ``POST .../assignments/{id}/submit``. Prints p50 / p99 latency of both calls (after a
warm-up of ``--warmup`` seconds, whose calls are counted apart: a fresh server compiles its
statements and fills its caches on the first requests), the
throughput, the query plan of the next-task query (an index seek, not a scan), and checks from
the database that no record was handed out beyond its overlap nor twice to one annotator.
Goal: p99 < 50 ms for both calls. ``--think-ms`` is the mean time an annotator spends on a task
(default 1 s: ~1,000x faster than a person; 0 saturates the server to show its throughput).
Annotators are not in step: each starts at a random moment of its first think time and thinks
for a time drawn uniformly within ``--jitter`` of the mean (default +-50%). With ``--jitter 0``
all 50 start together and think exactly as long, so their requests arrive in bursts of 50 that
the server drains one after the other: that measures the burst, not the service.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]  # (no stubs in the dev extra)
from sqlalchemy import func, select, text

from thresher import annotate
from thresher.cli._context import write_home
from thresher.model import RatingQuestion, Record, TextContent
from thresher.store import Store
from thresher.store import tables as t

ANNOTATORS = 50
GOAL_P99_MS = 50.0
PASSWORD = "benchmark password"
THRESHER = str(Path(sys.executable).with_name("thresher"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(store: Store, n: int) -> tuple[Any, float, float]:
    """The dataset with n records (every 4th needs French), its workflow; returns (dataset, write s, route s)."""
    store.create_project("bench")
    ds = store.create_dataset("bench", "queue", questions=[RatingQuestion(name="quality", min=1, max=5)])
    t0 = time.monotonic()
    with store.writer(ds, batch_size=5000) as w:
        for i in range(n):
            lang = "fr" if i % 4 == 0 else "en"
            w.add(Record(content=TextContent(text=f"document {i}: " + "words " * 20), metadata={"language": lang}))
    written = time.monotonic() - t0
    t0 = time.monotonic()
    annotate.set_workflow(store, ds, annotate.Workflow(overlap=2, lease_seconds=600))
    return ds, written, time.monotonic() - t0


def query_plan(store: Store, dataset_id: int) -> str:
    """SQLite's plan for the next-task query as the queue runs it."""
    q, a = t.annotation_queue, t.annotation_assignments
    mine = (
        select(a.c.id)
        .where(a.c.record_seq == q.c.record_seq, a.c.user_name == "ann-0", a.c.status != "expired")
        .exists()
    )
    stmt = (
        select(q.c.record_seq)
        .where(q.c.dataset_id == dataset_id, q.c.is_open.is_(True), q.c.skill == "", q.c.language == "en", ~mine)
        .order_by(q.c.record_seq)
        .limit(1)
    )
    sql = str(stmt.compile(store.engine, compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        return "; ".join(row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))


class Annotator(threading.Thread):
    def __init__(self, base: str, name: str, dataset: str, until: float, think: float, jitter: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.name_, self.dataset, self.until, self.think = name, dataset, until, think
        self.jitter = jitter
        self.rng = random.Random(name)
        self.http = httpx.Client(base_url=base, timeout=60)
        self.next_ms: list[float] = []
        self.submit_ms: list[float] = []
        self.warm_from = 0.0  # calls started before this (monotonic) are the warm-up, counted apart
        self.warmup_ms: list[float] = []
        self.errors: list[str] = []

    def login(self) -> None:
        r = self.http.post("/api/v1/auth/login", json={"username": self.name_, "password": PASSWORD})
        r.raise_for_status()
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        # The session cookie is marked Secure; this plain-http client sends it explicitly.
        self.http.headers["Cookie"] = f"thresher_session={r.cookies['thresher_session']}"

    def note(self, into: list[float], t0: float) -> None:
        ms = (time.perf_counter() - t0) * 1000
        (into if time.monotonic() - ms / 1000 >= self.warm_from else self.warmup_ms).append(ms)

    def pause(self) -> float:
        return self.think * (1 + self.jitter * (2 * self.rng.random() - 1))

    def run(self) -> None:
        nxt = f"/api/v1/projects/bench/datasets/{self.dataset}/queue/next"
        if self.jitter and self.think:
            time.sleep(self.rng.random() * self.think)  # a random phase: annotators are not in step
        while time.monotonic() < self.until:
            t0 = time.perf_counter()
            r = self.http.post(nxt)
            self.note(self.next_ms, t0)
            if r.status_code == 204:
                return
            if r.status_code != 200:
                self.errors.append(f"next {r.status_code} {r.text[:200]}")
                return
            aid = r.json()["assignment"]["id"]
            if self.think:
                time.sleep(self.pause())
            t0 = time.perf_counter()
            r = self.http.post(f"/api/v1/projects/bench/assignments/{aid}/submit", json={"answers": {"quality": 4}})
            self.note(self.submit_ms, t0)
            if r.status_code != 200:
                self.errors.append(f"submit {r.status_code} {r.text[:200]}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def check_overlap(store: Store, dataset_id: int, overlap: int) -> tuple[int, int, int]:
    """(records over their overlap, annotators with a record twice, records with more submissions than overlap)."""
    a, q = t.annotation_assignments, t.annotation_queue
    held = (
        select(a.c.record_seq)
        .where(a.c.dataset_id == dataset_id, a.c.slot.is_not(None))
        .group_by(a.c.record_seq)
        .having(func.count() > overlap)
    )
    twice = select(a.c.record_seq).group_by(a.c.record_seq, a.c.user_name).having(func.count() > 1)
    over = select(func.count()).where(q.c.dataset_id == dataset_id, q.c.submitted > overlap)
    with store.engine.connect() as conn:
        n_held = len(conn.execute(held).all())
        n_twice = len(conn.execute(twice).all())
        n_over = int(conn.execute(over).scalar_one())
    return n_held, n_twice, n_over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the annotators work")
    parser.add_argument("--think-ms", type=float, default=1000.0, help="time spent on each task")
    parser.add_argument("--annotators", type=int, default=ANNOTATORS)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at the start counted apart")
    parser.add_argument("--jitter", type=float, default=0.5, help="think time varies by this fraction (0: lockstep)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="queue-latency-"))
    write_home(home, "bench", None)
    store = Store.open(home)
    ds, written, routed = seed(store, args.records)
    assert ds.id is not None
    print(
        f"{args.records:,} records written in {written:.1f} s; routed into the queue (skill, language) in "
        f"{routed:.1f} s ({args.records / routed:,.0f} records/s)",
        flush=True,
    )
    project = store.get_project("bench")
    assert project.id is not None
    for i in range(args.annotators):
        name = f"ann-{i}"
        store.accounts.create_user(name, PASSWORD)
        langs = ["en", "fr"] if i % 3 == 0 else ["en"]
        store.accounts.set_role(name, project.id, "annotator", languages=langs)
    plan = query_plan(store, ds.id)
    print(f"next-task query plan: {plan}", flush=True)

    port = free_port()
    cmd = [THRESHER, "serve", "--home", str(home), "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)
        until = time.monotonic() + 3600
        think = args.think_ms / 1000
        workers = [Annotator(base, f"ann-{i}", "queue", until, think, args.jitter) for i in range(args.annotators)]
        for w in workers:
            w.login()
        proc = psutil.Process(server.pid)
        cpu0 = sum(proc.cpu_times()[:2])
        t0 = time.monotonic()
        for w in workers:
            w.until = t0 + args.seconds
            w.warm_from = t0 + args.warmup
            w.start()
        for w in workers:
            w.join()
        elapsed = time.monotonic() - t0
        server_cpu = sum(proc.cpu_times()[:2]) - cpu0
        # Then one annotator alone, no think time: the latency floor, without queueing behind others.
        solo = Annotator(base, "ann-0", "queue", time.monotonic() + 3600, 0.0)
        solo.login()
        solo.until = time.monotonic() + min(10.0, args.seconds)
        solo.run()
    finally:
        server.terminate()
        server.wait(timeout=30)

    warm = [v for w in workers for v in w.warmup_ms]
    nexts = [v for w in workers for v in w.next_ms]
    submits = [v for w in workers for v in w.submit_ms]
    errors = [e for w in (*workers, solo) for e in w.errors]
    held, twice, over = check_overlap(store, ds.id, 2)
    store.close()
    requests = len(nexts) + len(submits)
    print(
        f"{args.annotators} annotators, think {args.think_ms:.0f} ms +-{args.jitter:.0%}, {elapsed:.0f} s: "
        f"{len(submits):,} tasks "
        f"submitted, {requests / elapsed:,.0f} requests/s",
        flush=True,
    )
    print(
        f"  server CPU: {server_cpu / max(requests, 1) * 1000:.1f} ms per request "
        f"(a one-process server tops out near {requests / max(server_cpu, 1e-9):,.0f} requests/s per core); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    print(
        f"  warm-up (the first {args.warmup:.0f} s, not in the percentiles below): {len(warm):,} calls, "
        f"p50 {pct(warm, 0.5):.1f} ms, max {max(warm, default=float('nan')):.1f} ms"
    )
    print(f"  next task: p50 {pct(nexts, 0.5):.1f} ms, p99 {pct(nexts, 0.99):.1f} ms ({len(nexts):,} calls)")
    print(f"  submit:    p50 {pct(submits, 0.5):.1f} ms, p99 {pct(submits, 0.99):.1f} ms ({len(submits):,} calls)")
    print(
        f"  alone (1 annotator, no think time): next p50 {pct(solo.next_ms, 0.5):.1f} ms, "
        f"p99 {pct(solo.next_ms, 0.99):.1f} ms; submit p50 {pct(solo.submit_ms, 0.5):.1f} ms, "
        f"p99 {pct(solo.submit_ms, 0.99):.1f} ms ({len(solo.submit_ms):,} tasks)"
    )
    worst = max(pct(nexts, 0.99), pct(submits, 0.99))
    verdict = "ok" if worst < GOAL_P99_MS else "BELOW GOAL"
    print(f"  goal p99 < {GOAL_P99_MS:.0f} ms: {verdict} (worst p99 {worst:.1f} ms = goal x{worst / GOAL_P99_MS:.2f})")
    ok = held == 0 and twice == 0 and over == 0 and not errors and "USING INDEX" in plan.upper()
    print(
        f"  overlap check: {held} records held beyond overlap 2, {twice} handed twice to one annotator, "
        f"{over} with more than 2 submissions; {len(errors)} errors {errors[:3]} -> {'ok' if ok else 'FAILED'}",
        flush=True,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
