"""Training runs from dataset versions (the optional ``train`` extra: TRL, PEFT, transformers, torch).

``import thresher.train`` loads no training library: they are imported when a run starts.
"""

from thresher.train.handoff import TOOLS, write_handoff
from thresher.train.models import load_causal_lm, load_reward_model, resolve_base
from thresher.train.recipe import Recipe, load_recipe
from thresher.train.runner import Interrupted, RunResult, resume, split_ref, train
from thresher.train.tiny import build_tiny_model

__all__ = [
    "TOOLS",
    "Interrupted",
    "Recipe",
    "RunResult",
    "build_tiny_model",
    "load_causal_lm",
    "load_recipe",
    "load_reward_model",
    "resolve_base",
    "resume",
    "split_ref",
    "train",
    "write_handoff",
]
