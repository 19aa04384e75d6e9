"""`thresher train ...` as a user runs it: a tiny base from the data, a run, the listing, a stage
registered from elsewhere, a handoff bundle, and errors that say what to do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from train_support import copy_rows, write_jsonl
from typer.testing import CliRunner

from thresher.cli import app

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def test_train_commands_end_to_end(tmp_path: Path) -> None:
    home = tmp_path / "home"
    h = ("--home", str(home))
    run("init", str(home), "--project", "acme")
    data = write_jsonl(tmp_path / "copy.jsonl", copy_rows(48, 5))
    run("import", str(data), "-d", "copy", "--format", "trl-prompt-completion", *h)
    run("version", "create", "copy", "v1", *h)

    out = run("train", "tiny-base", str(tmp_path / "tiny"), "--dataset", "copy@v1", *h)
    assert "stage base" in out and (tmp_path / "tiny" / "config.json").is_file()

    recipe = tmp_path / "sft.yaml"
    recipe.write_text(
        "method: sft\nbase: base\nlora: {r: 4, alpha: 8}\n"
        "train: {max_steps: 6, batch_size: 8, learning_rate: 0.003, logging_steps: 2}\n"
    )
    out = run("train", "run", str(recipe), "--dataset", "copy@v1", "--stage", "sft-v1", *h)
    assert "sft on acme/copy@v1" in out and "6 steps" in out and "stage sft-v1 <- base" in out

    out = run("train", "list", *h)
    assert "sft lora" in out and "acme/copy@v1" in out and "done" in out
    assert "sft-v1" in out and "base" in out

    out = run(
        "train",
        "register",
        "ft-gpt",
        "--endpoint",
        "http://127.0.0.1:9/v1",
        "--model",
        "ft:x",
        "--parent",
        "sft-v1",
        *h,
    )
    assert "ft-gpt (external) <- sft-v1" in out
    bad = runner.invoke(app, ["train", "register", "bad", *h])
    assert bad.exit_code == 1 and "exactly one of --path FOLDER or --endpoint URL" in str(bad.exception)

    out = run(
        "train",
        "handoff",
        str(recipe),
        "--tool",
        "llama-factory",
        "--dataset",
        "copy@v1",
        "-o",
        str(tmp_path / "b"),
        *h,
    )
    assert "llamafactory-cli train llamafactory.yaml" in out
    assert (tmp_path / "b" / "llamafactory.yaml").is_file() and (
        tmp_path / "b" / "data" / "dataset_info.json"
    ).is_file()


def test_train_errors_name_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("init", str(home))
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("method: ppo\nbase: base\n")
    done = subprocess.run(
        [sys.executable, "-c", "from thresher.cli import main; main()", "train", "run", str(recipe), "-d", "x@v1",
         "--home", str(home)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 1 and "PPOTrainer" in done.stderr and "rloo" in done.stderr, done.stderr
