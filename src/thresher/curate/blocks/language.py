"""Language identification with ``langid`` (its model ships inside the package: no download)."""

from __future__ import annotations

import threading
from typing import Any, Literal

import numpy as np
from pydantic import Field

from thresher.curate._items import Item, prompt_and_answer
from thresher.curate.blocks.base import KEEP, Block, BlockConfig, Verdict, drop, flagged, register_block
from thresher.errors import MissingExtra

_IDENTIFIER: Any = None
# One identifier per process, loaded once (about a second) and used under this lock: the server
# triages from many threads at once, and `set_languages` changes the shared identifier.
_LOCK = threading.RLock()


def identifier() -> Any:
    global _IDENTIFIER
    with _LOCK:
        if _IDENTIFIER is None:
            try:
                from langid.langid import LanguageIdentifier, model
            except ImportError:
                raise MissingExtra("langid", "curate") from None
            _IDENTIFIER = LanguageIdentifier.from_modelstring(model, norm_probs=True)
        return _IDENTIFIER


_ONE_THREAD: Any = None
_LANGUAGES: tuple[str, ...] | None = None  # what the identifier is restricted to now (None: all)


def detect(text: str, allowed: list[str] | None = None) -> tuple[str, float]:
    with _LOCK:
        return _detect(identifier(), text, allowed)


def _detect(ident: Any, text: str, allowed: list[str] | None) -> tuple[str, float]:
    global _ONE_THREAD, _LANGUAGES
    wanted = tuple(allowed) if allowed else None
    if wanted != _LANGUAGES:  # restricting rebuilds langid's tables: only when it changes
        ident.set_languages(list(wanted) if wanted else None)
        _LANGUAGES = wanted
    if _ONE_THREAD is None:
        from threadpoolctl import ThreadpoolController

        # langid's one small matrix-vector product: a multi-threaded BLAS spends 10x the CPU on
        # waking its threads (2.2 ms a call against 0.2 ms on one thread, measured here). The
        # limit is process-wide and kept: every BLAS call in Thresher is this small.
        _ONE_THREAD = ThreadpoolController().limit(limits=1, user_api="blas")
    return _classify(ident, text[:4000])


def _classify(ident: Any, text: str) -> tuple[str, float]:
    """``ident.classify``, with the class scores summed over the text's features only. langid
    multiplies its whole feature vector (7,480 counts, nearly all 0) by the model's matrix, in
    a mixed-type product numpy runs without BLAS: most of the call's time for a short text."""
    fv = ident.instance2fv(text)
    present = np.flatnonzero(fv)
    scores = fv[present].astype(np.float64) @ ident.nb_ptc[present] + ident.nb_pc
    probs = ident.norm_probs(scores)
    best = int(np.argmax(probs))
    return str(ident.nb_classes[best]), float(probs[best])


class LanguageConfig(BlockConfig):
    keep: list[str] = Field(default_factory=list, description="ISO 639-1 codes to keep; empty keeps all")
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="below it the language is 'und'")
    min_chars: int = Field(default=12, ge=0, description="shorter texts are not judged")
    metadata_key: str = Field(default="language", description="metadata key to write the language to")
    mismatch: Literal["drop", "flag", "off"] = Field(
        default="flag", description="a conversation whose answer is in another language than its prompt"
    )


@register_block("language")
class Language(Block):
    """Writes the language to metadata; drops languages not kept and prompt/answer mismatches."""

    Config = LanguageConfig
    config: LanguageConfig
    annotates = True

    def __init__(self, config: LanguageConfig) -> None:
        super().__init__(config)
        identifier()

    def apply(self, item: Item) -> Verdict:
        c = self.config
        text = item.text()
        if len(text.strip()) < c.min_chars:
            return KEEP
        lang, prob = detect(text)
        if prob < c.min_confidence:
            lang = "und"
        if c.keep and lang not in c.keep:
            return drop("language_not_kept", language=lang, confidence=round(prob, 3))
        if c.mismatch != "off" and item.kind == "conversation":
            prompt, answer = prompt_and_answer(item)
            if len(prompt) >= c.min_chars and len(answer) >= c.min_chars:
                lp, pp = detect(prompt)
                la, pa = detect(answer)
                if lp != la and pp >= 0.9 and pa >= 0.9:
                    if c.mismatch == "drop":
                        return drop("language_mismatch", prompt=lp, answer=la)
                    item.metadata[c.metadata_key] = lang
                    return flagged("language_mismatch", prompt=lp, answer=la)
        item.metadata[c.metadata_key] = lang  # an annotation, not a change of content: no decision row
        return KEEP
