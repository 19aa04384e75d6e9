"""SFT LoRA throughput through Thresher's runner against the same TRL trainer called directly.

    .venv/bin/python benchmarks/train.py            # 5 rounds of 60 steps each, interleaved
    .venv/bin/python benchmarks/train.py --quick    # 1 round of 20 steps

Both sides train the same tiny Llama (built offline here) with the same LoRA settings, seed and
batches on the same rows: Thresher exports a dataset version and runs `thresher.train.train`;
the direct side loads the exported JSONL with `datasets` and calls `SFTTrainer` itself. Figures:

  step tokens/s   tokens trained / wall time of the optimizer loop (train begin -> train end)
  step tok/CPU-s  tokens trained / CPU time of this process over the same loop: far less
                  sensitive than wall time to other work on a shared machine
  end-to-end      tokens trained / wall time of the whole call: Thresher's includes the export,
                  the run record, the loss-curve writes and the stage registration; the direct
                  side's includes loading the rows and building the trainer
Ratios are Thresher / direct (goal >= 0.9), taken per round (the two sides back to back, so they
share the machine's load at that moment), then the median; rounds alternate which side goes first.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from thresher.pipeline import import_file
from thresher.store import Store
from thresher.train import build_tiny_model, load_recipe, train

WORDS = [
    *("red", "blue", "green", "cat", "dog", "sun", "moon", "tree"),
    *("fish", "bird", "stone", "river", "cloud", "lamp", "door", "key"),
]


def rows(n: int) -> list[dict[str, Any]]:
    rng = random.Random(0)
    out = []
    for _ in range(n):
        words = rng.sample(WORDS, rng.randint(3, 8))
        out.append(
            {
                "prompt": [{"role": "user", "content": "repeat: " + " ".join(words)}],
                "completion": [{"role": "assistant", "content": " ".join(words)}],
            }
        )
    return out


RECIPE: dict[str, Any] = {
    "method": "sft",
    "seed": 0,
    "lora": {"r": 16, "alpha": 32},
    "train": {"batch_size": 16, "learning_rate": 1e-3, "logging_steps": 10, "save_steps": 10_000, "max_length": 128},
}


def timer() -> Any:
    """A callback timing the optimizer loop, wall and process CPU, the same way on both sides."""
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        def __init__(self) -> None:
            self.wall = self.cpu = 0.0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.wall, self.cpu = -time.perf_counter(), -time.process_time()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.wall += time.perf_counter()
            self.cpu += time.process_time()

    return Timer()


def direct(base: Path, data: Path, out: Path, steps: int) -> dict[str, Any]:
    """The same SFT LoRA run with TRL called directly."""
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    t0 = time.perf_counter()
    set_seed(0)
    ds = load_dataset("json", data_files=str(data), split="train", cache_dir=str(out / "cache"))
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base))
    t = RECIPE["train"]
    args = SFTConfig(
        output_dir=str(out / "checkpoints"),
        max_steps=steps,
        per_device_train_batch_size=t["batch_size"],
        learning_rate=t["learning_rate"],
        logging_steps=t["logging_steps"],
        save_steps=t["save_steps"],
        max_length=t["max_length"],
        seed=0,
        data_seed=0,
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=True,
        bf16=False,
        gradient_checkpointing=False,
    )
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    clock = timer()
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=lora, callbacks=[clock]
    )
    trainer.train()
    trainer.save_model(str(out / "model"))
    wall = time.perf_counter() - t0
    tokens = float([h for h in trainer.state.log_history if "num_tokens" in h][-1]["num_tokens"])
    return {"tokens": tokens, "runtime": clock.wall, "cpu": clock.cpu, "wall": wall}


def through_thresher(store: Store, base: Path, runs: Path, steps: int, n: int) -> dict[str, Any]:
    recipe = load_recipe(
        {**RECIPE, "base": str(base), "stage": f"bench-{n}", "train": {**RECIPE["train"], "max_steps": steps}}
    )
    clock = timer()
    t0 = time.perf_counter()
    result = train(store, "bench", recipe, runs, dataset="copy@v1", callbacks=[clock])
    wall = time.perf_counter() - t0
    tokens = float(result.run.metrics["num_tokens"])
    return {"tokens": tokens, "runtime": clock.wall, "cpu": clock.cpu, "wall": wall, "run": result.run.id}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: CPU time is cleanest)")
    a = ap.parse_args()
    rounds = a.rounds or (1 if a.quick else 5)
    steps = a.steps or (20 if a.quick else 60)
    import torch

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="thresher-bench-train-") as tmp:
        root = Path(tmp)
        data = rows(2000)
        src = root / "copy.jsonl"
        src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in data))
        texts = [r["prompt"][0]["content"] for r in data[:500]]
        base = build_tiny_model(root / "base", texts, vocab_size=400, hidden=128, layers=4, heads=4)
        store = Store.open(root / "home")
        store.create_project("bench")
        ds = store.create_dataset("bench", "copy")
        import_file(store, ds, src, fmt="trl-prompt-completion")
        store.create_version(ds, "v1")
        thr: list[dict[str, Any]] = []
        dir_: list[dict[str, Any]] = []
        for i in range(rounds):
            first_thresher = i % 2 == 0
            for side in ("thresher", "direct") if first_thresher else ("direct", "thresher"):
                if side == "thresher":
                    thr.append(through_thresher(store, base, root / "runs", steps, i))
                else:
                    exported = root / "runs" / str(thr[-1]["run"]) / "data" / "train.jsonl" if thr else None
                    if exported is None:  # direct went first this round: export once for it
                        from thresher.pipeline import export_dataset

                        exported = root / "direct-data" / "train.jsonl"
                        export_dataset(
                            store, ds, exported, "trl-prompt-completion", version=store.get_version(ds, "v1")
                        )
                    dir_.append(direct(base, exported, root / f"direct-{i}", steps))
        store.close()

    def rate(results: list[dict[str, Any]], key: str) -> float:
        return float(statistics.median(r["tokens"] / r[key] for r in results))

    def ratios(key: str) -> list[float]:  # per round: the two sides ran back to back on the same load
        return sorted((t["tokens"] / t[key]) / (d["tokens"] / d[key]) for t, d in zip(thr, dir_, strict=True))

    print(
        f"# train benchmark: {platform.processor() or platform.machine()}, python {sys.version.split()[0]}, "
        f"torch threads {torch.get_num_threads()}, {rounds} round(s) x {steps} steps, batch 16, LoRA r=16"
    )
    print(f"tokens per run: {thr[0]['tokens']:.0f} (thresher) {dir_[0]['tokens']:.0f} (direct)")
    for key, label in (("runtime", "step tokens/s"), ("cpu", "step tok/CPU-s"), ("wall", "end-to-end tokens/s")):
        t, d, r = rate(thr, key), rate(dir_, key), ratios(key)
        print(
            f"{label:<20} thresher {t:>7.0f}  direct TRL {d:>7.0f}  ratio (median of rounds) "
            f"{statistics.median(r):.3f}  [min {r[0]:.3f}, max {r[-1]:.3f}]"
        )


if __name__ == "__main__":
    main()
