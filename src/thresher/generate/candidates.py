"""Candidate generation: for every prompt of a dataset, N answers from each of one or more models,
stored as ``comparison`` records (ready for ranking, ratings or a pairwise choice) in a new version
of a target dataset, or as suggestions on an SFT dataset's text question.

Prompts stream from the store a page at a time; ``concurrency`` workers ask the models through
the evals response cache (keyed by model, params, input and sample index) and records are written
in batches from a thread. A re-run after an interruption answers from the cache what was already
answered, and writes the same records (same content, same id), so nothing is asked or stored twice.
A prompt is written only when all its candidates came back: a model that fails on it leaves it
for the next run.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from thresher.errors import ConfigError
from thresher.evals.adapters.base import AdapterError
from thresher.evals.runner import chat_messages
from thresher.formats.views import PREFERENCE_QUESTION
from thresher.generate._calls import Answerer, ModelChoice, ModelSpec, choices, run_pool, version_name
from thresher.model import (
    ConversationQuestion,
    Dataset,
    DatasetVersion,
    RankingQuestion,
    Record,
    Suggestion,
    TextQuestion,
)
from thresher.store import RecordFilter, RecordRow, Store
from thresher.store.evals import CachedAnswer

__all__ = [
    "PROMPT_KINDS",
    "CandidateOptions",
    "GenerateResult",
    "agenerate_candidates",
    "candidate_id",
    "generate_candidates",
    "prompt_messages",
]

PROMPT_KINDS = ("text", "conversation", "eval_item", "comparison")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class CandidateOptions:
    """How to run. ``question``: write suggestions on this question of the source dataset instead
    of comparisons. ``version``: the name of the target's new version (default ``v<n+1>``)."""

    concurrency: int = 32
    use_cache: bool = True
    flush_every: int = 256
    version: str | None = None
    question: str | None = None
    split: str | None = None
    add_ranking: bool = True  # give the target a ranking question over the candidates if it has none
    page_size: int = 64


@dataclass
class GenerateResult:
    prompts: int = 0
    written: int = 0  # records new in the target (or suggestions saved)
    duplicates: int = 0  # records the target already held (a resumed run)
    candidates: int = 0
    errors: int = 0  # prompts left out because a model failed on them
    skipped: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    cache_hits: int = 0
    wall_s: float = 0.0
    version: str | None = None
    target: str | None = None
    first_error: str | None = None

    @property
    def candidates_per_s(self) -> float:
        return self.candidates / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompts": self.prompts,
            "written": self.written,
            "duplicates": self.duplicates,
            "candidates": self.candidates,
            "errors": self.errors,
            "skipped": dict(self.skipped),
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "wall_s": round(self.wall_s, 3),
            "candidates_per_s": round(self.candidates_per_s, 1),
            "version": self.version,
            "target": self.target,
            "first_error": self.first_error,
        }


def candidate_id(i: int) -> str:
    """``a``..``z``, then ``aa``, ``ab``...: short ids an annotator ranks by."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("a") + r) + out
    return out


def prompt_messages(kind: str, content: dict[str, Any]) -> tuple[list[dict[str, Any]] | None, str]:
    """The messages to answer for a stored record, or None and the reason it has no prompt.

    A conversation is cut after its last user turn (its answer is what the candidates replace)."""
    if kind == "text":
        return [{"role": "user", "content": content["text"]}], ""
    if kind == "eval_item":
        return list(content["input"]), ""
    if kind == "comparison":
        prompt = list(content.get("prompt") or [])
        return (prompt, "") if prompt else (None, "comparison without a prompt")
    if kind == "conversation":
        messages = content["messages"]
        last = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        return (list(messages[: last + 1]), "") if last >= 0 else (None, "conversation without a user turn")
    return None, f"{kind} records have no prompt"


@dataclass
class _Prompt:
    row: RecordRow
    prompt: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    keys: list[list[str]]  # per model, per sample
    cached: dict[str, CachedAnswer]


class _Generation:
    def __init__(
        self,
        store: Store,
        source: Dataset,
        target: Dataset,
        choices: list[ModelChoice],
        options: CandidateOptions,
        source_version: DatasetVersion | None,
        progress: Progress | None,
    ) -> None:
        self.store, self.source, self.target, self.choices = store, source, target, choices
        self.options, self.source_version, self.progress = options, source_version, progress
        self.answerer = Answerer(store, use_cache=options.use_cache, concurrency=options.concurrency)
        self.result = GenerateResult(target=f"{target.project}/{target.name}")
        self.records: list[Record] = []
        self.suggestions: list[Suggestion] = []
        self.done = 0
        self.question = target.question(options.question) if options.question else None

    def prompts(self) -> Iterator[_Prompt]:
        flt = RecordFilter(kinds=list(PROMPT_KINDS), splits=[self.options.split] if self.options.split else [])
        pages = self.store.iter_records(
            self.source, version=self.source_version, flt=flt, batch_size=self.options.page_size
        )
        for page in pages:
            prepared: list[_Prompt] = []
            for row in page:
                self.result.prompts += 1
                prompt, why = prompt_messages(row.kind, orjson.loads(row.content))
                if prompt is None:
                    self.result.skipped[why] += 1
                    self._tick()
                    continue
                messages = chat_messages(prompt)
                keys = [[Answerer.key(c, messages, s) for s in range(c.n)] for c in self.choices]
                prepared.append(_Prompt(row, prompt, messages, keys, {}))
            cached = self.answerer.lookup([k for p in prepared for ks in p.keys for k in ks])
            for p in prepared:
                p.cached = cached
                yield p

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done)

    async def handle(self, p: _Prompt) -> None:
        asks = [
            self.answerer.ask(choice, p.messages, key, p.cached)
            for choice, keys in zip(self.choices, p.keys, strict=True)
            for key in keys
        ]
        try:
            gens = await asyncio.gather(*asks)
        except AdapterError as e:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or str(e)[:500]
            self._tick()
            return
        texts = iter(g.text for g in gens)
        if self.question is not None:
            self._suggest(p, texts)
        else:
            self._compare(p, texts)
        if len(self.records) + len(self.suggestions) >= self.options.flush_every:
            await asyncio.to_thread(self._write, *self._take())
        self._tick()

    def _compare(self, p: _Prompt, texts: Iterator[str]) -> None:
        candidates: list[dict[str, Any]] = []
        for choice in self.choices:
            for _ in range(choice.n):
                candidates.append(
                    {
                        "id": candidate_id(len(candidates)),
                        "messages": [{"role": "assistant", "content": next(texts)}],
                        "model": choice.adapter.model,
                        "params": choice.params or None,
                    }
                )
        metadata = orjson.loads(p.row.metadata) if p.row.metadata not in ("", "{}") else {}
        metadata["generation"] = {"source": p.row.id, "models": [c.describe() for c in self.choices]}
        record = Record.model_validate(
            {
                "content": {"kind": "comparison", "prompt": p.prompt, "candidates": candidates},
                "metadata": metadata,
                "split": p.row.split,
                "task_type": p.row.task_type,
                "domains": orjson.loads(p.row.domains) if p.row.domains not in ("", "[]") else [],
                "lineage": [p.row.id],
                "synthetic": bool(p.row.synthetic),
            }
        )
        self.records.append(record)
        self.result.candidates += len(candidates)

    def _suggest(self, p: _Prompt, texts: Iterator[str]) -> None:
        assert self.question is not None
        for choice in self.choices:
            for s in range(choice.n):
                text = next(texts)
                value: Any = text
                if isinstance(self.question, ConversationQuestion):
                    value = [*p.prompt, {"role": "assistant", "content": text}]
                agent = choice.adapter.model if choice.n == 1 else f"{choice.adapter.model}#{s + 1}"
                self.suggestions.append(
                    Suggestion(record_id=p.row.id, question=self.question.name, value=value, agent=agent)
                )
                self.result.candidates += 1

    def _take(self) -> tuple[list[Record], list[Suggestion], list[tuple[str, str, CachedAnswer]]]:
        records, self.records = self.records, []
        suggestions, self.suggestions = self.suggestions, []
        return records, suggestions, self.answerer.take()

    def _write(
        self, records: list[Record], suggestions: list[Suggestion], answers: list[tuple[str, str, CachedAnswer]]
    ) -> None:
        # The cache first: if the records' write fails, a re-run still asks nothing twice.
        self.answerer.write(answers)
        if records:
            added = self.store.add_records(self.target, records)
            self.result.written += added
            self.result.duplicates += len(records) - added
        for s in suggestions:
            self.store.save_suggestion(s)
            self.result.written += 1

    async def run(self) -> GenerateResult:
        t0 = time.perf_counter()
        try:
            await run_pool(self.prompts(), self.handle, self.options.concurrency)
        finally:
            self._write(*self._take())
            self.result.calls, self.result.cache_hits = self.answerer.calls, self.answerer.hits
            self.result.wall_s = time.perf_counter() - t0
            for choice in self.choices:
                await choice.adapter.aclose()
        return self.result


def _prepare_target(store: Store, source: Dataset, target: Dataset | None, options: CandidateOptions) -> Dataset:
    if options.question is not None:
        q = source.question(options.question)
        if not isinstance(q, TextQuestion | ConversationQuestion):
            have = ", ".join(f"{x.name} ({x.type})" for x in source.questions) or "none"
            raise ConfigError(
                f"--question {options.question!r}: expected a text or conversation question of "
                f"{source.project}/{source.name}; it has: {have}"
            )
        return source
    if target is None:
        raise ConfigError("a target dataset is needed for comparisons (or give a question to write suggestions)")
    if target.id == source.id:
        raise ConfigError(f"the target must be another dataset than the source ({source.project}/{source.name})")
    if options.add_ranking and not any(isinstance(q, RankingQuestion) for q in target.questions):
        target = store.add_questions(target, [PREFERENCE_QUESTION])
    return target


async def agenerate_candidates(
    store: Store,
    source: Dataset,
    target: Dataset | None,
    models: Sequence[ModelChoice | ModelSpec | str],
    options: CandidateOptions | None = None,
    *,
    source_version: DatasetVersion | None = None,
    progress: Progress | None = None,
) -> GenerateResult:
    """Generate candidates for every prompt of ``source``; see the module docstring.

    ``progress`` is called with the number of prompts done; if it raises, the run stops after
    the prompts in hand (their answers cached, their records written) and the error propagates."""
    options = options or CandidateOptions()
    picked = choices(models)
    target = _prepare_target(store, source, target, options)
    version = None if options.question is not None else version_name(store, target, options.version)
    result = await _Generation(store, source, target, picked, options, source_version, progress).run()
    if version is not None and (result.written or result.duplicates):
        # The whole target, frozen: what this run wrote and what earlier runs did.
        models = ", ".join(c.adapter.model for c in picked)
        store.create_version(target, version, description=f"candidates from {models}")
        result.version = version
    return result


def generate_candidates(
    store: Store,
    source: Dataset,
    target: Dataset | None,
    models: Sequence[ModelChoice | ModelSpec | str],
    options: CandidateOptions | None = None,
    *,
    source_version: DatasetVersion | None = None,
    progress: Progress | None = None,
) -> GenerateResult:
    """``agenerate_candidates`` from synchronous code."""
    return asyncio.run(
        agenerate_candidates(store, source, target, models, options, source_version=source_version, progress=progress)
    )
