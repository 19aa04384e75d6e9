"""Generate and select: candidate responses from models (comparisons ready for ranking, or
suggestions), templated synthetic data, and frontier selection of the prompts a model cannot yet
do, queued for experts. Built on ``thresher.evals``: its adapters, response cache and runner
helpers."""

from thresher.generate._calls import ModelChoice, ModelSpec
from thresher.generate.candidates import (
    CandidateOptions,
    GenerateResult,
    agenerate_candidates,
    generate_candidates,
    prompt_messages,
)
from thresher.generate.frontier import (
    IDEAL_RESPONSE,
    FrontierOptions,
    FrontierResult,
    aselect_frontier,
    expert_dataset,
    select_frontier,
)
from thresher.generate.synthetic import (
    INSTRUCT_TASK_TYPES,
    SyntheticSpec,
    Template,
    agenerate_synthetic,
    generate_synthetic,
    load_template,
    templates,
)

__all__ = [
    "IDEAL_RESPONSE",
    "INSTRUCT_TASK_TYPES",
    "CandidateOptions",
    "FrontierOptions",
    "FrontierResult",
    "GenerateResult",
    "ModelChoice",
    "ModelSpec",
    "SyntheticSpec",
    "Template",
    "agenerate_candidates",
    "agenerate_synthetic",
    "aselect_frontier",
    "expert_dataset",
    "generate_candidates",
    "generate_synthetic",
    "load_template",
    "prompt_messages",
    "select_frontier",
    "templates",
]
