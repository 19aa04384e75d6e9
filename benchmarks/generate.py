"""Candidate generation throughput and memory against the local model server.

    .venv/bin/python benchmarks/generate.py            # 10,000 prompts x 4 candidates, and 2,000
    .venv/bin/python benchmarks/generate.py --quick    # 1,000 and 200 prompts

Figures, for each size (each in a fresh process, so its peak memory is its own):
  candidates/s   `generate_candidates` of N prompts, 2 models x 2 candidates each, through the
                 OpenAI adapter at concurrency 32 against a 50 ms model: candidates per second and
                 the ratio to the ideal (32 / 0.05 s = 640/s; goal >= 0.8)
  cpu            the generating process's CPU time per candidate
  loop lag       how late a probe task's 5 ms sleeps wake (max and p99): how long the event loop
                 was blocked (store reads, cache lookups, building records, a clump of answers)
  server         the model server's CPU per request (from its /stats): it must not be the bottleneck
  phases         the generation itself (``wall_s``) and the target version frozen after it
  peak RSS       the most resident memory seen while generating (sampled every 20 ms), and its
                 growth over the RSS once the prompts were stored (the generation's own share):
                 flat in N is the goal, since prompts stream a page at a time and records are
                 written in batches
  heap peak      the Python heap's peak (tracemalloc) over the same generation from a model that
                 answers at once: the generation's own objects, without SQLite's or malloc's share
  cached re-run  the same run again: calls made (0; the server agrees) and candidates/s

The model server (`python -m thresher.evals.fake_server`) runs in its own process; both share
this machine's cores. Prompts are stored from a generator, so setting up costs no memory either.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model_server import model_server, server_requests, server_stats, with_lag_probe

GOAL_RATIO = 0.8
LATENCY_MS = 50.0
CONCURRENCY = 32


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler:
    """The highest resident memory seen while generating (sampled every 20 ms in a thread):
    unlike the process's high-water mark, it does not include the setup."""

    def __init__(self) -> None:
        self.max = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.max = max(self.max, rss_mb())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def heap_peak(n: int, home: Path) -> float:
    """The Python heap's peak (tracemalloc) while generating N x 4 candidates from a model that
    answers at once: what the generation itself holds, without SQLite's or malloc's share."""
    import tracemalloc

    from thresher.evals.adapters.base import Generation, ModelAdapter
    from thresher.generate import ModelChoice, generate_candidates
    from thresher.model import ConversationContent, Message, Record
    from thresher.store import Store

    class Instant(ModelAdapter):
        name = "instant"

        def __init__(self, model: str) -> None:
            self.model = model

        async def generate(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Generation:
            return Generation(f"A short answer to: {messages[-1]['content'][:40]}", 10, 8, 0.0)

    store = Store.open(home)
    store.ensure_project("heap")
    source, target = store.create_dataset("heap", "prompts"), store.create_dataset("heap", "candidates")
    rows = (ConversationContent(messages=[Message(role="user", content=f"Prompt {i}.")]) for i in range(n))
    store.add_records(source, (Record(content=c) for c in rows))
    tracemalloc.start()
    generate_candidates(store, source, target, [ModelChoice(Instant("a"), {}, 2), ModelChoice(Instant("b"), {}, 2)])
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    store.close()
    return peak


def child(n: int, url: str, home: Path) -> dict[str, Any]:
    """One size, in this (fresh) process: store N prompts, generate, re-run from the cache."""
    from thresher.evals.adapters.openai import OpenAIAdapter
    from thresher.generate import CandidateOptions, ModelChoice, agenerate_candidates, generate_candidates
    from thresher.model import ConversationContent, Message, Record
    from thresher.store import Store

    store = Store.open(home)
    store.ensure_project("bench")
    source, target = store.create_dataset("bench", "prompts"), store.create_dataset("bench", "candidates")

    def prompts() -> Iterator[Record]:
        for i in range(n):
            messages = [
                Message(role="system", content="You are a helpful assistant."),
                Message(role="user", content=f"Prompt {i}: write two sentences about the number {i}."),
            ]
            yield Record(content=ConversationContent(messages=messages), task_type="generation")

    store.add_records(source, prompts())
    baseline = rss_mb()

    def models() -> list[ModelChoice]:
        return [
            ModelChoice(OpenAIAdapter(f"{url}/v1", name, concurrency=CONCURRENCY), {"temperature": t}, 2)
            for name, t in (("small", 0.7), ("large", 1.0))
        ]

    options = CandidateOptions(concurrency=CONCURRENCY)
    server0 = server_stats(url)
    before = server0["requests"]
    with RssSampler() as sampler:
        t0, cpu0 = time.perf_counter(), time.process_time()
        result, lag = asyncio.run(with_lag_probe(agenerate_candidates(store, source, target, models(), options)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server1 = server_stats(url)
    asked = server1["requests"] - before
    peak = sampler.max
    t1 = time.perf_counter()
    again = generate_candidates(store, source, target, models(), options)
    rewall = time.perf_counter() - t1
    store.close()
    heap = heap_peak(n, home / "heap")
    ideal = CONCURRENCY / (LATENCY_MS / 1000)
    return {
        "prompts": n,
        "candidates": result.candidates,
        "written": result.written,
        "errors": result.errors,
        "seconds": round(wall, 2),
        "candidates_per_s": round(result.candidates / wall, 1),
        "ratio_to_ideal": round(result.candidates / wall / ideal, 3),
        "cpu_ms_per_candidate": round(1000 * cpu / max(1, result.candidates), 3),
        **lag,
        "generation_s": round(result.wall_s, 2),  # without freezing the target version
        "server_cpu_ms_per_request": round(1000 * (server1["cpu_s"] - server0["cpu_s"]) / max(1, asked), 3),
        "server_requests": asked,
        "baseline_rss_mb": round(baseline, 1),  # after the setup, before generating
        "peak_rss_mb": round(peak, 1),  # the most while generating
        "generation_rss_growth_mb": round(peak - baseline, 1),
        "process_high_water_mb": round(peak_rss_mb(), 1),
        "python_heap_peak_mb": round(heap, 2),
        "rerun_calls": again.calls,
        "rerun_server_requests": server_requests(url) - before - asked,
        "rerun_candidates_per_s": round(again.candidates / rewall, 1),
    }


def run_size(n: int, url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="thresher-bench-generate-") as tmp:
        cmd = [sys.executable, __file__, "--child", str(n), "--url", url, "--home", tmp]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="1,000 and 200 prompts")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.url, args.home)))
        return
    sizes = (200, 1_000) if args.quick else (2_000, 10_000)
    with model_server(LATENCY_MS) as url:
        run_size(100, url)  # warm-up: both processes, imports, the connection pool
        results = [run_size(n, url) for n in sizes]
    small, big = results
    figures = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "latency_ms": LATENCY_MS,
        "concurrency": CONCURRENCY,
        "ideal_candidates_per_s": CONCURRENCY / (LATENCY_MS / 1000),
        "runs": results,
        "rss_growth_ratio_big_to_small": round(
            big["generation_rss_growth_mb"] / max(small["generation_rss_growth_mb"], 1.0), 2
        ),
    }
    for r in results:
        print(
            f"{r['prompts']:>6,} prompts: {r['candidates']:,} candidates in {r['seconds']} s = "
            f"{r['candidates_per_s']}/s, {r['ratio_to_ideal']:.2f} of ideal (goal >= {GOAL_RATIO}); "
            f"cpu {r['cpu_ms_per_candidate']} ms/candidate; max loop lag {r['max_loop_lag_ms']} ms "
            f"(p99 {r['p99_loop_lag_ms']}); generation {r['generation_s']} s of {r['seconds']} s; "
            f"server cpu {r['server_cpu_ms_per_request']} ms/request; peak RSS {r['peak_rss_mb']} MB "
            f"(+{r['generation_rss_growth_mb']} MB while generating; Python heap peak {r['python_heap_peak_mb']} MB); "
            f"re-run {r['rerun_calls']} calls, "
            f"{r['rerun_candidates_per_s']}/s"
        )
    print(f"RSS growth {big['prompts']:,} vs {small['prompts']:,} prompts: x{figures['rss_growth_ratio_big_to_small']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
