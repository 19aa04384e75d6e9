"""Notebook helpers: read a dataset, add records, export a file, with errors as Thresher's."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sdk_support import Home

from live_server import ServerProcess, free_port
from thresher import ConfigError, DataError, Forbidden, NotFound, ThresherError, Unauthorized
from thresher.model import ConversationContent, Record
from thresher.sdk import Client


@pytest.fixture
def nb(server: ServerProcess, home: Home) -> Iterator[Client]:
    with Client(server.url, home.engineer_key) as c:
        yield c


def chat(i: int, split: str = "train") -> Record:
    content = ConversationContent.model_validate(
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
    )
    return Record(content=content, split=split, metadata={"i": i})


def test_push_then_read_back_page_by_page(nb: Client) -> None:
    name = f"nb-{uuid.uuid4().hex[:8]}"
    pushed = nb.push(name, [chat(i, "train" if i % 3 else "test") for i in range(1203)])  # 3 POSTs; dataset created
    assert (pushed.added, pushed.duplicates, len(pushed.ids)) == (1203, 0, 1203)
    again = nb.push(name, [chat(0).model_dump(mode="json", exclude_none=True, include={"content"})])  # a dict
    assert (again.added, again.duplicates, again.ids) == (0, 1, [pushed.ids[0]])
    records = list(nb.records(name, page_size=100))
    assert [r.metadata["i"] for r in records] == list(range(1203))  # every page, in order
    assert [r.id for r in records] == pushed.ids
    tests = list(nb.records(name, split="test", kind="conversation"))
    assert len(tests) == 401 and {r.split for r in tests} == {"test"}
    assert list(nb.records(name, kind=["agent_run", "comparison"])) == []


def test_export_writes_the_file(nb: Client, tmp_path: Path) -> None:
    name = f"ex-{uuid.uuid4().hex[:8]}"
    nb.push(name, [chat(i) for i in range(20)])
    out = nb.export(name, "trl-conversational", tmp_path / "out" / "sft.jsonl", poll=0.1, timeout=120)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert out == tmp_path / "out" / "sft.jsonl" and len(rows) == 20
    assert rows[0]["messages"] == [{"role": "user", "content": "q0"}, {"role": "assistant", "content": "a0"}]
    assert not (tmp_path / "out" / "sft.jsonl.part").exists()


def test_errors_are_thresher_errors(nb: Client, server: ServerProcess, home: Home, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        list(nb.records("no-such-dataset"))
    name = f"err-{uuid.uuid4().hex[:8]}"
    nb.push(name, [chat(0)])
    with pytest.raises(ConfigError):  # 400: unknown export format
        nb.export(name, "no-such-format", tmp_path / "x")
    with pytest.raises(DataError) as e:  # 422 from the request's schema, details kept
        nb.push(f"bad-{uuid.uuid4().hex[:8]}", [{"content": {"kind": "text", "text": "ok"}, "split": "no spaces"}])
    assert any("split" in d.loc for d in e.value.details)
    with Client(server.url, home.app_key) as app, pytest.raises(Forbidden):
        list(app.records(name))  # an app key may only capture
    with Client(server.url, "thr_wrong") as bad, pytest.raises(Unauthorized):
        _ = bad.project
    with Client(f"http://127.0.0.1:{free_port()}", "thr_x", timeout=1) as down, pytest.raises(ThresherError) as e2:
        list(down.records(name))
    assert type(e2.value) is ThresherError and "failed" in str(e2.value)
