"""The queue on SQLite and PostgreSQL: overlap under concurrency, leases, routing, skip, reject, amend."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from annotation_support import T0, MakeDataset, at, dataset_maker
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from thresher import annotate
from thresher.errors import Conflict, DataError
from thresher.model import Dataset
from thresher.store import Store
from thresher.store import tables as t


@pytest.fixture
def make_dataset(store: Store) -> MakeDataset:
    return dataset_maker(store)


def _work(store: Store, ds: Dataset, user: str, skills: list[str] = [], languages: list[str] = []) -> list[str]:  # noqa: B006
    """Take and submit tasks until the queue has nothing for ``user``; returns the record ids done."""
    done = []
    while (task := annotate.next_task(store, ds, user, skills, languages, now=T0)) is not None:
        annotate.submit(store, ds, task.assignment.id, user, {"quality": 3}, now=T0)
        done.append(task.record.id)
    return done


def test_overlap_is_never_exceeded_by_concurrent_annotators(store: Store, make_dataset: MakeDataset) -> None:
    ds = make_dataset(30, overlap=2)
    users = [f"u{i}" for i in range(6)]
    results: dict[str, list[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(users))

    def run(user: str) -> None:
        try:
            start.wait()
            results[user] = _work(store, ds, user)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run, args=(u,)) for u in users]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    per_record = Counter(rid for done in results.values() for rid in done)
    assert len(per_record) == 30 and set(per_record.values()) == {2}  # every record exactly twice
    for done in results.values():
        assert len(done) == len(set(done))  # never the same record twice to one annotator
    a = t.annotation_assignments
    with store.engine.connect() as conn:
        rows = conn.execute(select(a.c.record_seq, a.c.slot, a.c.user_name).where(a.c.dataset_id == ds.id)).all()
    assert len(rows) == 60 and len({(r.record_seq, r.slot) for r in rows}) == 60
    assert {r.slot for r in rows} == {0, 1}


def test_the_database_refuses_a_second_holder_of_a_slot(store: Store, make_dataset: MakeDataset) -> None:
    ds = make_dataset(1, overlap=2)
    task = annotate.next_task(store, ds, "ann", [], [], now=T0)
    assert task is not None
    a = task.assignment
    row = {
        "dataset_id": ds.id,
        "record_seq": a.record_seq,
        "record_id": a.record_id,
        "status": "leased",
        "leased_at": T0,
        "lease_expires_at": at(60),
    }
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(insert(t.annotation_assignments).values(id="x1", user_name="other", slot=a.slot, **row))
    with pytest.raises(IntegrityError), store.engine.begin() as conn:  # nor one annotator twice on a record
        conn.execute(insert(t.annotation_assignments).values(id="x2", user_name="ann", slot=1, **row))


def test_asking_again_returns_the_held_task_and_an_expired_lease_goes_to_someone_else(
    store: Store, make_dataset: MakeDataset
) -> None:
    ds = make_dataset(1, overlap=1, lease_seconds=60)
    first = annotate.next_task(store, ds, "ann", [], [], now=T0)
    assert first is not None
    again = annotate.next_task(store, ds, "ann", [], [], now=at(30))
    assert again is not None and again.assignment.id == first.assignment.id  # reload-safe
    assert annotate.next_task(store, ds, "bob", [], [], now=at(50)) is None  # held: nothing for bob
    annotate.save_draft(store, ds, first.assignment.id, "ann", {"label": {"choice": "good"}}, now=at(80))
    assert annotate.next_task(store, ds, "bob", [], [], now=at(120)) is None  # the draft extended the lease
    taken = annotate.next_task(store, ds, "bob", [], [], now=at(141))  # 61 s after the draft: expired
    assert taken is not None and taken.record.id == first.record.id
    with pytest.raises(Conflict):
        annotate.submit(store, ds, first.assignment.id, "ann", {"quality": 4}, now=at(150))
    response = annotate.submit(store, ds, taken.assignment.id, "bob", {"quality": 2}, now=at(150))
    assert response.user == "bob" and response.answers == {"quality": 2} and response.status == "submitted"
    counts = store.annotation.status_counts(ds.id or 0)
    assert counts == {"expired": 1, "submitted": 1}


def test_the_queue_offers_only_fitting_work(store: Store, make_dataset: MakeDataset) -> None:
    meta = [{"skill": "Medical", "language": "fr"}, {"language": "de"}, {}, {"domain": "law"}]
    ds = make_dataset(
        4,
        metadata=lambda i: meta[i],
        rules=[{"match": {"metadata.domain": "law"}, "skill": "legal"}],
    )

    def texts(done: list[str]) -> list[str]:
        return sorted(store.get_dataset_record(ds, r).to_record().content.text for r in done)  # type: ignore[union-attr]

    assert texts(_work(store, ds, "plain")) == ["text 2"]  # no skill, no language: only what needs none
    assert texts(_work(store, ds, "medic", ["medical"], ["FR"])) == ["text 0"]  # tags match case-insensitively
    assert texts(_work(store, ds, "lawyer", ["legal"], ["de"])) == ["text 1", "text 3"]  # the rule routes text 3


def test_changing_the_routing_reroutes_the_queue(store: Store, make_dataset: MakeDataset) -> None:
    ds = make_dataset(3, metadata=lambda i: {"team": "red" if i else "blue"})
    assert annotate.next_task(store, ds, "blue", ["blue"], [], now=T0) is not None  # `team` is not the skill key yet
    annotate.set_workflow(store, ds, annotate.Workflow(skill_key="team", lease_seconds=600), now=T0)
    assert annotate.next_task(store, ds, "plain", [], [], now=T0) is None  # now every record needs a team
    assert len(_work(store, ds, "red", ["red"])) == 2
    assert len(_work(store, ds, "blue", ["blue"])) == 1  # its held task, submitted


def test_skip_frees_the_slot_for_others_but_not_for_the_skipper(store: Store, make_dataset: MakeDataset) -> None:
    ds = make_dataset(1)
    task = annotate.next_task(store, ds, "ann", [], [], now=T0)
    assert task is not None
    annotate.skip(store, ds, task.assignment.id, "ann", "not my field")
    assert annotate.next_task(store, ds, "ann", [], [], now=T0) is None
    other = annotate.next_task(store, ds, "bob", [], [], now=T0)
    assert other is not None and other.record.id == task.record.id
    assert store.annotation.get_assignment(task.assignment.id).skip_reason == "not my field"


def test_submit_validates_fully_and_changes_nothing_on_error(store: Store, make_dataset: MakeDataset) -> None:
    ds = make_dataset(1)
    task = annotate.next_task(store, ds, "ann", [], [], now=T0)
    assert task is not None
    with pytest.raises(DataError) as e:
        annotate.submit(store, ds, task.assignment.id, "ann", {"quality": 9}, now=T0)
    assert [d.loc for d in e.value.details] == [("answers", "quality")]
    with pytest.raises(DataError) as e:
        annotate.submit(store, ds, task.assignment.id, "ann", {"label": {"choice": "good"}}, now=T0)
    assert [d.loc for d in e.value.details] == [("answers", "quality")]  # required, missing
    assert store.annotation.get_assignment(task.assignment.id).status == "leased"
    assert store.list_responses(task.record.id) == []


def test_a_rejection_comes_back_to_its_annotator_first_with_reason_and_draft(
    store: Store, make_dataset: MakeDataset
) -> None:
    ds = make_dataset(2, overlap=1, review="all")
    task = annotate.next_task(store, ds, "ann", [], [], now=T0)
    assert task is not None
    response = annotate.submit(store, ds, task.assignment.id, "ann", {"quality": 2}, now=at(10))
    amended = annotate.amend(store, ds, task.assignment.id, "ann", {"quality": 3}, now=at(20))
    assert amended.answers == {"quality": 3}
    item = annotate.review_next(store, ds, "rev", now=at(30))
    assert item is not None and item.record.id == task.record.id
    assert annotate.review_next(store, ds, "rev2", now=at(31)) is None  # held by the first reviewer
    with pytest.raises(DataError) as e:
        annotate.decide(store, "p", response.id or "", "rev", "reject", reason=" ")
    assert [d.loc for d in e.value.details] == [("reason",)]
    annotate.decide(store, "p", response.id or "", "rev", "reject", reason="too generous", now=at(40))
    assert [r.status for r in store.list_responses(task.record.id)] == ["draft"]
    back = annotate.next_task(store, ds, "ann", [], [], now=at(50))  # before the other open record
    assert back is not None and back.assignment.id == task.assignment.id
    assert back.assignment.status == "rejected" and back.assignment.reject_reason == "too generous"
    assert back.assignment.draft == {"quality": 3}
    annotate.submit(store, ds, back.assignment.id, "ann", {"quality": 1}, now=at(60))
    item = annotate.review_next(store, ds, "rev", now=at(70))
    assert item is not None and [r.answers for r in item.responses] == [{"quality": 1}]
    accepted = item.responses[0]
    annotate.decide(store, "p", accepted.id or "", "rev", "accept", now=at(80))
    with pytest.raises(Conflict):
        annotate.amend(store, ds, task.assignment.id, "ann", {"quality": 5}, now=at(90))
    with pytest.raises(Conflict):  # nobody reviews their own work
        annotate.decide(store, "p", accepted.id or "", "ann", "accept")
    assert annotate.review_next(store, ds, "rev", now=at(100)) is None


def test_a_correction_replaces_the_answers_and_keeps_the_original_for_agreement(
    store: Store, make_dataset: MakeDataset
) -> None:
    ds = make_dataset(1, overlap=2, review="all")
    ids = []
    for user, score in (("a", 2), ("b", 4)):
        task = annotate.next_task(store, ds, user, [], [], now=T0)
        assert task is not None
        ids.append(annotate.submit(store, ds, task.assignment.id, user, {"quality": score}, now=T0).id)
    review = annotate.decide(store, "p", ids[0] or "", "rev", "correct", answers={"quality": 5}, now=at(5))
    assert review.decision == "correct" and review.original_answers == {"quality": 2}
    record_id = store.page_records(ds, limit=1)[0].id
    answers, rules, n = annotate.record_consensus(store, ds, record_id)
    assert (answers, rules["quality"], n) == ({"quality": 4.5}, "mean", 2)  # mean of 5 (corrected) and 4
    q = next(x for x in annotate.dataset_agreement(store, ds) if x.question == "quality")
    assert q.n_items == 1 and q.n_annotators == 2  # computed over what a and b said (2 and 4)
    progress = annotate.progress(store, ds)
    assert (progress.records, progress.target, progress.submitted, progress.complete) == (1, 2, 2, 1)
    by_user = {s.user: s for s in progress.annotators}
    assert by_user["a"].agreement_with_consensus == pytest.approx(1 - 1 / 4)  # |2 - 3| / (5 - 1)


def test_deleting_a_dataset_takes_its_queue_with_it(store: Store, make_dataset: MakeDataset) -> None:
    ds = make_dataset(2, overlap=2, review="all")
    task = annotate.next_task(store, ds, "ann", [], [], now=T0)
    assert task is not None
    response = annotate.submit(store, ds, task.assignment.id, "ann", {"quality": 3}, now=T0)
    annotate.decide(store, "p", response.id or "", "rev", "reject", reason="again", now=at(1))
    store.delete_dataset(ds)
    with store.engine.connect() as conn:
        for table in (t.annotation_queue, t.annotation_assignments, t.annotation_reviews, t.annotation_workflows):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.name


def test_the_next_task_query_is_an_index_seek(sqlite_store: Store) -> None:
    from sqlalchemy import text

    from thresher.store.annotation import _CANDIDATE

    stmt = _CANDIDATE.params(d=1, s="", l="en", below=2**62, u="ann")
    sql = str(stmt.compile(sqlite_store.engine, compile_kwargs={"literal_binds": True}))
    with sqlite_store.engine.connect() as conn:
        plan = " ; ".join(row[-1] for row in conn.execute(text(f"EXPLAIN QUERY PLAN {sql}")))
    assert "INDEX ix_annotation_queue_open" in plan and "SCAN" not in plan, plan
