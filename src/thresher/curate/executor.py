"""How a pipeline's per-record work is spread: an executor maps a function over a file's lines.

``fn`` takes a batch of lines and returns one output per line; outputs come back in line order,
so every executor gives the same result. ``InlineExecutor`` runs in this process; the local
(multiprocess) and Ray Data executors live in ``thresher.pipeline.executors``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

BatchFn = Callable[[list[str]], list[Any]]


class Executor(Protocol):
    name: str

    def map_file(self, fn: BatchFn, path: Path, batch_size: int) -> Iterator[Any]:
        """Apply ``fn`` to the lines of ``path``, batch by batch; yield one output per line, in order."""
        ...


def read_batches(path: Path, batch_size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    with path.open("r", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            batch.append(line)
            if len(batch) >= batch_size:
                yield batch
                batch = []
    if batch:
        yield batch


class InlineExecutor:
    """One process, no pool: the reference every other executor must match."""

    name = "inline"

    def map_file(self, fn: BatchFn, path: Path, batch_size: int) -> Iterator[Any]:
        for batch in read_batches(path, batch_size):
            yield from fn(batch)
