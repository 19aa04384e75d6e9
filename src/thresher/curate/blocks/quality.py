"""Quality filters. Text: length, repetition, symbol and word ratios, and the Gopher, C4 and
FineWeb heuristics as datatrove implements them. Conversations: empty or truncated turns,
refusal boilerplate.

datatrove's filters split words with a tokenizer chosen per language (spaCy or NLTK, which
need models); here they get a small whitespace/regex tokenizer instead, which keeps them offline.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from thresher.curate._items import Item
from thresher.curate.blocks.base import KEEP, Block, BlockConfig, Verdict, drop, register_block
from thresher.errors import MissingExtra

_SENT = re.compile(r"[^.!?\n]+[.!?]*")


def _regex_tokenizer() -> Any:
    from datatrove.utils.word_tokenizers import WordTokenizer

    class RegexTokenizer(WordTokenizer):  # type: ignore[misc]
        """Whitespace-separated words, as the Gopher paper counts them (punctuation stays attached, so a
        short sentence with commas is not "mostly non-alphabetic"); sentences by regex. No model to download."""

        def word_tokenize(self, text: str) -> list[str]:
            return text.split()

        def sent_tokenize(self, text: str) -> list[str]:
            return [s.strip() for s in _SENT.findall(text) if s.strip()]

        def span_tokenize(self, text: str) -> list[tuple[int, int]]:
            return [(m.start(), m.end()) for m in _SENT.finditer(text)]

    return RegexTokenizer("en")


class TextQualityConfig(BlockConfig):
    min_chars: int = Field(default=1, ge=0)
    max_chars: int | None = Field(default=None, ge=1)
    max_symbol_word_ratio: float | None = Field(default=None, ge=0, description="(# and …) per word")
    gopher_quality: bool = Field(default=True, description="Gopher: word counts and lengths, symbols, stop words")
    gopher_repetition: bool = Field(default=True, description="Gopher: duplicate lines, paragraphs and n-grams")
    c4: bool = Field(default=False, description="C4: terminal punctuation, lorem ipsum, javascript, curly braces")
    fineweb: bool = Field(default=False, description="FineWeb: line punctuation, short lines, duplicate chars")
    gopher_min_words: int = Field(default=50, ge=0)
    repetition_min_words: int = Field(
        default=50,
        ge=0,
        description="shorter documents skip the repetition check: datatrove counts a top n-gram seen once, "
        "so any short text fails it",
    )
    gopher_max_words: int = Field(default=100_000, ge=1)
    kinds: list[str] = Field(default_factory=list, description="record kinds to check (default: text)")


@register_block("text_quality")
class TextQuality(Block):
    """Drops low-quality documents; the reason names the heuristic that failed."""

    Config = TextQualityConfig
    config: TextQualityConfig

    def __init__(self, config: TextQualityConfig) -> None:
        super().__init__(config)
        self._filters: list[tuple[str, Any]] = []
        if config.gopher_quality or config.gopher_repetition or config.c4 or config.fineweb:
            try:
                from datatrove.pipeline.filters import (
                    C4QualityFilter,
                    FineWebQualityFilter,
                    GopherQualityFilter,
                    GopherRepetitionFilter,
                )
            except ImportError:
                raise MissingExtra("datatrove", "curate") from None
            tok = _regex_tokenizer()
            if config.gopher_repetition:
                self._filters.append(("gopher_repetition", GopherRepetitionFilter(language=tok)))
            if config.gopher_quality:
                gq = GopherQualityFilter(
                    min_doc_words=config.gopher_min_words, max_doc_words=config.gopher_max_words, language=tok
                )
                self._filters.append(("gopher", gq))
            if config.c4:
                self._filters.append(("c4", C4QualityFilter(filter_no_terminal_punct=False, language=tok)))
            if config.fineweb:
                self._filters.append(("fineweb", FineWebQualityFilter(language=tok)))
        self._kinds = tuple(config.kinds or ["text"])

    def apply(self, item: Item) -> Verdict:
        if item.kind not in self._kinds:
            return KEEP
        text = item.text()
        c = self.config
        if len(text) < c.min_chars:
            return drop("too_short", chars=len(text))
        if c.max_chars is not None and len(text) > c.max_chars:
            return drop("too_long", chars=len(text))
        if c.max_symbol_word_ratio is not None:
            words = max(len(text.split()), 1)
            ratio = (text.count("#") + text.count("...") + text.count("…")) / words
            if ratio > c.max_symbol_word_ratio:
                return drop("symbol_word_ratio", ratio=round(ratio, 3))
        if self._filters:
            from datatrove.data import Document

            doc = Document(text=text, id=item.id)
            short = len(text.split()) < c.repetition_min_words
            for name, f in self._filters:
                if short and name == "gopher_repetition":
                    continue
                result = f.filter(doc)
                if result is False or (isinstance(result, tuple) and not result[0]):
                    why = result[1] if isinstance(result, tuple) else "failed"
                    return drop(f"{name}:{why}")
        return KEEP


REFUSALS = (
    "as an ai language model",
    "as an ai model",
    "i'm sorry, but i can't",
    "i'm sorry, but i cannot",
    "i cannot help with that",
    "i can't help with that",
    "i am unable to",
    "i'm unable to",
    "i cannot fulfill",
    "i can't assist with",
    "i cannot assist with",
)


class ConversationQualityConfig(BlockConfig):
    empty_turns: bool = Field(default=True, description="drop conversations with an empty user or assistant turn")
    truncated: bool = Field(default=True, description="drop when the last assistant turn stops mid-sentence")
    refusals: bool = Field(default=True, description="drop answers that are refusal boilerplate")
    refusal_phrases: list[str] = Field(default_factory=lambda: list(REFUSALS))
    min_answer_chars: int = Field(default=1, ge=0)


_TRUNCATED = re.compile(r"(\b(and|or|the|a|an|to|of|with|for|but|because|that)|[,:;(\[-])\s*$", re.IGNORECASE)


@register_block("conversation_quality")
class ConversationQuality(Block):
    """Empty or truncated turns, refusal boilerplate (conversations and comparison candidates)."""

    Config = ConversationQualityConfig
    config: ConversationQualityConfig
    kinds = ("conversation",)

    def apply(self, item: Item) -> Verdict:
        if item.kind != "conversation":
            return KEEP
        c = self.config
        messages = item.content["messages"]
        answers = [m for m in messages if m.get("role") == "assistant"]
        for i, m in enumerate(messages):
            empty = not _text(m).strip() and not m.get("tool_calls")
            if c.empty_turns and empty and m.get("role") in ("user", "assistant"):
                return drop("empty_turn", turn=i)
        if not answers:
            return KEEP
        last = _text(answers[-1]).strip()
        if len(last) < c.min_answer_chars and not answers[-1].get("tool_calls"):
            return drop("answer_too_short", chars=len(last))
        if c.truncated and last and _TRUNCATED.search(last):
            return drop("truncated_answer")
        if c.refusals:
            low = last.lower().replace("’", "'")
            for phrase in c.refusal_phrases:
                if phrase in low:
                    return drop("refusal", phrase=phrase)
        return KEEP


def _text(m: dict[str, Any]) -> str:
    c = m.get("content")
    if isinstance(c, str):
        return c
    if isinstance(c, list):
        return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
    return ""
