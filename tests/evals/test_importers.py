"""Benchmark files read offline into eval datasets; a bad row names its file and line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from thresher.errors import ConfigError, DataError
from thresher.evals import import_benchmark, read_benchmark, resolve_suite
from thresher.store import Store


def write_jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_gsm8k(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "gsm.jsonl", [{"question": "2+2?", "answer": "2 and 2 is 4\n#### 4"}])
    (r,) = read_benchmark(f, "gsm8k")
    c = r.content.model_dump()
    assert c["reference"] == "4" and c["grader"]["type"] == "numeric" and r.metadata["tags"] == ["gsm8k"]
    assert r.source.file == "gsm.jsonl" and r.source.line == 1


def test_mmlu_csv_and_jsonl(tmp_path: Path) -> None:
    csv = tmp_path / "astronomy_test.csv"
    csv.write_text('"Closest planet to the Sun?",Venus,Mercury,Mars,Earth,B\n')
    (r,) = read_benchmark(csv, "mmlu")
    c = r.content.model_dump()
    assert c["choices"] == ["Venus", "Mercury", "Mars", "Earth"] and c["reference"] == "B"
    assert "B. Mercury" in c["input"][0]["content"] and "subject:astronomy" in r.metadata["tags"]
    j = write_jsonl(tmp_path / "m.jsonl", [{"question": "q?", "choices": ["x", "y"], "answer": 1, "subject": "s"}])
    (r,) = read_benchmark(j, "mmlu")
    assert r.content.model_dump()["reference"] == "B"


def test_humaneval(tmp_path: Path) -> None:
    row = {
        "task_id": "HumanEval/0",
        "prompt": "def add(a, b):\n",
        "canonical_solution": "    return a + b\n",
        "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
        "entry_point": "add",
    }
    (r,) = read_benchmark(write_jsonl(tmp_path / "he.jsonl", [row]), "humaneval")
    g = r.content.model_dump()["grader"]
    assert g["type"] == "code_tests" and g["params"]["entry_point"] == "add" and r.metadata["task_id"] == "HumanEval/0"


def test_generic_jsonl_and_errors(store: Store, tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [
        {"input": "Capital of France?", "reference": "Paris", "tags": ["geo"]},
        {"prompt": [{"role": "user", "content": "hi"}], "grader": {"type": "regex", "params": {"pattern": "h"}}},
    ]
    store.create_project("p")
    ds = store.create_dataset("p", "mine")
    assert import_benchmark(store, ds, write_jsonl(tmp_path / "g.jsonl", rows), "jsonl") == 2
    assert import_benchmark(store, ds, tmp_path / "g.jsonl", "jsonl") == 0  # same content: nothing new
    bad = write_jsonl(tmp_path / "bad.jsonl", [rows[0], {"input": "no answer and no grader"}])
    with pytest.raises(DataError) as e:
        import_benchmark(store, ds, bad, "jsonl")
    assert e.value.details[0].loc[:2] == ("bad.jsonl", 2)
    assert store.count_records(ds) == 2  # all or none
    with pytest.raises(ConfigError, match="no benchmark format"):
        list(read_benchmark(bad, "nope"))


def test_builtin_suite_is_imported_and_versioned(store: Store) -> None:
    store.create_project("p")
    suite = resolve_suite(store, "p", "gsm8k-mini")
    assert suite.name == "gsm8k-mini@v1" and suite.version.record_count == 20
    assert resolve_suite(store, "p", "gsm8k-mini@v1").version.id == suite.version.id
    assert resolve_suite(store, "p", "gsm8k-mini").version.id == suite.version.id  # latest version reused
