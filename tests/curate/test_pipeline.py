"""Pipelines end to end on a store: versions with lineage, decisions, `why`, resume, bad files."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thresher.curate import OutputSpec, parse_pipeline, run_pipeline
from thresher.errors import DataError
from thresher.model import Record
from thresher.pipeline.executors import LocalExecutor
from thresher.store import Store

WORDS = [
    *("alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "paper"),
    *("orange", "window", "garden", "silver", "music", "winter", "yellow"),
]

PIPELINE = """
name: small
input: {dataset: raw}
output: {dataset: clean}
blocks:
  - validate
  - exact_dedup
  - near_dedup: {threshold: 0.6, shingle: 3}
  - pii
  - stats
"""


def docs(n: int = 60) -> list[str]:
    rng = random.Random(7)
    base = [" ".join(rng.choice(WORDS) + str(rng.randint(0, 999)) for _ in range(60)) for _ in range(n)]
    near = []
    for d in base[:5]:
        w = d.split()
        w[10] = "changed"
        near.append(" ".join(w))
    return [*base, base[0].upper(), *near, "write to me at someone@example.org about the garden party next week"]


def seed(store: Store) -> Store:
    store.create_project("p")
    ds = store.create_dataset("p", "raw")
    store.add_records(ds, [Record(content={"kind": "text", "text": t}) for t in docs()])
    return store


@pytest.fixture
def raw(sqlite_store: Store) -> Store:
    return seed(sqlite_store)


def test_run_makes_a_version_with_lineage_and_decisions(store: Store, tmp_path: Path) -> None:
    raw = seed(store)  # SQLite and PostgreSQL
    spec = parse_pipeline(PIPELINE)
    result = run_pipeline(raw, spec, project="p", work_root=tmp_path / "runs")
    assert result.records_in == 67 and result.records_out == 61
    by_name = {b["block"]: b["counters"] for b in result.blocks}
    assert by_name["exact_dedup"]["dropped"] == {"exact_duplicate": 1}
    assert by_name["near_dedup"]["dropped"] == {"near_duplicate": 5}
    assert by_name["pii"]["changed"] == {"pii_redacted": 1}
    clean = raw.get_dataset("p", "clean")
    version = raw.get_version(clean, "small-1")
    assert version.record_count == 61
    src_ids = {r.id for b in raw.iter_records(raw.get_dataset("p", "raw")) for r in b}
    out = [r.to_record() for b in raw.iter_records(clean, version=version) for r in b]
    assert all(len(r.lineage) == 1 and r.lineage[0] in src_ids for r in out)
    assert any("[EMAIL]" in r.content.text for r in out)  # type: ignore[union-attr]
    assert result.report.exists() and "near_dedup" in result.report.read_text()
    # dropped records stay inspectable
    dropped = [d for d in raw.curation.decisions_for(sorted(src_ids)) if d.action == "dropped"]
    assert len(dropped) == 6 and all(d.cluster in src_ids for d in dropped)
    # the same input gives the same output
    again = run_pipeline(raw, spec, project="p", work_root=tmp_path / "runs")
    assert raw.get_version(clean, str(again.version)).manifest_hash == version.manifest_hash


def test_local_executor_gives_the_same_output(raw: Store, tmp_path: Path) -> None:
    spec = parse_pipeline(PIPELINE)
    a = run_pipeline(raw, spec, project="p", work_root=tmp_path / "a", output=OutputSpec(dataset="a"))
    b = run_pipeline(
        raw, spec, project="p", work_root=tmp_path / "b", output=OutputSpec(dataset="b"), executor=LocalExecutor(2)
    )
    assert a.blocks == b.blocks
    ha = (Path(a.report).parent / "stage-4.jsonl").read_bytes()
    hb = (Path(b.report).parent / "stage-4.jsonl").read_bytes()
    assert ha == hb


def test_an_interrupted_run_resumes(raw: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from thresher.curate import runner

    spec = parse_pipeline(PIPELINE)
    real = runner._cluster_segment
    calls = {"n": 0}

    def flaky(*args: object, **kw: object) -> object:
        calls["n"] += 1
        if calls["n"] == 2:  # the near_dedup segment
            raise KeyboardInterrupt
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "_cluster_segment", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(raw, spec, project="p", work_root=tmp_path / "runs")
    monkeypatch.setattr(runner, "_cluster_segment", real)
    result = run_pipeline(raw, spec, project="p", work_root=tmp_path / "runs")
    assert result.resumed and result.records_out == 61


def test_a_failing_block_reports_the_record_and_the_run_goes_on(raw: Store, tmp_path: Path) -> None:
    from thresher.curate import Block, BlockConfig, Verdict, register_block
    from thresher.curate._items import Item

    @register_block("explode_on_gamma")
    class Explode(Block):
        def apply(self, item: Item) -> Verdict:
            if item.text().startswith("gamma"):
                raise RuntimeError("boom")
            return Verdict("kept")

    assert Explode.Config is BlockConfig
    spec = parse_pipeline("name: x\ninput: {dataset: raw}\noutput: {dataset: y}\nblocks:\n  - explode_on_gamma\n")
    result = run_pipeline(raw, spec, project="p", work_root=tmp_path / "runs")
    errors = result.blocks[0]["counters"]["errors"]
    assert errors == {"RuntimeError": result.records_in - result.records_out} and result.records_out > 0


@pytest.mark.parametrize(
    ("text", "line", "expect"),
    [
        ("name: x\nblocks:\n  - validate\n  - near_dedupe: {}\n", 4, "did you mean near_dedup"),
        ("name: x\nblocks:\n  - near_dedup:\n      treshold: 0.5\n", 4, "did you mean threshold"),
        ("name: x\nblocks:\n  - near_dedup:\n      threshold: 2\n", 4, "less than or equal to 1"),
        ("name: x\nblokcs: [validate]\n", 2, "did you mean blocks"),
    ],
)
def test_bad_pipeline_files_name_file_line_and_fix(text: str, line: int, expect: str) -> None:
    with pytest.raises(DataError) as e:
        parse_pipeline(text, "pipe.yaml")
    d = next(d for d in e.value.details if expect in d.msg)
    assert d.loc[:2] == ("pipe.yaml", line)


def test_cli_run_and_why(raw: Store, tmp_path: Path) -> None:
    from thresher.cli import app
    from thresher.cli._context import write_home

    home = tmp_path / "home"  # the sqlite_store fixture's home
    write_home(home, "p", None)
    (tmp_path / "pipe.yaml").write_text(PIPELINE)
    cli = CliRunner()
    r = cli.invoke(app, ["curate", "run", str(tmp_path / "pipe.yaml"), "--home", str(home), "--executor", "inline"])
    assert r.exit_code == 0, r.output
    assert "67 in, 61 out" in r.output and "report:" in r.output
    dropped = next(
        d
        for d in raw.curation.decisions_for([r.id for b in raw.iter_records(raw.get_dataset("p", "raw")) for r in b])
        if d.block == "near_dedup"
    )
    r = cli.invoke(app, ["curate", "why", dropped.record_id, "--home", str(home)])
    assert r.exit_code == 0 and "near_dedup" in r.output and "dropped near_duplicate" in r.output
    r = cli.invoke(app, ["curate", "run", str(tmp_path / "nope.yaml"), "--home", str(home)])
    assert r.exit_code != 0


def test_an_invalid_record_without_validate_fails_alone_at_write(raw: Store, tmp_path: Path) -> None:
    from thresher.curate import Block, Verdict, changed, register_block
    from thresher.curate._items import Item

    @register_block("blank_gamma")
    class Blank(Block):
        """Makes a record invalid (empty text) to show that the write step reports it."""

        def apply(self, item: Item) -> Verdict:
            if item.text().startswith("gamma"):
                item.set_content({"text": ""})
                return changed("blanked")
            return Verdict("kept")

    spec = parse_pipeline("name: b\ninput: {dataset: raw}\noutput: {dataset: z}\nblocks:\n  - blank_gamma\n")
    result = run_pipeline(raw, spec, project="p", work_root=tmp_path / "runs")
    blanked = result.blocks[0]["counters"]["changed"]["blanked"]
    assert blanked > 0 and result.records_out == result.records_in - blanked
    src = [r.id for b in raw.iter_records(raw.get_dataset("p", "raw")) for r in b]
    failed = [d for d in raw.curation.decisions_for(src) if d.block == "write"]
    assert len(failed) == blanked and failed[0].detail["field"] == "content.text.text"
