"""The model adapter contract and its registry: one module per adapter, one decorator each."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from thresher.errors import ConfigError

__all__ = ["AdapterError", "Generation", "ModelAdapter", "adapters", "get_adapter", "parse_model", "register_adapter"]

Messages = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Generation:
    """One answer: its text, token counts (when the model reports them) and the time it took."""

    text: str
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency_ms: float | None = None


class AdapterError(Exception):
    """The model could not answer (after the adapter's retries); the item is recorded as an error."""


class ModelAdapter(ABC):
    """Answers chat messages. Subclasses implement ``generate``; the rest has defaults.

    ``identity`` names the model for the response cache (with the params and the input):
    two adapters with the same identity must give the same answers.
    """

    name: ClassVar[str] = ""
    model: str = ""
    concurrency: int = 8  # how many calls the runner should keep in flight

    @abstractmethod
    async def generate(self, messages: Messages, params: dict[str, Any]) -> Generation:
        """Answer ``messages`` (OpenAI-style dicts: role, content) with sampling ``params``.

        Raise ``AdapterError`` when no answer can be had; retries are the adapter's business.
        """

    @property
    def identity(self) -> str:
        return f"{self.name}:{self.model}"

    async def aclose(self) -> None:  # noqa: B027 - a hook with a default, not abstract
        """Release connections or models; called once when a run ends."""


_A = TypeVar("_A", bound=type[ModelAdapter])
_REGISTRY: dict[str, Callable[[str], ModelAdapter]] = {}


def register_adapter(name: str) -> Callable[[_A], _A]:
    """Class decorator: the class gets ``name`` and its ``from_spec(rest)`` builds it from ``name:rest``."""

    def deco(cls: _A) -> _A:
        cls.name = name
        factory = getattr(cls, "from_spec", None)
        if factory is None:
            raise TypeError(f"adapter {cls.__name__} needs a classmethod from_spec(spec: str)")
        _REGISTRY[name] = factory
        return cls

    return deco


def adapters() -> list[str]:
    return sorted(_REGISTRY)


def get_adapter(name: str) -> Callable[[str], ModelAdapter]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"no model adapter {name!r}; known: {', '.join(adapters())}") from None


def parse_model(spec: str) -> ModelAdapter:
    """``openai:http://host/v1#model``, ``callable:package.module:function``, ``hf:path/to/model``."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ConfigError(f"model {spec!r}: expected ADAPTER:SPEC, e.g. openai:http://localhost:8000/v1#my-model")
    return get_adapter(kind)(rest)
