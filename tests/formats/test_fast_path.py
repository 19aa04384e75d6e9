"""The raw export fast path must write exactly what the general path writes, or decline."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from thresher.formats import ExportContext, ExportItem, ExportOptions, get_format
from thresher.model import Record, Response

PLAIN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": 'Quote this: "tool_calls": {"role":"user"}'},
    {"role": "assistant", "content": "Done — 完成 ✅"},
]


def item(messages: list[dict[str, Any]], responses: list[Response] | None = None) -> ExportItem:
    record = Record(content={"kind": "conversation", "messages": messages})
    return ExportItem.from_record(record, responses or [])


def test_fast_path_equals_general_path() -> None:
    fmt, ctx = get_format("trl-conversational"), ExportContext()
    it = item(PLAIN)
    raw = fmt.raw_row(it, ctx)
    assert raw is not None  # key-like text inside a string does not defeat the fast path
    assert orjson.loads(raw) == next(iter(fmt.to_rows(it, ctx)))


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "hi"}],  # ends on a user turn: no SFT row
        [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [{"id": "c1", "name": "w", "arguments": {"city": "Oslo"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "rain"},
            {"role": "assistant", "content": "Rain."},
        ],
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo", "weight": 0}],
        [{"role": "user", "content": [{"type": "text", "text": "hi"}]}, {"role": "assistant", "content": "yo"}],
    ],
)
def test_fast_path_declines_what_needs_conversion(messages: list[dict[str, Any]]) -> None:
    assert get_format("trl-conversational").raw_row(item(messages), ExportContext()) is None


def test_fast_path_declines_when_a_rewrite_applies() -> None:
    ctx = ExportContext(options=ExportOptions(rewrite_question="ideal"))
    rewrite = Response(user="ann", answers={"ideal": "Better answer."})
    fmt = get_format("trl-conversational")
    assert fmt.raw_row(item(PLAIN, [rewrite]), ctx) is None
    row = next(iter(fmt.to_rows(item(PLAIN, [rewrite]), ctx)))
    assert row["messages"][-1]["content"] == "Better answer."
