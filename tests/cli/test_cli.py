"""The command line as a user runs it: exit codes, what it prints, what it writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thresher.cli import app
from thresher.cli.app import main

FORMATS = Path(__file__).parent.parent / "data" / "formats"
runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    out = run("init", str(h), "--project", "acme")
    assert "Thresher home ready" in out
    assert (h / "thresher.toml").read_text().count('project = "acme"') == 1
    assert (h / "thresher.db").exists()
    return h


def test_import_show_stats_version_export(home: Path, tmp_path: Path) -> None:
    out = run("import", str(FORMATS / "openai" / "chat.jsonl"), "-d", "sft", "--home", str(home), "--split", "train")
    assert "5 records added" in out and "openai-chat" in out
    out = run("import", str(FORMATS / "openai" / "chat.jsonl"), "-d", "sft", "--home", str(home))
    assert "0 records added, 5 duplicates skipped" in out

    listing = run("datasets", "--home", str(home))
    assert "acme/sft" in listing and "5" in listing

    page = run("show", "sft", "--home", str(home), "--limit", "2")
    assert "conversation" in page and "--after" in page
    first_id = json.loads(run("show", "sft", "--home", str(home), "--json", "--limit", "1"))["id"]
    whole = run("show", first_id, "--home", str(home))
    assert first_id in whole and "split=train" in whole

    stats = run("stats", "acme/sft", "--home", str(home))
    assert "5 records" in stats and "train" in stats and "openai-chat" in stats and "tokens" in stats

    assert "5 records" in run("version", "create", "sft", "v1", "--home", str(home))
    assert "v1" in run("version", "list", "sft", "--home", str(home))

    target = tmp_path / "out" / "sft.jsonl"
    out = run("export", "sft", "--version", "v1", "-f", "trl-conversational", "-o", str(target), "--home", str(home))
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert len(rows) == 5 and all("messages" in r for r in rows)
    manifest = json.loads((target.parent / "sft.jsonl.manifest.json").read_text())
    assert manifest["version"]["name"] == "v1" and manifest["counts"]["rows"] == 5


def run_main(argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Through the console-script entry point, as a shell runs it: exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["thresher", *argv])
    with pytest.raises(SystemExit) as exc:
        main()
    code = exc.value.code
    return (code if isinstance(code, int) else 1), " ".join(capsys.readouterr().err.split())


def test_bad_file_exits_2_naming_file_line_field(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = str(FORMATS / "bad" / "unknown_role.jsonl")
    code, err = run_main(["import", bad, "-d", "x", "--home", str(home)], monkeypatch, capsys)
    assert code == 2
    assert "unknown_role.jsonl:3" in err and "role" in err and "expected one of" in err
    assert "nothing was imported" in err
    assert "acme/x" not in run("datasets", "--home", str(home))  # the failed import left nothing behind


def test_no_home_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THRESHER_HOME", raising=False)
    code, err = run_main(["datasets"], monkeypatch, capsys)
    assert code == 1
    assert "thresher init" in err


def test_formats_lists_the_registry() -> None:
    out = run("formats")
    for name in ("openai-chat", "trl-preference", "trl-stepwise", "thresher", "text"):
        assert name in out


def test_version_without_subcommand_prints_version() -> None:
    from thresher import __version__

    assert __version__ in run("version")


def test_demo_builds_every_kind_and_keeps_evals_out(tmp_path: Path) -> None:
    out = run("demo", "--out", str(tmp_path / "demo"))
    for kind in ("text", "conversation", "comparison", "agent_run", "media", "eval_item"):
        assert kind in out
    exports = tmp_path / "demo" / "exports"
    training = [p for p in exports.glob("*.jsonl") if not p.name.startswith("thresher")]
    assert len(training) >= 8
    eval_prompt = "A train travels 60 km in 45 minutes"
    for p in training:
        assert eval_prompt not in p.read_text(encoding="utf-8"), p.name
        assert (p.parent / (p.name + ".manifest.json")).exists()
    # The lossless backup keeps eval items.
    assert eval_prompt in (exports / "thresher.jsonl").read_text(encoding="utf-8")
    # Running the demo again gives the same data (a clean home each time).
    again = run("demo", "--out", str(tmp_path / "demo"))
    assert "version v1: " in again
    assert out.split("version v1: ")[1].split(" records")[0] == again.split("version v1: ")[1].split(" records")[0]
