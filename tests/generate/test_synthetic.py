"""Synthetic data: topics x task types x domains through a model, rows marked synthetic with the
template and model recorded, and separable in exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from generate_support import make_dataset, prompt_records

from thresher.errors import DataError
from thresher.evals.adapters.python_callable import CallableAdapter
from thresher.evals.fake_server import FakeModelServer
from thresher.generate import INSTRUCT_TASK_TYPES, ModelChoice, SyntheticSpec, generate_synthetic, load_template
from thresher.pipeline import export_dataset
from thresher.store import Store


def writer(messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """Writes a request when asked for one, and answers a request otherwise."""
    last = messages[-1]["content"]
    if last.startswith("You write realistic requests"):
        line = next(x for x in last.splitlines() if x.startswith("Write one"))
        return f'"Please help: {line}"'
    return f"Here is my answer to: {last[:40]}"


def test_shipped_template_covers_the_nine_task_types() -> None:
    t = load_template("default")
    assert set(t.task_types) == set(INSTRUCT_TASK_TYPES) and len(INSTRUCT_TASK_TYPES) == 9
    assert len(t.digest) == 16
    assert 'about "tides" in the domain of physics' in t.render_prompt("tides", "physics", "open_qa", 1)


def test_template_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("name: mine\nprompt: 'Write about {topik}'\ntask_types: {}\n")
    with pytest.raises(DataError, match="unknown field 'topik'") as e:
        load_template(bad)
    assert e.value.details[0].loc == (str(bad), "prompt")
    bad.write_text("name: mine\nprompt: hi\ntask_types: {}\nextra: 1\n")
    with pytest.raises(DataError) as e:
        load_template(bad)
    assert e.value.details[0].loc == (str(bad), "extra")


def test_synthetic_pairs_are_marked_and_separable_in_export(store: Store, tmp_path: Path) -> None:
    make_dataset(store, "mixed", prompt_records(5))
    target = store.get_dataset("p", "mixed")
    spec = SyntheticSpec(
        topics=["tides", "bread"], task_types=["open_qa", "brainstorming", "rewrite"], domains=["science"]
    )
    result = generate_synthetic(store, target, spec, ModelChoice(CallableAdapter(writer, name="writer")))
    assert result.written == 6 and result.calls == 12 and result.version == "v1" and result.errors == 0
    rows = [r.to_record() for page in store.iter_records(target) for r in page]
    synthetic = [r for r in rows if r.synthetic]
    assert len(synthetic) == 6 and len(rows) == 11
    for r in synthetic:
        assert r.metadata["synthetic"] is True and r.metadata["model"] == "writer"
        assert r.metadata["template"] == {"name": "default", "hash": load_template().digest}
        assert r.domains == ["science"] and r.task_type in spec.task_types and r.source.model == "writer"
        msgs = r.content.messages  # type: ignore[union-attr]
        assert [m.role for m in msgs] == ["user", "assistant"]
        assert msgs[0].content.startswith("Please help: Write one")  # the model's quotes are trimmed
    assert {r.metadata["topic"] for r in synthetic} == {"tides", "bread"}

    for mode, want in (("exclude", 5), ("only", 6), ("include", 11)):
        out = tmp_path / f"{mode}.jsonl"
        res = export_dataset(store, target, out, "thresher", synthetic=mode)  # type: ignore[arg-type]
        lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
        assert len(lines) == want == res.rows
        assert all(bool(x.get("synthetic")) == (mode == "only") for x in lines) or mode == "include"
        manifest = orjson.loads(res.manifest.read_bytes())
        assert manifest["filters"]["synthetic"] == mode


def test_prompts_only_through_the_model_server_and_a_rerun_asks_nothing(store: Store) -> None:
    store.ensure_project("p")
    target = store.ensure_dataset("p", "synth")
    spec = SyntheticSpec(topics=["tea"], pairs=False, per_combination=2)
    with FakeModelServer() as srv:
        from thresher.evals.adapters.openai import OpenAIAdapter

        first = generate_synthetic(store, target, spec, ModelChoice(OpenAIAdapter(srv.url, "m")))
        assert first.written == 18 and srv.requests == 18  # 9 task types x 2 variants
        again = generate_synthetic(store, target, spec, ModelChoice(OpenAIAdapter(srv.url, "m")))
        assert again.calls == 0 and again.written == 0 and srv.requests == 18
    rows = [r.to_record() for page in store.iter_records(target) for r in page]
    assert all(len(r.content.messages) == 1 and r.synthetic for r in rows)  # type: ignore[union-attr]
    assert {r.task_type for r in rows} == set(INSTRUCT_TASK_TYPES)
