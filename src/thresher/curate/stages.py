"""The work done inside executors: per-record blocks over a batch of lines, and signatures for
cluster blocks. Top-level functions (picklable); blocks are built once per process and cached."""

from __future__ import annotations

from typing import Any

import orjson

from thresher.curate._items import Item
from thresher.curate.blocks.base import Block, ClusterBlock, Verdict, blocks

_CACHE: dict[str, Any] = {}

# A decision as it travels: [block_index, block, record_id, action, reason, cluster, detail]
Decision = list[Any]


def build(spec_json: str) -> Any:
    built = _CACHE.get(spec_json)
    if built is None:
        specs = orjson.loads(spec_json)
        built = []
        for s in specs:
            cls = blocks()[s["name"]]
            built.append((s["index"], cls(cls.Config.model_validate(s["config"]))))
        _CACHE[spec_json] = built
    return built


def record_stage(spec_json: str, lines: list[str]) -> list[tuple[bytes | None, list[Decision]]]:
    """Run the segment's per-record blocks over each line: (the item out or None, its decisions)."""
    chain: list[tuple[int, Block]] = build(spec_json)
    out: list[tuple[bytes | None, list[Decision]]] = []
    for line in lines:
        item = Item.loads(line)
        decisions: list[Decision] = []
        alive = True
        touched = False
        for index, blk in chain:
            if not blk.applies_to(item):
                continue
            touched = touched or blk.annotates
            try:
                v: Verdict = blk.apply(item)
            except Exception as e:  # one bad record must not stop the run: report it, go on
                decisions.append([index, blk.name, item.id, "error", type(e).__name__, None, {"msg": str(e)[:500]}])
                alive = False
                break
            if v.action != "kept":
                decisions.append([index, blk.name, item.id, v.action, v.reason, v.cluster, v.detail or {}])
            if v.action == "dropped":
                alive = False
                break
        if not alive:
            out.append((None, decisions))
        elif decisions or touched:
            out.append((item.dumps(), decisions))
        else:  # untouched: pass the line through as it came
            out.append((line.encode() if isinstance(line, str) else line, decisions))
    return out


def signatures(spec_json: str, lines: list[str]) -> list[tuple[str, Any, str | None]]:
    """A cluster block's signature per line: (record id, signature or None, error or None)."""
    ((_, blk),) = build(spec_json)
    assert isinstance(blk, ClusterBlock)
    items = [Item.loads(line) for line in lines]
    try:
        sigs = blk.signature(items)
        return [(it.id, s, None) for it, s in zip(items, sigs, strict=True)]
    except Exception:
        out: list[tuple[str, Any, str | None]] = []
        for it in items:
            try:
                out.append((it.id, blk.signature([it])[0], None))
            except Exception as e:
                out.append((it.id, None, f"{type(e).__name__}: {str(e)[:300]}"))
        return out
