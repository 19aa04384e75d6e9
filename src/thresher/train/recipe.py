"""Training recipes: what to train, from which model, with which settings. Loaded from YAML.

A recipe is a pydantic model with ``extra="forbid"``, so a typo fails at load time, and every
run stores the recipe it ran (``TrainingRun.recipe``), so a run can be rebuilt from its record.

```yaml
method: sft              # sft | reward | dpo | kto | rloo   (ppo: see METHOD_NOTES)
base: base               # a stage of the project, or a local folder holding a HF model
stage: sft-v1            # register the trained model as this stage (default: <method>-<run id>)
seed: 0
lora: {r: 8, alpha: 16}  # omit for full fine-tuning
train: {max_steps: 60, batch_size: 8, learning_rate: 2.0e-4}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thresher.errors import ConfigError
from thresher.formats import ExportOptions

Method = Literal["sft", "reward", "dpo", "kto", "rloo", "ppo"]

# The export format each method reads: the training data is exactly what `thresher export` writes.
METHOD_FORMATS: dict[str, str] = {
    "sft": "trl-prompt-completion",
    "reward": "trl-preference",
    "dpo": "trl-preference",
    "kto": "trl-unpaired-preference",
    "rloo": "trl-prompt-completion",  # the prompts; completions are generated and scored online
    "ppo": "trl-prompt-completion",
}

METHOD_NOTES = {
    "ppo": (
        "TRL 1.x has no PPOTrainer (it was removed after 0.2x); use `method: rloo`, TRL's online RL "
        "trainer that scores its samples with a trained reward model (`rloo.reward_stage`)"
    ),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoraSpec(_Strict):
    """PEFT LoRA adapters (QLoRA-style quantisation needs a GPU and is not offered on CPU)."""

    r: int = Field(default=8, ge=1)
    alpha: int = Field(default=16, ge=1)
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class TrainSpec(_Strict):
    max_steps: int = Field(default=100, ge=1)
    batch_size: int = Field(default=8, ge=1)
    grad_accum: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=2e-4, gt=0)
    lr_scheduler: str = "linear"
    warmup_ratio: float = Field(default=0.0, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    max_length: int = Field(default=512, ge=8)
    logging_steps: int = Field(default=5, ge=1)
    save_steps: int = Field(default=50, ge=1)
    save_total_limit: int | None = Field(default=2, ge=1)
    gradient_checkpointing: bool = False  # trades compute for memory: worth it on large models only


class PreferenceSpec(_Strict):
    beta: float = Field(default=0.1, gt=0)


class RlooSpec(_Strict):
    reward_stage: str = Field(description="a stage of kind `reward` (a sequence-classification model)")
    num_generations: int = Field(default=4, ge=2)
    max_completion_length: int = Field(default=16, ge=1)
    beta: float = Field(default=0.05, ge=0)


class Recipe(_Strict):
    method: Method
    base: str = Field(description="a stage of the project, or a local folder holding a Hugging Face model")
    stage: str | None = Field(default=None, description="register the trained model as this stage")
    dataset: str | None = Field(default=None, description="`dataset@version` (or `project/dataset@version`)")
    seed: int = 0
    lora: LoraSpec | None = None
    train: TrainSpec = Field(default_factory=TrainSpec)
    dpo: PreferenceSpec = Field(default_factory=PreferenceSpec)
    kto: PreferenceSpec = Field(default_factory=PreferenceSpec)
    rloo: RlooSpec | None = None
    export: ExportOptions = Field(default_factory=ExportOptions)

    @property
    def format(self) -> str:
        return METHOD_FORMATS[self.method]

    def check(self) -> None:
        """Errors a schema cannot express: an unsupported method, a missing section."""
        if self.method in METHOD_NOTES:
            raise ConfigError(f"method {self.method!r}: {METHOD_NOTES[self.method]}")
        if self.method == "rloo" and self.rloo is None:
            raise ConfigError("method 'rloo' needs an `rloo:` section naming the reward stage (`reward_stage`)")
        if self.export.style != "conversational":
            raise ConfigError("recipes train on conversational rows (export.style: conversational)")


def load_recipe(source: Path | str | dict[str, Any], **overrides: Any) -> Recipe:
    """A recipe from a YAML file, YAML text or a dict; ``overrides`` (not None) replace top-level keys."""
    import yaml

    where = "recipe"
    if isinstance(source, Path):
        where = str(source)
        try:
            data: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"{source}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{source}: not YAML: {e}") from None
    elif isinstance(source, str):
        data = yaml.safe_load(source)
    else:
        data = dict(source)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of recipe fields")
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {loc}: {first['msg']} ({e.error_count()} error(s))") from None
    recipe.check()
    return recipe


def dump_recipe(recipe: Recipe) -> str:
    import yaml

    text: str = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
    return text
