"""Frontier selection: find the prompts the current model cannot yet do, and send them to experts.

For every prompt, K answers are sampled from the model (through the response cache) and graded:

- ``reference``: each answer by the eval item's own rule or reference (``thresher.evals.scorers``);
- ``judge``: each answer by an LLM judge (any adapter) on a 1-10 rubric, passing at ``judge_pass``;
- ``self_consistency``: an answer passes when it agrees with the most common of the K answers
  (after trimming and case folding), so the score is the model's agreement with itself.

A prompt's score is the share of its K answers that pass. Prompts scoring below ``keep_below``
are kept, the hardest first when a ``budget`` caps their number (a heap of ``budget`` entries:
memory stays bounded by the budget, not by the dataset). The kept prompts go into an expert
dataset as conversations ending in the user turn, with an ``ideal_response`` question and the
required ``skill`` in their metadata, which the annotation queue routes by; the SFT export with
``rewrite_question="ideal_response"`` then trains on the expert's answer. The result reports the
pass rate over all graded prompts and over the selected ones.
"""

from __future__ import annotations

import asyncio
import heapq
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from thresher.annotate.queue import sync
from thresher.errors import ConfigError, NotFound
from thresher.evals.adapters.base import AdapterError
from thresher.evals.runner import chat_messages
from thresher.evals.scorers.base import EvalItem, Scorer, get_scorer, scorer_name_for
from thresher.generate._calls import Answerer, ModelChoice, ModelSpec, choices, run_pool
from thresher.generate.candidates import prompt_messages
from thresher.model import Dataset, DatasetVersion, Question, Record, TextQuestion
from thresher.store import RecordFilter, RecordRow, Store

__all__ = [
    "IDEAL_RESPONSE",
    "FrontierOptions",
    "FrontierResult",
    "aselect_frontier",
    "expert_dataset",
    "select_frontier",
]

Msg = dict[str, Any]
Grading = Literal["reference", "judge", "self_consistency"]
IDEAL_RESPONSE = TextQuestion(
    name="ideal_response",
    title="Write the ideal response",
    description="The model fails on this prompt or disagrees with itself: write the answer it should give.",
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class FrontierOptions:
    samples: int = 4
    grading: Grading = "reference"
    scorer: str | None = None  # reference grading: this scorer for every item (default: each item's rule)
    judge: ModelChoice | ModelSpec | str | None = None
    judge_pass: float = 0.5  # a judge score (0..1) at or above this passes
    keep_below: float = 1.0  # keep prompts whose score is below this (1.0: any failing answer)
    budget: int | None = None  # at most this many prompts, the lowest scores first
    skill: str | None = "expert"
    language: str | None = None
    concurrency: int = 16
    use_cache: bool = True
    split: str | None = None
    flush_every: int = 256


@dataclass
class FrontierResult:
    prompts: int = 0
    graded: int = 0
    selected: int = 0
    written: int = 0  # new in the expert dataset (a re-run adds nothing)
    errors: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    pass_rate_before: float | None = None  # over every graded prompt's K answers
    pass_rate_selected: float | None = None  # over the selected prompts' answers
    calls: int = 0
    cache_hits: int = 0
    wall_s: float = 0.0
    target: str | None = None
    first_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "skipped"}
        out["skipped"] = dict(self.skipped)
        out["wall_s"] = round(self.wall_s, 3)
        return out


@dataclass(order=True)
class _Pick:
    neg_score: float  # the heap keeps the lowest scores: it pops the highest first
    order: int
    record: Record = field(compare=False)


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text.strip().lower()).rstrip(".")


class _Frontier:
    def __init__(
        self,
        store: Store,
        source: Dataset,
        target: Dataset,
        model: ModelChoice,
        options: FrontierOptions,
        source_version: DatasetVersion | None,
        progress: Callable[[int], None] | None,
    ) -> None:
        self.store, self.source, self.target, self.model = store, source, target, model
        self.options, self.source_version, self.progress = options, source_version, progress
        self.answerer = Answerer(store, use_cache=options.use_cache, concurrency=options.concurrency)
        self.result = FrontierResult(target=f"{target.project}/{target.name}")
        self.scorers: dict[str, Scorer] = {}
        self.judge: Scorer | None = None
        if options.grading == "judge":
            if options.judge is None:
                raise ConfigError("judge grading needs a judge model (ADAPTER:SPEC)")
            self.judge = get_scorer("judge", adapter=choices([options.judge])[0].adapter)
        self.heap: list[_Pick] = []
        self.pending: list[Record] = []
        self.passed = self.answers = self.passed_sel = self.answers_sel = 0
        self.done = 0

    def prompts(self) -> Iterator[tuple[RecordRow, dict[str, Any], list[dict[str, Any]]]]:
        flt = RecordFilter(
            kinds=["eval_item"] if self.options.grading == "reference" else ["text", "conversation", "eval_item"],
            splits=[self.options.split] if self.options.split else [],
        )
        for page in self.store.iter_records(self.source, version=self.source_version, flt=flt, batch_size=64):
            for row in page:
                content = orjson.loads(row.content)
                prompt, why = prompt_messages(row.kind, content)
                self.result.prompts += 1
                if prompt is None:
                    self.result.skipped[why] += 1
                    continue
                yield row, content, prompt

    def _scorer(self, item: EvalItem) -> Scorer:
        name = self.options.scorer or scorer_name_for(item)
        s = self.scorers.get(name)
        if s is None:
            s = self.scorers[name] = get_scorer(name)
        return s

    async def _grade(self, row: RecordRow, content: Msg, prompt: list[Msg], texts: list[str]) -> list[bool]:
        grading = self.options.grading
        if grading == "self_consistency":
            votes = Counter(_norm(t) for t in texts)
            top = votes.most_common(1)[0][0]
            return [_norm(t) == top for t in texts]
        if row.kind == "eval_item":
            item = EvalItem.from_stored(row.id, content, row.metadata, task_type=row.task_type)
        else:
            item = EvalItem(row.id, prompt)
        if grading == "judge":
            assert self.judge is not None
            scores = [await self.judge.ascore(item, t) for t in texts]
            if any(s.value is None for s in scores):
                raise AdapterError(f"the judge gave no score for record {row.id}")
            return [s.value is not None and s.value >= self.options.judge_pass for s in scores]
        scorer = self._scorer(item)
        return [bool((await scorer.ascore(item, t)).passed) for t in texts]

    async def handle(self, work: tuple[RecordRow, dict[str, Any], list[dict[str, Any]]]) -> None:
        row, content, prompt = work
        messages = chat_messages(prompt)
        keys = [Answerer.key(self.model, messages, s) for s in range(self.options.samples)]
        cached = self.answerer.lookup(keys)
        try:
            gens = await asyncio.gather(*(self.answerer.ask(self.model, messages, k, cached) for k in keys))
            passes = await self._grade(row, content, prompt, [g.text for g in gens])
        except AdapterError as e:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or str(e)[:500]
        else:
            self._select(row, content, prompt, [g.text for g in gens], passes)
        if len(self.pending) >= self.options.flush_every or len(self.answerer.pending) >= self.options.flush_every:
            await asyncio.to_thread(self._write, *self._take())
        self.done += 1
        if self.progress is not None:
            self.progress(self.done)

    def _select(self, row: RecordRow, content: Msg, prompt: list[Msg], texts: list[str], passes: list[bool]) -> None:
        self.result.graded += 1
        self.passed += sum(passes)
        self.answers += len(passes)
        score = sum(passes) / len(passes)
        if score >= self.options.keep_below:
            return
        record = self._record(row, content, prompt, texts, score)
        budget = self.options.budget
        if budget is None:
            self.pending.append(record)
            self._count_selected(record)
            return
        pick = _Pick(-score, -self.result.graded, record)  # equal scores: the earlier prompt stays
        if len(self.heap) < budget:
            heapq.heappush(self.heap, pick)
        elif budget and pick > self.heap[0]:
            heapq.heapreplace(self.heap, pick)

    def _count_selected(self, record: Record) -> None:
        frontier = record.metadata["frontier"]
        self.result.selected += 1
        self.passed_sel += frontier["passed"]
        self.answers_sel += frontier["samples"]

    def _record(
        self, row: RecordRow, content: dict[str, Any], prompt: list[dict[str, Any]], texts: list[str], score: float
    ) -> Record:
        o = self.options
        frontier: dict[str, Any] = {
            "source": row.id,
            "model": self.model.adapter.model,
            "grading": o.grading,
            "score": round(score, 4),
            "samples": len(texts),
            "passed": round(score * len(texts)),
            "answers": [t[:2000] for t in texts],  # what the model said, for the expert to see
        }
        if content.get("reference") is not None:
            frontier["reference"] = content["reference"]
        metadata: dict[str, Any] = {"frontier": frontier, "task": "ideal_response"}
        if o.skill:
            metadata["skill"] = o.skill
        if o.language:
            metadata["language"] = o.language
        return Record.model_validate(
            {
                "content": {"kind": "conversation", "messages": prompt},
                "metadata": metadata,
                "split": row.split,
                "task_type": row.task_type,
                "domains": orjson.loads(row.domains) if row.domains not in ("", "[]") else [],
                "lineage": [row.id],
                "synthetic": bool(row.synthetic),
            }
        )

    def _take(self) -> tuple[list[Record], list[Any]]:
        records, self.pending = self.pending, []
        return records, self.answerer.take()

    def _write(self, records: list[Record], answers: list[Any]) -> None:
        self.answerer.write(answers)
        if records:
            self.result.written += self.store.add_records(self.target, records)

    async def run(self) -> FrontierResult:
        t0 = time.perf_counter()
        try:
            await run_pool(self.prompts(), self.handle, self.options.concurrency)
            for pick in sorted(self.heap, reverse=True):  # hardest first
                self.pending.append(pick.record)
                self._count_selected(pick.record)
        finally:
            self._write(*self._take())
            self.result.calls, self.result.cache_hits = self.answerer.calls, self.answerer.hits
            self.result.wall_s = time.perf_counter() - t0
            await self.model.adapter.aclose()
            if self.judge is not None:
                await getattr(self.judge, "adapter").aclose()  # noqa: B009 - not every scorer has one
        self.result.pass_rate_before = self.passed / self.answers if self.answers else None
        self.result.pass_rate_selected = self.passed_sel / self.answers_sel if self.answers_sel else None
        return self.result


def expert_dataset(store: Store, project: str, name: str, questions: list[Question] | None = None) -> Dataset:
    """The dataset experts write ideal responses in (made with its question if it is new)."""
    wanted = questions or [IDEAL_RESPONSE]
    try:
        ds = store.get_dataset(project, name)
    except NotFound:
        return store.create_dataset(
            project,
            name,
            questions=wanted,
            description="prompts at the model's frontier, for experts to answer",
            guidelines="The model failed on these prompts or disagreed with itself. Write the ideal response.",
        )
    missing = [q for q in wanted if ds.question(q.name) is None]
    return store.add_questions(ds, missing) if missing else ds


async def aselect_frontier(
    store: Store,
    source: Dataset,
    target: Dataset,
    model: ModelChoice | ModelSpec | str,
    options: FrontierOptions | None = None,
    *,
    source_version: DatasetVersion | None = None,
    progress: Callable[[int], None] | None = None,
) -> FrontierResult:
    """Grade ``model`` on every prompt of ``source`` and queue the prompts it cannot do in ``target``."""
    options = options or FrontierOptions()
    if options.samples < 1:
        raise ConfigError("samples must be at least 1")
    if options.budget is not None and options.budget < 0:
        raise ConfigError("budget must be 0 or more")
    if target.id == source.id:
        raise ConfigError(f"the expert dataset must be another dataset than the source ({source.name})")
    if target.question(IDEAL_RESPONSE.name) is None:
        target = store.add_questions(target, [IDEAL_RESPONSE])
    picked = choices([model])[0]
    result = await _Frontier(store, source, target, picked, options, source_version, progress).run()
    sync(store, target)  # into the annotation queue now, routed by the skill in the metadata
    return result


def select_frontier(
    store: Store,
    source: Dataset,
    target: Dataset,
    model: ModelChoice | ModelSpec | str,
    options: FrontierOptions | None = None,
    *,
    source_version: DatasetVersion | None = None,
    progress: Callable[[int], None] | None = None,
) -> FrontierResult:
    """``aselect_frontier`` from synchronous code."""
    return asyncio.run(
        aselect_frontier(store, source, target, model, options, source_version=source_version, progress=progress)
    )
