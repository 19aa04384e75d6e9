"""Model adapters: a registry; each module in this package registers one (imported on load)."""

import importlib
import pkgutil

from thresher.evals.adapters.base import (
    AdapterError,
    Generation,
    ModelAdapter,
    adapters,
    get_adapter,
    parse_model,
    register_adapter,
)

for _mod in pkgutil.iter_modules(__path__):
    if _mod.name != "base" and not _mod.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = ["AdapterError", "Generation", "ModelAdapter", "adapters", "get_adapter", "parse_model", "register_adapter"]
