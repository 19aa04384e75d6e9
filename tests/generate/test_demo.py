"""The demo's generate -> rank -> DPO export path, as the README walks it."""

from __future__ import annotations

from pathlib import Path

import orjson

from thresher.annotate import next_task, submit
from thresher.generate.demo import DEMO_PROMPTS, TARGET, run_demo_generate
from thresher.pipeline import export_dataset
from thresher.store import Store


def test_generate_rank_export_dpo(store: Store, tmp_path: Path) -> None:
    store.ensure_project("demo")
    info = run_demo_generate(store, "demo")
    n = len(DEMO_PROMPTS)
    assert info["comparisons"] == n and info["candidates"] == 2 * n and info["version"] == "v1"
    ds = store.get_dataset("demo", TARGET)

    # An annotator ranks two tasks from the queue: the large model's answer first.
    ranked = []
    for _ in range(2):
        task = next_task(store, ds, "ann", [], [])
        assert task is not None
        c = orjson.loads(task.record.content)
        large = next(x["id"] for x in c["candidates"] if x["model"] == "large")
        small = next(x["id"] for x in c["candidates"] if x["model"] == "small")
        submit(store, ds, task.assignment.id, "ann", {"preference": [[large], [small]]})
        ranked.append((c["prompt"][-1]["content"], c["candidates"]))

    out = tmp_path / "dpo.jsonl"
    result = export_dataset(store, ds, out, "trl-preference")
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert result.rows == len(rows) == 2 and not result.leaked
    for row in rows:
        prompt = row["prompt"][-1]["content"]
        candidates = dict(ranked)[prompt]
        large = next(x for x in candidates if x["model"] == "large")
        assert row["chosen"][-1]["content"] == large["messages"][0]["content"]
        assert row["rejected"][-1]["content"] != row["chosen"][-1]["content"]  # small is a little wrong
