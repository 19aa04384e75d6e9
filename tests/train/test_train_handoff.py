"""Handoff bundles: for each tool and method, a config that parses and points at exported files that
read back as the rows they claim to be; external models come back as stages."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import orjson
import pytest
import yaml
from train_support import PROJECT

from thresher.errors import ConfigError
from thresher.pipeline import import_file
from thresher.store import Store
from thresher.train import load_recipe, write_handoff
from thresher.train.handoff import _FORMATS

CASES = sorted(_FORMATS)
DATASETS = {"sft": "sft", "reward": "prefs", "dpo": "prefs", "kto": "kto"}


@pytest.mark.parametrize(("tool", "method"), CASES, ids=[f"{t}-{m}" for t, m in CASES])
def test_bundle_config_points_at_rows_that_read_back(lab: Store, tmp_path: Path, tool: str, method: str) -> None:
    ds = lab.get_dataset(PROJECT, DATASETS[method])
    version = lab.get_version(ds, "v1")
    recipe = load_recipe({"method": method, "base": "Qwen/Qwen2.5-0.5B-Instruct", "lora": {"r": 4}})
    bundle = write_handoff(lab, ds, version, recipe, tool, tmp_path / "bundle")

    info = json.loads((bundle.folder / "handoff.json").read_text())
    assert info["manifest_hash"] == version.manifest_hash and info["rows"] == bundle.rows > 0
    text = bundle.config.read_text()
    if tool == "axolotl":
        cfg = yaml.safe_load(text)
        assert (bundle.folder / cfg["datasets"][0]["path"]).is_file()
        assert cfg["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct" and cfg["adapter"] == "lora"
        assert cfg.get("rl") == (method if method != "sft" else None)
    elif tool == "llama-factory":
        cfg = yaml.safe_load(text)
        entries = json.loads((bundle.folder / cfg["dataset_dir"] / "dataset_info.json").read_text())
        entry = entries[cfg["dataset"]]
        assert (bundle.folder / cfg["dataset_dir"] / entry["file_name"]).is_file()
        assert cfg["stage"] == {"sft": "sft", "reward": "rm", "dpo": "dpo", "kto": "kto"}[method]
        assert entry.get("ranking", False) == (method in ("reward", "dpo"))
    elif tool == "openai":
        job = json.loads(text)
        assert job["method"]["type"] == {"sft": "supervised", "dpo": "dpo"}[method]
        assert f"file=@{info['data']}" in bundle.command
    else:
        ast.parse(text)
        assert repr(info["data"]) in text

    # The exported rows read back through Thresher's own reader of that format, all of them.
    again = lab.ensure_dataset(PROJECT, f"back-{tool}-{method}")
    result = import_file(lab, again, bundle.data, fmt=info["format"])
    assert result.added == len(set(orjson.dumps(r) for r in _rows(bundle.data)))


def _rows(path: Path) -> list[object]:
    if path.suffix == ".json":
        rows: list[object] = json.loads(path.read_text())
        return rows
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_unsupported_pairs_say_what_is_supported(lab: Store, tmp_path: Path) -> None:
    ds = lab.get_dataset(PROJECT, "prefs")
    recipe = load_recipe({"method": "reward", "base": "m"})
    with pytest.raises(ConfigError, match="supports: sft, dpo"):
        write_handoff(lab, ds, lab.get_version(ds, "v1"), recipe, "openai", tmp_path / "b")


def test_external_models_register_as_stages(lab: Store, tiny_model: Path) -> None:
    lab.training.create_stage(PROJECT, "base", "base", model_path=str(tiny_model))
    lab.training.create_stage(
        PROJECT, "ft-openai", "external", parent="base", endpoint="http://localhost:9/v1", endpoint_model="ft:m:1"
    )
    lab.training.create_stage(PROJECT, "ft-axolotl", "external", parent="ft-openai", model_path="/models/out")
    assert [s.name for s in lab.training.lineage(PROJECT, "ft-axolotl")] == ["ft-axolotl", "ft-openai", "base"]
    assert lab.training.get_stage(PROJECT, "ft-openai").endpoint_model == "ft:m:1"
    with pytest.raises(ConfigError, match="endpoint"):
        from thresher.train import resolve_base

        resolve_base(lab, PROJECT, "ft-openai")
