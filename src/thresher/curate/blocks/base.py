"""What a block is: a small step that keeps, drops, changes or flags each record.

Two shapes, one registry:

- a ``Block`` looks at one record at a time (``apply``) and runs anywhere, in any process;
- a ``ClusterBlock`` (dedup, stats) needs the whole stream: it computes a small ``signature`` per
  record (in parallel), then ``decide`` sees every signature in order and names the records to drop.

The base class owns the loop, the counters and the decisions; a block only decides. A new block
is one module with ``@register_block("name")`` on a class whose ``Config`` lists its fields.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from thresher.curate._items import Item

Action = Literal["kept", "dropped", "changed", "flagged", "error"]


class BlockConfig(BaseModel):
    """A block's settings. Unknown fields are an error (with the names that would fit)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(slots=True)
class Verdict:
    """What a block did to one record; ``KEEP`` when nothing."""

    action: Action
    reason: str = ""
    detail: dict[str, Any] | None = None
    cluster: str | None = None


KEEP = Verdict("kept")


def drop(reason: str, **detail: Any) -> Verdict:
    return Verdict("dropped", reason, detail or None)


def changed(reason: str, **detail: Any) -> Verdict:
    return Verdict("changed", reason, detail or None)


def flagged(reason: str, **detail: Any) -> Verdict:
    return Verdict("flagged", reason, detail or None)


@dataclass
class Counters:
    """Per block: seen, kept, and how many were dropped / changed / flagged / failed, by reason."""

    seen: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    changed: dict[str, int] = field(default_factory=dict)
    flagged: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, v: Verdict) -> None:
        self.seen += 1
        if v.action == "dropped":
            self.dropped[v.reason] = self.dropped.get(v.reason, 0) + 1
        elif v.action == "error":
            self.errors[v.reason] = self.errors.get(v.reason, 0) + 1
        else:
            self.kept += 1
            if v.action == "changed":
                self.changed[v.reason] = self.changed.get(v.reason, 0) + 1
            elif v.action == "flagged":
                self.flagged[v.reason] = self.flagged.get(v.reason, 0) + 1

    def merge(self, other: dict[str, Any]) -> None:
        self.seen += other.get("seen", 0)
        self.kept += other.get("kept", 0)
        for name in ("dropped", "changed", "flagged", "errors"):
            mine = getattr(self, name)
            for k, n in other.get(name, {}).items():
                mine[k] = mine.get(k, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {
            "seen": self.seen,
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "changed": dict(sorted(self.changed.items())),
            "flagged": dict(sorted(self.flagged.items())),
            "errors": dict(sorted(self.errors.items())),
        }


class Block(ABC):
    """A per-record block. ``apply`` is the one method to write."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[BlockConfig]] = BlockConfig
    kinds: ClassVar[tuple[str, ...] | None] = None  # record kinds it looks at; others pass untouched
    annotates: ClassVar[bool] = False  # writes metadata even when it keeps a record as is (e.g. language)

    def __init__(self, config: BlockConfig) -> None:
        self.config = config

    @abstractmethod
    def apply(self, item: Item) -> Verdict:
        """Decide about one record: ``KEEP``, ``drop(reason)``, or change the item and return ``changed(reason)``
        (or ``flagged(reason)`` to keep it with a note). Raising marks this record failed; the run goes on."""

    def applies_to(self, item: Item) -> bool:
        return self.kinds is None or item.kind in self.kinds


class ClusterBlock(ABC):
    """A block over the whole stream: a signature per record in parallel, then one ordered pass."""

    name: ClassVar[str] = ""
    Config: ClassVar[type[BlockConfig]] = BlockConfig

    def __init__(self, config: BlockConfig) -> None:
        self.config = config

    @abstractmethod
    def signature(self, items: list[Item]) -> list[Any]:
        """A small picklable value per item (a MinHash, a hash, an embedding, counts), batch at a time."""

    def decide(self, signatures: Iterator[tuple[str, Any]], out_dir: Any) -> Iterator[tuple[str, Verdict]]:
        """Given ``(record id, signature)`` in stream order, yield the records to drop or flag."""
        for _ in signatures:
            pass
        return iter(())


BlockType = type[Block] | type[ClusterBlock]
_BLOCKS: dict[str, BlockType] = {}


def register_block(name: str) -> Any:
    def deco(cls: BlockType) -> BlockType:
        cls.name = name
        _BLOCKS[name] = cls
        return cls

    return deco


def blocks() -> dict[str, BlockType]:
    """Every registered block by name (the modules of ``thresher.curate.blocks`` load on first use)."""
    from thresher.curate.blocks import _load_all

    _load_all()
    return dict(_BLOCKS)
