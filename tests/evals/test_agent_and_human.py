"""Agent step and system evals from recorded runs; human review and judge-human agreement."""

from __future__ import annotations

from typing import Any

import pytest
from evals_support import make_suite

from thresher.evals import CallableAdapter, RunOptions, Suite, get_scorer, run_eval
from thresher.evals.agent import ReplayAdapter, ReplayTools, make_step_evals, make_system_evals
from thresher.evals.human import collect_human_scores, judge_human_alignment, send_to_review
from thresher.model import AgentRunContent, Failure, Outcome, Record, Response, Step, ToolCall
from thresher.store import Store


def agent_runs() -> list[Record]:
    model_fault = AgentRunContent(
        task="Book a table for two at Sushi Ko at 8pm.",
        steps=[
            Step(type="tool_call", tool_call=ToolCall(id="c1", name="search", arguments={"q": "Sushi Ko"})),
            Step(type="tool_result", tool_call_id="c1", content='{"id": 7, "open": "18-23"}'),
            Step(type="tool_call", tool_call=ToolCall(id="c2", name="book", arguments={"place": 7, "people": 4})),
        ],
        outcome=Outcome(status="failure"),
        failure=Failure(step=2, cause="model_output", reason="booked for four, not two"),
    )
    system_fault = AgentRunContent(
        task="What's the weather in Oslo?",
        steps=[
            Step(type="tool_call", tool_call=ToolCall(id="w1", name="weather", arguments={"city": "Oslo"})),
            Step(type="tool_result", tool_call_id="w1", content="HTTP 503 upstream", is_error=True),
            Step(type="message", content="Traceback: KeyError 'temp'"),
        ],
        outcome=Outcome(status="failure"),
        failure=Failure(step=1, cause="tool", reason="the weather API was down and the agent crashed"),
    )
    fine = AgentRunContent(task="Say hi", steps=[Step(type="message", content="hi")], outcome=Outcome(status="success"))
    return [Record(content=c) for c in (model_fault, system_fault, fine)]


def judge_by_keyword(word: str) -> CallableAdapter:
    def judge(messages: list[dict[str, Any]], params: object) -> str:
        text = messages[0]["content"].split("Answer to grade:")[1]
        return "Score: 5" if word in text else "Score: 1"

    return CallableAdapter(judge, name=f"judge-{word}")


def test_step_and_system_evals_from_failed_runs(store: Store) -> None:
    store.create_project("p")
    runs = store.create_dataset("p", "runs")
    store.add_records(runs, agent_runs())
    steps = store.create_dataset("p", "step-evals")
    assert make_step_evals(store, runs, steps) == 1
    (row,) = store.page_records(steps)
    item = row.to_record().content.model_dump()
    assert [m["role"] for m in item["input"]] == ["user", "assistant", "tool"]  # the run up to the failing step
    assert "booked for four" in item["grader"]["params"]["rubric"]
    assert item["grader"]["type"] == "judge" and row.to_record().lineage

    step_suite = Suite(steps, store.create_version(steps, "v1"))

    def next_step(messages: list[dict[str, Any]], params: object) -> str:
        return 'book({"place": 7, "people": 2})'

    run = run_eval(
        store,
        step_suite,
        CallableAdapter(next_step),
        RunOptions(scorer=get_scorer("judge", adapter=judge_by_keyword('"people": 2'))),
    )
    assert run.summary["mean"] == 1.0 and run.summary["by_tag"]["tool:book"]["n"] == 1

    systems = store.create_dataset("p", "system-evals")
    assert make_system_evals(store, runs, systems) == 1
    sys_suite = Suite(systems, store.create_version(systems, "v1"))
    seen: list[str] = []

    def fixed_system(messages: list[dict[str, Any]], tools: ReplayTools) -> str:
        try:
            result = tools.call("weather", {"city": "Oslo"})
        except LookupError:
            return "no recording"
        seen.append(result)
        return "The weather service is unavailable right now; please try again later."

    adapter = ReplayAdapter.from_suite(store, sys_suite, fixed_system, name="agent-v2")
    scorer = get_scorer("judge", adapter=judge_by_keyword("unavailable"))
    run = run_eval(store, sys_suite, adapter, RunOptions(scorer=scorer))
    assert seen == ["HTTP 503 upstream"] and run.summary["mean"] == 1.0


def test_replay_tools() -> None:
    tools = ReplayTools(
        [
            {"name": "search", "arguments": {"q": "a"}, "result": "A"},
            {"name": "search", "arguments": {"q": "b"}, "result": "B"},
        ]
    )
    assert tools.call("search", {"q": "b"}) == "B"
    assert tools.call("search", {"q": "zzz"}) == "A"  # next unused result of that tool
    with pytest.raises(LookupError):
        tools.call("search", {"q": "a"})
    assert tools.misses == 1 and len(tools.calls) == 3


def test_human_review_round_trip_and_judge_alignment(store: Store) -> None:
    suite = make_suite(store)

    def answer(messages: list[dict[str, Any]], params: object) -> str:
        return "The answer is 3." if "1 plus 2" in messages[0]["content"] else "I think it is 5."

    ratings = iter([5, 1, 1, 2, 4])

    def judge(messages: list[dict[str, Any]], params: object) -> str:
        return f"Score: {next(ratings, 3)}"

    run = run_eval(
        store, suite, CallableAdapter(answer), RunOptions(scorer=get_scorer("judge", adapter=CallableAdapter(judge)))
    )
    review = send_to_review(store, run)
    assert review.name == f"review-{run.id}" and [q.name for q in review.questions] == ["quality", "note"]
    records = store.page_records(review, limit=1000)
    assert len(records) == 40
    by_eval = {r.to_record().metadata["eval_record"]: r.id for r in records}
    results = {r.record_id: r for r in store.evals.results(run.id)}
    for rid, review_id in list(by_eval.items())[:10]:
        judged = results[rid].details["judge_rating"]
        for user in ("ann", "ben"):
            store.save_response(Response(record_id=review_id, user=user, answers={"quality": int(judged)}))
    assert collect_human_scores(store, run, review) == 10
    humans = [r for r in store.evals.results(run.id) if "human" in r.details]
    assert len(humans) == 10 and all(r.details["human"]["ratings"] for r in humans)
    agreement = judge_human_alignment(store, run)
    assert agreement["items"] == 10 and agreement["exact_agreement"] == 1.0
    assert agreement["cohen_kappa"] == pytest.approx(1.0)


def test_human_scorer_leaves_scores_pending(store: Store) -> None:
    suite = make_suite(store)
    run = run_eval(store, suite, CallableAdapter(lambda m, p: "4"), RunOptions(scorer=get_scorer("human")))
    assert run.summary["pending"] == 40 and run.summary["mean"] is None
    review = send_to_review(store, run, "human-review")
    first = store.page_records(review, limit=1)[0]
    store.save_response(Response(record_id=first.id, user="ann", answers={"quality": 5}))
    assert collect_human_scores(store, run, review) == 1
    scored = [r for r in store.evals.results(run.id) if r.score is not None]
    assert len(scored) == 1 and scored[0].score == 1.0 and "pending" not in scored[0].details
