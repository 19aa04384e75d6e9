"""One TRL trainer per method, built from a recipe. Nothing here knows about the store but the
reward stage an online-RL recipe scores with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thresher.errors import ConfigError
from thresher.store import Store
from thresher.train.models import load_causal_lm, load_reward_model, load_tokenizer, materialize
from thresher.train.recipe import Recipe


def common_args(recipe: Recipe, output_dir: Path) -> dict[str, Any]:
    """TrainingArguments shared by every method (the trainer's own checkpoints go in ``output_dir``)."""
    import torch

    t = recipe.train
    return {
        "bf16": bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported()),
        "gradient_checkpointing": t.gradient_checkpointing,
        "output_dir": str(output_dir),
        "max_steps": t.max_steps,
        "per_device_train_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "learning_rate": t.learning_rate,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_steps": round(t.warmup_ratio * t.max_steps),
        "weight_decay": t.weight_decay,
        "logging_steps": t.logging_steps,
        "save_steps": t.save_steps,
        "save_total_limit": t.save_total_limit,
        "seed": recipe.seed,
        "data_seed": recipe.seed,
        "report_to": "none",
        "dataloader_num_workers": 0,
        "disable_tqdm": True,
    }


def peft_config(recipe: Recipe, task_type: str) -> Any:
    if recipe.lora is None:
        return None
    from peft import LoraConfig

    lora = recipe.lora
    return LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules,
        task_type=task_type,
    )


def build_trainer(store: Store, project: str, recipe: Recipe, base: Path, rows: Any, run_dir: Path) -> Any:
    """The TRL trainer for ``recipe.method``, on ``rows``, starting from the model in ``base``."""
    from transformers import set_seed

    set_seed(recipe.seed)
    base = materialize(base, run_dir)
    tok = load_tokenizer(base)
    args = common_args(recipe, run_dir / "checkpoints")
    t = recipe.train
    if recipe.method == "sft":
        from trl.trainer.sft_config import SFTConfig
        from trl.trainer.sft_trainer import SFTTrainer

        return SFTTrainer(
            model=load_causal_lm(base),
            args=SFTConfig(**args, max_length=t.max_length),
            train_dataset=rows,
            processing_class=tok,
            peft_config=peft_config(recipe, "CAUSAL_LM"),
        )
    if recipe.method == "reward":
        from trl.trainer.reward_config import RewardConfig
        from trl.trainer.reward_trainer import RewardTrainer

        return RewardTrainer(
            model=load_reward_model(base),
            args=RewardConfig(**args, max_length=t.max_length),
            train_dataset=rows,
            processing_class=tok,
            peft_config=peft_config(recipe, "SEQ_CLS"),
        )
    if recipe.method == "dpo":
        from trl.trainer.dpo_config import DPOConfig
        from trl.trainer.dpo_trainer import DPOTrainer

        return DPOTrainer(
            model=load_causal_lm(base),
            args=DPOConfig(**args, beta=recipe.dpo.beta, max_length=t.max_length),
            train_dataset=rows,
            processing_class=tok,
            peft_config=peft_config(recipe, "CAUSAL_LM"),
        )
    if recipe.method == "kto":
        from trl.trainer.kto_config import KTOConfig
        from trl.trainer.kto_trainer import KTOTrainer

        return KTOTrainer(
            model=load_causal_lm(base),
            args=KTOConfig(**args, beta=recipe.kto.beta, max_length=t.max_length),
            train_dataset=rows,
            processing_class=tok,
            peft_config=peft_config(recipe, "CAUSAL_LM"),
        )
    if recipe.method == "rloo":
        from trl.trainer.rloo_config import RLOOConfig
        from trl.trainer.rloo_trainer import RLOOTrainer

        assert recipe.rloo is not None  # Recipe.check
        reward_stage = store.training.get_stage(project, recipe.rloo.reward_stage)
        if reward_stage.kind != "reward" or not reward_stage.model_path:
            raise ConfigError(f"rloo.reward_stage {reward_stage.name!r} is not a local reward-model stage")
        reward_path = Path(reward_stage.model_path)
        rl = recipe.rloo
        return RLOOTrainer(
            model=load_causal_lm(base),
            reward_funcs=load_reward_model(reward_path),
            args=RLOOConfig(
                **args,
                num_generations=rl.num_generations,
                max_completion_length=rl.max_completion_length,
                beta=rl.beta,
                generation_batch_size=max(t.batch_size, rl.num_generations),
            ),
            train_dataset=rows,
            processing_class=tok,
            reward_processing_classes=load_tokenizer(reward_path),
            peft_config=peft_config(recipe, "CAUSAL_LM"),
        )
    raise ConfigError(f"method {recipe.method!r} has no trainer")
