"""The Ray Data executor runs the same pipeline with the same result (a local Ray instance)."""

from __future__ import annotations

from pathlib import Path

import pytest

from thresher.curate import block, run_blocks
from thresher.curate._items import Item
from thresher.curate.executor import InlineExecutor

from .test_pipeline import docs

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> object:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_matches_inline(local_ray: object, tmp_path: Path) -> None:
    from thresher.pipeline.executors.ray import RayExecutor

    src = tmp_path / "input.jsonl"
    src.write_bytes(
        b"".join(Item(id=f"r{i}", kind="text", content={"text": t}).dumps() + b"\n" for i, t in enumerate(docs()))
    )
    specs = [block("validate"), block("exact_dedup"), block("near_dedup", threshold=0.6), block("pii")]
    a = run_blocks(specs, src, tmp_path / "inline", InlineExecutor(), batch_size=16)
    b = run_blocks(specs, src, tmp_path / "ray", RayExecutor(), batch_size=16)
    assert a.blocks == b.blocks
    assert a.output.read_bytes() == b.output.read_bytes()
    assert [p.read_bytes() for p in a.decision_files] == [p.read_bytes() for p in b.decision_files]
    assert a.records_out == 61
