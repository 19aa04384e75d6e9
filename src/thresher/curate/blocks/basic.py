"""Validation against the record model, Unicode repair (ftfy), and simple field filters."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from thresher.curate._items import Item, map_strings
from thresher.curate.blocks.base import KEEP, Block, BlockConfig, Verdict, changed, drop, register_block
from thresher.errors import MissingExtra
from thresher.model import RECORD_KINDS


@register_block("validate")
class Validate(Block):
    """Drops records that do not fit the record model (content, split, task type...)."""

    def apply(self, item: Item) -> Verdict:
        try:
            item.to_record()
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return drop("invalid_record", field=where, msg=first["msg"])
        return KEEP


class FixUnicodeConfig(BlockConfig):
    normalization: str = Field(default="NFC", pattern="^(NFC|NFKC|NFD|NFKD)$")


@register_block("fix_unicode")
class FixUnicode(Block):
    """Repairs mojibake and broken Unicode in every text field with ``ftfy``."""

    Config = FixUnicodeConfig
    config: FixUnicodeConfig

    def __init__(self, config: FixUnicodeConfig) -> None:
        super().__init__(config)
        try:
            import ftfy
        except ImportError:
            raise MissingExtra("ftfy", "curate") from None
        self._cfg = ftfy.TextFixerConfig(normalization=config.normalization)  # type: ignore[arg-type]
        self._fix = ftfy.fix_text

    def apply(self, item: Item) -> Verdict:
        fixed = 0

        def fix(s: str) -> str:
            nonlocal fixed
            out = self._fix(s, self._cfg)
            if out != s:
                fixed += 1
            return out

        content = map_strings(item.content, fix)
        if not fixed:
            return KEEP
        item.set_content(content)
        return changed("unicode_fixed", fields=fixed)


class SelectConfig(BlockConfig):
    kinds: list[str] = Field(default_factory=list, description="keep only these record kinds")
    exclude_kinds: list[str] = Field(default_factory=list)
    splits: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict, description="keep records whose metadata has these values")


@register_block("select")
class Select(Block):
    """Keeps records by kind, split or metadata values; drops the rest."""

    Config = SelectConfig
    config: SelectConfig

    def __init__(self, config: SelectConfig) -> None:
        super().__init__(config)
        bad = [k for k in (*config.kinds, *config.exclude_kinds) if k not in RECORD_KINDS]
        if bad:
            raise ValueError(f"unknown record kinds {bad}; expected some of {list(RECORD_KINDS)}")

    def apply(self, item: Item) -> Verdict:
        c = self.config
        if (c.kinds and item.kind not in c.kinds) or item.kind in c.exclude_kinds:
            return drop("kind_not_selected", kind=item.kind)
        if c.splits and item.split not in c.splits:
            return drop("split_not_selected", split=item.split)
        for key, want in c.metadata.items():
            if item.metadata.get(key) != want:
                return drop("metadata_not_selected", key=key)
        return KEEP
