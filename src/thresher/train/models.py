"""Finding and loading models: a stage name or a local folder; a full model or a LoRA adapter.

A stage trained with LoRA is an adapter folder (``adapter_config.json``); a later stage that
starts from it (SFT -> DPO) gets the adapter merged into its base, written once into the new
run's folder, so every trainer starts from an ordinary model folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thresher.errors import ConfigError
from thresher.store import Store
from thresher.store.training import Stage

ADAPTER_CONFIG = "adapter_config.json"


def resolve_base(store: Store, project: str, base: str) -> tuple[Path, Stage | None]:
    """A stage of ``project`` or a local model folder -> (folder, its stage if it has one).

    A folder that is no stage yet is registered as a ``base`` stage (named after the folder),
    so every trained stage has a parent and reports can walk the chain.
    """
    stage = store.training.find_stage(project, base)
    if stage is not None:
        if not stage.model_path:
            raise ConfigError(f"stage {base!r} is an endpoint ({stage.endpoint}): it cannot be trained locally")
        return Path(stage.model_path), stage
    path = Path(base).expanduser()
    if not (path / "config.json").is_file() and not (path / ADAPTER_CONFIG).is_file():
        raise ConfigError(f"base {base!r} is neither a stage of project {project!r} nor a folder holding a model")
    path = path.resolve()
    for s in store.training.list_stages(project):
        if s.model_path and Path(s.model_path) == path:
            return path, s
    name, n = path.name or "base", 1
    while store.training.find_stage(project, name) is not None:
        n += 1
        name = f"{path.name}-{n}"
    return path, store.training.create_stage(project, name, "base", model_path=str(path))


def is_adapter(path: Path) -> bool:
    return (path / ADAPTER_CONFIG).is_file()


def load_tokenizer(path: Path) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def materialize(path: Path, work_dir: Path) -> Path:
    """A full model folder for ``path``: itself, or its adapter merged into its base (in ``work_dir``)."""
    if not is_adapter(path):
        return path
    merged = work_dir / "base-merged"
    if (merged / "config.json").is_file():
        return merged
    model = load_causal_lm(path)
    model.save_pretrained(str(merged))
    load_tokenizer(path).save_pretrained(str(merged))
    return merged


def load_causal_lm(path: Path) -> Any:
    """A causal LM from a model folder or an adapter folder (merged into its base)."""
    if is_adapter(path):
        from peft import AutoPeftModelForCausalLM

        return AutoPeftModelForCausalLM.from_pretrained(str(path)).merge_and_unload()
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path))


def load_reward_model(path: Path) -> Any:
    """A one-logit sequence classifier (a reward model), from a full or an adapter folder."""
    if is_adapter(path):
        from peft import AutoPeftModelForSequenceClassification

        model = AutoPeftModelForSequenceClassification.from_pretrained(str(path), num_labels=1).merge_and_unload()
    else:
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=1)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = load_tokenizer(path).pad_token_id
    return model
