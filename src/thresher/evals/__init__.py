"""Evals: suites, model adapters, the response cache, scorers, runs, paired comparison, stage
reports, agent evals, the arena and the train/eval leakage guard.

Imports ``thresher.model`` and ``thresher.store`` only (plus the libraries it names). Names are
loaded on first use, so ``thresher.evals.leakage`` (imported by every export) stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thresher.evals.adapters import AdapterError, Generation, ModelAdapter, parse_model, register_adapter
    from thresher.evals.adapters.python_callable import CallableAdapter
    from thresher.evals.compare import compare_runs
    from thresher.evals.importers import BENCHMARK_FORMATS, import_benchmark, read_benchmark
    from thresher.evals.runner import RunOptions, arun_eval, run_eval
    from thresher.evals.scorers import EvalItem, Score, Scorer, get_scorer, register_scorer
    from thresher.evals.suites import Suite, resolve_suite

_WHERE = {
    "AdapterError": "adapters",
    "Generation": "adapters",
    "ModelAdapter": "adapters",
    "parse_model": "adapters",
    "register_adapter": "adapters",
    "CallableAdapter": "adapters.python_callable",
    "compare_runs": "compare",
    "BENCHMARK_FORMATS": "importers",
    "import_benchmark": "importers",
    "read_benchmark": "importers",
    "RunOptions": "runner",
    "arun_eval": "runner",
    "run_eval": "runner",
    "EvalItem": "scorers",
    "Score": "scorers",
    "Scorer": "scorers",
    "get_scorer": "scorers",
    "register_scorer": "scorers",
    "Suite": "suites",
    "resolve_suite": "suites",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'thresher.evals' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"thresher.evals.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BENCHMARK_FORMATS",
    "AdapterError",
    "CallableAdapter",
    "EvalItem",
    "Generation",
    "ModelAdapter",
    "RunOptions",
    "Score",
    "Scorer",
    "Suite",
    "arun_eval",
    "compare_runs",
    "get_scorer",
    "import_benchmark",
    "parse_model",
    "read_benchmark",
    "register_adapter",
    "register_scorer",
    "resolve_suite",
    "run_eval",
]
