"""Deduplication: exact (normalized content hash) and near (MinHash LSH, from rensa or datasketch).

Each keeps one record per cluster by the ``keep`` rule (the first seen, the longest, the
shortest, or the highest ``metadata.<path>``) and drops the rest with the cluster's keeper and
the estimated similarity.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field, field_validator

from thresher.curate._items import Item
from thresher.curate.blocks.base import BlockConfig, ClusterBlock, Verdict, register_block
from thresher.errors import MissingExtra

_WS = re.compile(r"\s+")
_WORD = re.compile(r"\w+")


class KeepConfig(BlockConfig):
    keep: str = Field(
        default="first", description="which record of a cluster stays: first, longest, shortest, or metadata.<path>"
    )

    @field_validator("keep")
    @classmethod
    def _keep(cls, v: str) -> str:
        if v not in ("first", "longest", "shortest") and not v.startswith("metadata."):
            raise ValueError("expected first, longest, shortest or metadata.<path>")
        return v


def keep_score(item: Item, rule: str) -> float:
    """Higher is better; ties go to the record seen first."""
    if rule == "first":
        return 0.0
    if rule == "longest":
        return float(len(item.text()))
    if rule == "shortest":
        return -float(len(item.text()))
    value: Any = item.metadata
    for key in rule.split(".")[1:]:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else float("-inf")


class Clusters:
    """Members per cluster (by its first record), to pick each cluster's best when the rule is not ``first``."""

    def __init__(self) -> None:
        self.members: dict[int, list[tuple[int, str, float, float]]] = {}  # rep -> (idx, id, score, similarity)
        self.ids: dict[int, str] = {}
        self.scores: dict[int, float] = {}

    def start(self, idx: int, rid: str, score: float) -> None:
        self.ids[idx] = rid
        self.scores[idx] = score

    def join(self, rep: int, idx: int, rid: str, score: float, sim: float) -> None:
        self.members.setdefault(rep, []).append((idx, rid, score, sim))

    def verdicts(self, reason: str) -> Iterator[tuple[str, Verdict]]:
        for rep, members in self.members.items():
            everyone = [(rep, self.ids[rep], self.scores[rep], 1.0), *members]
            best = max(everyone, key=lambda m: (m[2], -m[0]))
            for idx, rid, _, sim in everyone:
                if idx != best[0]:
                    yield rid, Verdict("dropped", reason, {"of": best[1], "similarity": round(sim, 4)}, best[1])


def normalized_text(item: Item) -> str:
    text = unicodedata.normalize("NFKC", item.text()).lower()
    return _WS.sub(" ", text).strip()


class ExactConfig(KeepConfig):
    normalize: bool = Field(default=True, description="compare lower-cased text with whitespace collapsed")


@register_block("exact_dedup")
class ExactDedup(ClusterBlock):
    """Drops records whose normalized content hashes alike (any kind: text of prompts and answers)."""

    Config = ExactConfig
    config: ExactConfig

    def signature(self, items: list[Item]) -> list[Any]:
        out = []
        for it in items:
            text = normalized_text(it) if self.config.normalize else it.text()
            digest = hashlib.blake2b(f"{it.kind}\x00{text}".encode(), digest_size=16).digest()
            out.append((digest, keep_score(it, self.config.keep)))
        return out

    def decide(self, signatures: Iterator[tuple[str, Any]], out_dir: Any) -> Iterator[tuple[str, Verdict]]:
        first: dict[bytes, tuple[int, str]] = {}
        clusters = Clusters()
        for idx, (rid, (digest, score)) in enumerate(signatures):
            seen = first.get(digest)
            if seen is None:
                first[digest] = (idx, rid)
                clusters.start(idx, rid, score)
            elif self.config.keep == "first":
                yield rid, Verdict("dropped", "exact_duplicate", {"of": seen[1], "similarity": 1.0}, seen[1])
            else:
                clusters.join(seen[0], idx, rid, score, 1.0)
        yield from clusters.verdicts("exact_duplicate")


class NearConfig(KeepConfig):
    threshold: float = Field(default=0.7, gt=0, le=1, description="estimated Jaccard similarity that makes a pair")
    num_perm: int = Field(default=128, ge=16, le=1024)
    shingle: int = Field(default=3, ge=1, le=32, description="shingle size")
    unit: Literal["word", "char"] = "word"
    backend: Literal["rensa", "datasketch"] = "rensa"
    seed: int = 42


def shingles(text: str, size: int, unit: str) -> list[str]:
    if unit == "char":
        t = _WS.sub(" ", text.lower())
        return [t[i : i + size] for i in range(max(len(t) - size + 1, 1))]
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return [" ".join(words)]
    return [" ".join(words[i : i + size]) for i in range(len(words) - size + 1)]


def lsh_bands(num_perm: int, threshold: float) -> int:
    """Bands whose LSH threshold (1/b)^(1/r) sits a little under ``threshold``: candidates are then
    checked against the estimated similarity, so a low LSH threshold costs time, not precision."""
    target = threshold * 0.85
    best, best_gap = 1, 1.0
    for b in range(1, num_perm + 1):
        if num_perm % b:
            continue
        gap = abs((1 / b) ** (b / num_perm) - target)
        if gap < best_gap:
            best, best_gap = b, gap
    return best


@register_block("near_dedup")
class NearDedup(ClusterBlock):
    """MinHash LSH over word (or character) shingles; candidates verified by estimated Jaccard."""

    Config = NearConfig
    config: NearConfig

    def __init__(self, config: NearConfig) -> None:
        super().__init__(config)
        try:
            if config.backend == "rensa":
                import rensa  # noqa: F401
            else:
                import datasketch  # noqa: F401
        except ImportError:
            raise MissingExtra(config.backend, "curate") from None

    def signature(self, items: list[Item]) -> list[Any]:
        c = self.config
        out: list[Any] = []
        if c.backend == "rensa":
            from rensa import RMinHash

            for it in items:
                m = RMinHash(num_perm=c.num_perm, seed=c.seed)
                m.update(shingles(it.text(), c.shingle, c.unit))
                out.append((m, keep_score(it, c.keep)))
        else:
            from datasketch import MinHash

            for it in items:
                dm = MinHash(num_perm=c.num_perm, seed=c.seed)
                dm.update_batch([s.encode() for s in shingles(it.text(), c.shingle, c.unit)])
                out.append((dm, keep_score(it, c.keep)))
        return out

    def decide(self, signatures: Iterator[tuple[str, Any]], out_dir: Any) -> Iterator[tuple[str, Verdict]]:
        c = self.config
        bands = lsh_bands(c.num_perm, c.threshold)
        lsh: Any
        if c.backend == "rensa":
            from rensa import RMinHashLSH

            lsh = RMinHashLSH(threshold=c.threshold, num_perm=c.num_perm, num_bands=bands)
        else:
            from datasketch import MinHashLSH

            lsh = MinHashLSH(num_perm=c.num_perm, params=(bands, c.num_perm // bands))
        reps: dict[int, Any] = {}
        rep_ids: dict[int, str] = {}
        clusters = Clusters()
        for idx, (rid, (mh, score)) in enumerate(signatures):
            best, best_sim = -1, 0.0
            for cand in lsh.query(mh):
                sim = mh.jaccard(reps[cand])
                if sim >= c.threshold and (sim > best_sim or (sim == best_sim and cand < best)):
                    best, best_sim = cand, sim
            if best < 0:
                lsh.insert(idx, mh)
                reps[idx] = mh
                rep_ids[idx] = rid
                clusters.start(idx, rid, score)
            elif c.keep == "first":
                keeper = rep_ids[best]
                yield (
                    rid,
                    Verdict("dropped", "near_duplicate", {"of": keeper, "similarity": round(best_sim, 4)}, keeper),
                )
            else:
                clusters.join(best, idx, rid, score, best_sim)
        yield from clusters.verdicts("near_duplicate")
