"""Eval runner throughput against the local model server, and the HTTP client choice behind it.

    .venv/bin/python benchmarks/evals.py            # 1,000 items, 50 ms per call, concurrency 32
    .venv/bin/python benchmarks/evals.py --quick    # 300 items

Figures:
  run            `thresher.evals.run_eval` of N items through the OpenAI adapter: items/s and the
                 ratio to the ideal (concurrency / latency = 640/s at 32 and 50 ms; goal >= 0.8)
  cpu            the runner process's CPU time per item (store reads and writes, cache keys,
                 HTTP client, scoring); goal well under 1.5 ms
  loop lag       how late a probe task's 5 ms sleeps wake (max and p99): how long the event
                 loop was blocked, i.e. how long a finished call could wait to be refilled
  server         the model server's CPU per request and how late its answers were (timer
                 overshoot), read from its /stats: it must not be the bottleneck
  repeats        the timed run is repeated (``--repeat``, fresh suites) and the median reported,
                 since this machine is shared and one wall-clock ratio is noisy
  cached re-run  the same run again: calls made (must be 0, checked on the server too), items/s
  clients        bare aiohttp and bare httpx (0.28) clients, the same requests at the same
                 concurrency: req/s and client CPU ms per request; why the adapter uses aiohttp
  runner alone   the same run with a model that answers at once (no HTTP): the runner's own cost

The model server (`python -m thresher.evals.fake_server`) runs in its own process, so its CPU
does not count against the runner's; both share this machine's cores. Both processes are warmed
up (200 bare requests and a 100-item run of another suite) before anything is timed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _model_server import model_server, server_stats, with_lag_probe

from thresher.evals import RunOptions, Suite, arun_eval
from thresher.evals.adapters.base import Generation, ModelAdapter
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.model import EvalItemContent, GradingRule, Message, Record
from thresher.store import Store

GOALS = {"ratio_to_ideal": 0.8, "cpu_ms_per_item": 1.5}


def make_suite(store: Store, n: int, name: str = "arith") -> tuple[Suite, dict[str, str]]:
    store.ensure_project("bench")
    ds = store.create_dataset("bench", name)
    answers = {}
    records = []
    for i in range(n):
        q = f"{name} question {i}: what is {i} times 3, plus {i % 7}?"
        a = str(3 * i + i % 7)
        answers[q] = f"Working it out step by step, the answer is {a}."
        records.append(
            Record(
                content=EvalItemContent(
                    input=[
                        Message(role="system", content="You are a careful assistant. End with 'the answer is N'."),
                        Message(role="user", content=q),
                    ],
                    reference=a,
                    grader=GradingRule(type="numeric"),
                ),
                metadata={"tags": [f"bucket:{i % 5}"]},
            )
        )
    store.add_records(ds, records)
    return Suite(ds, store.create_version(ds, "v1")), answers


def bench_run(store: Store, suite: Suite, url: str, concurrency: int) -> dict[str, Any]:
    adapter = OpenAIAdapter(f"{url}/v1", "bench", concurrency=concurrency)
    before = server_stats(url)
    t0, cpu0 = time.perf_counter(), time.process_time()
    run, lag = asyncio.run(with_lag_probe(arun_eval(store, suite, adapter, RunOptions(concurrency=concurrency))))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    after = server_stats(url)
    items = run.summary["items"]
    served = after["requests"] - before["requests"]
    late = after["late_ms_mean"] * after["requests"] - before["late_ms_mean"] * before["requests"]
    return {
        "items": items,
        "seconds": wall,
        "items_per_s": items / wall,
        "cpu_ms_per_item": 1000 * cpu / items,
        **lag,
        "calls": run.summary["calls"],
        "server_requests": served,
        "server_cpu_ms_per_request": 1000 * (after["cpu_s"] - before["cpu_s"]) / max(1, served),
        "server_late_ms_mean": late / max(1, served),
        "cache_hits": run.summary["cache_hits"],
        "mean_score": run.summary["mean"],
    }


def report_lag(r: dict[str, Any]) -> str:
    return f"max loop lag {r['max_loop_lag_ms']:.1f} ms (p99 {r['p99_loop_lag_ms']:.1f})"


class InstantModel(ModelAdapter):
    """Answers at once, without HTTP: what is left is the runner's own cost."""

    name = "instant"
    model = "instant"
    concurrency = 32

    async def generate(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> Generation:
        return Generation("Working it out, the answer is 3.", 20, 8, 0.0)


def bench_overhead(store: Store, suite: Suite) -> dict[str, Any]:
    t0, cpu0 = time.perf_counter(), time.process_time()
    run, lag = asyncio.run(with_lag_probe(arun_eval(store, suite, InstantModel(), RunOptions(use_cache=False))))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    items = run.summary["items"]
    return {"items_per_s": items / wall, "cpu_ms_per_item": 1000 * cpu / items, **lag}


async def _drive(n: int, concurrency: int, call: Callable[[int], Awaitable[None]]) -> None:
    it = iter(range(n))

    async def worker() -> None:
        for i in it:
            await call(i)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def _body(i: int) -> bytes:
    return orjson.dumps({"model": "bench", "messages": [{"role": "user", "content": f"client bench {i}"}]})


async def bare_aiohttp(url: str, n: int, concurrency: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def call(i: int) -> None:
            async with session.post(f"{url}/v1/chat/completions", data=_body(i)) as r:
                orjson.loads(await r.read())

        await _drive(n, concurrency, call)


async def bare_httpx(url: str, n: int, concurrency: int) -> None:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def call(i: int) -> None:
            r = await client.post(f"{url}/v1/chat/completions", content=_body(i))
            orjson.loads(r.content)

        await _drive(n, concurrency, call)


def bench_client(name: str, fn: Any, url: str, n: int, concurrency: int) -> dict[str, Any]:
    t0, cpu0 = time.perf_counter(), time.process_time()
    asyncio.run(fn(url, n, concurrency))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"client": name, "requests": n, "req_per_s": n / wall, "cpu_ms_per_request": 1000 * cpu / n}


def describe_machine() -> str:
    return (
        f"python {platform.python_version()}, {os.cpu_count()} cpus, aiohttp {aiohttp.__version__}, "
        f"httpx {httpx.__version__}"
    )


def run_benchmarks(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": describe_machine(), "items": args.items, "latency_ms": args.latency_ms}
    ideal = args.concurrency / (args.latency_ms / 1000)
    results["ideal_items_per_s"] = ideal
    results["load_avg_before"] = os.getloadavg()[0]
    print(f"machine: {results['machine']}; load average {results['load_avg_before']:.1f}")
    print(f"{args.items:,} items, {args.latency_ms:g} ms per call, concurrency {args.concurrency}: ideal {ideal:.0f}/s")
    store = Store.open(work / "home")
    try:
        suite, answers = make_suite(store, args.items)
        suites = [suite]
        for k in range(1, args.repeat):  # a fresh suite each time: every repeat calls the model
            more, more_answers = make_suite(store, args.items, f"arith{k + 1}")
            suites.append(more)
            answers |= more_answers
        warmup, warm_answers = make_suite(store, 100, "warmup")
        answers_file = work / "answers.json"
        answers_file.write_bytes(orjson.dumps(answers | warm_answers))
        with model_server(args.latency_ms, ["--answers", str(answers_file), "--model", "bench=0.7"]) as url:
            # Steady state: both processes warmed up (first connections, lazy imports) before timing.
            bench_client("warm-up", bare_aiohttp, url, 200, args.concurrency)
            bench_run(store, warmup, url, args.concurrency)
            runs = []
            for k, timed in enumerate(suites):
                r = bench_run(store, timed, url, args.concurrency)
                r["ratio_to_ideal"] = r["items_per_s"] / ideal
                runs.append(r)
                print(
                    f"run {k + 1}/{len(suites)}      {r['items_per_s']:7.0f} items/s  ratio to ideal"
                    f" {r['ratio_to_ideal']:.2f}  cpu {r['cpu_ms_per_item']:.3f} ms/item  {report_lag(r)}"
                    f"  server cpu {r['server_cpu_ms_per_request']:.3f} ms/request,"
                    f" late {r['server_late_ms_mean']:.2f} ms  calls {r['calls']}  mean score {r['mean_score']:.2f}"
                )
            first = sorted(runs, key=lambda r: r["ratio_to_ideal"])[len(runs) // 2]  # the median run
            first["all_ratios"] = [round(r["ratio_to_ideal"], 3) for r in runs]
            first["all_cpu_ms_per_item"] = [round(r["cpu_ms_per_item"], 3) for r in runs]
            results["run"] = first
            print(
                f"run (median)   {first['items_per_s']:7.0f} items/s  ratio to ideal {first['ratio_to_ideal']:.2f}"
                f" (goal >= {GOALS['ratio_to_ideal']})  cpu {first['cpu_ms_per_item']:.3f} ms/item"
                f" (goal < {GOALS['cpu_ms_per_item']})  calls {first['calls']}  mean score {first['mean_score']:.2f}"
            )
            print(
                f"cpu per item   {first['cpu_ms_per_item']:.3f} ms;  {report_lag(first)};"
                f"  server {first['server_cpu_ms_per_request']:.3f} ms cpu/request"
            )
            cached = bench_run(store, suite, url, args.concurrency)
            results["cached_rerun"] = cached
            print(
                f"cached re-run  {cached['items_per_s']:7.0f} items/s  calls {cached['calls']}"
                f" (server saw {cached['server_requests']})  cache hits {cached['cache_hits']}"
                f"  cpu {cached['cpu_ms_per_item']:.3f} ms/item  {report_lag(cached)}"
            )
            clients = []
            for name, fn in (("aiohttp", bare_aiohttp), ("httpx", bare_httpx)):
                c = bench_client(name, fn, url, args.client_requests, args.concurrency)
                c["ratio_to_ideal"] = c["req_per_s"] / ideal
                clients.append(c)
                print(
                    f"client {name:8s} {c['req_per_s']:7.0f} req/s    ratio to ideal {c['ratio_to_ideal']:.2f}"
                    f"  cpu {c['cpu_ms_per_request']:.3f} ms/request"
                )
            results["clients"] = clients
            overhead = bench_overhead(store, suite)
            results["runner_without_http"] = overhead
            print(
                f"runner alone   {overhead['items_per_s']:7.0f} items/s  (a model that answers at once, no HTTP)"
                f"  cpu {overhead['cpu_ms_per_item']:.3f} ms/item  {report_lag(overhead)}"
            )
            first["ratio_to_bare_aiohttp"] = first["items_per_s"] / clients[0]["req_per_s"]
            print(
                f"runner vs bare aiohttp: {first['ratio_to_bare_aiohttp']:.2f} "
                "(what the runner keeps of what the client alone reaches on this machine now)"
            )
    finally:
        store.close()
    ok = first["ratio_to_ideal"] >= GOALS["ratio_to_ideal"] and first["cpu_ms_per_item"] < GOALS["cpu_ms_per_item"]
    results["goals_met"] = ok and cached["calls"] == 0 and cached["server_requests"] == 0
    results["load_avg_after"] = os.getloadavg()[0]
    print(f"goals met: {results['goals_met']}; load average {results['load_avg_after']:.1f}")
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--items", type=int, default=None, help="eval items (default 1,000)")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--client-requests", type=int, default=None, help="requests per bare client (default 2,000)")
    p.add_argument("--repeat", type=int, default=3, help="timed runs, each on a fresh suite (the median is kept)")
    p.add_argument("--quick", action="store_true", help="smoke run: 300 items, 600 client requests")
    p.add_argument("--json", help="also write the figures to this JSON file")
    args = p.parse_args(argv)
    if args.items is None:
        args.items = 300 if args.quick else 1000
    if args.client_requests is None:
        args.client_requests = 600 if args.quick else 2000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="thresher-bench-evals-") as tmp:
        results = run_benchmarks(args, Path(tmp))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
