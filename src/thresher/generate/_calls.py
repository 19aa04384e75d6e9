"""What candidate generation, synthetic data and frontier selection share: model choices, answers
through the evals response cache, and a pool of workers over a lazy stream of work.

The pool stops gracefully: when one worker fails (or ``stop`` is set by a progress callback that
raised), the others finish the item they hold and take no new one, so every answer received is
written to the cache before the error surfaces. That is what makes an interrupted run resumable
without asking anything twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from thresher.errors import ConfigError, Conflict
from thresher.evals.adapters.base import Generation, ModelAdapter, parse_model
from thresher.evals.runner import cache_key
from thresher.model import Dataset
from thresher.store import Store
from thresher.store.evals import CachedAnswer

__all__ = ["Answerer", "ModelChoice", "ModelSpec", "choices", "run_pool", "version_name"]

T = TypeVar("T")


class ModelSpec(BaseModel):
    """One model to ask, as stored with a job: ``ADAPTER:SPEC``, its sampling params, how many answers."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=3, max_length=2000, description="ADAPTER:SPEC, e.g. openai:http://host/v1#name")
    params: dict[str, Any] = Field(default_factory=dict, description="sampling params sent with every call")
    n: int = Field(default=1, ge=1, le=64, description="candidates per prompt from this model")

    def build(self) -> ModelChoice:
        return ModelChoice(parse_model(self.model), dict(self.params), self.n)


@dataclass
class ModelChoice:
    """An adapter with its sampling params and the number of answers wanted from it per prompt."""

    adapter: ModelAdapter
    params: dict[str, Any] = field(default_factory=dict)
    n: int = 1

    def describe(self) -> dict[str, Any]:
        return {"model": self.adapter.model, "identity": self.adapter.identity, "params": self.params, "n": self.n}


class Answerer:
    """Answers through the response cache (keyed like eval runs: model, params, input, sample index).

    New answers wait in ``pending`` until ``take`` hands them to a writer; ``calls`` counts the
    model calls made, ``hits`` the answers that came from the cache. At most ``concurrency``
    calls are in flight, whichever models they go to."""

    def __init__(self, store: Store, *, use_cache: bool = True, concurrency: int = 32) -> None:
        self.store = store
        self.use_cache = use_cache
        # One limit over all models: "concurrency 32" means 32 calls in flight, not 32 per adapter.
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self.pending: list[tuple[str, str, CachedAnswer]] = []
        self.calls = 0
        self.hits = 0

    def lookup(self, keys: list[str]) -> dict[str, CachedAnswer]:
        """Cached answers for these keys (one query per 500); empty when the cache is off."""
        return self.store.evals.cache_get(keys) if self.use_cache and keys else {}

    @staticmethod
    def key(choice: ModelChoice, messages: list[dict[str, Any]], sample: int) -> str:
        return cache_key(choice.adapter.identity, choice.params, messages, sample)

    async def ask(
        self, choice: ModelChoice, messages: list[dict[str, Any]], key: str, cached: dict[str, CachedAnswer]
    ) -> Generation:
        hit = cached.get(key)
        if hit is not None:
            self.hits += 1
            return Generation(hit.output, hit.tokens_in, hit.tokens_out, hit.latency_ms)
        self.calls += 1
        async with self._limit:
            gen = await choice.adapter.generate(messages, choice.params)
        # Kept at once (not when the prompt is done): an interruption still saves what came back.
        answer = CachedAnswer(gen.text, gen.tokens_in, gen.tokens_out, gen.latency_ms)
        self.pending.append((key, choice.adapter.model, answer))
        return gen

    def take(self) -> list[tuple[str, str, CachedAnswer]]:
        out, self.pending = self.pending, []
        return out

    def write(self, entries: list[tuple[str, str, CachedAnswer]]) -> None:
        if entries and self.use_cache:
            self.store.evals.cache_put(entries)


async def run_pool(
    work: Iterable[T],
    handle: Callable[[T], Awaitable[None]],
    concurrency: int,
    stop: asyncio.Event | None = None,
) -> None:
    """``handle`` every item of ``work`` with ``concurrency`` workers sharing one iterator (so the
    stream is read lazily, never listed). The first error stops the taking of new items; the
    items in hand finish; then the error is raised."""
    it: Iterator[T] = iter(work)
    stop = stop or asyncio.Event()
    errors: list[BaseException] = []

    async def worker() -> None:
        while not stop.is_set():
            try:
                item = next(it)
            except StopIteration:
                return
            except Exception as e:  # the reader (or a progress callback in it) failed
                errors.append(e)
                stop.set()
                return
            try:
                await handle(item)
            except Exception as e:  # kept and raised once the others have finished
                errors.append(e)
                stop.set()
                return

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        await asyncio.gather(*tasks)
    except BaseException:  # cancelled (Ctrl+C): cancel the workers too
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    if errors:
        raise errors[0]


def version_name(store: Store, target: Dataset, wanted: str | None) -> str:
    """``wanted`` if free (else Conflict), or the next free ``v<n>``."""
    names = {v.name for v in store.list_versions(target)}
    if wanted is not None:
        if wanted in names:
            raise Conflict(f"version {wanted!r} of {target.project}/{target.name} already exists; choose another name")
        return wanted
    n = len(names) + 1
    while f"v{n}" in names:
        n += 1
    return f"v{n}"


def choices(models: Sequence[ModelChoice | ModelSpec | str]) -> list[ModelChoice]:
    """Adapters with their params, from instances, specs or ``ADAPTER:SPEC`` strings."""
    out = []
    for m in models:
        if isinstance(m, ModelChoice):
            out.append(m)
        elif isinstance(m, ModelSpec):
            out.append(m.build())
        else:
            out.append(ModelSpec(model=m).build())
    if not out:
        raise ConfigError("no model: give at least one (ADAPTER:SPEC)")
    return out
