"""Format auto-detection: one clear winner, or an error that names the candidates or the keys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from data_paths import FORMATS_DATA
from thresher.errors import DataError, FormatDetectionError
from thresher.formats import Format, Parsed, detect_format, formats
from thresher.formats import registry as registry_module
from thresher.pipeline import import_file
from thresher.store import Store


class LegacyCompletions(Format):
    """Stands in for OpenAI's legacy completions fine-tuning format: the same `{prompt, completion}` rows."""

    name = "test-legacy-completions"
    description = "test only"
    kinds = ("conversation",)

    def sniff(self, row: dict[str, Any]) -> bool:
        return set(row) == {"prompt", "completion"} and all(isinstance(v, str) for v in row.values())

    def parse(self, row: dict[str, Any]) -> Iterator[Parsed]:
        raise AssertionError("an ambiguous file must not be parsed")


@pytest.fixture
def second_completions_format(monkeypatch: pytest.MonkeyPatch) -> Format:
    fmt = LegacyCompletions()
    monkeypatch.setitem(registry_module._FORMATS, fmt.name, fmt)
    return fmt


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("openai/chat.jsonl", "openai-chat"),
        ("trl/language_modeling.jsonl", "text"),
        ("text/corpus.jsonl", "text"),
        ("trl/prompt_completion_conversational.jsonl", "trl-prompt-completion"),
        ("trl/preference.jsonl", "trl-preference"),
        ("trl/preference_implicit.jsonl", "trl-preference"),
        ("trl/preference_conversational.jsonl", "trl-preference"),
        ("trl/preference_conversational_implicit.jsonl", "trl-preference"),
        ("trl/unpaired_preference.jsonl", "trl-unpaired-preference"),
        ("trl/unpaired_preference_conversational.jsonl", "trl-unpaired-preference"),
        ("trl/stepwise_supervision.jsonl", "trl-stepwise"),
    ],
)
def test_fixture_files_are_detected(sqlite_store: Store, path: str, expected: str) -> None:
    result = import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), FORMATS_DATA / path)
    assert result.format == expected
    assert result.invalid == 0 and result.added > 0


def test_plain_messages_file_goes_to_the_more_specific_chat_format() -> None:
    """{"messages"} rows fit both chat formats; OpenAI chat is the more specific, so it wins instead of an error."""
    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}]
    fitting = [f.name for f in formats().values() if f.sniff(rows[0])]
    assert {"openai-chat", "trl-conversational"} <= set(fitting)
    assert detect_format("chat.jsonl", rows).name == "openai-chat"


def test_ambiguous_file_names_every_candidate(sqlite_store: Store, second_completions_format: Format) -> None:
    path = FORMATS_DATA / "bad" / "ambiguous.jsonl"
    ds = sqlite_store.ensure_dataset("p", "d")
    with pytest.raises(FormatDetectionError) as info:
        import_file(sqlite_store, ds, path)
    err = info.value
    assert sorted(err.candidates) == ["test-legacy-completions", "trl-prompt-completion"]
    msg = str(err)
    assert "ambiguous.jsonl" in msg
    assert "trl-prompt-completion" in msg and "test-legacy-completions" in msg
    assert "'completion'" in msg and "'prompt'" in msg  # the keys that made it ambiguous
    assert "--format" in msg  # and how to choose
    assert err.code == "format_detection"
    assert sqlite_store.count_records(ds) == 0

    # Choosing one resolves it.
    result = import_file(sqlite_store, ds, path, fmt="trl-prompt-completion")
    assert (result.format, result.added) == ("trl-prompt-completion", 3)


def test_ambiguous_file_with_the_built_in_formats() -> None:
    """bad/ambiguous.jsonl: report the ambiguity or pick TRL prompt-completion, never another reading."""
    rows = [json.loads(line) for line in (FORMATS_DATA / "bad" / "ambiguous.jsonl").read_text().splitlines()]
    try:
        chosen = detect_format("ambiguous.jsonl", rows).name
    except FormatDetectionError as e:
        assert "trl-prompt-completion" in e.candidates
    else:
        assert chosen == "trl-prompt-completion"


def test_unknown_shape_names_the_keys(sqlite_store: Store) -> None:
    path = FORMATS_DATA / "generic" / "records.json"
    with pytest.raises(FormatDetectionError) as info:
        import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), path)
    msg = str(info.value)
    assert info.value.candidates == []
    assert "records.json" in msg
    assert "['answer', 'question', 'topic']" in msg
    assert "--format" in msg


def test_keys_of_every_sampled_row_are_named() -> None:
    rows = [{"question": "a"}, {"query": "b", "extra": 1}]
    with pytest.raises(FormatDetectionError, match=r"\['extra', 'query', 'question'\]"):
        detect_format("mixed.jsonl", rows)


def test_every_sampled_row_must_fit() -> None:
    """One text row among chat rows: no single format fits all of them."""
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    with pytest.raises(FormatDetectionError) as info:
        detect_format("mixed.jsonl", [chat, {"text": "a document"}, chat])
    assert info.value.candidates == []


def test_empty_file_cannot_be_detected(sqlite_store: Store, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(FormatDetectionError, match=r"empty\.jsonl.*no rows"):
        import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), path)


def test_detection_skips_undecodable_lines(sqlite_store: Store) -> None:
    """A bad line does not hide the format: detection reads the good rows, the import then reports the bad one."""
    path = FORMATS_DATA / "bad" / "truncated.jsonl"
    with pytest.raises(DataError) as info:
        import_file(sqlite_store, sqlite_store.ensure_dataset("p", "d"), path)
    assert not isinstance(info.value, FormatDetectionError)
    assert [d.loc[:2] for d in info.value.details] == [("truncated.jsonl", 3)]
