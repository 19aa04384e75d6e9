"""Frontier selection on a model of known per-prompt accuracy keeps exactly the prompts it fails,
within a budget, and queues them for experts with the skill."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from generate_support import ARITH, arith_items, make_dataset, prompt_records

from thresher.annotate import next_task
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.adapters.python_callable import CallableAdapter
from thresher.evals.fake_server import FakeModelServer, fake_answer
from thresher.generate import FrontierOptions, ModelChoice, expert_dataset, select_frontier
from thresher.store import Store


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    answers = {q: f"The answer is {a}." for q, a in ARITH.items()}
    with FakeModelServer(answers=answers, accuracy={"half": 0.5, "good": 1.0}) as srv:
        yield srv


def failing(model: str, accuracy: float) -> set[str]:
    """The prompts the server's model gets wrong (it is deterministic per prompt)."""
    key = {q: f"The answer is {a}." for q, a in ARITH.items()}
    return {q for q in ARITH if fake_answer(model, q, key, {model: accuracy}) != key[q]}


def prompts_of(store: Store, name: str) -> list[dict[str, Any]]:
    ds = store.get_dataset("p", name)
    return [r.to_record().model_dump(mode="json") for page in store.iter_records(ds) for r in page]


def test_reference_grading_keeps_the_prompts_the_model_fails(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "evalset", arith_items())
    source, experts = store.get_dataset("p", "evalset"), expert_dataset(store, "p", "experts")
    wrong = failing("half", 0.5)
    assert 5 < len(wrong) < 25  # the fixture is informative: some right, some wrong

    model = ModelChoice(OpenAIAdapter(server.url, "half"), {"temperature": 0.8})
    result = select_frontier(store, source, experts, model, FrontierOptions(samples=3, skill="math"))
    assert result.graded == len(ARITH) and result.selected == len(wrong) == result.written
    assert result.pass_rate_before == pytest.approx(1 - len(wrong) / len(ARITH))
    assert result.pass_rate_selected == 0.0
    kept = prompts_of(store, "experts")
    assert {r["content"]["messages"][-1]["content"] for r in kept} == wrong
    meta = kept[0]["metadata"]
    assert meta["skill"] == "math" and meta["frontier"]["samples"] == 3 and meta["frontier"]["passed"] == 0
    assert meta["frontier"]["reference"] and len(meta["frontier"]["answers"]) == 3
    assert kept[0]["lineage"] and kept[0]["content"]["messages"][-1]["role"] == "user"

    # Queued for experts: a user with the skill gets a task, one without it gets none.
    experts = store.get_dataset("p", "experts")
    assert next_task(store, experts, "novice", [], []) is None
    task = next_task(store, experts, "mathematician", ["math"], [])
    assert task is not None and task.record.id in {r["id"] for r in kept}
    assert [q.name for q in task.questions] == ["ideal_response"]

    # A re-run asks nothing (cache) and queues nothing twice.
    calls = server.requests
    again = select_frontier(store, source, experts, model, FrontierOptions(samples=3, skill="math"))
    assert again.calls == 0 and again.written == 0 and server.requests == calls


def test_a_budget_keeps_the_hardest_prompts_and_a_strong_model_yields_none(
    store: Store, server: FakeModelServer
) -> None:
    make_dataset(store, "evalset", arith_items())
    source, experts = store.get_dataset("p", "evalset"), expert_dataset(store, "p", "experts")
    wrong = failing("half", 0.5)
    result = select_frontier(store, source, experts, choice_of(server, "half"), FrontierOptions(budget=4))
    assert result.selected == 4 and result.pass_rate_selected == 0.0
    kept = {r["content"]["messages"][-1]["content"] for r in prompts_of(store, "experts")}
    assert kept <= wrong and len(kept) == 4

    good = select_frontier(store, source, expert_dataset(store, "p", "experts2"), choice_of(server, "good"))
    assert good.selected == 0 and good.pass_rate_before == 1.0 and good.pass_rate_selected is None


def choice_of(server: FakeModelServer, model: str) -> ModelChoice:
    return ModelChoice(OpenAIAdapter(server.url, model), {}, 1)


def test_self_consistency_keeps_the_prompts_the_model_disagrees_on(store: Store) -> None:
    make_dataset(store, "prompts", prompt_records(9))
    calls: Counter[str] = Counter()

    def wavering(messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
        """Sure of itself on texts (haiku prompts); on other prompts, a different answer each call."""
        prompt = messages[-1]["content"]
        calls[prompt] += 1
        return "Same answer." if "haiku" in prompt else f"answer {calls[prompt]}"

    source, experts = store.get_dataset("p", "prompts"), expert_dataset(store, "p", "experts")
    options = FrontierOptions(samples=4, grading="self_consistency", keep_below=0.75, skill=None, concurrency=1)
    result = select_frontier(store, source, experts, ModelChoice(CallableAdapter(wavering)), options)
    kept = prompts_of(store, "experts")
    assert result.selected == len(kept) == 6  # the 6 non-haiku prompts: 1 agreeing answer in 4
    assert all("haiku" not in r["content"]["messages"][-1]["content"] for r in kept)
    assert result.pass_rate_selected == 0.25 and result.pass_rate_before == pytest.approx((3 * 1 + 6 * 0.25) / 9)
    assert "skill" not in kept[0]["metadata"]
