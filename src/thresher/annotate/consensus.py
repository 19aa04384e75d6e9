"""The final answer of a record per question, by the question's consensus rule.

- ``majority``: the value most votes share (labels: the choice; multi-labels: each option chosen by
  more than half; step verdicts: per step; others: the exact value). A tie has no majority.
- ``mean`` / ``median``: ratings (per candidate when rated per candidate); rankings by each
  option's mean (median) place, equal places tied.
- ``reviewer_wins``: a reviewer's correction (the latest); else what the reviewers accepted;
  else the question type's numeric rule or the majority.

Votes are the submitted responses (a corrected response holds the reviewer's answers).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from thresher.annotate.workflow import ConsensusRule, Workflow
from thresher.model import Question, RatingQuestion


@dataclass
class Votes:
    """What one record's consensus is computed from."""

    answers: list[dict[str, Any]] = field(default_factory=list)  # submitted responses
    accepted: list[dict[str, Any]] = field(default_factory=list)  # those a reviewer accepted
    corrections: list[dict[str, Any]] = field(default_factory=list)  # reviewers' corrections, oldest first


def consensus(questions: Sequence[Question], workflow: Workflow, votes: Votes) -> dict[str, Any]:
    """Question name -> final value, for the questions that have one."""
    out: dict[str, Any] = {}
    for q in questions:
        value = decide(q, workflow.rule_for(q), votes)
        if value is not None:
            out[q.name] = value
    return out


def decide(q: Question, rule: ConsensusRule, votes: Votes) -> Any:
    if rule == "reviewer_wins":
        for fix in reversed(votes.corrections):
            if q.name in fix:
                return fix[q.name]
        accepted = [a[q.name] for a in votes.accepted if q.name in a]
        values = accepted or [a[q.name] for a in votes.answers if q.name in a]
        return _numeric(q, "mean", values) if q.type in ("rating", "ranking") else _majority(q, values)
    values = [a[q.name] for a in votes.answers if q.name in a]
    if not values:
        return None
    if rule in ("mean", "median"):
        return _numeric(q, rule, values)
    return _majority(q, values)


def _key(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _winner(values: Sequence[Any]) -> Any:
    """The value strictly more common than any other (None on a tie or no values)."""
    counts = Counter(_key(v) for v in values)
    ranked = counts.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return orjson.loads(ranked[0][0])


def _majority(q: Question, values: list[Any]) -> Any:
    if not values:
        return None
    if q.type == "choice":
        choice = _winner([v["choice"] for v in values])
        if choice is None:
            return None
        rationale = next((v.get("rationale") for v in values if v["choice"] == choice and v.get("rationale")), None)
        return {"choice": choice, "rationale": rationale}
    if q.type == "multi_choice":
        counts = Counter(c for v in values for c in v["choices"])
        options = getattr(q, "options", None) or sorted(counts)
        return {"choices": [o for o in options if counts[o] * 2 > len(values)], "rationale": None}
    if q.type == "step_verdict":
        by_step: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for v in values:
            for s in v:
                by_step[s["step"]].append(s)
        out = []
        for step in sorted(by_step):
            verdict = _winner([s["verdict"] for s in by_step[step]])
            if verdict is None:
                continue
            item: dict[str, Any] = {"step": step, "verdict": verdict}
            cause = _winner([s["cause"] for s in by_step[step] if s["verdict"] == verdict and s.get("cause")])
            if cause is not None:
                item["cause"] = cause
            out.append(item)
        return out or None
    if isinstance(q, RatingQuestion) and q.per_candidate:
        per: dict[str, list[int]] = defaultdict(list)
        for v in values:
            for cid, score in v.items():
                per[cid].append(score)
        won = {cid: _winner(scores) for cid, scores in per.items()}
        return {cid: w for cid, w in won.items() if w is not None} or None
    return _winner(values)


def _centre(rule: str, numbers: list[float]) -> float:
    value = statistics.fmean(numbers) if rule == "mean" else float(statistics.median(numbers))
    return round(value, 6)


def _numeric(q: Question, rule: str, values: list[Any]) -> Any:
    if not values:
        return None
    if q.type == "ranking":
        places: dict[str, list[float]] = defaultdict(list)
        for groups in values:
            for option, place in ranks(groups).items():
                places[option].append(place)
        centre = {o: _centre(rule, p) for o, p in places.items()}
        out: list[list[str]] = []
        for value in sorted(set(centre.values())):
            out.append(sorted(o for o, c in centre.items() if c == value))
        return out
    if isinstance(q, RatingQuestion) and q.per_candidate:
        per: dict[str, list[float]] = defaultdict(list)
        for v in values:
            for cid, score in v.items():
                per[cid].append(score)
        return {cid: _centre(rule, scores) for cid, scores in per.items()}
    return _centre(rule, [float(v) for v in values])


def ranks(groups: list[list[str]]) -> dict[str, float]:
    """Option -> place (1 = best); tied options share the mean of the places they span."""
    out: dict[str, float] = {}
    before = 0
    for group in groups:
        place = before + (len(group) + 1) / 2
        for option in group:
            out[option] = place
        before += len(group)
    return out
