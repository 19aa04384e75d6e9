"""A Python callable as the model, so an agent or a whole system can be evaluated as a function.

``callable:package.module:function`` on the command line; ``CallableAdapter(fn)`` in code.
The function takes ``(messages, params)`` and returns a string or a ``Generation``; it may be
``async``. A plain function runs in a worker thread so a slow one does not stall the others.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from collections.abc import Callable
from typing import Any

from thresher.errors import ConfigError
from thresher.evals.adapters.base import AdapterError, Generation, Messages, ModelAdapter, register_adapter


@register_adapter("callable")
class CallableAdapter(ModelAdapter):
    def __init__(self, fn: Callable[..., Any], *, name: str | None = None, concurrency: int = 8) -> None:
        self.fn = fn
        self.model = name or f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        self.concurrency = concurrency
        self._async = inspect.iscoroutinefunction(fn)

    @classmethod
    def from_spec(cls, spec: str) -> CallableAdapter:
        module, _, attr = spec.partition(":")
        if not module or not attr:
            raise ConfigError(f"callable adapter: expected package.module:function, got {spec!r}")
        try:
            fn = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"callable adapter: cannot load {spec!r}: {e}") from None
        return cls(fn, name=spec)

    async def generate(self, messages: Messages, params: dict[str, Any]) -> Generation:
        t0 = time.perf_counter()
        try:
            out = await self.fn(messages, params) if self._async else await asyncio.to_thread(self.fn, messages, params)
        except Exception as e:  # the system under test failing is a result, not a crash of the run
            raise AdapterError(f"{self.model} raised {type(e).__name__}: {e}") from e
        latency = (time.perf_counter() - t0) * 1000
        if isinstance(out, Generation):
            return out if out.latency_ms is not None else Generation(out.text, out.tokens_in, out.tokens_out, latency)
        return Generation(text=str(out), latency_ms=latency)
