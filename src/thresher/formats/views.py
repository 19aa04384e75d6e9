"""Training views: SFT conversations, preference pairs, KTO examples and step labels, derived
from a record and its responses at export time. Pure functions over stored (canonical) dicts.

Labels that came with an imported file are responses by ``import``; human annotations are
responses by their annotators. Both count alike here: several responses are aggregated
(mean rank, majority choice, mean score).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from thresher.formats.base import IMPORT_USER, ExportContext, ExportItem
from thresher.model import ChoiceQuestion, Question, RankingQuestion, RatingQuestion, Response, TextQuestion

Msgs = list[dict[str, Any]]

PREFERENCE_QUESTION = RankingQuestion(
    name="preference", title="Rank the candidates", description="Best first; ties share a place."
)
FEEDBACK_QUESTION = ChoiceQuestion(
    name="feedback", title="Is the last answer good?", options=["up", "down"], rationale="optional"
)

# Labels a file carries, as the import user's responses: a pair's chosen side is candidate "a".
PREFERRED_A = Response(user=IMPORT_USER, answers={"preference": [["a"], ["b"]]})


def feedback_label(label: bool) -> Response:
    """A KTO-style desirable/undesirable label as thumbs up/down on the ``feedback`` question."""
    return Response(user=IMPORT_USER, answers={"feedback": {"choice": "up" if label else "down"}})


@dataclass(frozen=True)
class Pair:
    prompt: Msgs
    chosen: Msgs
    rejected: Msgs
    margin: float | None = None
    chosen_model: str | None = None
    rejected_model: str | None = None
    lineage: tuple[str, ...] = ()  # the record id, then the ids of the responses that made the pair


@dataclass(frozen=True)
class SFTRow:
    messages: Msgs
    lineage: tuple[str, ...] = ()  # the record id, then the response whose rewrite was used (if any)


@dataclass(frozen=True)
class RewardRow:
    """A candidate with its score (higher is better), for reward models that regress on scores."""

    prompt: Msgs
    completion: Msgs
    score: float
    candidate: str
    model: str | None = None
    lineage: tuple[str, ...] = ()


@dataclass(frozen=True)
class KTOExample:
    prompt: Msgs
    completion: Msgs
    label: bool
    lineage: tuple[str, ...] = ()


@dataclass(frozen=True)
class Steps:
    prompt: str
    completions: list[str]
    labels: list[bool]


def _answers(item: ExportItem, question: str) -> list[Any]:
    return [r.answers[question] for r in item.responses if question in r.answers]


def lineage_of(item: ExportItem, questions: Iterable[str | None]) -> tuple[str, ...]:
    """The record's id, then the ids (or ``user:<name>``) of the responses answering ``questions``."""
    names = {q for q in questions if q}
    out = [item.id]
    for r in item.responses:
        if names & set(r.answers):
            out.append(r.id or f"user:{r.user}")
    return tuple(out)


def _score_questions(ctx: ExportContext) -> list[str | None]:
    opts = ctx.options
    if opts.rating_weights:
        return list(opts.rating_weights)
    q = _find(ctx.questions, opts.preference_question, (RankingQuestion, ChoiceQuestion))
    return [q.name if q else opts.preference_question or PREFERENCE_QUESTION.name]


def _find(questions: list[Question], name: str | None, types: tuple[type, ...]) -> Question | None:
    for q in questions:
        if (name is None or q.name == name) and isinstance(q, types):
            return q
    return None


# -- SFT -------------------------------------------------------------------------------------


def sft_messages(item: ExportItem, ctx: ExportContext) -> Msgs | None:
    """The conversation to train on, with a human rewrite of the last assistant turn if there is one."""
    c = item.content()
    if item.kind == "conversation":
        messages: Msgs = list(c["messages"])
    elif item.kind == "comparison":
        ranked = candidate_scores(item, ctx)
        if not ranked:
            return None
        best = max(ranked, key=lambda cid: ranked[cid])
        cand = next(x for x in c["candidates"] if x["id"] == best)
        messages = [*c.get("prompt", []), *cand["messages"]]
    elif item.kind == "agent_run":
        if c.get("outcome", {}).get("status") == "failure":
            fixed = corrected_run(item, ctx)
            if fixed is None:
                return None
            c = fixed
        messages = agent_run_messages(c)
    else:
        return None
    rewrite = ctx.options.rewrite_question
    if rewrite:
        answers = _answers(item, rewrite)
        edited = [a for a in answers if isinstance(a, list) and a]  # a `conversation` question's answer
        texts = [a for a in answers if isinstance(a, str) and a.strip()]
        if edited:
            messages = list(edited[-1])
        elif texts:
            last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
            fixed = {"role": "assistant", "content": texts[-1]}
            messages = [*messages[:last], fixed] if last is not None else [*messages, fixed]
    if not messages or messages[-1]["role"] != "assistant":
        return None
    if ctx.options.system_prompt and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": ctx.options.system_prompt}, *messages]
    return messages


def corrected_run(item: ExportItem, ctx: ExportContext) -> dict[str, Any] | None:
    """A failed run cut at its first wrong step, with the reviewer's corrected step in its place.

    This is how a run that failed through the model's output becomes SFT data: the steps up to
    the mistake, then what the model should have done.
    """
    c = item.content()
    verdicts: dict[int, dict[str, Any]] = {}
    for q in ctx.questions:
        if q.type == "step_verdict":
            for ans in _answers(item, q.name):
                for v in ans:
                    verdicts.setdefault(v["step"], v)
    wrong = sorted(i for i, v in verdicts.items() if v["verdict"] == "wrong")
    if not wrong or verdicts[wrong[0]].get("corrected") is None:
        return None
    first = wrong[0]
    step = c["steps"][first]
    corrected = verdicts[first]["corrected"]
    if isinstance(corrected, dict):
        fixed_step = {"type": "tool_call", "tool_call": corrected}
    else:
        kind = step["type"] if step["type"] in ("message", "plan", "reasoning") else "message"
        fixed_step = {"type": kind, "content": corrected}
    return {**c, "steps": [*c["steps"][:first], fixed_step], "outcome": {"status": "success"}, "failure": None}


def agent_run_messages(c: dict[str, Any]) -> Msgs:
    """An agent run as a tool-calling conversation: the task, then calls, results and messages."""
    task = c["task"]
    messages: Msgs = [{"role": "user", "content": task}] if isinstance(task, str) else list(task)
    reasoning: list[str] = []
    for s in c.get("steps", []):
        t = s["type"]
        if t in ("plan", "reasoning"):
            reasoning.append(s["content"])
        elif t == "tool_call":
            msg: dict[str, Any] = {"role": "assistant", "tool_calls": [s["tool_call"]]}
            if s.get("content"):
                msg["content"] = s["content"]
            if reasoning:
                msg["reasoning"] = "\n".join(reasoning)
                reasoning = []
            messages.append(msg)
        elif t == "tool_result":
            res: dict[str, Any] = {"role": "tool", "content": s["content"]}
            if s.get("tool_call_id"):
                res["tool_call_id"] = s["tool_call_id"]
            messages.append(res)
        elif t == "message":
            msg = {"role": "assistant", "content": s["content"]}
            if reasoning:
                msg["reasoning"] = "\n".join(reasoning)
                reasoning = []
            messages.append(msg)
    return messages


# -- preferences -----------------------------------------------------------------------------


def candidate_scores(item: ExportItem, ctx: ExportContext) -> dict[str, float]:
    """A score per candidate (higher is better) from rankings, choices or weighted ratings."""
    if item.kind != "comparison":
        return {}
    ids = [c["id"] for c in item.content()["candidates"]]
    opts = ctx.options
    if opts.rating_weights:
        sums: dict[str, float] = defaultdict(float)
        counts: dict[str, int] = defaultdict(int)
        for qname, weight in opts.rating_weights.items():
            q = _find(ctx.questions, qname, (RatingQuestion,))
            span = (q.max - q.min) if isinstance(q, RatingQuestion) else 1
            for ans in _answers(item, qname):
                if isinstance(ans, dict):
                    for cid, score in ans.items():
                        sums[cid] += weight * score / span
                        counts[cid] += 1
        return {cid: sums[cid] / counts[cid] for cid in ids if counts[cid]}
    q = _find(ctx.questions, opts.preference_question, (RankingQuestion, ChoiceQuestion))
    if q is None and opts.preference_question is None:
        q = PREFERENCE_QUESTION
    if q is None:
        return {}
    answers = _answers(item, q.name)
    if not answers:
        return {}
    if isinstance(q, RankingQuestion):
        # Mean position, negated so that higher is better; tied groups share a position.
        pos: dict[str, list[int]] = defaultdict(list)
        for groups in answers:
            for rank, group in enumerate(groups):
                for cid in group:
                    pos[cid].append(rank)
        return {cid: -sum(p) / len(p) for cid, p in pos.items()}
    votes = Counter(a["choice"] for a in answers if isinstance(a, dict))
    return {cid: float(votes.get(cid, 0)) for cid in ids}


def preference_pairs(item: ExportItem, ctx: ExportContext) -> list[Pair]:
    if item.kind != "comparison":
        return []
    scores = candidate_scores(item, ctx)
    if len(scores) < 2:
        return []
    c = item.content()
    cands = {x["id"]: x for x in c["candidates"]}
    order = sorted(scores, key=lambda cid: -scores[cid])
    if ctx.options.pairs == "best_vs_worst":
        candidates = [(order[0], order[-1])]
    elif ctx.options.pairs == "best_vs_rest":
        candidates = [(order[0], other) for other in order[1:]]
    else:
        candidates = list(combinations(order, 2))
    pairs = []
    lineage = lineage_of(item, _score_questions(ctx))
    for a, b in candidates:
        margin = scores[a] - scores[b]
        if margin <= 0 or margin < ctx.options.min_margin:
            continue  # a tie (or too close to call) says nothing about which is better
        pairs.append(
            Pair(
                prompt=list(c.get("prompt", [])),
                chosen=list(cands[a]["messages"]),
                rejected=list(cands[b]["messages"]),
                margin=round(margin, 6),
                chosen_model=cands[a].get("model"),
                rejected_model=cands[b].get("model"),
                lineage=lineage,
            )
        )
    return pairs


# -- KTO -------------------------------------------------------------------------------------


def kto_examples(item: ExportItem, ctx: ExportContext) -> list[KTOExample]:
    """Thumbs on a conversation's last answer; or chosen/rejected candidates of a comparison."""
    if item.kind == "comparison":
        out = []
        for p in preference_pairs(item, ctx):
            out.append(KTOExample(p.prompt, p.chosen, True, p.lineage))
            out.append(KTOExample(p.prompt, p.rejected, False, p.lineage))
        return out
    if item.kind != "conversation":
        return []
    votes = Counter(
        a["choice"] for a in _answers(item, ctx.options.feedback_question) if isinstance(a, dict) and "choice" in a
    )
    if not votes or votes["up"] == votes["down"]:
        return []
    messages = item.content()["messages"]
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        return []
    label = votes["up"] > votes["down"]
    return [KTOExample(messages[:last], messages[last:], label, lineage_of(item, [ctx.options.feedback_question]))]


# -- with lineage: SFT rows from rewrites, reward-model rows with scores -----------------------------


def sft_row(item: ExportItem, ctx: ExportContext) -> SFTRow | None:
    """``sft_messages`` with its lineage: the record, and the response whose rewrite replaced the answer."""
    messages = sft_messages(item, ctx)
    if messages is None:
        return None
    rewrite = ctx.options.rewrite_question
    used: list[str] = []
    if rewrite:
        writers = [r for r in item.responses if isinstance(r.answers.get(rewrite), str) and r.answers[rewrite].strip()]
        if writers:
            used.append(writers[-1].id or f"user:{writers[-1].user}")
    if item.kind == "comparison":
        return SFTRow(messages, lineage_of(item, _score_questions(ctx)) + tuple(used))
    return SFTRow(messages, (item.id, *used))


def reward_rows(item: ExportItem, ctx: ExportContext) -> list[RewardRow]:
    """Each scored candidate of a comparison with its score (mean rank negated, votes, or weighted ratings)."""
    scores = candidate_scores(item, ctx)
    if not scores:
        return []
    c = item.content()
    lineage = lineage_of(item, _score_questions(ctx))
    prompt = list(c.get("prompt", []))
    return [
        RewardRow(prompt, list(cand["messages"]), round(scores[cand["id"]], 6), cand["id"], cand.get("model"), lineage)
        for cand in c["candidates"]
        if cand["id"] in scores
    ]


# -- stepwise --------------------------------------------------------------------------------


def step_text(step: dict[str, Any]) -> str:
    if step["type"] == "tool_call":
        import orjson

        call = step["tool_call"]
        return f"{call['name']}({orjson.dumps(call.get('arguments', {})).decode()})"
    if step["type"] == "handoff":
        return f"handoff to {step['handoff_to']}"
    return str(step.get("content", ""))


def step_labels(item: ExportItem, ctx: ExportContext) -> Steps | None:
    """Per-step correctness for a process reward model: judged steps, or up to a known first failure."""
    if item.kind != "agent_run":
        return None
    c = item.content()
    steps = c.get("steps", [])
    verdicts: dict[int, bool] = {}
    for q in ctx.questions:
        if q.type == "step_verdict":
            for ans in _answers(item, q.name):
                for v in ans:
                    if v["verdict"] != "unclear":
                        verdicts[v["step"]] = verdicts.get(v["step"], True) and v["verdict"] == "correct"
    failure = c.get("failure") or {}
    # A system fault says nothing about the model's steps; only a model-output failure labels them.
    from_failure = not verdicts and failure.get("step") is not None and failure.get("cause") == "model_output"
    if from_failure:
        verdicts = {i: i < failure["step"] for i in range(failure["step"] + 1)}
    if not verdicts:
        return None
    completions, labels = [], []
    for i, s in enumerate(steps):
        if i not in verdicts:
            break  # labels must cover a prefix of the run
        completions.append(step_text(s))
        labels.append(verdicts[i])
        if from_failure and not verdicts[i]:
            break  # nothing is known about the steps after the known failure
    if not completions:
        return None
    task = c["task"]
    prompt = task if isinstance(task, str) else "\n".join(str(m.get("content", "")) for m in task)
    return Steps(prompt, completions, labels)


def rewrite_question(name: str = "ideal_response") -> TextQuestion:
    return TextQuestion(name=name, title="Write the ideal response")
