"""The Ray Data executor: the stage file is read by ``ray.data.read_text`` and mapped in batches
on a Ray cluster (a local one by default), order preserved, results streamed back."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from thresher.curate.executor import BatchFn
from thresher.errors import MissingExtra


class _Apply:
    def __init__(self, fn: BatchFn) -> None:
        self.fn = fn

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        out = self.fn([str(x) for x in batch["text"]])
        return {"out": [pickle.dumps(o, protocol=pickle.HIGHEST_PROTOCOL) for o in out]}


class RayExecutor:
    """Uses the running Ray instance, or starts a local one (``num_cpus``, no dashboard)."""

    name = "ray"

    def __init__(self, num_cpus: int | None = None, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingExtra("ray", "ray") from None
        if not ray.is_initialized():
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)

    def map_file(self, fn: BatchFn, path: Path, batch_size: int) -> Iterator[Any]:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ctx.enable_progress_bars = False
        ds = ray.data.read_text(str(path)).map_batches(_Apply(fn), batch_size=batch_size, batch_format="numpy")
        for row in ds.iter_rows():
            yield pickle.loads(row["out"])
