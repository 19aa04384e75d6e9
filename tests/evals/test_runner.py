"""Runs on both backends: results, the response cache, errors, pass@k, tags and lineage."""

from __future__ import annotations

import pytest
from evals_support import QUESTIONS, make_suite, server, suite

from thresher.errors import ConfigError, NotFound
from thresher.evals import CallableAdapter, RunOptions, Suite, compare_runs, get_scorer, run_eval
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.fake_server import FakeModelServer
from thresher.model import EvalItemContent, GradingRule, Message, Record
from thresher.store import Store

USES_FIXTURES = (server, suite)  # pytest finds fixtures among the module's names


def test_run_scores_every_item_and_a_rerun_asks_nothing(store: Store, suite: Suite, server: FakeModelServer) -> None:
    run = run_eval(store, suite, OpenAIAdapter(server.url, "half"), RunOptions(stage="sft", training_version="sft@v1"))
    s = run.summary
    assert run.status == "done" and run.stage == "sft" and run.training_version == "sft@v1"
    assert s["items"] == len(QUESTIONS) and s["errors"] == 0 and s["calls"] == len(QUESTIONS)
    assert 0.25 < s["mean"] < 0.75 and s["ci"][0] < s["mean"] < s["ci"][1]
    assert s["pass_rate"] == s["mean"]
    assert set(s["by_tag"]) == {"arith", "even", "odd", "task:closed_qa"}
    assert s["by_tag"]["arith"]["n"] == len(QUESTIONS)
    results = store.evals.results(run.id)
    assert len(results) == len(QUESTIONS) and not any(r.cached for r in results)
    assert all(r.tokens_in and r.latency_ms is not None for r in results)
    served = server.requests

    again = run_eval(store, suite, OpenAIAdapter(server.url, "half"))
    assert server.requests == served, "a cached re-run must not call the model"
    assert again.summary["calls"] == 0 and again.summary["cache_hits"] == len(QUESTIONS)
    assert again.summary["mean"] == s["mean"] and all(r.cached for r in store.evals.results(again.id))

    # Other params are another cache key: asked again.
    hot = run_eval(store, suite, OpenAIAdapter(server.url, "half"), RunOptions(params={"temperature": 0.7}))
    assert hot.summary["calls"] == len(QUESTIONS)
    nocache = run_eval(store, suite, OpenAIAdapter(server.url, "half"), RunOptions(use_cache=False))
    assert nocache.summary["calls"] == len(QUESTIONS)


def test_stages_compare_with_significance(store: Store, suite: Suite, server: FakeModelServer) -> None:
    bad = run_eval(store, suite, OpenAIAdapter(server.url, "bad"), RunOptions(stage="base"))
    good = run_eval(store, suite, OpenAIAdapter(server.url, "good"), RunOptions(stage="sft"))
    half = run_eval(store, suite, OpenAIAdapter(server.url, "half"), RunOptions(stage="dpo"))
    assert bad.summary["mean"] == 0.0 and good.summary["mean"] == 1.0
    c = compare_runs(store, bad, good)
    assert c["n"] == len(QUESTIONS) and c["pass_fail"] and c["diff"] == 1.0
    assert c["significant"] and c["verdict"] == "B is better (significant)"
    assert c["mcnemar"]["b_only"] == len(QUESTIONS) and c["mcnemar"]["p"] < 1e-6
    same = compare_runs(store, half, run_eval(store, suite, OpenAIAdapter(server.url, "half")))
    assert not same["significant"] and same["verdict"] == "within noise"


def test_runs_with_no_scored_item_in_common_say_so(store: Store, suite: Suite, server: FakeModelServer) -> None:
    good = run_eval(store, suite, OpenAIAdapter(server.url, "good"))
    with FakeModelServer(error_rate=1.0) as srv:
        broken = run_eval(store, suite, OpenAIAdapter(srv.url, "m", max_retries=1, backoff_s=0.001))
    with pytest.raises(ConfigError, match="share no scored item"):
        compare_runs(store, good, broken)


def test_failed_calls_are_recorded_not_scored(store: Store, suite: Suite) -> None:
    with FakeModelServer(error_rate=1.0) as srv:
        run = run_eval(store, suite, OpenAIAdapter(srv.url, "m", max_retries=1, backoff_s=0.001))
    assert run.summary["errors"] == len(QUESTIONS) and run.summary["mean"] is None
    assert all(r.error and "HTTP 500" in r.error and r.score is None for r in store.evals.results(run.id))


def test_samples_give_pass_at_k(store: Store) -> None:
    store.ensure_project("p")
    ds = store.ensure_dataset("p", "code")
    test = "def check(f):\n    assert f(2) == 4\n"
    store.add_records(
        ds,
        [
            Record(
                content=EvalItemContent(
                    input=[Message(role="user", content="Write double(x).")],
                    grader=GradingRule(type="code_tests", params={"test": test, "entry_point": "double"}),
                )
            )
        ],
    )
    suite = Suite(ds, store.create_version(ds, "v1"))
    answers = iter(["def double(x):\n    return x * 2\n", "def double(x):\n    return x + 3\n"] * 5)

    def flaky(messages: object, params: object) -> str:
        return next(answers)

    run = run_eval(store, suite, CallableAdapter(flaky, name="flaky"), RunOptions(samples=4, pass_k=(1, 2)))
    (r,) = store.evals.results(run.id)
    assert r.details["samples"] == 4 and r.details["correct"] == 2
    assert r.details["pass@1"] == pytest.approx(0.5) and r.details["pass@2"] == pytest.approx(1 - 1 / 6)
    assert r.score == pytest.approx(0.5) and r.passed is True


def test_a_scorer_for_the_whole_run(store: Store, suite: Suite) -> None:
    def polite(messages: object, params: object) -> str:
        return "Please see the answer."

    run = run_eval(
        store, suite, CallableAdapter(polite), RunOptions(scorer=get_scorer("regex", pattern="please", flags="i"))
    )
    assert run.summary["mean"] == 1.0
    assert run.params["scorer"] == {"name": "regex", "pattern": "please", "flags": "i"}


def test_a_judge_that_fails_marks_the_item_not_the_run(store: Store, suite: Suite) -> None:
    def down(messages: object, params: object) -> str:
        raise RuntimeError("judge offline")

    scorer = get_scorer("judge", adapter=CallableAdapter(down, name="down"))
    run = run_eval(store, suite, CallableAdapter(lambda m, p: "3"), RunOptions(scorer=scorer))
    assert run.status == "done" and run.summary["errors"] == len(QUESTIONS)
    assert all("judge offline" in (r.error or "") and r.output == "3" for r in store.evals.results(run.id))


def test_deleting_the_project_or_suite_takes_its_runs(store: Store, suite: Suite) -> None:
    run = run_eval(store, suite, CallableAdapter(lambda m, p: "1"), RunOptions())
    store.delete_dataset(suite.dataset)
    with pytest.raises(NotFound):
        store.evals.get_run(run.id)
    assert store.evals.results(run.id) == []
    other = make_suite(store, "q")
    run = run_eval(store, other, CallableAdapter(lambda m, p: "1"), RunOptions())
    store.delete_project(store.get_project("q"))
    with pytest.raises(NotFound):
        store.evals.get_run(run.id)
