"""The repository, on SQLite and on a real PostgreSQL server (the ``store`` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from thresher.errors import Conflict, DataError, NotFound
from thresher.model import (
    ChoiceQuestion,
    Dataset,
    RatingQuestion,
    Record,
    Response,
    StepVerdictQuestion,
    Suggestion,
    TextQuestion,
)
from thresher.store import RecordFilter, Store


def _text(i: int | str, **kw: Any) -> Record:
    return Record(content={"kind": "text", "text": f"document {i}"}, **kw)


def _msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": text}


COMPARISON = {
    "kind": "comparison",
    "prompt": [_msg("user", "Say hi")],
    "candidates": [
        {"id": "a", "messages": [_msg("assistant", "hi")], "model": "m1", "params": {"temperature": 0.7}},
        {"id": "b", "messages": [_msg("assistant", "hello")], "model": "m2"},
    ],
}


def _every_kind() -> list[Record]:
    """One record of each kind, with most optional fields set."""
    return [
        Record(
            content={"kind": "text", "text": "Ünïcödé text ✓"},
            metadata={"lang": "de", "score": 0.5, "tags": ["a"]},
            source={"file": "a.jsonl", "line": 1, "format": "text"},
            split="train",
            task_type="generation",
            domains=["web"],
        ),
        Record(
            content={
                "kind": "conversation",
                "messages": [
                    {"role": "system", "content": "Be brief.", "weight": 0},
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is this?"},
                            {"type": "image", "image": {"uri": "blob://sha256/aa", "mime_type": "image/png"}},
                        ],
                    },
                    {
                        "role": "assistant",
                        "reasoning": "look it up",
                        "tool_calls": [{"id": "c1", "name": "lookup", "arguments": {"q": "x", "n": 3}}],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "a cat", "name": "lookup"},
                    {"role": "assistant", "content": "A cat.", "weight": 1},
                ],
                "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
            },
            split="test",
            task_type="chat",
            lineage=["parent-1"],
        ),
        Record(content=COMPARISON, task_type="open_qa", synthetic=True),
        Record(
            content={
                "kind": "agent_run",
                "task": [_msg("user", "find the file")],
                "steps": [
                    {"type": "plan", "content": "list the folder", "agent": "planner", "started_at": 1.5},
                    {"type": "tool_call", "tool_call": {"id": "t1", "name": "ls", "arguments": "{bad json"}},
                    {"type": "tool_result", "tool_call_id": "t1", "content": "a.txt", "is_error": False},
                    {"type": "handoff", "handoff_to": "reader", "latency_ms": 12.5, "tokens": 40},
                    {"type": "error", "content": "permission denied", "model": "m1"},
                ],
                "tools": [{"name": "ls"}],
                "outcome": {"status": "failure", "detail": "stuck", "score": 0.25},
                "failure": {"step": 4, "cause": "system", "reason": "no access"},
            }
        ),
        Record(
            content={
                "kind": "media",
                "media_type": "video",
                "blob": {"uri": "blob://sha256/bb", "mime_type": "video/mp4", "sha256": "bb", "size": 1234},
                "info": {
                    "width": 640,
                    "height": 480,
                    "duration_s": 2.5,
                    "fps": 24.0,
                    "frame_count": 60,
                    "codec": "h264",
                },
                "caption": "a dog",
                "context": [_msg("user", "describe it")],
            },
            source={"endpoint": "/v1/ingest", "client_id": "evt-9", "model": "cam"},
        ),
        Record(
            content={
                "kind": "eval_item",
                "input": [_msg("user", "2+2?")],
                "reference": ["4", "four"],
                "choices": ["3", "4"],
                "grader": {"type": "numeric", "params": {"tolerance": 0.01}},
            },
            split="eval",
            task_type="closed_qa",
        ),
    ]


def _ids(store: Store, ds: Dataset, **kw: Any) -> list[str]:
    return [r.id for page in store.iter_records(ds, **kw) for r in page]


def _texts(store: Store, ds: Dataset, **kw: Any) -> list[str]:
    return [r.to_record().content.text for page in store.iter_records(ds, **kw) for r in page]  # type: ignore[union-attr]


# -- projects and datasets ------------------------------------------------------------------------


def test_projects(store: Store) -> None:
    assert store.list_projects() == []
    p = store.create_project("alpha", "first")
    assert p.id is not None
    store.create_project("beta")
    got = store.get_project("alpha")
    assert (got.id, got.name, got.description) == (p.id, "alpha", "first")
    assert got.created_at is not None
    assert [x.name for x in store.list_projects()] == ["alpha", "beta"]
    with pytest.raises(Conflict, match="alpha"):
        store.create_project("alpha")
    with pytest.raises(NotFound, match="gamma"):
        store.get_project("gamma")
    assert store.ensure_project("alpha").id == p.id
    assert store.ensure_project("gamma").name == "gamma"
    assert len(store.list_projects()) == 3


def test_datasets(store: Store) -> None:
    questions = [TextQuestion(name="ideal"), RatingQuestion(name="score", min=1, max=3, anchors={1: "bad"})]
    with pytest.raises(NotFound, match="nope"):
        store.create_dataset("nope", "d")
    store.create_project("p")
    store.create_project("q")
    ds = store.create_dataset("p", "d", description="desc", guidelines="# Be kind", questions=questions)
    assert ds.id is not None
    store.create_dataset("p", "c")
    store.create_dataset("q", "d")  # the same name in another project is fine
    with pytest.raises(Conflict, match="p/d"):
        store.create_dataset("p", "d")
    got = store.get_dataset("p", "d")
    assert (got.id, got.project, got.name, got.description, got.guidelines) == (ds.id, "p", "d", "desc", "# Be kind")
    assert got.questions == questions
    assert got.question("score") == questions[1]
    with pytest.raises(NotFound, match="p/zzz"):
        store.get_dataset("p", "zzz")
    with pytest.raises(NotFound):
        store.get_dataset("zzz", "d")
    assert [(d.project, d.name) for d in store.list_datasets()] == [("p", "c"), ("p", "d"), ("q", "d")]
    assert [d.name for d in store.list_datasets("p")] == ["c", "d"]
    assert store.list_datasets("zzz") == []
    assert store.ensure_dataset("p", "d").id == ds.id
    assert store.ensure_dataset("new", "x").project == "new"


def test_add_questions_merges_and_conflicts(store: Store) -> None:
    store.create_project("p")
    ds = store.create_dataset("p", "d", questions=[TextQuestion(name="ideal")])
    merged = store.add_questions(ds, [TextQuestion(name="ideal"), ChoiceQuestion(name="label", options=["x", "y"])])
    assert [q.name for q in merged.questions] == ["ideal", "label"]
    assert store.get_dataset("p", "d").questions == merged.questions  # persisted
    same = store.add_questions(merged, [ChoiceQuestion(name="label", options=["x", "y"])])
    assert same.questions == merged.questions
    with pytest.raises(Conflict, match="'label'"):
        store.add_questions(merged, [RatingQuestion(name="extra"), ChoiceQuestion(name="label", options=["x"])])
    assert [q.name for q in store.get_dataset("p", "d").questions] == ["ideal", "label"]  # nothing written


# -- the writer -----------------------------------------------------------------------------------


def test_writer_batches_and_is_atomic(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    ids = []
    with store.writer(ds, batch_size=2) as w:
        for i in range(5):
            ids.append(w.add(_text(i)))
        assert w.added == 4  # two batches were flushed...
        assert store.count_records(ds) == 0  # ...but nothing is visible before commit
    assert (w.added, w.duplicates) == (5, 0)
    assert store.count_records(ds) == 5
    assert _ids(store, ds) == ids
    assert len(set(ids)) == 5


def test_writer_dedups_within_an_import(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    with store.writer(ds, batch_size=3) as w:
        first = w.add(_text(1))
        w.add(_text(2))
        again = w.add(Record(content={"kind": "text", "text": "  document 1 "}))  # same after normalization
        w.add(_text(3))
        w.add(_text(2))
    assert first == again
    assert (w.added, w.duplicates) == (3, 2)
    assert _texts(store, ds) == ["document 1", "document 2", "document 3"]


def test_writer_dedups_across_imports_not_across_datasets(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    other = store.ensure_dataset("p", "other")
    assert store.add_records(ds, [_text(i) for i in range(4)]) == 4
    with store.writer(ds, batch_size=2) as w:
        for i in range(2, 7):
            w.add(_text(i))
    assert (w.added, w.duplicates) == (3, 2)
    assert store.count_records(ds) == 7
    assert _texts(store, ds) == [f"document {i}" for i in range(7)]
    assert store.add_records(other, [_text(0), _text(1)]) == 2  # another dataset has its own records
    assert set(_ids(store, other)).isdisjoint(_ids(store, ds))


def test_writer_rolls_back_on_exception(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    store.add_records(ds, [_text("kept")])
    with pytest.raises(RuntimeError, match="boom"), store.writer(ds, import_id="imp1", batch_size=2) as w:
        w.log = {"file": "f.jsonl", "format": "text", "counts": {"records": 5}}
        for i in range(5):
            w.add(_text(i), responses=[Response(user="import:f", answers={"x": i})])
        raise RuntimeError("boom")
    assert _texts(store, ds) == ["document kept"]
    assert store.stats(ds).by_source == {"api": 1}
    assert store.stats(ds).responses == 0
    # the store is usable afterwards, and the same records import cleanly
    assert store.add_records(ds, [_text(i) for i in range(5)]) == 5


def test_writer_writes_labels_and_import_log(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    with store.writer(ds, import_id="imp1") as w:
        w.log = {"file": "f.jsonl", "format": "openai", "counts": {"records": 2}}
        rid = w.add(_text(1), responses=[Response(user="import:f.jsonl", answers={"label": "x"})])
        w.add(_text(2))
    assert w.responses_added == 1
    got = store.responses_for([rid])
    assert [(r.user, r.answers) for r in got[rid]] == [("import:f.jsonl", {"label": "x"})]
    assert store.stats(ds).by_source == {"openai": 2}


# -- reading records ------------------------------------------------------------------------------


def test_keyset_pagination(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    store.add_records(ds, [_text(i) for i in range(7)])
    other = store.ensure_dataset("p", "other")
    store.add_records(other, [_text(i) for i in range(3)])  # interleaved seqs must not leak in
    store.add_records(ds, [_text(i) for i in range(7, 9)])
    seen: list[str] = []
    after = None
    sizes = []
    while True:
        page = store.page_records(ds, after=after, limit=3)
        if not page:
            break
        sizes.append(len(page))
        seqs = [r.seq for r in page]
        assert seqs == sorted(seqs) and (after is None or seqs[0] > after)
        seen += [r.to_record().content.text for r in page]  # type: ignore[union-attr]
        after = page[-1].seq
    assert sizes == [3, 3, 3]
    assert seen == [f"document {i}" for i in range(9)]
    assert store.page_records(ds, after=after) == []
    assert [len(p) for p in store.iter_records(ds, batch_size=4)] == [4, 4, 1]
    assert store.count_records(ds) == 9
    assert store.count_records(other) == 3


def test_filters(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    store.add_records(
        ds,
        [
            _text(0, split="train", task_type="generation"),
            _text(1, split="test", task_type="chat"),
            Record(content={"kind": "conversation", "messages": [_msg("user", "hi")]}, split="train", task_type="chat"),
            _text(2, split="train"),
            Record(content=COMPARISON, split="test", task_type="chat"),
            _text(3),
        ],
    )

    def kinds_and_splits(flt: RecordFilter) -> list[tuple[str, str | None]]:
        rows = [r for page in store.iter_records(ds, flt=flt, batch_size=2) for r in page]
        assert store.count_records(ds, flt=flt) == len(rows)
        return [(r.kind, r.split) for r in rows]

    assert kinds_and_splits(RecordFilter(kinds=["text"])) == [
        ("text", "train"),
        ("text", "test"),
        ("text", "train"),
        ("text", None),
    ]
    assert kinds_and_splits(RecordFilter(kinds=["conversation", "comparison"])) == [
        ("conversation", "train"),
        ("comparison", "test"),
    ]
    assert kinds_and_splits(RecordFilter(exclude_kinds=["text"])) == [("conversation", "train"), ("comparison", "test")]
    assert kinds_and_splits(RecordFilter(splits=["test"])) == [("text", "test"), ("comparison", "test")]
    assert kinds_and_splits(RecordFilter(task_types=["chat"])) == [
        ("text", "test"),
        ("conversation", "train"),
        ("comparison", "test"),
    ]
    both = RecordFilter(kinds=["text"], splits=["train"], task_types=["generation"])
    assert kinds_and_splits(both) == [("text", "train")]
    assert kinds_and_splits(RecordFilter(splits=["train"], exclude_kinds=["conversation"])) == [
        ("text", "train"),
        ("text", "train"),
    ]
    assert kinds_and_splits(RecordFilter(kinds=["media"])) == []
    assert store.count_records(ds) == 6
    page = store.page_records(ds, flt=RecordFilter(kinds=["text"]), limit=2)
    assert [r.kind for r in store.page_records(ds, flt=RecordFilter(kinds=["text"]), after=page[-1].seq)] == [
        "text"
    ] * 2


def test_get_record_round_trips_every_kind(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    records = _every_kind()
    with store.writer(ds) as w:
        ids = [w.add(r) for r in records]
    rows = [r for page in store.iter_records(ds) for r in page]
    assert [r.kind for r in rows] == ["text", "conversation", "comparison", "agent_run", "media", "eval_item"]
    for rid, original in zip(ids, records, strict=True):
        got = store.get_record(rid)
        assert got.id == rid
        assert got.created_at is not None
        assert got.content == original.content
        assert got.content_hash == original.content_hash
        assert got.model_dump(exclude={"id", "created_at"}) == original.model_dump(exclude={"id", "created_at"})
    with pytest.raises(NotFound):
        store.get_record("no-such-record")


# -- responses and suggestions ----------------------------------------------------------------------


def _labelled(store: Store) -> tuple[Dataset, str, str]:
    store.create_project("p")
    ds = store.create_dataset(
        "p",
        "d",
        questions=[
            ChoiceQuestion(name="preferred", rationale="required"),
            RatingQuestion(name="quality", per_candidate=True),
            TextQuestion(name="note", required=False),
        ],
    )
    with store.writer(ds) as w:
        a = w.add(Record(content=COMPARISON))
        b = w.add(
            Record(content=dict(COMPARISON, prompt=[_msg("user", "Say bye")]))  # another record, same candidates
        )
    return ds, a, b


def test_save_response_validates(store: Store) -> None:
    _, rid, _ = _labelled(store)
    bad = Response(record_id=rid, user="ann", answers={"preferred": {"choice": "z"}, "quality": {"a": 9}, "x": 1})
    with pytest.raises(DataError) as info:
        store.save_response(bad)
    details = {d.loc: d for d in info.value.details}
    assert set(details) == {("answers", "preferred"), ("answers", "quality"), ("answers", "x")}
    assert "expected one of ['a', 'b']" in details[("answers", "preferred")].msg
    assert "from 1 to 5" in details[("answers", "quality")].msg
    assert details[("answers", "x")].input == 1
    assert {d.type for d in info.value.details} == {"invalid_answer"}
    missing = Response(record_id=rid, user="ann", answers={"preferred": {"choice": "a", "rationale": "short"}})
    with pytest.raises(DataError) as info:
        store.save_response(missing)
    assert [(d.loc, d.msg) for d in info.value.details] == [
        (("answers", "quality"), "a required question has no answer")
    ]
    assert store.responses_for([rid]) == {}  # nothing was saved
    with pytest.raises(NotFound):
        store.save_response(Response(record_id="nope", user="ann", answers={}))


def test_save_response_replaces_the_same_users(store: Store) -> None:
    _, rid, other = _labelled(store)
    first = {"preferred": {"choice": "a", "rationale": "shorter"}, "quality": {"a": 5, "b": 2}}
    saved = store.save_response(Response(record_id=rid, user="ann", answers=first))
    assert saved.id is not None and saved.updated_at is not None
    assert saved.answers == first
    second = {"preferred": {"choice": "b", "rationale": "politer"}, "quality": {"a": 3, "b": 4}, "note": "hm"}
    again = store.save_response(Response(record_id=rid, user="ann", answers=second))
    assert again.id == saved.id
    store.save_response(Response(record_id=rid, user="bob", answers=first))
    store.save_response(Response(record_id=other, user="ann", answers=first))
    got = store.responses_for([rid, other])
    assert sorted((r.user, r.answers["preferred"]["choice"]) for r in got[rid]) == [("ann", "b"), ("bob", "a")]
    ann = next(r for r in got[rid] if r.user == "ann")
    assert ann.answers == second
    assert ann.record_id == rid and ann.status == "submitted"
    assert [r.user for r in got[other]] == ["ann"]
    assert store.responses_for([]) == {}
    assert set(store.responses_for([other])) == {other}


def test_draft_responses_are_partial_and_not_returned(store: Store) -> None:
    _, rid, _ = _labelled(store)
    draft = store.save_response(Response(record_id=rid, user="ann", answers={"note": "later"}, status="draft"))
    assert draft.status == "draft"
    assert store.responses_for([rid]) == {}
    with pytest.raises(DataError):
        store.save_response(Response(record_id=rid, user="ann", answers={"quality": {"a": 0}}, status="draft"))


def test_suggestions(store: Store) -> None:
    _, rid, other = _labelled(store)
    s = store.save_suggestion(Suggestion(record_id=rid, question="quality", value={"a": 4}, agent="judge", score=0.8))
    assert s.id is not None and s.created_at is not None
    store.save_suggestion(
        Suggestion(record_id=rid, question="preferred", value={"choice": "b", "rationale": "r"}, agent="judge")
    )
    store.save_suggestion(
        Suggestion(record_id=rid, question="quality", value={"a": 2, "b": 1}, agent="judge")
    )  # replaces
    store.save_suggestion(Suggestion(record_id=rid, question="quality", value={"b": 5}, agent="other-judge"))
    got = store.suggestions_for(rid)
    assert [(g.question, g.agent, g.value) for g in got] == [
        ("preferred", "judge", {"choice": "b", "rationale": "r"}),
        ("quality", "judge", {"a": 2, "b": 1}),
        ("quality", "other-judge", {"b": 5}),
    ]
    assert got[1].score is None and got[1].record_id == rid
    assert store.suggestions_for(other) == []
    with pytest.raises(DataError) as info:
        store.save_suggestion(Suggestion(record_id=rid, question="quality", value={"z": 1}, agent="judge"))
    assert info.value.details[0].loc == ("value",)
    assert "unknown candidates" in info.value.details[0].msg
    with pytest.raises(DataError, match="does not fit"):
        store.save_suggestion(Suggestion(record_id=rid, question="nope", value=1, agent="judge"))
    assert len(store.suggestions_for(rid)) == 3


# -- versions -------------------------------------------------------------------------------------


def test_version_freezes_records_and_responses(store: Store) -> None:
    store.create_project("p")
    ds = store.create_dataset("p", "d", questions=[TextQuestion(name="ideal")])
    with store.writer(ds) as w:
        ids = [w.add(_text(i, split="train")) for i in range(3)]
    store.save_response(Response(record_id=ids[0], user="ann", answers={"ideal": "v1 answer"}))
    store.save_response(Response(record_id=ids[1], user="ann", answers={"ideal": "draft"}, status="draft"))
    v1 = store.create_version(ds, "v1", description="first cut")
    assert (v1.name, v1.dataset, v1.description, v1.record_count) == ("v1", "p/d", "first cut", 3)
    assert len(v1.manifest_hash) == 64

    # afterwards: more records, a changed response, a submitted draft
    store.add_records(ds, [_text(i, split="test") for i in range(3, 5)])
    store.save_response(Response(record_id=ids[0], user="ann", answers={"ideal": "changed"}))
    store.save_response(Response(record_id=ids[1], user="ann", answers={"ideal": "now submitted"}))
    store.save_response(Response(record_id=ids[2], user="bob", answers={"ideal": "new"}))

    assert _ids(store, ds, version=v1) == ids
    assert [len(p) for p in store.iter_records(ds, version=v1, batch_size=2)] == [2, 1]
    assert store.count_records(ds, version=v1) == 3
    assert store.count_records(ds) == 5
    assert store.count_records(ds, version=v1, flt=RecordFilter(splits=["test"])) == 0
    frozen = store.responses_for(ids, version=v1)
    assert {k: [(r.user, r.answers) for r in v] for k, v in frozen.items()} == {
        ids[0]: [("ann", {"ideal": "v1 answer"})]
    }
    live = store.responses_for(ids)
    assert [r.answers for r in live[ids[0]]] == [{"ideal": "changed"}]
    assert set(live) == set(ids)
    assert store.stats(ds, version=v1).total == 3
    assert store.stats(ds, version=v1).by_split == {"train": 3}
    assert store.get_version(ds, "v1") == v1  # the stored version is unchanged

    v2 = store.create_version(ds, "v2")
    assert v2.record_count == 5
    assert v2.manifest_hash != v1.manifest_hash
    assert _ids(store, ds, version=v2) == _ids(store, ds)
    assert len(store.responses_for(ids, version=v2)[ids[0]]) == 1


def test_manifest_hash_is_stable(store: Store, tmp_path: Path) -> None:
    def build(s: Store) -> tuple[Store, Dataset]:
        s.create_project("p")
        ds = s.create_dataset("p", "d", questions=[RatingQuestion(name="score")])
        with s.writer(ds, batch_size=2) as w:
            ids = [w.add(_text(i)) for i in range(4)]
        s.save_response(Response(record_id=ids[1], user="ann", answers={"score": 4}))
        return s, ds

    _, ds = build(store)
    a = store.create_version(ds, "a")
    b = store.create_version(ds, "b")
    assert a.manifest_hash == b.manifest_hash
    assert a.record_count == b.record_count == 4
    assert a.id != b.id
    assert store.get_version(ds, "a").manifest_hash == a.manifest_hash

    # the same content in a fresh SQLite store hashes alike: the hash is a reproducibility check
    fresh = Store.open(tmp_path / "fresh")
    try:
        _, fresh_ds = build(fresh)
        assert fresh.create_version(fresh_ds, "x").manifest_hash == a.manifest_hash
    finally:
        fresh.close()

    # a changed answer changes the hash
    rid = _ids(store, ds)[1]
    store.save_response(Response(record_id=rid, user="ann", answers={"score": 5}))
    assert store.create_version(ds, "c").manifest_hash != a.manifest_hash


def test_versions_conflict_and_list(store: Store) -> None:
    ds = store.ensure_dataset("p", "d")
    other = store.ensure_dataset("p", "other")
    store.add_records(ds, [_text(1)])
    assert store.list_versions(ds) == []
    v1 = store.create_version(ds, "v1")
    store.add_records(ds, [_text(2)])
    with pytest.raises(Conflict, match="v1"):
        store.create_version(ds, "v1")
    assert store.count_records(ds, version=v1) == 1  # the failed attempt changed nothing
    store.create_version(ds, "v2")
    store.create_version(other, "v1")  # names are per dataset
    assert [(v.name, v.record_count) for v in store.list_versions(ds)] == [("v1", 1), ("v2", 2)]
    assert [(v.name, v.record_count) for v in store.list_versions(other)] == [("v1", 0)]
    with pytest.raises(NotFound, match="v3"):
        store.get_version(ds, "v3")


def test_version_keeps_its_questions(store: Store) -> None:
    store.create_project("p")
    ds = store.create_dataset("p", "d", questions=[TextQuestion(name="ideal")])
    v1 = store.create_version(ds, "v1")
    ds = store.add_questions(ds, [StepVerdictQuestion(name="steps")])
    assert [q.name for q in store.version_questions(v1)] == ["ideal"]
    assert [q.name for q in store.version_questions(store.create_version(ds, "v2"))] == ["ideal", "steps"]


# -- stats ----------------------------------------------------------------------------------------


def test_stats(store: Store) -> None:
    store.create_project("p")
    ds = store.create_dataset("p", "d", questions=[TextQuestion(name="note", required=False)])
    records = [*_every_kind(), _text(1, split="train", task_type="generation"), _text(2)]
    with store.writer(ds) as w:
        ids = [w.add(r) for r in records]
    store.save_response(Response(record_id=ids[0], user="ann", answers={"note": "x"}))
    store.save_response(Response(record_id=ids[0], user="bob", answers={}))
    store.save_response(Response(record_id=ids[1], user="ann", answers={"note": "y"}))
    other = store.ensure_dataset("p", "other")
    store.add_records(other, [_text(9, split="train")])
    st = store.stats(ds)
    assert st.total == 8
    assert st.by_kind == {"agent_run": 1, "comparison": 1, "conversation": 1, "eval_item": 1, "media": 1, "text": 3}
    assert st.by_split == {"(none)": 4, "eval": 1, "test": 1, "train": 2}
    assert st.by_task_type == {"(none)": 3, "chat": 1, "closed_qa": 1, "generation": 2, "open_qa": 1}
    assert st.by_source == {"api": 8}
    assert st.responses == 3
    empty = store.stats(store.ensure_dataset("p", "empty"))
    assert (empty.total, empty.by_kind, empty.responses) == (0, {}, 0)
