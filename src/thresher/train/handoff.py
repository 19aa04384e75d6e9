"""Handoff bundles: the training data exported for another tool, with a ready config pointing at it.

A bundle is a folder: ``data/`` (the export and its manifest, plus LLaMA-Factory's
``dataset_info.json`` where that tool needs it), the tool's config, ``README.md`` with the
command to run from inside the folder, and ``handoff.json`` (dataset version, manifest hash,
sha256 of the data, the recipe). Paths in configs are relative to the bundle, so it can be
copied to a GPU machine whole. The trained model comes back as a stage with
``thresher train register`` (a local folder or an OpenAI-compatible endpoint).

| tool | sft | reward | dpo | kto |
| --- | --- | --- | --- | --- |
| axolotl | openai-chat | - | trl-preference, implicit prompt (`argilla_chat`) | trl-unpaired, strings |
| llama-factory | sharegpt | sharegpt-dpo, `stage: rm` | sharegpt-dpo | sharegpt-kto |
| openai | openai-chat, `supervised` | - | openai-preference, `dpo` | - |
| unsloth | trl-prompt-completion, a TRL script | - | trl-preference | trl-unpaired-preference |
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from thresher.errors import ConfigError
from thresher.model import Dataset, DatasetVersion
from thresher.pipeline import export_dataset
from thresher.store import Store
from thresher.train.recipe import Recipe

TOOLS: tuple[str, ...] = ("axolotl", "llama-factory", "openai", "unsloth")

# (tool, method) -> (export format, export option overrides)
_FORMATS: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("axolotl", "sft"): ("openai-chat", {}),
    ("axolotl", "dpo"): ("trl-preference", {"implicit_prompt": True}),
    ("axolotl", "kto"): ("trl-unpaired-preference", {"style": "standard"}),
    ("llama-factory", "sft"): ("sharegpt", {}),
    ("llama-factory", "reward"): ("sharegpt-dpo", {}),
    ("llama-factory", "dpo"): ("sharegpt-dpo", {}),
    ("llama-factory", "kto"): ("sharegpt-kto", {}),
    ("openai", "sft"): ("openai-chat", {}),
    ("openai", "dpo"): ("openai-preference", {}),
    ("unsloth", "sft"): ("trl-prompt-completion", {}),
    ("unsloth", "dpo"): ("trl-preference", {}),
    ("unsloth", "kto"): ("trl-unpaired-preference", {}),
}


@dataclass
class Bundle:
    folder: Path
    tool: str
    config: Path
    data: Path
    command: str
    rows: int


def supported(tool: str) -> list[str]:
    return [m for (t, m) in _FORMATS if t == tool]


def write_handoff(
    store: Store, dataset: Dataset, version: DatasetVersion, recipe: Recipe, tool: str, out: Path
) -> Bundle:
    """Export ``dataset@version`` for ``tool`` into ``out`` with a config that trains ``recipe`` there."""
    if tool not in TOOLS:
        raise ConfigError(f"tool {tool!r}: expected one of {', '.join(TOOLS)}")
    key = (tool, recipe.method)
    if key not in _FORMATS:
        raise ConfigError(f"{tool} handoff has no {recipe.method!r} recipe; it supports: {', '.join(supported(tool))}")
    fmt, overrides = _FORMATS[key]
    options = recipe.export.model_copy(update=overrides)
    out.mkdir(parents=True, exist_ok=True)
    ext = "json" if tool == "llama-factory" else "jsonl"
    data = out / "data" / f"{dataset.name}-{version.name}-{recipe.method}.{ext}"
    result = export_dataset(store, dataset, data, fmt, version=version, options=options)
    if result.rows == 0:
        raise ConfigError(f"{dataset.name}@{version.name} has no {fmt} rows for a {recipe.method} handoff")
    base = _base_model(store, dataset.project, recipe.base)
    rel = data.relative_to(out).as_posix()
    config, command = _WRITERS[tool](out, recipe, base, rel)
    (out / "handoff.json").write_bytes(
        orjson.dumps(
            {
                "tool": tool,
                "method": recipe.method,
                "format": fmt,
                "dataset": f"{dataset.project}/{dataset.name}",
                "version": version.name,
                "manifest_hash": version.manifest_hash,
                "data": rel,
                "sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
                "rows": result.rows,
                "base_model": base,
                "recipe": recipe.model_dump(mode="json"),
            },
            option=orjson.OPT_INDENT_2,
        )
        + b"\n"
    )
    (out / "README.md").write_text(
        f"# {tool} handoff: {recipe.method} on {dataset.name}@{version.name}\n\n"
        f"Data: `{rel}` ({result.rows} rows, format `{fmt}`; manifest beside it, "
        f"version manifest hash `{version.manifest_hash}`).\n\n"
        f"Run from this folder:\n\n```bash\n{command}\n```\n\n"
        "Then bring the model back as a stage so the same eval reports cover it:\n\n"
        "```bash\nthresher train register NAME --path ./output --parent BASE_STAGE   "
        "# or --endpoint URL --model MODEL_ID\n```\n",
        encoding="utf-8",
    )
    return Bundle(folder=out, tool=tool, config=config, data=data, command=command, rows=result.rows)


def _base_model(store: Store, project: str, base: str) -> str:
    stage = store.training.find_stage(project, base)
    if stage is None:
        return base  # a hub id or a path on the machine that trains
    if stage.model_path:
        return stage.model_path
    return stage.endpoint_model or stage.name


def _yaml(path: Path, data: dict[str, Any]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def _axolotl(out: Path, r: Recipe, base: str, data: str) -> tuple[Path, str]:
    t = r.train
    dataset: dict[str, Any] = {"path": data, "ds_type": "json", "split": "train"}
    if r.method == "sft":
        dataset |= {"type": "chat_template", "field_messages": "messages"}
    elif r.method == "dpo":
        dataset |= {"type": "chat_template.argilla_chat"}
    else:  # kto
        dataset |= {
            "type": {
                "field_prompt": "prompt",
                "field_completion": "completion",
                "field_label": "label",
                "prompt_format": "{prompt}",
                "completion_format": "{completion}",
            }
        }
    cfg: dict[str, Any] = {
        "base_model": base,
        "chat_template": "tokenizer_default",
        "datasets": [dataset],
        "dataset_prepared_path": "prepared",
        "output_dir": "./output",
        "sequence_len": t.max_length,
        "sample_packing": False,
        "micro_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "max_steps": t.max_steps,
        "learning_rate": t.learning_rate,
        "lr_scheduler": t.lr_scheduler,
        "warmup_ratio": t.warmup_ratio,
        "weight_decay": t.weight_decay,
        "optimizer": "adamw_torch",
        "logging_steps": t.logging_steps,
        "save_steps": t.save_steps,
        "seed": r.seed,
        "gradient_checkpointing": t.gradient_checkpointing,
    }
    if r.lora:
        cfg |= {
            "adapter": "lora",
            "lora_r": r.lora.r,
            "lora_alpha": r.lora.alpha,
            "lora_dropout": r.lora.dropout,
            "lora_target_linear": r.lora.target_modules == "all-linear",
        }
        if isinstance(r.lora.target_modules, list):
            cfg["lora_target_modules"] = r.lora.target_modules
    if r.method in ("dpo", "kto"):
        cfg |= {"rl": r.method, "rl_beta": (r.dpo if r.method == "dpo" else r.kto).beta}
    if r.method == "kto":
        cfg["remove_unused_columns"] = False
    return _yaml(out / "axolotl.yaml", cfg), "axolotl train axolotl.yaml"


def _llama_factory(out: Path, r: Recipe, base: str, data: str) -> tuple[Path, str]:
    t = r.train
    stage = {"sft": "sft", "reward": "rm", "dpo": "dpo", "kto": "kto"}[r.method]
    cfg: dict[str, Any] = {
        "model_name_or_path": base,
        "stage": stage,
        "do_train": True,
        "finetuning_type": "lora" if r.lora else "full",
        "dataset": Path(data).stem,  # the entry the export wrote into data/dataset_info.json
        "dataset_dir": str(Path(data).parent),
        "template": "default",  # set the base model's chat template here (llama3, qwen, ...)
        "cutoff_len": t.max_length,
        "output_dir": "output",
        "overwrite_output_dir": True,
        "per_device_train_batch_size": t.batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "learning_rate": t.learning_rate,
        "max_steps": t.max_steps,
        "lr_scheduler_type": t.lr_scheduler,
        "warmup_ratio": t.warmup_ratio,
        "logging_steps": t.logging_steps,
        "save_steps": t.save_steps,
        "seed": r.seed,
        "report_to": "none",
    }
    if r.lora:
        target = r.lora.target_modules
        cfg |= {
            "lora_rank": r.lora.r,
            "lora_alpha": r.lora.alpha,
            "lora_dropout": r.lora.dropout,
            "lora_target": "all" if target == "all-linear" else ",".join(target),
        }
    if r.method in ("dpo", "kto"):
        cfg |= {"pref_beta": (r.dpo if r.method == "dpo" else r.kto).beta}
    if r.method == "dpo":
        cfg["pref_loss"] = "sigmoid"
    return _yaml(out / "llamafactory.yaml", cfg), "llamafactory-cli train llamafactory.yaml"


def _openai(out: Path, r: Recipe, base: str, data: str) -> tuple[Path, str]:
    t = r.train
    hyper: dict[str, Any] = {"batch_size": t.batch_size * t.grad_accum}
    method: dict[str, Any] = {"type": "supervised", "supervised": {"hyperparameters": hyper}}
    if r.method == "dpo":
        method = {"type": "dpo", "dpo": {"hyperparameters": hyper | {"beta": r.dpo.beta}}}
    job = {"model": base, "training_file": "FILE_ID", "seed": r.seed, "method": method}
    path = out / "openai-job.json"
    path.write_text(json.dumps(job, indent=2) + "\n", encoding="utf-8")
    command = (
        'FILE_ID=$(curl -s https://api.openai.com/v1/files -H "Authorization: Bearer $OPENAI_API_KEY" '
        f"-F purpose=fine-tune -F file=@{data} | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"id\"])')\n"
        'sed "s/FILE_ID/$FILE_ID/" openai-job.json | curl -s https://api.openai.com/v1/fine_tuning/jobs '
        '-H "Authorization: Bearer $OPENAI_API_KEY" -H "Content-Type: application/json" -d @-'
    )
    return path, command


_UNSLOTH = '''"""Unsloth {method} on {data} (written by `thresher train handoff`). Run: python train_unsloth.py"""

from datasets import load_dataset
from unsloth import FastLanguageModel  # import before trl: unsloth patches it
from trl import {config}, {trainer}

model, tokenizer = FastLanguageModel.from_pretrained(model_name={base!r}, max_seq_length={max_length})
{peft}
dataset = load_dataset("json", data_files={data!r}, split="train")
args = {config}(
    output_dir="output",
    max_steps={max_steps},
    per_device_train_batch_size={batch_size},
    gradient_accumulation_steps={grad_accum},
    learning_rate={learning_rate!r},
    lr_scheduler_type={lr_scheduler!r},
    warmup_ratio={warmup_ratio!r},
    logging_steps={logging_steps},
    save_steps={save_steps},
    seed={seed},
    max_length={max_length},
    report_to="none",{extra}
)
trainer = {trainer}(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
trainer.train()
model.save_pretrained("output")
tokenizer.save_pretrained("output")
'''


def _unsloth(out: Path, r: Recipe, base: str, data: str) -> tuple[Path, str]:
    t = r.train
    names = {"sft": ("SFTConfig", "SFTTrainer"), "dpo": ("DPOConfig", "DPOTrainer"), "kto": ("KTOConfig", "KTOTrainer")}
    config, trainer = names[r.method]
    peft = ""
    if r.lora:
        modules = r.lora.target_modules
        if modules == "all-linear":
            modules = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        peft = (
            f"model = FastLanguageModel.get_peft_model(model, r={r.lora.r}, lora_alpha={r.lora.alpha}, "
            f"lora_dropout={r.lora.dropout!r}, target_modules={modules!r}, random_state={r.seed})\n"
        )
    extra = ""
    if r.method in ("dpo", "kto"):
        extra = f"\n    beta={(r.dpo if r.method == 'dpo' else r.kto).beta!r},"
    text = _UNSLOTH.format(
        method=r.method,
        data=data,
        config=config,
        trainer=trainer,
        base=base,
        peft=peft,
        extra=extra,
        max_steps=t.max_steps,
        batch_size=t.batch_size,
        grad_accum=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler=t.lr_scheduler,
        warmup_ratio=t.warmup_ratio,
        logging_steps=t.logging_steps,
        save_steps=t.save_steps,
        seed=r.seed,
        max_length=t.max_length,
    )
    path = out / "train_unsloth.py"
    path.write_text(text, encoding="utf-8")
    return path, "python train_unsloth.py"


_WRITERS: dict[str, Callable[[Path, Recipe, str, str], tuple[Path, str]]] = {
    "axolotl": _axolotl,
    "llama-factory": _llama_factory,
    "openai": _openai,
    "unsloth": _unsloth,
}
