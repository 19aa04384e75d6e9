"""Candidate generation against the deterministic model server: comparisons from two models,
ready for ranking; a resumed run asks nothing twice and stores nothing twice; suggestions."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from generate_support import make_dataset, prompt_records

from thresher.errors import ConfigError, Conflict
from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.fake_server import FakeModelServer
from thresher.generate import CandidateOptions, ModelChoice, ModelSpec, generate_candidates
from thresher.model import Response, TextQuestion, validate_answers
from thresher.store import Store

N_PROMPTS = 24


@pytest.fixture
def server() -> Iterator[FakeModelServer]:
    with FakeModelServer() as srv:  # no answer key: it echoes, so a candidate shows what it was asked
        yield srv


def two_models(url: str) -> list[ModelChoice]:
    return [
        ModelChoice(OpenAIAdapter(url, "small", max_retries=0), {"temperature": 0.7}, 2),
        ModelChoice(OpenAIAdapter(url, "large", max_retries=0), {"temperature": 1.0, "top_p": 0.9}, 2),
    ]


def test_two_models_make_ranked_ready_comparisons(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "prompts", prompt_records(N_PROMPTS))
    source, target = store.get_dataset("p", "prompts"), store.ensure_dataset("p", "candidates")
    result = generate_candidates(store, source, target, two_models(server.url), CandidateOptions(concurrency=8))

    assert result.prompts == N_PROMPTS and result.written == N_PROMPTS and result.errors == 0
    assert result.candidates == 4 * N_PROMPTS and server.requests == result.calls == 4 * N_PROMPTS
    assert result.version == "v1" and store.get_version(target, "v1").record_count == N_PROMPTS
    target = store.get_dataset("p", "candidates")
    ranking = target.question("preference")
    assert ranking is not None and ranking.type == "ranking"
    rows = [r for page in store.iter_records(target) for r in page]
    assert {r.kind for r in rows} == {"comparison"} and len(rows) == N_PROMPTS
    for row in rows:
        record = row.to_record()
        c = orjson.loads(row.content)
        assert [x["id"] for x in c["candidates"]] == ["a", "b", "c", "d"]
        assert [x["model"] for x in c["candidates"]] == ["small", "small", "large", "large"]
        assert c["candidates"][2]["params"] == {"temperature": 1.0, "top_p": 0.9}
        assert c["prompt"][-1]["role"] == "user"  # a chat is cut after its last user turn
        assert all(x["messages"][0]["content"] == "echo: " + c["prompt"][-1]["content"] for x in c["candidates"])
        assert record.lineage and record.metadata["generation"]["source"] == record.lineage[0]
        assert record.task_type == "generation"
        # A ranking of exactly these candidates validates; one that misses a candidate does not.
        answers, errors = validate_answers(target.questions, {"preference": [["c"], ["a", "b"], ["d"]]}, record)
        assert not errors and answers["preference"] == [["c"], ["a", "b"], ["d"]]
        _, errors = validate_answers(target.questions, {"preference": [["a"], ["b"]]}, record)
        assert errors
    store.save_response(
        Response(record_id=rows[0].id, user="ann", answers={"preference": [["d"], ["c"], ["b"], ["a"]]})
    )


def test_an_interrupted_run_resumes_and_asks_nothing_twice(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "prompts", prompt_records(N_PROMPTS))
    source, target = store.get_dataset("p", "prompts"), store.ensure_dataset("p", "candidates")

    class Stop(Exception):
        pass

    def interrupt(done: int) -> None:
        if done >= 9:
            raise Stop

    with pytest.raises(Stop):
        generate_candidates(
            store,
            source,
            target,
            two_models(server.url),
            CandidateOptions(concurrency=4, flush_every=5),
            progress=interrupt,
        )
    first = server.requests
    stored = store.count_records(target)
    assert 0 < first < 4 * N_PROMPTS and 9 <= stored < N_PROMPTS
    assert store.list_versions(target) == []  # no version of a run cut short

    result = generate_candidates(store, source, target, two_models(server.url), CandidateOptions(concurrency=4))
    # Every (model, prompt, sample) was asked exactly once over the two runs.
    assert server.requests == 4 * N_PROMPTS
    assert result.calls == 4 * N_PROMPTS - first and result.cache_hits == first
    assert store.count_records(target) == N_PROMPTS  # nothing stored twice
    assert result.duplicates == stored and result.written == N_PROMPTS - stored
    assert store.get_version(target, "v1").record_count == N_PROMPTS

    # A third run with everything cached asks nothing and adds nothing; its version name is checked first.
    with pytest.raises(Conflict):
        generate_candidates(store, source, target, two_models(server.url), CandidateOptions(version="v1"))
    again = generate_candidates(store, source, target, two_models(server.url))
    assert again.calls == 0 and again.written == 0 and server.requests == 4 * N_PROMPTS and again.version == "v2"


def test_a_failing_model_leaves_the_prompt_for_the_next_run(store: Store) -> None:
    make_dataset(store, "prompts", prompt_records(6))
    source, target = store.get_dataset("p", "prompts"), store.ensure_dataset("p", "candidates")
    with FakeModelServer(error_rate=0.3, seed=3) as srv:
        models = [ModelChoice(OpenAIAdapter(srv.url, m, max_retries=0), {}, 1) for m in ("x", "y")]
        first = generate_candidates(store, source, target, models)
        assert first.errors > 0 and first.written == 6 - first.errors and first.first_error
        assert "HTTP 500" in first.first_error
        srv.error_rate = 0.0
        models = [ModelChoice(OpenAIAdapter(srv.url, m, max_retries=0), {}, 1) for m in ("x", "y")]
        second = generate_candidates(store, source, target, models)
    assert second.errors == 0 and store.count_records(target) == 6


def test_suggestions_on_an_sft_text_question(store: Store, server: FakeModelServer) -> None:
    make_dataset(store, "sft", prompt_records(4))
    sft = store.add_questions(store.get_dataset("p", "sft"), [TextQuestion(name="ideal_response", title="Ideal")])
    spec = ModelSpec(model=f"openai:{server.url}#small", params={"temperature": 0.2}, n=2)
    result = generate_candidates(store, sft, None, [spec], CandidateOptions(question="ideal_response"))
    assert result.written == 8 and result.version is None and store.count_records(sft) == 4
    row = next(iter(store.iter_records(sft)))[0]
    suggestions = store.suggestions_for(row.id)
    assert sorted(s.agent for s in suggestions) == ["small#1", "small#2"]
    assert all(s.question == "ideal_response" and s.value.startswith("echo: ") for s in suggestions)

    with pytest.raises(ConfigError, match="expected a text or conversation question"):
        generate_candidates(store, sft, None, [spec], CandidateOptions(question="nope"))
    with pytest.raises(ConfigError, match="another dataset"):
        generate_candidates(store, sft, sft, [spec])
