"""Runs on both backends: the runner's flow under concurrency. Results written in the background
while calls are in flight all arrive; an interrupted run keeps every answer it received, so a
re-run asks only the rest; a failed store read fails the run; the test server is never early."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import orjson
import pytest
from evals_support import QUESTIONS, suite

from thresher.evals import RunOptions, Suite, run_eval
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.fake_server import FakeModelServer
from thresher.store import Store

USES_FIXTURES = (suite,)  # pytest finds fixtures among the module's names

ANSWERS = {q: f"The answer is {a}." for q, a in QUESTIONS.items()}


@pytest.fixture
def slow_server() -> Iterator[FakeModelServer]:
    """20 ms per answer: long enough that flushes and interruptions happen with calls in flight."""
    with FakeModelServer(latency_ms=20, answers=ANSWERS, accuracy={"good": 1.0}) as srv:
        yield srv


def test_every_result_is_written_when_flushes_happen_during_calls(
    store: Store, suite: Suite, slow_server: FakeModelServer
) -> None:
    # A flush every 3 results with 8 calls in flight: most flushes swap the buffer mid-call.
    options = RunOptions(concurrency=8, flush_every=3)
    run = run_eval(store, suite, OpenAIAdapter(slow_server.url, "good"), options)
    results = store.evals.results(run.id)
    assert run.summary["calls"] == len(QUESTIONS) == slow_server.requests
    assert run.summary["items"] == len(QUESTIONS), "a result appended during a flush was lost"
    ids = [r.record_id for r in results]
    assert ids == sorted(ids)
    assert set(ids) == {r.id for page in store.iter_records(suite.dataset, version=suite.version) for r in page}
    assert run.summary["mean"] == 1.0


def test_an_interrupted_run_keeps_every_answer_so_a_rerun_asks_only_the_rest(
    store: Store, suite: Suite, slow_server: FakeModelServer
) -> None:
    def progress(done: int) -> None:
        if done == 10:
            raise RuntimeError("stopped by the progress callback")

    options = RunOptions(concurrency=8, flush_every=4)
    with pytest.raises(RuntimeError, match="stopped"):
        run_eval(store, suite, OpenAIAdapter(slow_server.url, "good"), options, progress=progress)
    (failed,) = store.evals.list_runs(_project_id(store))
    asked = slow_server.requests
    assert failed.status == "failed" and 10 <= asked < len(QUESTIONS)
    # The calls in flight when it stopped finished and were cached: nothing is asked twice.
    again = run_eval(store, suite, OpenAIAdapter(slow_server.url, "good"), options)
    assert again.status == "done" and again.summary["items"] == len(QUESTIONS)
    assert slow_server.requests == len(QUESTIONS), "a re-run asked again what the interrupted run received"
    assert again.summary["calls"] == len(QUESTIONS) - asked and again.summary["cache_hits"] == asked


def test_a_failed_store_read_fails_the_run(
    store: Store, suite: Suite, slow_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.evals.cache_get
    reads = 0

    def cache_get(keys: list[str]) -> dict[str, object]:
        nonlocal reads
        reads += 1
        if reads == 2:
            raise OSError("disk I/O error (injected)")
        return real(keys)  # type: ignore[return-value]

    monkeypatch.setattr(store.evals, "cache_get", cache_get)
    # Pages of 16 (the runner reads 64): the second page's read fails, read ahead in a thread.
    monkeypatch.setattr(store, "iter_records", _pages_of(store.iter_records, 16))
    with pytest.raises(OSError, match="injected"):
        run_eval(store, suite, OpenAIAdapter(slow_server.url, "good"), RunOptions(concurrency=4))
    (failed,) = store.evals.list_runs(_project_id(store))
    assert failed.status == "failed"
    # The first page's calls finished before the error surfaced, and their answers were cached.
    asked = slow_server.requests
    assert asked == 16
    monkeypatch.undo()
    again = run_eval(store, suite, OpenAIAdapter(slow_server.url, "good"))
    assert again.summary["cache_hits"] == asked and again.summary["items"] == len(QUESTIONS)
    assert slow_server.requests == len(QUESTIONS)


def _project_id(store: Store) -> int:
    project_id = store.get_project("p").id
    assert project_id is not None
    return project_id


def _pages_of(iter_records: object, size: int) -> object:
    def pages(*args: object, **kwargs: object) -> object:
        kwargs["batch_size"] = size
        return iter_records(*args, **kwargs)  # type: ignore[operator]

    return pages


def test_the_test_server_answers_no_earlier_than_its_latency(store: Store, suite: Suite) -> None:
    with FakeModelServer(latency_ms=30, answers=ANSWERS, accuracy={"good": 1.0}) as srv:
        run = run_eval(store, suite, OpenAIAdapter(srv.url, "good"), RunOptions(concurrency=16))
        stats = orjson.loads(urllib.request.urlopen(srv.url.removesuffix("/v1") + "/stats", timeout=5).read())
    results = store.evals.results(run.id)
    assert len(results) == len(QUESTIONS)
    # The answer is built before the wait, and the wait runs to a deadline: never early.
    assert all(r.latency_ms is not None and r.latency_ms >= 30 for r in results)
    assert stats["requests"] == len(QUESTIONS) and stats["cpu_s"] > 0
    assert 0 <= stats["late_ms_mean"] <= stats["late_ms_max"]


def test_a_failed_background_write_fails_the_run(
    store: Store, suite: Suite, slow_server: FakeModelServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = store.evals.add_results
    writes = 0

    def add_results(run_id: str, results: list[object]) -> None:
        nonlocal writes
        writes += 1
        if writes == 2:
            raise OSError("database is locked (injected)")
        real(run_id, results)  # type: ignore[arg-type]

    monkeypatch.setattr(store.evals, "add_results", add_results)
    with pytest.raises(OSError, match="injected"):
        run_eval(store, suite, OpenAIAdapter(slow_server.url, "good"), RunOptions(concurrency=4, flush_every=4))
    (failed,) = store.evals.list_runs(_project_id(store))
    assert failed.status == "failed"
    # It stopped taking items once the write failed: far fewer than all were asked.
    assert slow_server.requests < len(QUESTIONS)
