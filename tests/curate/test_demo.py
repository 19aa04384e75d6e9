"""The curation part of `make demo`: the shipped pipeline and rules over the demo data."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from thresher.cli._demo import FILES, QUESTIONS
from thresher.curate.demo import run_demo_curation
from thresher.pipeline import import_file
from thresher.store import Store


def test_demo_curation_writes_a_report_and_routes_work(sqlite_store: Store, tmp_path: Path) -> None:
    s = sqlite_store
    s.create_project("demo")
    ds = s.create_dataset("demo", "assistant", questions=QUESTIONS)
    for name, _ in FILES:
        import_file(s, ds, Path(str(files("thresher.demo_data").joinpath(name))))
    report = run_demo_curation(s, "demo", tmp_path / "out")
    assert report.is_file() and "<svg" in report.read_text()
    names = {d.name for d in s.list_datasets("demo")}
    assert {"assistant-curated", "agent-sft-fixes", "evals-model-steps", "evals-system", "rewrites"} <= names
    curated = s.get_dataset("demo", "assistant-curated")
    assert s.list_versions(curated)[0].record_count == s.count_records(curated) > 0


def test_cli_pairs_with_lineage(sqlite_store: Store, tmp_path: Path) -> None:
    import orjson
    from typer.testing import CliRunner

    from thresher.cli import app
    from thresher.cli._context import write_home

    s = sqlite_store
    s.create_project("demo")
    ds = s.create_dataset("demo", "assistant", questions=QUESTIONS)
    import_file(s, ds, Path(str(files("thresher.demo_data").joinpath("comparisons.thresher.jsonl"))))
    write_home(tmp_path / "home", "demo", None)
    out = tmp_path / "rm.jsonl"
    args = ["curate", "pairs", "assistant", "-o", str(out), "--kind", "reward", "--weight", "helpfulness=1"]
    r = CliRunner().invoke(app, [*args, "--home", str(tmp_path / "home")])
    assert r.exit_code == 0, r.output
    rows = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert rows and all(row["lineage"][0] and len(row["lineage"]) >= 2 for row in rows)
