"""Anthropic HH-RLHF: transcripts split into prompt + candidates, exported back byte for byte."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from thresher.formats import ExportContext, ExportItem, RowError, get_format
from thresher.formats._trl import comparison_record
from thresher.model import Record, Response
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store

DATA = Path(__file__).parent.parent / "data" / "formats"
HH = DATA / "hh" / "hh_rlhf.jsonl"


def _records(store: Store, project: str, name: str) -> list[Record]:
    ds = store.get_dataset(project, name)
    return [r.to_record() for page in store.iter_records(ds) for r in page]


def test_hh_import_export_roundtrip(store: Store, tmp_path: Path) -> None:
    ds = store.ensure_dataset("p", "d")
    result = import_file(store, ds, HH)  # auto-detected
    assert result.format == "hh-rlhf"
    assert (result.added, result.responses, result.invalid) == (4, 4, 0)

    records = _records(store, "p", "d")
    assert [r.kind for r in records] == ["comparison"] * 4
    multi = records[1].content  # row 2: two turns, the second answer differs
    assert multi.kind == "comparison"
    assert [m.role for m in multi.prompt] == ["user", "assistant", "user"]
    assert multi.prompt[0].content == "I’m trying to learn to juggle. Where do I start?"
    assert multi.prompt[2].content == "Okay, I can do that now. What’s next?"
    assert [c.id for c in multi.candidates] == ["a", "b"]
    assert multi.candidate("b").messages[0].role == "assistant"
    assert multi.candidate("b").messages[0].content == "Just try five balls, you’ll figure it out."
    assert records[3].content.candidate("a").messages[0].content == "“Xièxie” (谢谢)."  # type: ignore[union-attr]

    responses = store.responses_for([r.id or "" for r in records])
    for r in records:
        assert [(x.user, x.answers) for x in responses[r.id or ""]] == [("import", {"preference": [["a"], ["b"]]})]
    assert [q.name for q in store.get_dataset("p", "d").questions] == ["preference"]

    out = tmp_path / "out.jsonl"
    exported = export_dataset(store, store.get_dataset("p", "d"), out, "hh-rlhf")
    assert (exported.records, exported.rows) == (4, 4)
    got = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    want = [orjson.loads(line) for line in HH.read_bytes().splitlines()]
    # Exact strings: every transcript (markers, curly quotes, CJK) comes back unchanged.
    assert got == want
    for g, w in zip(got, want, strict=True):
        assert g["chosen"] == w["chosen"] and g["rejected"] == w["rejected"]


def test_detection_hh_vs_trl_preference(sqlite_store: Store) -> None:
    hh = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "hh"), HH)
    trl = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "trl"), DATA / "trl" / "preference_implicit.jsonl")
    assert (hh.format, trl.format) == ("hh-rlhf", "trl-preference")
    fmt = get_format("hh-rlhf")
    assert not fmt.sniff({"chosen": "The sky is blue.", "rejected": "The sky is green."})
    assert not fmt.sniff({"chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "The sky is green."})


def test_parse_is_lossless_on_odd_transcripts() -> None:
    fmt = get_format("hh-rlhf")
    # An empty last answer and a turn holding "Human:" without the marker's blank line stay as written.
    row = {
        "chosen": "\n\nHuman: Say Human: twice\n\nAssistant: Human: Human:",
        "rejected": "\n\nHuman: Say Human: twice\n\nAssistant: ",
    }
    (parsed,) = fmt.parse(row)
    content = parsed.record.content
    assert content.kind == "comparison"
    assert [m.content for m in content.prompt] == ["Say Human: twice"]
    assert content.candidate("b").messages[0].content == ""
    item = ExportItem.from_record(parsed.record, parsed.responses)
    assert list(fmt.to_rows(item, ExportContext())) == [row]


def test_parse_errors_name_the_field() -> None:
    fmt = get_format("hh-rlhf")
    with pytest.raises(RowError) as e:
        list(fmt.parse({"chosen": "\n\nHuman: hi\n\nAssistant: yo", "rejected": "Assistant: yo"}))
    assert e.value.loc == ("rejected",)
    with pytest.raises(RowError) as e:
        list(fmt.parse({"chosen": "\n\nHuman: hi\n\nAssistant: yo", "rejected": 3}))
    assert (e.value.loc, e.value.type) == (("rejected",), "wrong_type")


def test_export_follows_the_labels_and_skips_what_hh_cannot_hold() -> None:
    fmt = get_format("hh-rlhf")
    user = [{"role": "user", "content": "Pick one"}]
    rec = comparison_record(user, [{"role": "assistant", "content": "A"}], [{"role": "assistant", "content": "B"}])
    b_wins = Response(user="alice", answers={"preference": [["b"], ["a"]]})
    rows = list(fmt.to_rows(ExportItem.from_record(rec, [b_wins]), ExportContext()))
    assert rows == [
        {"chosen": "\n\nHuman: Pick one\n\nAssistant: B", "rejected": "\n\nHuman: Pick one\n\nAssistant: A"}
    ]

    system = [{"role": "system", "content": "Be brief."}, *user]
    rec = comparison_record(system, [{"role": "assistant", "content": "A"}], [{"role": "assistant", "content": "B"}])
    item = ExportItem.from_record(rec, [b_wins])
    assert list(fmt.to_rows(item, ExportContext())) == []
    assert "system" in fmt.skip_reason(item, ExportContext())
    assert "no preference" in fmt.skip_reason(ExportItem.from_record(rec), ExportContext())


def test_export_from_other_formats_counts_skips(sqlite_store: Store, tmp_path: Path) -> None:
    # OpenAI preference row 2 has a system prompt, which HH cannot hold; the other three export.
    ds = sqlite_store.ensure_dataset("p", "d")
    import_file(sqlite_store, ds, DATA / "openai" / "preference.jsonl", fmt="openai-preference")
    out = tmp_path / "hh.jsonl"
    result = export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "hh-rlhf")
    assert (result.records, result.rows, sum(result.skipped.values())) == (4, 3, 1)
    first = orjson.loads(out.read_bytes().splitlines()[0])
    assert (
        first["rejected"] == "\n\nHuman: Hello, can you tell me how cold Reykjavík is today?\n\nAssistant: It is cold."
    )
