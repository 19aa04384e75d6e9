"""Executors for curation pipelines: local (multiprocess) and Ray Data (the ``ray`` extra)."""

from __future__ import annotations

from thresher.curate.executor import Executor, InlineExecutor
from thresher.pipeline.executors.local import LocalExecutor


def get_executor(name: str, workers: int | None = None) -> Executor:
    """``inline``, ``local`` (``workers`` processes, default: the cores) or ``ray`` (a local Ray instance)."""
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        return LocalExecutor(workers)
    if name == "ray":
        from thresher.pipeline.executors.ray import RayExecutor

        return RayExecutor(num_cpus=workers)
    from thresher.errors import ConfigError

    raise ConfigError(f"unknown executor {name!r}; expected inline, local or ray")


__all__ = ["Executor", "InlineExecutor", "LocalExecutor", "get_executor"]
