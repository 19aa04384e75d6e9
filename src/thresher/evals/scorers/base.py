"""The scorer contract and its registry: one module per scorer, one decorator each."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import orjson

from thresher.errors import ConfigError

__all__ = ["EvalItem", "Score", "Scorer", "get_scorer", "register_scorer", "scorer_name_for", "scorers"]


@dataclass(frozen=True, slots=True)
class EvalItem:
    """An eval item as the runner and scorers see it: plain JSON, no validation on the hot path
    (records were validated when they were written)."""

    record_id: str
    input: list[dict[str, Any]]
    reference: str | list[str] | None = None
    choices: list[str] | None = None
    grader: dict[str, Any] | None = None
    tags: tuple[str, ...] = ()

    @property
    def grader_params(self) -> dict[str, Any]:
        return dict((self.grader or {}).get("params") or {})

    @property
    def references(self) -> list[str]:
        ref = self.reference
        return [] if ref is None else [ref] if isinstance(ref, str) else list(ref)

    @classmethod
    def from_stored(
        cls,
        record_id: str,
        content: str | dict[str, Any],
        metadata: str | dict[str, Any] = "{}",
        *,
        task_type: str | None = None,
        domains: list[str] | tuple[str, ...] = (),
    ) -> EvalItem:
        """From a stored record's content and metadata (JSON text or dicts). Tags: ``metadata.tags``,
        ``task:<task_type>``, ``domain:<domain>``."""
        c = orjson.loads(content) if isinstance(content, str) else content
        m = orjson.loads(metadata) if isinstance(metadata, str) else metadata
        tags = [str(t) for t in m.get("tags") or ()]
        if task_type:
            tags.append(f"task:{task_type}")
        tags.extend(f"domain:{d}" for d in domains)
        return cls(record_id, c["input"], c.get("reference"), c.get("choices"), c.get("grader"), tuple(tags))


@dataclass(frozen=True, slots=True)
class Score:
    """``value`` in 0..1 (None: pending, e.g. a human score); ``passed`` for pass/fail scorers."""

    value: float | None
    passed: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Scorer(ABC):
    """Scores one output. Subclasses implement ``score``; ``ascore`` is the async hook (it runs
    ``score`` inline by default: override it for scorers that wait on a subprocess or a model)."""

    name: ClassVar[str] = ""
    pass_fail: ClassVar[bool] = True  # False for graded scores (a judge's rubric, a human rating)

    @abstractmethod
    def score(self, item: EvalItem, output: str) -> Score:
        """Score ``output`` (the model's answer to ``item.input``) against the item's reference or rule."""

    async def ascore(self, item: EvalItem, output: str) -> Score:
        return self.score(item, output)

    def spec(self) -> dict[str, Any]:
        """What a run stores to say how it was scored."""
        return {"name": self.name}


_S = TypeVar("_S", bound=type[Scorer])
_REGISTRY: dict[str, type[Scorer]] = {}


def register_scorer(name: str) -> Callable[[_S], _S]:
    def deco(cls: _S) -> _S:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def scorers() -> list[str]:
    return sorted(_REGISTRY)


def get_scorer(name: str, **options: Any) -> Scorer:
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"no scorer {name!r}; known: {', '.join(scorers())}") from None
    try:
        return cls(**options)
    except TypeError as e:
        raise ConfigError(f"scorer {name!r}: {e}") from None


def scorer_name_for(item: EvalItem) -> str:
    """The item's own grading rule, else a normalized match against its reference."""
    if item.grader and item.grader.get("type"):
        return str(item.grader["type"])
    if item.choices:
        return "choice"
    return "normalized"
