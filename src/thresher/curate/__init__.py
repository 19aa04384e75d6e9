"""Curation: pipelines of blocks (validate, Unicode repair, exact / near / semantic dedup, quality,
language, PII, contamination, stats) and triage rules that route records to work and evals."""

from thresher.curate.blocks.base import (
    KEEP,
    Block,
    BlockConfig,
    ClusterBlock,
    Counters,
    Verdict,
    blocks,
    changed,
    drop,
    flagged,
    register_block,
)
from thresher.curate.runner import BlocksResult, RunResult, run_blocks, run_pipeline
from thresher.curate.spec import BlockSpec, InputSpec, OutputSpec, PipelineSpec, block, load_pipeline, parse_pipeline

__all__ = [
    "KEEP",
    "Block",
    "BlockConfig",
    "BlockSpec",
    "BlocksResult",
    "ClusterBlock",
    "Counters",
    "InputSpec",
    "OutputSpec",
    "PipelineSpec",
    "RunResult",
    "Verdict",
    "block",
    "blocks",
    "changed",
    "drop",
    "flagged",
    "load_pipeline",
    "parse_pipeline",
    "register_block",
    "run_blocks",
    "run_pipeline",
]
