"""`thresher eval` as a user runs it against their own OpenAI-compatible endpoint; the stage report; the demo."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from thresher.cli import app
from thresher.evals.demo import run_demo_evals
from thresher.evals.fake_server import FakeModelServer
from thresher.store import Store

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_eval_run_compare_report_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run("init", str(home))
    with FakeModelServer() as srv:
        out = run("eval", "run", "--suite", "gsm8k-mini", "--model", f"openai:{srv.url}#base", "--home", str(home))
        assert "gsm8k-mini@v1 x base" in out and "20 items, 0 errors" in out and "20 calls" in out
        run_a = re.search(r"run (\w+):", out).group(1)  # type: ignore[union-attr]
        out = run(
            "eval", "run", "-s", "gsm8k-mini", "-m", f"openai:{srv.url}#base", "--home", str(home),
            "--stage", "sft", "--trained-on", "sft@v1", "-p", "temperature=0.5",
        )  # fmt: skip
        run_b = re.search(r"run (\w+):", out).group(1)  # type: ignore[union-attr]
        assert srv.requests == 40
        out = run("eval", "run", "-s", "gsm8k-mini", "-m", f"openai:{srv.url}#base", "--home", str(home))
        assert "0 calls, 20 from cache" in out and srv.requests == 40
    out = run("eval", "compare", run_a, run_b, "--home", str(home))
    assert "within noise" in out and "McNemar" in out
    data = json.loads(run("eval", "compare", run_a, run_b, "--json", "--home", str(home)))
    assert data["n"] == 20 and data["significant"] is False
    assert run_b in run("eval", "runs", "--home", str(home))
    report = tmp_path / "r.html"
    run("eval", "report", "-s", "gsm8k-mini", "-o", str(report), "--home", str(home))
    html = report.read_text()
    assert "<svg" in html and "sft@v1" in html and "<script" not in html

    out = run("eval", "review", run_a, "--home", str(home))
    assert f"20 outputs in default/review-{run_a}" in out
    assert "0 items have human ratings" in run("eval", "collect", run_a, "--home", str(home))

    bench = tmp_path / "mine.jsonl"
    bench.write_text('{"input": "Say hi", "reference": "hi"}\n')
    out = run(
        "eval", "import-benchmark", str(bench), "-d", "mine", "-f", "jsonl", "--version", "v1", "--home", str(home)
    )
    assert "1 new eval items" in out and "version v1: 1 records" in out
    bad = runner.invoke(app, ["eval", "run", "-s", "nope", "-m", "openai:http://127.0.0.1:9/v1#m", "--home", str(home)])
    assert bad.exit_code != 0


def test_demo_compares_stages_and_writes_the_report(sqlite_store: Store, tmp_path: Path) -> None:
    sqlite_store.create_project("demo")
    path = run_demo_evals(sqlite_store, "demo", tmp_path / "out")
    html = path.read_text()
    assert path.name == "eval-report.html"
    assert html.count("<svg") == 2 and "base → sft" in html and "sft → dpo" in html
    assert "sft is better (significant)" in html
    assert "topic:science" in html and "multiple-choice" in html
    runs = sqlite_store.evals.list_runs(sqlite_store.get_project("demo").id or 0)
    means = [r.summary["mean"] for r in runs]
    assert [r.stage for r in runs] == ["base", "sft", "dpo"] and means == sorted(means) and means[0] < means[-1]
