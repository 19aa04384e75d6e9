"""Training runs on a tiny model, on CPU, a few steps each: the loss falls, the artifacts load back,
the run points at the exact dataset version, and stages chain base -> sft -> dpo / reward -> rl."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import torch
from train_support import PROJECT

from thresher.errors import ConfigError
from thresher.store import Store
from thresher.train import Interrupted, load_causal_lm, load_recipe, load_reward_model, resume, train
from thresher.train.models import load_tokenizer


def recipe(method: str, base: str | Path, **extra: Any) -> Any:
    steps = extra.pop("steps", 16)
    lr = extra.pop("lr", 3e-3)
    data = {
        "method": method,
        "base": str(base),
        "seed": 0,
        "train": {"max_steps": steps, "batch_size": 8, "learning_rate": lr, "logging_steps": 2, "save_steps": 100},
        **extra,
    }
    return load_recipe(data)


def falls(run: Any) -> bool:
    losses = [p["loss"] for p in run.loss_curve]
    assert len(losses) >= 3, run.loss_curve
    return sum(losses[-2:]) / 2 < sum(losses[:2]) / 2


def test_sft_full_records_lineage_and_loads_back(lab: Store, tiny_model: Path, tmp_path: Path) -> None:
    result = train(lab, PROJECT, recipe("sft", tiny_model, stage="sft-full"), tmp_path / "runs", dataset="sft@v1")
    run = lab.training.get_run(result.run.id)
    assert run.status == "done" and run.step == 16
    assert falls(run)
    version = lab.get_version(lab.get_dataset(PROJECT, "sft"), "v1")
    assert (run.dataset, run.version, run.version_id) == (f"{PROJECT}/sft", "v1", version.id)
    assert run.manifest_hash == version.manifest_hash
    data = Path(run.output_path) / "data" / "train.jsonl"
    assert run.export_sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert (data.parent / "train.jsonl.manifest.json").is_file()
    assert {"torch", "transformers", "trl", "peft"} <= set(run.libraries)
    assert run.recipe["method"] == "sft" and run.seed == 0

    stage = lab.training.get_stage(PROJECT, "sft-full")
    assert stage.kind == "sft" and stage.run_id == run.id and stage.parent == "tiny-llama"
    assert lab.training.get_stage(PROJECT, "tiny-llama").kind == "base"

    model = load_causal_lm(Path(stage.model_path or ""))
    tok = load_tokenizer(Path(stage.model_path or ""))
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "repeat: red cat sun"}], add_generation_prompt=True, return_tensors="pt"
    )
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    out = model.generate(ids, max_new_tokens=6, do_sample=False)
    assert out.shape[1] > ids.shape[1]


def test_lora_sft_then_dpo_chain(lab: Store, tiny_model: Path, tmp_path: Path) -> None:
    lora = {"r": 8, "alpha": 16}
    sft = train(lab, PROJECT, recipe("sft", tiny_model, stage="sft", lora=lora), tmp_path / "runs", dataset="sft@v1")
    adapter = Path(sft.stage.model_path or "") if sft.stage else Path()
    assert (adapter / "adapter_config.json").is_file()
    assert falls(lab.training.get_run(sft.run.id))

    dpo = train(lab, PROJECT, recipe("dpo", "sft", stage="dpo", lora=lora), tmp_path / "runs", dataset="prefs@v1")
    run = lab.training.get_run(dpo.run.id)
    assert run.base_stage == "sft" and run.status == "done"
    assert falls(run)
    assert run.loss_curve[0]["loss"] == pytest.approx(0.693, abs=0.05)  # DPO starts at log 2
    assert [s.name for s in lab.training.lineage(PROJECT, "dpo")] == ["dpo", "sft", "tiny-llama"]
    assert load_causal_lm(Path(run.output_path) / "model") is not None


def test_reward_model_then_online_rl(lab: Store, tiny_model: Path, tmp_path: Path) -> None:
    rm = train(lab, PROJECT, recipe("reward", tiny_model, stage="rm", steps=20), tmp_path / "runs", dataset="prefs@v1")
    run = lab.training.get_run(rm.run.id)
    assert falls(run)
    model = load_reward_model(Path(run.output_path) / "model")
    tok = load_tokenizer(Path(run.output_path) / "model")

    def score(answer: str) -> float:
        chat = [{"role": "user", "content": "repeat: red cat sun"}, {"role": "assistant", "content": answer}]
        ids = tok.apply_chat_template(chat, return_tensors="pt", return_dict=True)
        with torch.no_grad():
            return float(model(**ids).logits[0, 0])

    assert score("red cat sun") > score("sun cat red dog")

    rl = recipe("rloo", tiny_model, stage="rl", steps=2, rloo={"reward_stage": "rm", "num_generations": 2})
    rl.train.batch_size = 2
    out = train(lab, PROJECT, rl, tmp_path / "runs", dataset="sft@v1")
    assert out.stage is not None and out.stage.kind == "ppo" and out.run.step == 2


def test_kto(lab: Store, tiny_model: Path, tmp_path: Path) -> None:
    out = train(lab, PROJECT, recipe("kto", tiny_model, stage="kto", steps=20), tmp_path / "runs", dataset="kto@v1")
    run = lab.training.get_run(out.run.id)
    assert run.status == "done" and falls(run)


def test_interrupted_run_resumes_from_its_checkpoint(lab: Store, tiny_model: Path, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):  # type: ignore[misc]
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step == 7:
                raise Interrupted("power cut")

    class FirstStep(TrainerCallback):  # type: ignore[misc]
        began_at: int | None = None

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.began_at is None:
                self.began_at = state.global_step

    r = recipe("sft", tiny_model, stage="resumed", steps=10)
    r.train.save_steps = 5
    with pytest.raises(Interrupted):
        train(lab, PROJECT, r, tmp_path / "runs", dataset="sft@v1", callbacks=[StopAt()])
    (run,) = lab.training.list_runs(PROJECT)
    assert run.status == "interrupted" and run.checkpoint and run.checkpoint.endswith("checkpoint-5")
    assert lab.training.find_stage(PROJECT, "resumed") is None

    first = FirstStep()
    out = resume(lab, run.id, callbacks=[first])
    assert first.began_at == 5  # continued from the checkpoint, not from zero
    done = lab.training.get_run(run.id)
    assert done.status == "done" and done.step == 10
    steps = [p["step"] for p in done.loss_curve]
    assert steps == sorted(set(steps)) and steps[-1] == 10
    assert out.stage is not None and out.stage.name == "resumed"
    with pytest.raises(ConfigError, match="already done"):
        resume(lab, run.id)


def test_recipes_fail_at_load_time(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="rloo"):
        load_recipe({"method": "ppo", "base": "x"})
    with pytest.raises(ConfigError, match=r"train\.max_stepz"):
        load_recipe({"method": "sft", "base": "x", "train": {"max_stepz": 3}})
    path = tmp_path / "r.yaml"
    path.write_text("method: dpo\nbase: base\ndpo: {beta: 0.2}\nlora: {r: 4}\n")
    r = load_recipe(path, dataset="prefs@v1")
    assert (r.dpo.beta, r.lora and r.lora.r, r.dataset, r.format) == (0.2, 4, "prefs@v1", "trl-preference")


def test_training_needs_a_version_and_fitting_rows(lab: Store, tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dataset@version"):
        train(lab, PROJECT, recipe("sft", tiny_model), tmp_path / "runs", dataset="sft")
    with pytest.raises(ConfigError, match="no trl-preference rows"):
        train(lab, PROJECT, recipe("dpo", tiny_model), tmp_path / "runs", dataset="sft@v1")
