"""What the evals and generate benchmarks share: the test model server in a process of its own,
its counters, and a probe of how long the event loop was blocked."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def model_server(latency_ms: float, extra: Sequence[str] = ()) -> Iterator[str]:
    """``thresher.evals.fake_server`` on a free loopback port (``extra``: more of its options); its URL."""
    port = _free_port()
    cmd = [sys.executable, "-m", "thresher.evals.fake_server", "--port", str(port), "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen([*cmd, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/stats", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the model server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def server_stats(url: str) -> dict[str, Any]:
    stats: dict[str, Any] = json.loads(urllib.request.urlopen(f"{url}/stats", timeout=5).read())
    return stats


def server_requests(url: str) -> int:
    return int(server_stats(url)["requests"])


async def with_lag_probe(coro: Awaitable[Any], every_s: float = 0.005) -> tuple[Any, dict[str, float]]:
    """Run ``coro`` with a probe task that sleeps ``every_s`` again and again; how late it wakes
    is how long the loop was blocked (by store reads, JSON, scoring, or a clump of responses)."""
    lags: list[float] = []

    async def probe() -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(every_s)
            lags.append(time.perf_counter() - t - every_s)

    task = asyncio.ensure_future(probe())
    try:
        result = await coro
    finally:
        task.cancel()
    lags.sort()
    return result, {
        "max_loop_lag_ms": round(1000 * lags[-1], 1) if lags else 0.0,
        "p99_loop_lag_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1) if lags else 0.0,
    }
