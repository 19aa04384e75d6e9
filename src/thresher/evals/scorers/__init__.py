"""Scorers: a registry; each module in this package registers one or more (imported on load)."""

import importlib
import pkgutil

from thresher.evals.scorers.base import EvalItem, Score, Scorer, get_scorer, register_scorer, scorer_name_for, scorers

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["EvalItem", "Score", "Scorer", "get_scorer", "register_scorer", "scorer_name_for", "scorers"]
