"""Runs: a suite version x a model. Items stream from the store, answers come from the response
cache or the model (``concurrency`` calls in flight), each output is scored, and results and new
cache entries are written in batches. The run's summary holds the mean with its bootstrap CI,
per-tag breakdowns, token and latency figures, and how many calls were made.

The event loop only makes calls and scores: store pages and their cache lookups are read a page
ahead in a thread, and writes go to a thread in the background, so a finished call's slot is
refilled at once (``benchmarks/evals.py`` measures the loop's lag). If the run stops (an error,
a progress callback that raises), the calls in flight finish and everything received is written
before the error surfaces, so a re-run asks nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from thresher.evals.adapters.base import AdapterError, Generation, ModelAdapter
from thresher.evals.scorers.base import EvalItem, Score, Scorer, get_scorer, scorer_name_for
from thresher.evals.scorers.code_tests import pass_at_k
from thresher.evals.stats import bootstrap_ci
from thresher.evals.suites import Suite
from thresher.model import RecordKind
from thresher.store import RecordFilter, Store
from thresher.store.evals import CachedAnswer, EvalResult, EvalRun

__all__ = ["RunOptions", "arun_eval", "cache_key", "run_eval", "summarize"]

EVAL_KIND: RecordKind = "eval_item"


@dataclass(frozen=True)
class RunOptions:
    """How to run: sampling params sent to the model, samples per item (pass@k), the scorer
    (None: each item's own rule), concurrency (None: the adapter's), whether to use the cache."""

    params: dict[str, Any] | None = None
    samples: int = 1
    scorer: Scorer | None = None
    concurrency: int | None = None
    use_cache: bool = True
    stage: str | None = None
    training_version: str | None = None
    flush_every: int = 256
    pass_k: tuple[int, ...] = (1, 10)


def cache_key(identity: str, params: dict[str, Any], messages: list[dict[str, Any]], sample: int = 0) -> str:
    """sha256 of (model identity, params, input, sample index): what the cache is keyed by."""
    raw = orjson.dumps([identity, params, messages, sample], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored messages in the chat-completions shape (text parts joined, tool arguments as JSON text)."""
    if all(isinstance(m.get("content"), str) and len(m) == 2 for m in messages):
        return messages  # the common case: {role, content} already
    out = []
    for m in messages:
        msg: dict[str, Any] = {"role": m["role"]}
        content = m.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
        msg["content"] = content
        if m.get("tool_calls"):
            msg["tool_calls"] = [
                {
                    "id": c.get("id") or f"call_{i}",
                    "type": "function",
                    "function": {
                        "name": c["name"],
                        "arguments": c["arguments"]
                        if isinstance(c.get("arguments"), str)
                        else orjson.dumps(c.get("arguments", {})).decode(),
                    },
                }
                for i, c in enumerate(m["tool_calls"])
            ]
        if m.get("tool_call_id"):
            msg["tool_call_id"] = m["tool_call_id"]
        if m.get("name"):
            msg["name"] = m["name"]
        out.append(msg)
    return out


_Work = tuple[EvalItem, list[dict[str, Any]], list[str], dict[str, CachedAnswer]]
T = TypeVar("T")


class _Prefetch(Generic[T]):
    """Items from a blocking iterator of pages, each page read in a thread while the one before
    is being worked on: the calls in flight never wait on a store read or a cache lookup, and a
    finished call's slot is refilled at once. At most two pages are held."""

    def __init__(self, pages: Iterator[list[T]]) -> None:
        self._pages = pages
        self._ready: deque[T] = deque()
        self._next: asyncio.Future[list[T] | None] | None = None
        self._done = False

    def _read_ahead(self) -> None:
        if self._next is None and not self._done:
            # One read at a time: a generator runs in one thread at a time.
            self._next = asyncio.ensure_future(asyncio.to_thread(next, self._pages, None))

    async def get(self) -> T | None:
        """The next item, or None once the pages are all taken."""
        while not self._ready:
            if self._done:
                return None
            self._read_ahead()
            reading = self._next
            assert reading is not None
            page = await asyncio.shield(reading)  # several workers may wait on the same read
            if self._next is reading:  # the first one back takes the page in
                self._next = None
                if page is None:
                    self._done = True
                else:
                    self._ready.extend(page)
                    self._read_ahead()
        return self._ready.popleft()

    def close(self) -> None:
        """Stop reading ahead (the read under way finishes in its thread; its page is dropped)."""
        self._done = True
        if self._next is not None and not self._next.done():
            self._next.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._ready.clear()


class _Run:
    def __init__(self, store: Store, run: EvalRun, adapter: ModelAdapter, options: RunOptions) -> None:
        self.store, self.run, self.adapter, self.options = store, run, adapter, options
        self.params = dict(options.params or {})
        self.scorers: dict[str, Scorer] = {}
        self.results: list[EvalResult] = []
        self.new_cache: list[tuple[str, str, CachedAnswer]] = []
        self.calls = self.cache_hits = self.errors = self.done = 0
        self.writing: asyncio.Future[None] | None = None

    def scorer(self, item: EvalItem) -> Scorer:
        if self.options.scorer is not None:
            return self.options.scorer
        name = scorer_name_for(item)
        s = self.scorers.get(name)
        if s is None:
            s = self.scorers[name] = get_scorer(name)
        return s

    def pages(self, suite: Suite) -> Iterator[list[_Work]]:
        """Items with their chat messages, cache keys and cached answers, a store page at a time
        (one ``IN`` query for the page's cache keys). Blocking: ``_Prefetch`` runs it in a thread."""
        identity, n = self.adapter.identity, self.options.samples
        flt = RecordFilter(kinds=[EVAL_KIND])
        # Small pages: the first calls go out after one short read, not after the whole suite's.
        for batch in self.store.iter_records(suite.dataset, version=suite.version, flt=flt, batch_size=64):
            prepared = []
            for row in batch:
                domains = orjson.loads(row.domains) if row.domains != "[]" else ()
                item = EvalItem.from_stored(row.id, row.content, row.metadata, task_type=row.task_type, domains=domains)
                messages = chat_messages(item.input)
                keys = [cache_key(identity, self.params, messages, s) for s in range(n)]
                prepared.append((item, messages, keys))
            cached = (
                self.store.evals.cache_get([k for _, _, ks in prepared for k in ks]) if self.options.use_cache else {}
            )
            yield [(item, messages, keys, cached) for item, messages, keys in prepared]

    async def answer(
        self, messages: list[dict[str, Any]], key: str, cached: dict[str, CachedAnswer]
    ) -> tuple[Generation, bool]:
        hit = cached.get(key)
        if hit is not None:
            self.cache_hits += 1
            return Generation(hit.output, hit.tokens_in, hit.tokens_out, hit.latency_ms), True
        self.calls += 1
        gen = await self.adapter.generate(messages, self.params)
        answer = CachedAnswer(gen.text, gen.tokens_in, gen.tokens_out, gen.latency_ms)
        self.new_cache.append((key, self.adapter.model, answer))
        return gen, False

    async def process(
        self, item: EvalItem, messages: list[dict[str, Any]], keys: list[str], cached: dict[str, CachedAnswer]
    ) -> EvalResult:
        scorer = self.scorer(item)
        gens: list[Generation] = []
        hits = 0
        try:
            for key in keys:
                gen, hit = await self.answer(messages, key, cached)
                gens.append(gen)
                hits += hit
        except AdapterError as e:
            self.errors += 1
            return EvalResult(item.record_id, None, None, None, {}, list(item.tags), error=str(e)[:2000])
        try:
            scores: list[Score] = [await scorer.ascore(item, g.text) for g in gens]
        except AdapterError as e:  # a judge that cannot answer: the item is an error, the run goes on
            self.errors += 1
            error = f"scorer {scorer.name}: {e}"[:2000]
            return EvalResult(item.record_id, gens[0].text, None, None, {}, list(item.tags), error=error)
        first, s0 = gens[0], scores[0]
        result = EvalResult(
            record_id=item.record_id,
            output=first.text,
            score=s0.value,
            passed=s0.passed,
            details=dict(s0.details),
            tags=list(item.tags),
            tokens_in=first.tokens_in,
            tokens_out=sum(g.tokens_out or 0 for g in gens) if first.tokens_out is not None else None,
            latency_ms=first.latency_ms,
            cached=hits == len(keys),
        )
        if len(gens) > 1:
            passes = [bool(s.passed) for s in scores]
            n, c = len(passes), sum(passes)
            values = [s.value for s in scores if s.value is not None]
            result.score = sum(values) / len(values) if values else None
            result.passed = c > 0
            result.details = {
                "samples": n,
                "correct": c,
                **{f"pass@{k}": pass_at_k(n, c, k) for k in self.options.pass_k if k <= n},
            }
        return result

    def flush(self) -> None:
        results, self.results = self.results, []
        answers, self.new_cache = self.new_cache, []
        self._write(results, answers)

    def _write(self, results: list[EvalResult], answers: list[tuple[str, str, CachedAnswer]]) -> None:
        if results:
            self.store.evals.add_results(self.run.id, results)
        if answers:
            self.store.evals.cache_put(answers)

    def flush_soon(self) -> None:
        """Write in a thread, in the background: the worker goes straight on to its next item (a
        write on the loop, or a worker waiting for one, leaves a call slot idle). Writes run one
        at a time, in order; a failed write fails the run at the next flush or at the end."""
        results, self.results = self.results, []
        answers, self.new_cache = self.new_cache, []
        before = self.writing

        async def write() -> None:
            if before is not None:
                await before
            await asyncio.to_thread(self._write, results, answers)

        self.writing = asyncio.ensure_future(write())

    async def execute(self, suite: Suite, progress: Callable[[int], None] | None) -> None:
        work = _Prefetch(self.pages(suite))
        flush_every = self.options.flush_every
        stop = False

        async def worker() -> None:
            nonlocal stop
            try:
                while not stop and (w := await work.get()) is not None:  # each item taken once
                    # Not ``self.results.append(await ...)``: that binds the list before the call,
                    # and a flush meanwhile would swap it out, so the result would be lost.
                    result = await self.process(*w)
                    self.results.append(result)
                    self.done += 1
                    if len(self.results) >= flush_every:
                        if self.writing is not None and self.writing.done():
                            self.writing.result()  # a failed write stops the run here
                        self.flush_soon()
                    if progress is not None:
                        progress(self.done)
            except BaseException:
                stop = True  # the others finish the item they hold and take no new one
                raise

        n = self.options.concurrency or self.adapter.concurrency
        tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, n))]
        try:
            # Not gather's fail-fast: the items in hand finish, so their answers reach the cache.
            await asyncio.wait(tasks)
        except BaseException:  # cancelled (Ctrl+C): cancel the workers too
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            work.close()
            write_error = await self.written()
            self.flush()
        # Each worker's error is retrieved (several may hold the same one); the first is raised,
        # now that everything received is written.
        errors = [e for e in (t.exception() for t in tasks if not t.cancelled()) if e is not None]
        error = errors[0] if errors else write_error
        if error is not None:
            raise error

    async def written(self) -> BaseException | None:
        """Wait for the background writes; their error, if one failed."""
        writing, self.writing = self.writing, None
        if writing is None:
            return None
        (outcome,) = await asyncio.gather(writing, return_exceptions=True)
        return outcome if isinstance(outcome, BaseException) else None


async def arun_eval(
    store: Store,
    suite: Suite,
    adapter: ModelAdapter,
    options: RunOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> EvalRun:
    """Run ``suite`` on ``adapter``; returns the finished run (its summary filled in)."""
    options = options or RunOptions()
    scorer_spec = options.scorer.spec() if options.scorer is not None else {"name": "per-item"}
    project = store.get_project(suite.dataset.project)
    assert project.id is not None and suite.version.id is not None
    run = store.evals.create_run(
        project_id=project.id,
        suite_version_id=suite.version.id,
        suite=suite.name,
        model=adapter.model,
        adapter=adapter.name,
        params={"sampling": options.params or {}, "samples": options.samples, "scorer": scorer_spec},
        stage=options.stage,
        training_version=options.training_version,
    )
    state = _Run(store, run, adapter, options)
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        await state.execute(suite, progress)
    except BaseException:
        store.evals.finish_run(run.id, "failed", {"items": state.done, "calls": state.calls})
        raise
    finally:
        await adapter.aclose()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    summary = summarize(store.evals.iter_results(run.id))
    summary.update(
        calls=state.calls,
        cache_hits=state.cache_hits,
        wall_s=round(wall, 3),
        cpu_ms_per_item=round(1000 * cpu / max(1, state.done), 3),
        items_per_s=round(state.done / wall, 1) if wall > 0 else None,
    )
    return store.evals.finish_run(run.id, "done", summary)


def run_eval(
    store: Store,
    suite: Suite,
    adapter: ModelAdapter,
    options: RunOptions | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> EvalRun:
    """``arun_eval`` from synchronous code."""
    return asyncio.run(arun_eval(store, suite, adapter, options, progress=progress))


def summarize(results: Iterator[EvalResult] | list[EvalResult], *, seed: int = 0) -> dict[str, Any]:
    """Aggregate figures of a run's results: mean and CI, pass rate, per-tag breakdowns, tokens, latency."""
    scores: list[float] = []
    by_tag: dict[str, list[float]] = defaultdict(list)
    n = errors = pending = passed = pass_known = tokens_in = tokens_out = 0
    latencies: list[float] = []
    for r in results:
        n += 1
        if r.error is not None:
            errors += 1
            continue
        if r.score is None:
            pending += 1
            continue
        scores.append(r.score)
        for tag in r.tags:
            by_tag[tag].append(r.score)
        if r.passed is not None:
            pass_known += 1
            passed += bool(r.passed)
        tokens_in += r.tokens_in or 0
        tokens_out += r.tokens_out or 0
        if r.latency_ms is not None and not r.cached:
            latencies.append(r.latency_ms)
    mean = sum(scores) / len(scores) if scores else None
    lo, hi = bootstrap_ci(scores, seed=seed) if scores else (None, None)
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    return {
        "items": n,
        "scored": len(scores),
        "errors": errors,
        "pending": pending,
        "mean": mean,
        "ci": [lo, hi],
        "pass_rate": passed / pass_known if pass_known else None,
        "by_tag": {
            # A tag every item has shares the overall interval; the others get 500 resamples.
            tag: {
                "n": len(v),
                "mean": sum(v) / len(v),
                "ci": [lo, hi] if len(v) == len(scores) else list(bootstrap_ci(v, seed=seed, n_boot=500)),
            }
            for tag, v in sorted(by_tag.items())
        },
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "latency_ms": {"p50": pct(0.5), "p95": pct(0.95)},
    }
