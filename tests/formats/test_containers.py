"""Containers: JSON arrays streamed with ijson, CSV, Parquet in batches, plain text, saved HF datasets."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import datasets
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from data_paths import FORMATS_DATA
from thresher.errors import ConfigError
from thresher.formats import BadRow, ExportOptions, Row, container_for, get_container
from thresher.pipeline import export_dataset, import_file
from thresher.store import Store


def rows_of(items: list[Row | BadRow]) -> list[dict[str, Any]]:
    return [i.data for i in items if isinstance(i, Row)]


# -- container choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "container"),
    [
        ("a.jsonl", "jsonl"),
        ("a.NDJSON", "jsonl"),
        ("a.json", "json"),
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.parquet", "parquet"),
        ("a.txt", "txt"),
        ("a.md", "txt"),
    ],
)
def test_container_for_extension(tmp_path: Path, name: str, container: str) -> None:
    assert container_for(tmp_path / name).name == container


def test_container_for_unknown_extension_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.xlsx") as info:
        container_for(tmp_path / "sheet.xlsx")
    assert ".jsonl" in str(info.value)


def test_container_for_folders(tmp_path: Path) -> None:
    datasets.Dataset.from_list([{"text": "a"}]).save_to_disk(str(tmp_path / "hf"))
    assert container_for(tmp_path / "hf").name == "hf"
    (tmp_path / "pq").mkdir()
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "pq" / "train-00000.parquet")
    assert container_for(tmp_path / "pq").name == "parquet"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError):
        container_for(tmp_path / "empty")


# -- JSONL --------------------------------------------------------------------------------------


def test_jsonl_skips_blank_lines_and_keeps_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"text": "one"}\r\n\n   \n{"text": "two"}\n')
    items = list(get_container("jsonl").read(path))
    assert [(i.line, i.data) for i in items if isinstance(i, Row)] == [(1, {"text": "one"}), (4, {"text": "two"})]
    assert not any(isinstance(i, BadRow) for i in items)


def test_jsonl_record_limit_skips_only_the_long_line(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "short"}\n{"text": "' + "x" * 5000 + '"}\n{"text": "after"}\n')
    items = list(get_container("jsonl").read(path, max_record_bytes=1000))
    assert [type(i).__name__ for i in items] == ["Row", "BadRow", "Row"]
    bad = items[1]
    assert isinstance(bad, BadRow) and bad.line == 2 and bad.error.type == "record_too_large"
    assert items[2].line == 3 and rows_of(items)[1] == {"text": "after"}


# -- JSON arrays, streamed ----------------------------------------------------------------------


def test_json_array_reads_items_with_their_index() -> None:
    items = list(get_container("json").read(FORMATS_DATA / "generic" / "records.json"))
    assert [i.line for i in items] == [1, 2, 3, 4]
    assert rows_of(items) == json.loads((FORMATS_DATA / "generic" / "records.json").read_text(encoding="utf-8"))


def test_json_array_is_streamed(tmp_path: Path) -> None:
    """Items come out one by one as they are parsed: the rows before a cut-off are read, then one fatal error."""
    path = tmp_path / "cut.json"
    path.write_text('[{"a": 1}, {"a": 2.5}, {"a": "three"}, {"a": ', encoding="utf-8")
    reader = get_container("json").read(path)
    first = next(reader)  # a whole-file parser would fail here, before any item
    assert isinstance(first, Row) and first.data == {"a": 1}
    rest = list(reader)
    assert [i.data for i in rest if isinstance(i, Row)] == [{"a": 2.5}, {"a": "three"}]
    bad = rest[-1]
    assert isinstance(bad, BadRow) and bad.fatal and bad.line == 4
    assert bad.error.type == "invalid_json"
    assert "expected a JSON array of objects" in bad.error.msg
    assert isinstance(rest[0], Row) and isinstance(rest[0].data["a"], float)


def test_json_array_under_data_key_and_non_objects(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.json"
    path.write_text('{"data": [{"a": 1}, 7, {"a": 2}]}', encoding="utf-8")
    items = list(get_container("json").read(path))
    assert [(type(i).__name__, i.line) for i in items] == [("Row", 1), ("BadRow", 2), ("Row", 3)]
    bad = items[1]
    assert isinstance(bad, BadRow) and not bad.fatal and "expected a JSON object" in bad.error.msg


def test_json_array_invalid_utf8_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'[{"a": "ok"}, {"a": "caf\xff\xfe"}]')
    items = list(get_container("json").read(path))
    assert rows_of(items) == [{"a": "ok"}]
    bad = items[-1]
    assert isinstance(bad, BadRow) and bad.fatal and bad.error.type == "invalid_utf8" and bad.line == 2


def test_json_write_then_read(tmp_path: Path) -> None:
    rows = [{"instruction": "Say hi", "output": "Hi 👋", "history": [["a", "b"]]}, {"instruction": "x", "output": "y"}]
    path = tmp_path / "out.json"
    assert get_container("json").write(path, iter(rows)) == 2
    assert json.loads(path.read_text(encoding="utf-8")) == rows
    assert rows_of(list(get_container("json").read(path))) == rows
    empty = tmp_path / "empty.json"
    get_container("json").write(empty, iter([]))
    assert json.loads(empty.read_text()) == []


# -- CSV ----------------------------------------------------------------------------------------

PROMPTS_CSV = FORMATS_DATA / "generic" / "prompts.csv"


def test_csv_rows_with_quoted_commas_quotes_and_newlines() -> None:
    items = list(get_container("csv").read(PROMPTS_CSV))
    assert not any(isinstance(i, BadRow) for i in items)
    assert rows_of(items) == [
        {"id": "1", "prompt": "What is 2+2?", "response": "4", "category": "math"},
        {
            "id": "2",
            "prompt": "List three primary colors, separated by commas.",
            "response": "Red, yellow, blue.",
            "category": "art",
        },
        {
            "id": "3",
            "prompt": 'Explain the "Hello, world" program.',
            "response": 'It is the smallest program that prints "Hello, world" to show a toolchain works.',
            "category": "programming",
        },
        {
            "id": "4",
            "prompt": "Write a two-line poem about rain.",
            "response": "Soft rain on the roof,\nthe gutters hum along.",
            "category": "poetry",
        },
        {"id": "5", "prompt": "“早上好”是什么意思？", "response": "Good morning ☀️", "category": "translation"},
    ]
    # The reference reading of the README: csv.DictReader on open(newline="").
    with PROMPTS_CSV.open(encoding="utf-8", newline="") as f:
        assert rows_of(items) == list(csv.DictReader(f))


def test_csv_row_line_is_where_the_record_starts() -> None:
    """Row 4's quoted response spans file lines 5-6; errors about it must point at line 5."""
    items = list(get_container("csv").read(PROMPTS_CSV))
    assert [i.line for i in items] == [2, 3, 4, 5, 7]


def test_csv_more_cells_than_header_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('prompt,response\r\nhi,there\r\nx,y,"extra, cell"\r\nok,fine\r\n', encoding="utf-8", newline="")
    items = list(get_container("csv").read(path))
    assert [type(i).__name__ for i in items] == ["Row", "BadRow", "Row"]
    assert isinstance(items[1], BadRow) and items[1].line == 3 and "header" in items[1].error.msg


def test_csv_write_quotes_and_json_cells(tmp_path: Path) -> None:
    rows = [
        {"prompt": 'Say "hi", twice', "tags": ["a", "b"], "meta": {"k": 1}},
        {"prompt": "line one\nline two", "tags": [], "meta": {}},
    ]
    path = tmp_path / "out.csv"
    assert get_container("csv").write(path, iter(rows)) == 2
    back = rows_of(list(get_container("csv").read(path)))
    assert back[0] == {"prompt": 'Say "hi", twice', "tags": '["a","b"]', "meta": '{"k":1}'}
    assert back[1]["prompt"] == "line one\nline two"


# -- Parquet --------------------------------------------------------------------------------------


def test_parquet_is_read_in_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"text": [f"doc {i}" for i in range(250)], "n": list(range(250))}), path, row_group_size=50)
    box = get_container("parquet")
    monkeypatch.setattr(box, "batch_rows", 40)
    fetched: list[int] = []
    real = pq.ParquetFile.iter_batches

    def spy(self: pq.ParquetFile, *args: Any, **kwargs: Any) -> Any:
        for batch in real(self, *args, **kwargs):
            fetched.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    reader = box.read(path)
    first = next(reader)
    assert isinstance(first, Row) and first.line == 1 and first.data == {"text": "doc 0", "n": 0}
    assert fetched == [40]  # only the first batch was read to produce the first row
    rest = list(reader)
    assert [r.line for r in rest] == list(range(2, 251))
    assert rows_of(rest)[-1] == {"text": "doc 249", "n": 249}
    assert sum(fetched) == 250 and max(fetched) <= 40


def test_parquet_folder_split_from_file_names(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    pq.write_table(pa.table({"text": ["t1", "t2"]}), folder / "train-00000-of-00001.parquet")
    pq.write_table(pa.table({"text": ["v1"]}), folder / "test-00000-of-00001.parquet")
    items = list(get_container("parquet").read(folder))
    assert sorted((i.split, i.data["text"]) for i in items if isinstance(i, Row)) == [
        ("test", "v1"),
        ("train", "t1"),
        ("train", "t2"),
    ]


def test_parquet_corrupt_file_is_a_fatal_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    [bad] = list(get_container("parquet").read(path))
    assert isinstance(bad, BadRow) and bad.fatal and bad.error.type == "invalid_parquet"
    assert "broken.parquet" in bad.error.msg


def test_parquet_export_reads_back_with_pyarrow(sqlite_store: Store, tmp_path: Path) -> None:
    src = FORMATS_DATA / "trl" / "preference_conversational.jsonl"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src)
    out = tmp_path / "pref.parquet"
    result = export_dataset(sqlite_store, sqlite_store.get_dataset("p", "d"), out, "trl-preference")
    table = pq.read_table(out)
    assert table.column_names == ["prompt", "chosen", "rejected"]
    expected = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    assert table.to_pylist() == expected
    manifest = json.loads(result.manifest.read_text())
    assert manifest["container"] == "parquet"
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_parquet_import_of_an_export(sqlite_store: Store, tmp_path: Path) -> None:
    """The same export as JSONL and as Parquet reads back to the same records.

    Parquet gives every row every struct field (missing ones as null) and needs one schema for all rows;
    neither may change the data: `tools` is on row 3 only.
    """
    src = FORMATS_DATA / "trl" / "conversational.jsonl"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "a"), src, fmt="trl-conversational")
    for suffix in ("jsonl", "parquet"):
        out = tmp_path / f"conv.{suffix}"
        export_dataset(sqlite_store, sqlite_store.get_dataset("p", "a"), out, "trl-conversational")
        result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", suffix), out, fmt="trl-conversational")
        assert (result.container, result.added, result.invalid) == (suffix, 4, 0)
    assert pq.read_table(tmp_path / "conv.parquet").to_pylist()[0]["messages"][0]["role"] == "user"

    def contents(name: str) -> list[Any]:
        ds = sqlite_store.get_dataset("p", name)
        return [json.loads(r.content) for page in sqlite_store.iter_records(ds) for r in page]

    assert contents("parquet") == contents("jsonl")
    assert contents("parquet")[2]["tools"][0]["function"]["name"] == "control_light"


# -- plain text -------------------------------------------------------------------------------------


def test_txt_file_and_paragraphs(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("First para\nstill first.\n\n\n  \nSecond.\n\nThird 🌾\n", encoding="utf-8")
    [whole] = list(get_container("txt").read(path))
    assert isinstance(whole, Row) and whole.data == {"text": path.read_text(encoding="utf-8")}
    paras = list(get_container("txt-paragraphs").read(path))
    assert [(i.line, i.data["text"]) for i in paras if isinstance(i, Row)] == [
        (1, "First para\nstill first."),
        (6, "Second."),
        (8, "Third 🌾"),
    ]


def test_txt_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"fine\n\ncaf\xff au lait\n\nalso fine\n")
    [bad] = list(get_container("txt").read(path))
    assert isinstance(bad, BadRow) and bad.line == 3 and bad.error.type == "invalid_utf8"
    paras = list(get_container("txt-paragraphs").read(path))
    assert [(type(i).__name__, i.line) for i in paras] == [("Row", 1), ("BadRow", 3), ("Row", 5)]


def test_txt_whole_file_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 1000, encoding="utf-8")
    [bad] = list(get_container("txt").read(path, max_record_bytes=1000))
    assert isinstance(bad, BadRow) and bad.error.type == "record_too_large"
    assert len(rows_of(list(get_container("txt-paragraphs").read(path, max_record_bytes=1000)))) == 1


# -- saved Hugging Face datasets ----------------------------------------------------------------------

PC_ROWS = [
    {"prompt": "The sky is", "completion": " blue."},
    {"prompt": "2 + 2 =", "completion": " 4"},
]


def test_hf_saved_dataset_import(sqlite_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    datasets.Dataset.from_list(PC_ROWS).save_to_disk(str(folder))
    result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), folder)
    assert (result.container, result.format, result.added) == ("hf", "trl-prompt-completion", 2)
    records = [r.to_record() for page in sqlite_store.iter_records(sqlite_store.get_dataset("p", "d")) for r in page]
    assert [[m.content for m in r.content.messages] for r in records] == [["The sky is", " blue."], ["2 + 2 =", " 4"]]
    assert [r.split for r in records] == [None, None]
    assert [r.source.line for r in records] == [1, 2]


def test_hf_dataset_dict_split_becomes_record_split(sqlite_store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "saved_dict"
    datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_list(PC_ROWS),
            "test": datasets.Dataset.from_list([{"prompt": "Hello", "completion": " world"}]),
        }
    ).save_to_disk(str(folder))
    result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), folder)
    assert (result.container, result.added) == ("hf", 3)
    records = [r.to_record() for page in sqlite_store.iter_records(sqlite_store.get_dataset("p", "d")) for r in page]
    by_split = {r.content.messages[0].content: r.split for r in records}
    assert by_split == {"The sky is": "train", "2 + 2 =": "train", "Hello": "test"}
    # An explicit split overrides the container's.
    other = sqlite_store.ensure_dataset("p", "e")
    import_file(sqlite_store, other, folder, split="all")
    assert {r.split for page in sqlite_store.iter_records(other) for r in page} == {"all"}


def test_hf_export_loads_from_disk(sqlite_store: Store, tmp_path: Path) -> None:
    src = FORMATS_DATA / "trl" / "prompt_completion.jsonl"
    import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), src, fmt="trl-prompt-completion")
    out = tmp_path / "hf_out"
    result = export_dataset(
        sqlite_store,
        sqlite_store.get_dataset("p", "d"),
        out,
        "trl-prompt-completion",
        container="hf",
        options=ExportOptions(style="standard"),
    )
    assert result.rows == 4
    loaded = datasets.load_from_disk(str(out))
    assert loaded.column_names == ["prompt", "completion"]
    expected = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()]
    assert loaded.to_list() == expected
    manifest = json.loads(result.manifest.read_text())
    assert manifest["container"] == "hf"
    h = hashlib.sha256()
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        h.update(f.read_bytes())
    assert manifest["sha256"] == h.hexdigest()
