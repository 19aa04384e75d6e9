"""Synthetic data: prompts, or prompt-response pairs, from seed topics x the nine InstructGPT task
types x domains, through any model adapter.

A template (YAML, shipped in ``thresher/generate/templates`` or a file of the user's) holds the
instruction that makes a model write a user request of a task type about a topic in a domain, and
optionally the system message under which a model answers it. Fields are filled by
``str.format``: ``{topic} {domain} {task_type} {task} {variant}``.

Every row is marked: ``synthetic = true`` on the record (exports can leave them out or keep only
them: ``export_dataset(..., synthetic="exclude" | "only")``) and in ``metadata.synthetic``, with
the template's name and hash and the models in ``metadata``, so stats and filters separate them.
Answers go through the response cache like every generation here: a re-run asks nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thresher.errors import ConfigError, DataError, ErrorDetail
from thresher.evals.adapters.base import AdapterError
from thresher.generate._calls import Answerer, ModelChoice, ModelSpec, choices, run_pool, version_name
from thresher.generate.candidates import GenerateResult
from thresher.model import TASK_TYPES, Dataset, Record
from thresher.store import Store
from thresher.store.evals import CachedAnswer

__all__ = [
    "INSTRUCT_TASK_TYPES",
    "SyntheticSpec",
    "Template",
    "agenerate_synthetic",
    "generate_synthetic",
    "load_template",
    "templates",
]

INSTRUCT_TASK_TYPES: tuple[str, ...] = tuple(t for t in TASK_TYPES if t != "other")
_FIELDS = ("topic", "domain", "task_type", "task", "variant")


class Template(BaseModel):
    """A synthetic-data template as read from YAML (unknown keys are an error)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    prompt: str = Field(min_length=1)
    response: str | None = None
    task_types: dict[str, str] = Field(description="task type -> how it is described to the model")
    digest: str = Field(default="", exclude=True)

    def render_prompt(self, topic: str, domain: str, task_type: str, variant: int) -> str:
        return self.prompt.format_map(self._fields(topic, domain, task_type, variant))

    def render_response(self, topic: str, domain: str, task_type: str, variant: int) -> str | None:
        if self.response is None:
            return None
        return self.response.format_map(self._fields(topic, domain, task_type, variant))

    def _fields(self, topic: str, domain: str, task_type: str, variant: int) -> dict[str, Any]:
        task = self.task_types.get(task_type, task_type.replace("_", " "))
        return {"topic": topic, "domain": domain, "task_type": task_type, "task": task, "variant": variant}


def templates() -> list[str]:
    """The names of the templates shipped with Thresher."""
    folder = files("thresher.generate").joinpath("templates")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_template(name_or_path: str | Path = "default") -> Template:
    """A shipped template by name, or a YAML file; errors name the file and the field."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        resource = files("thresher.generate").joinpath("templates", f"{name_or_path}.yaml")
        if not resource.is_file():
            raise ConfigError(f"no template {str(name_or_path)!r}: give a YAML file or one of {', '.join(templates())}")
        text, where = resource.read_text(encoding="utf-8"), f"templates/{name_or_path}.yaml"
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DataError(f"{where} is not valid YAML", [ErrorDetail("yaml", (where,), str(e))]) from None
    try:
        template = Template.model_validate(data)
    except ValidationError as e:
        details = [ErrorDetail(x["type"], (where, *x["loc"]), x["msg"]) for x in e.errors()]
        raise DataError(f"{where}: not a template ({details[0].msg} at {details[0].loc[1:]})", details) from None
    for part, body in (("prompt", template.prompt), ("response", template.response or "")):
        try:
            body.format_map(dict.fromkeys(_FIELDS, ""))
        except (KeyError, IndexError, ValueError) as e:
            msg = f"unknown field {e} (fields: {', '.join('{' + f + '}' for f in _FIELDS)}; write {{{{ for a brace)"
            raise DataError(f"{where}: {part}: {msg}", [ErrorDetail("template_field", (where, part), msg)]) from None
    unknown = sorted(set(template.task_types) - set(TASK_TYPES))
    if unknown:
        msg = f"unknown task types {unknown}; expected some of {', '.join(INSTRUCT_TASK_TYPES)}"
        raise DataError(f"{where}: {msg}", [ErrorDetail("task_type", (where, "task_types", unknown[0]), msg)])
    template.digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return template


@dataclass(frozen=True)
class SyntheticSpec:
    """What to make: topics x task types x domains x ``per_combination`` variants; with ``pairs``,
    a response to each prompt too (by ``response_model``, default the prompt model)."""

    topics: Sequence[str]
    task_types: Sequence[str] = INSTRUCT_TASK_TYPES
    domains: Sequence[str] = ("general",)
    per_combination: int = 1
    pairs: bool = True
    template: str = "default"

    def combinations(self) -> Iterator[tuple[str, str, str, int]]:
        """Lazily, in a fixed order: the same spec makes the same rows in the same order."""
        for topic, task_type, domain in itertools.product(self.topics, self.task_types, self.domains):
            for variant in range(1, self.per_combination + 1):
                yield topic, task_type, domain, variant

    def check(self) -> None:
        if not self.topics:
            raise ConfigError("no topics: give at least one seed topic")
        bad = [t for t in self.task_types if t not in TASK_TYPES]
        if bad:
            raise ConfigError(f"unknown task types {bad}; expected some of {', '.join(INSTRUCT_TASK_TYPES)}")
        if self.per_combination < 1:
            raise ConfigError("per_combination must be at least 1")


@dataclass
class _Options:
    concurrency: int = 16
    use_cache: bool = True
    flush_every: int = 256
    version: str | None = None


def _clean(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    return text


@dataclass
class _Synthesis:
    store: Store
    target: Dataset
    template: Template
    prompt_model: ModelChoice
    response_model: ModelChoice | None
    options: _Options
    progress: Callable[[int], None] | None
    answerer: Answerer
    result: GenerateResult = field(default_factory=GenerateResult)
    records: list[Record] = field(default_factory=list)
    done: int = 0

    async def handle(self, combo: tuple[str, str, str, int]) -> None:
        topic, task_type, domain, variant = combo
        self.result.prompts += 1
        try:
            record = await self._make(topic, task_type, domain, variant)
        except AdapterError as e:
            self.result.errors += 1
            self.result.first_error = self.result.first_error or str(e)[:500]
            record = None
        if record is not None:
            self.records.append(record)
            if len(self.records) >= self.options.flush_every:
                records, answers = self._take()
                await asyncio.to_thread(self._write, records, answers)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done)

    async def _make(self, topic: str, task_type: str, domain: str, variant: int) -> Record | None:
        ask = [{"role": "user", "content": self.template.render_prompt(topic, domain, task_type, variant)}]
        key = Answerer.key(self.prompt_model, ask, 0)
        prompt = _clean((await self.answerer.ask(self.prompt_model, ask, key, self.answerer.lookup([key]))).text)
        if not prompt:
            self.result.skipped["the model wrote an empty prompt"] += 1
            return None
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        metadata: dict[str, Any] = {
            "synthetic": True,
            "template": {"name": self.template.name, "hash": self.template.digest},
            "topic": topic,
            "variant": variant,
            "model": self.prompt_model.adapter.model,
        }
        self.result.candidates += 1
        if self.response_model is not None:
            system = self.template.render_response(topic, domain, task_type, variant)
            chat = [{"role": "system", "content": system}, *messages] if system else messages
            rkey = Answerer.key(self.response_model, chat, 0)
            answer = await self.answerer.ask(self.response_model, chat, rkey, self.answerer.lookup([rkey]))
            if not answer.text.strip():
                self.result.skipped["the model wrote an empty response"] += 1
                return None
            messages.append({"role": "assistant", "content": answer.text})
            metadata["response_model"] = self.response_model.adapter.model
            self.result.candidates += 1
        return Record.model_validate(
            {
                "content": {"kind": "conversation", "messages": messages},
                "metadata": metadata,
                "source": {"model": self.prompt_model.adapter.model},
                "task_type": task_type,
                "domains": [domain],
                "synthetic": True,
            }
        )

    def _take(self) -> tuple[list[Record], list[tuple[str, str, CachedAnswer]]]:
        records, self.records = self.records, []
        return records, self.answerer.take()

    def _write(self, records: list[Record], answers: list[tuple[str, str, CachedAnswer]]) -> None:
        self.answerer.write(answers)
        if records:
            added = self.store.add_records(self.target, records)
            self.result.written += added
            self.result.duplicates += len(records) - added


async def agenerate_synthetic(
    store: Store,
    target: Dataset,
    spec: SyntheticSpec,
    model: ModelChoice | ModelSpec | str,
    *,
    response_model: ModelChoice | ModelSpec | str | None = None,
    concurrency: int = 16,
    use_cache: bool = True,
    flush_every: int = 256,
    version: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """Write synthetic conversations (a user prompt, and with ``spec.pairs`` an answer) into
    ``target``, then freeze it as a version (``version`` or ``v<n+1>``)."""
    spec.check()
    template = load_template(spec.template)
    prompt_model = choices([model])[0]
    answer_model = None
    if spec.pairs:
        answer_model = choices([response_model])[0] if response_model is not None else prompt_model
    name = version_name(store, target, version)
    state = _Synthesis(
        store,
        target,
        template,
        prompt_model,
        answer_model,
        _Options(concurrency, use_cache, flush_every, version),
        progress,
        Answerer(store, use_cache=use_cache, concurrency=concurrency),
    )
    state.result.target = f"{target.project}/{target.name}"
    t0 = time.perf_counter()
    try:
        await run_pool(spec.combinations(), state.handle, concurrency)
    finally:
        state._write(*state._take())
        state.result.calls, state.result.cache_hits = state.answerer.calls, state.answerer.hits
        state.result.wall_s = time.perf_counter() - t0
        for choice in {id(c): c for c in (prompt_model, answer_model) if c is not None}.values():
            await choice.adapter.aclose()
    if state.result.written or state.result.duplicates:
        store.create_version(target, name, description=f"synthetic data, template {template.name}@{template.digest}")
        state.result.version = name
    return state.result


def generate_synthetic(
    store: Store,
    target: Dataset,
    spec: SyntheticSpec,
    model: ModelChoice | ModelSpec | str,
    *,
    response_model: ModelChoice | ModelSpec | str | None = None,
    concurrency: int = 16,
    use_cache: bool = True,
    flush_every: int = 256,
    version: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> GenerateResult:
    """``agenerate_synthetic`` from synchronous code."""
    return asyncio.run(
        agenerate_synthetic(
            store,
            target,
            spec,
            model,
            response_model=response_model,
            concurrency=concurrency,
            use_cache=use_cache,
            flush_every=flush_every,
            version=version,
            progress=progress,
        )
    )
