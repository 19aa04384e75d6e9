"""Agent evals made from recorded agent runs (triage's output).

- **Step evals** (model evals): a run that failed through the model's output becomes an eval item
  whose input is the run up to the failing step; the model under test must produce a better next
  step. Scored by a judge with a rubric naming the failed step and why it failed (or by any rule
  the caller sets on the suite).
- **System evals**: a run that failed through the system (or a tool) becomes an item whose input
  is the task, with the run's recorded tool results kept beside it. ``ReplayAdapter`` evaluates
  a system (a Python callable) on those items: its tool calls are answered from the recording,
  so the system is tested against exactly the situation that broke it, with no live tools.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import Any

import orjson

from thresher.evals.adapters.base import AdapterError, Generation, Messages, ModelAdapter
from thresher.evals.runner import EVAL_KIND, chat_messages
from thresher.evals.suites import Suite
from thresher.model import Dataset, Record
from thresher.store import RecordFilter, Store

__all__ = ["ReplayAdapter", "ReplayTools", "make_step_evals", "make_system_evals", "run_messages"]


def run_messages(task: Any, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An agent run (task and steps) as chat messages: the task, calls, results and messages."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": task}] if isinstance(task, str) else list(task)
    for s in steps:
        t = s["type"]
        if t == "tool_call":
            msg: dict[str, Any] = {"role": "assistant", "tool_calls": [s["tool_call"]]}
            if s.get("content"):
                msg["content"] = s["content"]
            messages.append(msg)
        elif t == "tool_result":
            res: dict[str, Any] = {"role": "tool", "content": s.get("content") or ""}
            if s.get("tool_call_id"):
                res["tool_call_id"] = s["tool_call_id"]
            messages.append(res)
        elif t in ("message", "error") and s.get("content"):
            messages.append({"role": "assistant", "content": s["content"]})
    return messages


def _describe(step: dict[str, Any]) -> str:
    if step["type"] == "tool_call":
        call = step["tool_call"]
        return f"called tool {call['name']} with {orjson.dumps(call.get('arguments', {})).decode()}"
    return f"{step['type']}: {step.get('content') or ''}"


def _agent_runs(store: Store, source: Dataset) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for batch in store.iter_records(source, flt=RecordFilter(kinds=["agent_run"])):
        out.extend((row.id, orjson.loads(row.content)) for row in batch)
    return out


def make_step_evals(store: Store, source: Dataset, target: Dataset) -> int:
    """Step evals from the runs of ``source`` that failed through the model; returns how many were new."""
    records = []
    for run_id, c in _agent_runs(store, source):
        failure = c.get("failure") or {}
        k = failure.get("step")
        if failure.get("cause") != "model_output" or k is None:
            continue
        steps = c.get("steps", [])
        bad = steps[k]
        rubric = (
            f"The agent's earlier attempt at this next step was wrong: it {_describe(bad)}. "
            f"Why it was wrong: {failure.get('reason') or 'not recorded'}. Score whether the new next step "
            "avoids that mistake and makes progress on the task."
        )
        tags = ["agent_step", *([f"tool:{bad['tool_call']['name']}"] if bad["type"] == "tool_call" else [])]
        content = {
            "kind": EVAL_KIND,
            "input": run_messages(c["task"], steps[:k]),
            "grader": {"type": "judge", "params": {"rubric": rubric, "failed_step": bad}},
        }
        records.append(
            Record.model_validate(
                {
                    "content": content,
                    "metadata": {"tags": tags, "source_run": run_id, "failed_step": k},
                    "lineage": [run_id],
                }
            )
        )
    return store.add_records(target, records)


def _fixture_key(messages: list[dict[str, Any]]) -> str:
    return hashlib.sha256(orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)).hexdigest()


def make_system_evals(store: Store, source: Dataset, target: Dataset) -> int:
    """System evals from the runs of ``source`` that failed through the system or a tool."""
    records = []
    for run_id, c in _agent_runs(store, source):
        failure = c.get("failure") or {}
        if failure.get("cause") not in ("system", "tool"):
            continue
        steps = c.get("steps", [])
        calls: dict[str, dict[str, Any]] = {}
        replay = []
        for s in steps:
            if s["type"] == "tool_call":
                call = s["tool_call"]
                calls[call.get("id") or f"#{len(calls)}"] = call
                replay.append({"name": call["name"], "arguments": call.get("arguments", {}), "result": None})
            elif s["type"] == "tool_result" and replay:
                target_call = next((r for r in reversed(replay) if r["result"] is None), replay[-1])
                target_call["result"] = s.get("content")
                target_call["is_error"] = bool(s.get("is_error"))
        rubric = (
            f"The system failed here before ({failure.get('reason') or 'no reason recorded'}). Given the same tool "
            "results, score whether it now completes the task, or reports the failure clearly instead of going wrong."
        )
        task = c["task"]
        content = {
            "kind": EVAL_KIND,
            "input": [{"role": "user", "content": task}] if isinstance(task, str) else task,
            "grader": {"type": "judge", "params": {"rubric": rubric}},
        }
        meta = {"tags": ["agent_system", f"cause:{failure['cause']}"], "source_run": run_id, "replay": replay}
        records.append(Record.model_validate({"content": content, "metadata": meta, "lineage": [run_id]}))
    return store.add_records(target, records)


class ReplayTools:
    """Answers a system's tool calls from a recorded run: the recorded result of the same call
    (name and arguments), else the next unused result of a call of that name; ``misses`` counts
    calls the recording cannot answer."""

    def __init__(self, replay: list[dict[str, Any]]) -> None:
        self._entries = [r for r in replay if r.get("result") is not None]
        self._used = [False] * len(self._entries)
        self.calls: list[tuple[str, Any]] = []
        self.misses = 0

    @staticmethod
    def _same(a: Any, b: Any) -> bool:
        return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)

    def call(self, name: str, arguments: Any = None) -> str:
        self.calls.append((name, arguments))
        args = arguments if arguments is not None else {}
        free = [i for i, e in enumerate(self._entries) if not self._used[i] and e["name"] == name]
        exact = [i for i in free if self._same(self._entries[i].get("arguments", {}), args)]
        pick = exact[0] if exact else free[0] if free else None
        if pick is None:
            self.misses += 1
            raise LookupError(f"the recording has no result for {name}({arguments!r})")
        self._used[pick] = True
        return str(self._entries[pick]["result"])


class ReplayAdapter(ModelAdapter):
    """Evaluates ``system(messages, tools)`` on system-eval items, its tools replayed from each
    item's recorded run. Build it with ``from_suite`` so it knows the recordings."""

    name = "replay"

    def __init__(
        self, system: Callable[[Messages, ReplayTools], Any], fixtures: dict[str, list[dict[str, Any]]], *, name: str
    ) -> None:
        self.system = system
        self.fixtures = fixtures
        self.model = name
        self.concurrency = 4

    @classmethod
    def from_suite(
        cls, store: Store, suite: Suite, system: Callable[[Messages, ReplayTools], Any], *, name: str | None = None
    ) -> ReplayAdapter:
        fixtures = {}
        for batch in store.iter_records(suite.dataset, version=suite.version, flt=RecordFilter(kinds=[EVAL_KIND])):
            for row in batch:
                meta = orjson.loads(row.metadata)
                if "replay" in meta:
                    messages = chat_messages(orjson.loads(row.content)["input"])
                    fixtures[_fixture_key(messages)] = meta["replay"]
        label = name or f"{getattr(system, '__module__', '?')}.{getattr(system, '__qualname__', 'system')}"
        return cls(system, fixtures, name=label)

    async def generate(self, messages: Messages, params: dict[str, Any]) -> Generation:
        tools = ReplayTools(self.fixtures.get(_fixture_key(messages), []))
        t0 = time.perf_counter()
        try:
            out = await asyncio.to_thread(self.system, messages, tools)
        except Exception as e:  # the system failing is its result
            raise AdapterError(f"{self.model} raised {type(e).__name__}: {e}") from e
        return Generation(str(out), latency_ms=(time.perf_counter() - t0) * 1000)
