"""Triage rules: ``when`` a record (and its responses) matches, ``then`` route it.

```yaml
rules:
  - name: model_failure_to_sft_fix
    when: {kind: agent_run, outcome: failure, failure_cause: model_output}
    then:
      - enqueue: {dataset: agent-fixes, task: fix_steps, skill: agents}
      - eval_item: {dataset: evals-model-steps, mode: step}
```

Conditions: kind, outcome, failure_cause, feedback (thumbs on the ``feedback`` question),
has_reason (a choice with a rationale), metadata values, score bounds (the run's outcome score),
split, and ``python: module:function`` as the escape hatch. Actions: add_to a dataset, enqueue
for annotation (the copy's metadata carries ``skill`` and ``language``, which the annotation
queues route by), eval_item in a named eval dataset, tag, set_split.

Rules run in batch (``triage_dataset``) and on captured records: the capture worker
(``thresher.curate.capture_worker``, in a process of its own beside the server) follows the
capture ledger behind a cursor kept in the store. Each rule acts once per record and action (the
triage log remembers), so re-running is safe.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from thresher.curate._items import Item
from thresher.errors import DataError, ErrorDetail, NotFound
from thresher.formats.views import FEEDBACK_QUESTION, PREFERENCE_QUESTION, agent_run_messages, step_text
from thresher.model import ChoiceQuestion, Dataset, Question, Record, StepVerdictQuestion, TextQuestion
from thresher.store import RecordFilter, Store
from thresher.store import tables as t
from thresher.store.rows import record_id

log = logging.getLogger("thresher.triage")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Score(_M):
    min: float | None = None
    max: float | None = None


class When(_M):
    kind: str | list[str] | None = None
    outcome: str | list[str] | None = None
    failure_cause: str | list[str] | None = None
    feedback: Literal["up", "down"] | None = None
    feedback_question: str = "feedback"
    has_reason: bool | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    score: Score | None = None
    split: str | None = None
    python: str | None = Field(default=None, description="module:function taking the record item, returning bool")


Task = Literal["fix_steps", "rewrite", "review_comparison", "label"]


class AddTo(_M):
    dataset: str


class Enqueue(_M):
    dataset: str
    task: Task = "label"
    skill: str | None = None
    language: str | None = Field(default="auto", description="a language code, or auto (detected)")
    priority: int | None = None


class EvalItem(_M):
    dataset: str
    mode: Literal["step", "system", "conversation"] = "step"


class Tag(_M):
    tags: list[str] = Field(min_length=1)


class SetSplit(_M):
    split: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")


ACTIONS: dict[str, type[_M]] = {
    "add_to": AddTo,
    "enqueue": Enqueue,
    "eval_item": EvalItem,
    "tag": Tag,
    "set_split": SetSplit,
}


@dataclass
class Rule:
    name: str
    when: When
    then: list[tuple[str, _M]]


@dataclass
class TriageResult:
    matched: Counter[str] = field(default_factory=Counter)  # rule -> records
    actions: Counter[str] = field(default_factory=Counter)  # "rule/action" -> done
    skipped: Counter[str] = field(default_factory=Counter)  # already done before


def default_rules_path() -> Path:
    return Path(str(files("thresher.curate").joinpath("pipelines/triage.yaml")))


@functools.cache
def default_rules() -> tuple[Rule, ...]:
    """The shipped rules, parsed once per process (triage on capture runs them on every batch)."""
    return tuple(load_rules())


def load_rules(path: Path | None = None) -> list[Rule]:
    path = path or default_rules_path()
    return parse_rules(path.read_text(encoding="utf-8"), str(path))


def parse_rules(text: str, file: str = "<string>") -> list[Rule]:
    from thresher.curate.spec import _line, _to_py

    lines: dict[tuple[Any, ...], int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise DataError(f"{file} is not valid YAML", [ErrorDetail("yaml", (file, 1), str(e))]) from None
    data = _to_py(node, (), lines) if node is not None else None
    rules_raw = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules_raw, list):
        raise DataError(f"{file}: expected `rules:` with a list", [ErrorDetail("type", (file, 1), "expected rules")])

    def fail(loc: tuple[Any, ...], msg: str, typ: str = "invalid_rule") -> DataError:
        return DataError(f"{file}: {msg}", [ErrorDetail(typ, (file, _line(lines, loc), *loc), msg)])

    rules = []
    for i, raw in enumerate(rules_raw):
        loc: tuple[Any, ...] = ("rules", i)
        if not isinstance(raw, dict):
            raise fail(loc, "expected a mapping with name, when, then")
        extra = set(raw) - {"name", "when", "then"}
        if extra:
            key = sorted(extra)[0]
            close = difflib.get_close_matches(key, ["name", "when", "then"], n=1)
            raise fail((*loc, key), f"unknown field {key!r}; " + (f"did you mean {close[0]}?" if close else ""))
        try:
            when = When.model_validate(raw.get("when") or {})
        except ValidationError as e:
            err = next((x for x in e.errors() if x["type"] == "extra_forbidden"), e.errors()[0])
            where = (*loc, "when", *err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                close = difflib.get_close_matches(str(err["loc"][-1]), list(When.model_fields), n=3)
                msg = f"unknown condition {err['loc'][-1]!r}; expected one of {', '.join(close or When.model_fields)}"
            raise fail(where, msg) from None
        then = []
        for j, act in enumerate(raw.get("then") or []):
            aloc = (*loc, "then", j)
            if not isinstance(act, dict) or len(act) != 1:
                raise fail(aloc, "expected one action name mapped to its fields")
            name, fields = next(iter(act.items()))
            if name not in ACTIONS:
                close = difflib.get_close_matches(str(name), list(ACTIONS), n=3, cutoff=0.5)
                hint = f"did you mean {', '.join(close)}?" if close else f"expected one of {', '.join(ACTIONS)}"
                raise fail(aloc, f"unknown action {name!r}; {hint}", "unknown_action")
            try:
                then.append((name, ACTIONS[name].model_validate(fields or {})))
            except ValidationError as e:
                err = next((x for x in e.errors() if x["type"] == "extra_forbidden"), e.errors()[0])
                msg = err["msg"]
                if err["type"] == "extra_forbidden":
                    names = list(ACTIONS[name].model_fields)
                    close = difflib.get_close_matches(str(err["loc"][-1]), names, n=3)
                    msg = f"unknown field {err['loc'][-1]!r}; expected one of {', '.join(close or names)}"
                raise fail((*aloc, name, *err["loc"]), msg) from None
        if not then:
            raise fail(loc, "a rule needs at least one action under `then`")
        rules.append(Rule(str(raw.get("name") or f"rule-{i}"), when, then))
    return rules


# -- matching ---------------------------------------------------------------------------------


def _in(value: Any, want: str | list[str] | None) -> bool:
    return want is None or (value in want if isinstance(want, list) else value == want)


def feedback_votes(item: Item, question: str = "feedback") -> Counter[str]:
    return Counter(
        a["choice"]
        for r in item.responses
        if isinstance(a := r["answers"].get(question), dict) and a.get("choice") in ("up", "down")
    )


def reasoned_choice(item: Item) -> dict[str, Any] | None:
    """The first choice answer that comes with a rationale (a pick with its reason)."""
    for r in item.responses:
        for name, a in r["answers"].items():
            if isinstance(a, dict) and a.get("choice") is not None and (a.get("rationale") or "").strip():
                return {"question": name, "choice": a["choice"], "reason": a["rationale"], "user": r["user"]}
    return None


def matches(when: When, item: Item) -> bool:
    c = item.content
    if not _in(item.kind, when.kind):
        return False
    if when.outcome is not None and not _in((c.get("outcome") or {}).get("status"), when.outcome):
        return False
    if when.failure_cause is not None and not _in((c.get("failure") or {}).get("cause"), when.failure_cause):
        return False
    if when.feedback is not None:
        votes = feedback_votes(item, when.feedback_question)
        other = "up" if when.feedback == "down" else "down"
        if votes[when.feedback] <= votes[other]:
            return False
    if when.has_reason is not None and (reasoned_choice(item) is not None) != when.has_reason:
        return False
    for key, want in when.metadata.items():
        if item.metadata.get(key) != want:
            return False
    if when.score is not None:
        score = (c.get("outcome") or {}).get("score")
        if score is None or (when.score.min is not None and score < when.score.min):
            return False
        if when.score.max is not None and score > when.score.max:
            return False
    if when.split is not None and item.split != when.split:
        return False
    if when.python:
        mod, _, fn = when.python.partition(":")
        func: Callable[[Item], bool] = getattr(importlib.import_module(mod), fn)
        if not func(item):
            return False
    return True


# -- actions ----------------------------------------------------------------------------------

TASK_QUESTIONS: dict[str, list[Question]] = {
    "fix_steps": [StepVerdictQuestion(name="steps", title="Judge each step; correct the first wrong one")],
    "rewrite": [
        TextQuestion(name="ideal_response", title="Rewrite the answer as it should have been"),
        FEEDBACK_QUESTION,
    ],
    "review_comparison": [
        PREFERENCE_QUESTION,
        ChoiceQuestion(name="preferred", title="Which answer is better, and why?", rationale="required"),
    ],
    "label": [],
}
EVAL_QUESTIONS: list[Question] = []


def _dataset(store: Store, project: str, name: str, questions: Sequence[Question], description: str) -> Dataset:
    try:
        ds = store.get_dataset(project, name)
    except NotFound:
        try:
            return store.create_dataset(project, name, questions=list(questions), description=description)
        except Exception:
            ds = store.get_dataset(project, name)
    missing = [q for q in questions if q.name not in {x.name for x in ds.questions}]
    return store.add_questions(ds, missing) if missing else ds


def _language(item: Item, setting: str | None) -> str | None:
    if setting != "auto":
        return setting
    if item.metadata.get("language"):
        return str(item.metadata["language"])
    try:
        from thresher.curate.blocks.language import detect

        text = item.text()
        return detect(text)[0] if len(text.strip()) >= 12 else None
    except Exception:  # langid not installed: leave it to the queue's default
        return None


def _copy(item: Item, metadata: dict[str, Any]) -> Record:
    return Record.model_validate(
        {
            "content": {"kind": item.kind, **item.content},
            "metadata": {**item.metadata, **metadata},
            "source": item.source,
            "split": item.split,
            "task_type": item.task_type,
            "domains": item.domains,
            "lineage": [item.id],
            "synthetic": item.synthetic,
        }
    )


def eval_record(item: Item, mode: str, rule: str) -> Record | None:
    """The eval item a triaged record becomes: the run up to its failing step (a step-level model
    eval), the task a system failed (a system eval), or a conversation's last prompt."""
    c = item.content
    meta: dict[str, Any] = {"triage": {"rule": rule, "from": item.id}, "eval_type": mode}
    if item.kind == "agent_run":
        failure = c.get("failure") or {}
        steps = c.get("steps", [])
        at = failure.get("step")
        if mode == "step":
            cut = at if isinstance(at, int) else len(steps)
            messages = agent_run_messages({**c, "steps": steps[:cut]})
            failed = step_text(steps[at]) if isinstance(at, int) and at < len(steps) else None
            rubric = "The next step must accomplish the task correctly"
            if failed:
                rubric += f"; the failing step was: {failed}"
            params = {"rubric": rubric, "failed_step": at, "failure_reason": failure.get("reason")}
            meta["step"] = at
        else:
            messages = agent_run_messages({**c, "steps": []})
            params = {
                "rubric": "The system completes the task end to end without a fault",
                "failure_reason": failure.get("reason"),
                "failed_step": at,
                "tools": [t.get("name") or t.get("function", {}).get("name") for t in c.get("tools") or []],
            }
        if not messages or (messages[-1]["role"] == "assistant" and not messages[-1].get("tool_calls")):
            messages = messages or [{"role": "user", "content": str(c.get("task"))}]
    elif item.kind == "conversation":
        msgs = c["messages"]
        last = max((i for i, m in enumerate(msgs) if m["role"] == "assistant"), default=len(msgs))
        messages = msgs[:last]
        params = {"rubric": "A better answer than the one users rejected", "rejected": msgs[last:]}
    else:
        return None
    if not messages:
        return None
    content = {"kind": "eval_item", "input": messages, "grader": {"type": "judge", "params": params}}
    return Record.model_validate({"content": content, "metadata": meta, "lineage": [item.id], "domains": item.domains})


def _plan(
    store: Store, project: str, rule: Rule, name: str, act: _M, item: Item, targets: dict[str, Dataset] | None = None
) -> tuple[Dataset | None, Record | None, dict[str, Any]]:
    """What an action does: (dataset, record) to add, and the detail to log; a tag or a split is
    applied at once. ``targets`` caches target datasets by name across a batch."""
    triage_meta = {"triage": {"rule": rule.name, "from": item.id}}
    cache = targets if targets is not None else {}

    def target(dataset: str, questions: Sequence[Question], description: str) -> Dataset:
        if dataset not in cache:
            cache[dataset] = _dataset(store, project, dataset, questions, description)
        return cache[dataset]

    if isinstance(act, Tag):
        store.curation.update_record_meta(item.id, metadata={"tags": act.tags})
        return None, None, {"tags": act.tags}
    if isinstance(act, SetSplit):
        store.curation.update_record_meta(item.id, split=act.split)
        return None, None, {"split": act.split}
    if isinstance(act, AddTo):
        ds = target(act.dataset, [], f"records routed by triage rule {rule.name}")
        rec = _copy(item, triage_meta)
    elif isinstance(act, Enqueue):
        ds = target(act.dataset, TASK_QUESTIONS[act.task], f"annotation work: {act.task}")
        meta: dict[str, Any] = {**triage_meta, "task": act.task}
        if act.skill:
            meta["skill"] = act.skill
        lang = _language(item, act.language)
        if lang:
            meta["language"] = lang
        if act.priority is not None:
            meta["priority"] = act.priority
        if act.task == "review_comparison" and (pick := reasoned_choice(item)):
            meta["app_choice"] = pick
        rec = _copy(item, meta)
    elif isinstance(act, EvalItem):
        made = eval_record(item, act.mode, rule.name)
        if made is None:
            return None, None, {"skipped": f"no eval item from a {item.kind} record"}
        ds = target(act.dataset, EVAL_QUESTIONS, f"eval items ({act.mode}) made by triage")
        rec = made
    else:  # pragma: no cover - ACTIONS is closed
        raise AssertionError(name)
    return ds, rec, {"dataset": ds.name}


def _act(store: Store, project: str, rule: Rule, name: str, act: _M, item: Item) -> tuple[str | None, dict[str, Any]]:
    ds, rec, detail = _plan(store, project, rule, name, act, item)
    if ds is None or rec is None:
        return None, detail
    assert ds.id is not None and rec.content_hash is not None
    store.add_records(ds, [rec])
    return record_id(ds.id, rec.content_hash), detail


def apply_rules_in_bulk(store: Store, project: str, rules: Sequence[Rule], items: Sequence[Item]) -> TriageResult:
    """``apply_rules`` with the writes of a whole batch together: the records its actions make
    (one transaction per target dataset), then the triage log (one). Per action it would be two
    transactions, and a worker beside a busy capture intake would take SQLite's one write lock
    hundreds of times a second. A crash between the two leaves records without their log line:
    the next pass makes them again (the same content: nothing new) and logs them."""
    proj = store.get_project(project)
    assert proj.id is not None
    out = TriageResult()
    tl = t.triage_log
    with store.engine.connect() as conn:
        done = {
            (row.rule, row.record_id, row.action)
            for row in conn.execute(
                select(tl.c.rule, tl.c.record_id, tl.c.action).where(
                    tl.c.project_id == proj.id, tl.c.record_id.in_([i.id for i in items])
                )
            )
        }
    targets: dict[str, Dataset] = {}
    adds: dict[str, list[Record]] = defaultdict(list)
    log_rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for item in items:
        for rule in rules:
            if not matches(rule.when, item):
                continue
            out.matched[rule.name] += 1
            for j, (name, act) in enumerate(rule.then):
                key = f"{name}:{j}"
                if (rule.name, item.id, key) in done:
                    out.skipped[f"{rule.name}/{name}"] += 1
                    continue
                done.add((rule.name, item.id, key))
                ds, rec, detail = _plan(store, project, rule, name, act, item, targets)
                made = None
                if ds is not None and rec is not None:
                    assert ds.id is not None and rec.content_hash is not None
                    adds[ds.name].append(rec)
                    made = record_id(ds.id, rec.content_hash)
                log_rows.append(
                    {
                        "project_id": proj.id,
                        "rule": rule.name,
                        "record_id": item.id,
                        "action": key,
                        "target_record_id": made,
                        "detail": orjson.dumps(detail).decode(),
                        "created_at": now,
                    }
                )
                out.actions[f"{rule.name}/{name}"] += 1
    for name, records in adds.items():
        store.add_records(targets[name], records)
    if log_rows:
        dialect = postgresql if store.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(tl).on_conflict_do_nothing(index_elements=["project_id", "rule", "record_id", "action"])
        with store.engine.begin() as conn:
            conn.execute(stmt, log_rows)
    return out


def apply_rules(store: Store, project: str, rules: Sequence[Rule], items: Iterable[Item]) -> TriageResult:
    proj = store.get_project(project)
    assert proj.id is not None
    out = TriageResult()
    for item in items:
        for rule in rules:
            if not matches(rule.when, item):
                continue
            out.matched[rule.name] += 1
            for j, (name, act) in enumerate(rule.then):
                key = f"{name}:{j}"
                if store.curation.triage_done(proj.id, rule.name, item.id, key):
                    out.skipped[f"{rule.name}/{name}"] += 1
                    continue
                target, detail = _act(store, project, rule, name, act, item)
                if store.curation.log_triage(proj.id, rule.name, item.id, key, target, detail):
                    out.actions[f"{rule.name}/{name}"] += 1
    return out


def triage_dataset(
    store: Store, project: str, dataset: str, rules: Sequence[Rule] | None = None, batch_size: int = 500
) -> TriageResult:
    """Run the rules over every record of a dataset (batch mode), streaming keyset pages."""
    rules = list(rules) if rules is not None else load_rules()
    ds = store.get_dataset(project, dataset)

    def items() -> Iterable[Item]:
        for batch in store.iter_records(ds, flt=RecordFilter(), batch_size=batch_size):
            responses = store.responses_for([r.id for r in batch])
            for row in batch:
                resp = [{"id": r.id, "user": r.user, "answers": r.answers} for r in responses.get(row.id, [])]
                yield Item.from_row(row, resp)

    return apply_rules(store, project, rules, items())


def apply_rules_to_records(
    store: Store, project: str, record_ids: Sequence[str], rules: Sequence[Rule] | None = None, *, bulk: bool = False
) -> TriageResult:
    """Triage on capture: run the rules over just these (new or updated) records."""
    rules = list(rules) if rules is not None else default_rules()
    # Records superseded since (a session that moved on) are simply not found: their successor
    # is triaged instead.
    rows = store.record_rows(record_ids)
    responses = store.responses_for([r.id for r in rows])
    items = [
        Item.from_row(row, [{"id": r.id, "user": r.user, "answers": r.answers} for r in responses.get(row.id, [])])
        for row in rows
    ]
    return (apply_rules_in_bulk if bulk else apply_rules)(store, project, rules, items)
