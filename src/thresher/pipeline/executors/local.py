"""The local executor: a pool of processes, a bounded window of batches in flight, results in order."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.curate.executor import BatchFn, read_batches


class LocalExecutor:
    """``workers`` processes (default: the machine's cores); 1 runs inline. Never more than
    ``2 x workers`` batches are read ahead, so memory stays flat however long the file."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)

    def map_file(self, fn: BatchFn, path: Path, batch_size: int) -> Iterator[Any]:
        if self.workers == 1:
            for batch in read_batches(path, batch_size):
                yield from fn(batch)
            return
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        pool = ctx.Pool(self.workers)
        try:
            window: deque[Any] = deque()
            for batch in read_batches(path, batch_size):
                window.append(pool.apply_async(fn, (batch,)))
                if len(window) >= 2 * self.workers:
                    yield from window.popleft().get()
            while window:
                yield from window.popleft().get()
            pool.close()  # finished: let the workers exit on their own
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()
