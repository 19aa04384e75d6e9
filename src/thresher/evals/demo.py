"""The demo's evals: a small suite run on three "stages" of a model served by the fake server.

``run_demo_evals(store, project, out_dir)`` imports the built-in ``gsm8k-mini`` items plus a few
multiple-choice ones into ``demo-evals``, starts the deterministic model server in-process
(base answers 40% right, SFT 75%, DPO 90%), runs the suite on each stage, and writes the stage
report (HTML) into ``out_dir``; it returns the report's path.
"""

from __future__ import annotations

import string
from pathlib import Path

import orjson

from thresher.evals.adapters.openai import OpenAIAdapter
from thresher.evals.fake_server import FakeModelServer
from thresher.evals.importers import read_benchmark
from thresher.evals.report import write_stage_report
from thresher.evals.runner import EVAL_KIND, RunOptions, run_eval
from thresher.evals.suites import BUILTIN_SUITES, Suite
from thresher.model import EvalItemContent, GradingRule, Message, Record
from thresher.store import RecordFilter, Store
from thresher.store.evals import EvalRun

__all__ = ["DEMO_STAGES", "run_demo_evals"]

DEMO_STAGES = (("base", 0.4, None), ("sft", 0.75, "sft@v1"), ("dpo", 0.9, "dpo@v1"))
_CHOICE_ITEMS = (
    ("Which planet is closest to the Sun?", ["Venus", "Mercury", "Mars", "Earth"], "B", "science"),
    ("What is the boiling point of water at sea level in Celsius?", ["90", "100", "110", "120"], "B", "science"),
    ("Which data structure is first-in, first-out?", ["stack", "heap", "queue", "tree"], "C", "computing"),
    ("What does HTTP status 404 mean?", ["Not Found", "Forbidden", "Server Error", "Moved"], "A", "computing"),
    ("Which gas do plants absorb from the air?", ["oxygen", "nitrogen", "helium", "carbon dioxide"], "D", "science"),
    ("How many bits are in a byte?", ["4", "8", "16", "32"], "B", "computing"),
    ("Which of these is a prime number?", ["21", "27", "29", "33"], "C", "math"),
    ("What is the square root of 144?", ["12", "14", "16", "10"], "A", "math"),
)


def _choice_record(question: str, choices: list[str], answer: str, topic: str) -> Record:
    options = "\n".join(f"{string.ascii_uppercase[i]}. {c}" for i, c in enumerate(choices))
    prompt = f"{question}\n\n{options}\n\nAnswer with the letter of the correct option."
    content = EvalItemContent(
        input=[Message(role="user", content=prompt)],
        reference=answer,
        choices=choices,
        grader=GradingRule(type="choice"),
    )
    return Record(content=content, metadata={"tags": ["multiple-choice", f"topic:{topic}"]}, task_type="classification")


def _answer_key(store: Store, suite: Suite) -> dict[str, str]:
    key = {}
    for batch in store.iter_records(suite.dataset, version=suite.version, flt=RecordFilter(kinds=[EVAL_KIND])):
        for row in batch:
            c = orjson.loads(row.content)
            prompt, ref = c["input"][-1]["content"], c["reference"]
            key[prompt] = f"Answer: {ref}" if c.get("choices") else f"So the answer is {ref}."
    return key


def run_demo_evals(store: Store, project: str, out_dir: Path) -> Path:
    dataset = store.ensure_dataset(project, "demo-evals")
    path, fmt = BUILTIN_SUITES["gsm8k-mini"]
    store.add_records(dataset, [*read_benchmark(path, fmt), *(_choice_record(*i) for i in _CHOICE_ITEMS)])
    versions = store.list_versions(dataset)
    version = versions[-1] if versions else store.create_version(dataset, "v1", description="demo suite")
    suite = Suite(dataset, version)
    accuracy = {name: acc for name, acc, _ in DEMO_STAGES}
    runs: list[EvalRun] = []
    with FakeModelServer(latency_ms=5, answers=_answer_key(store, suite), accuracy=accuracy) as server:
        for name, _, trained_on in DEMO_STAGES:
            adapter = OpenAIAdapter(server.url, name, concurrency=8)
            options = RunOptions(params={"temperature": 0}, stage=name, training_version=trained_on)
            runs.append(run_eval(store, suite, adapter, options))
    return write_stage_report(store, runs, out_dir / "eval-report.html", title=f"Demo stage report ({suite.name})")
