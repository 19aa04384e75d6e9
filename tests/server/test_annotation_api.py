"""The annotation API: profiles, workflow, queue, tasks, review, agreement, progress, consensus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from thresher import annotate
from thresher.model import ChoiceQuestion, RatingQuestion, Record, Suggestion, TextContent

if TYPE_CHECKING:
    from tests.server.conftest import Api

API = "/api/v1"
P = f"{API}/projects/lab"
D = f"{P}/datasets/work"
ANSWER = {"quality": 4, "label": {"choice": "good"}}


def _seed(api: Api, n: int = 2, **workflow: Any) -> TestClient:
    """Project `lab`, dataset `work` with n records; returns the owner's client."""
    owner = api.member("lab", "owner", "olga")
    ds = api.store.create_dataset(
        "lab",
        "work",
        guidelines="Rate **carefully**.",
        questions=[
            RatingQuestion(name="quality", min=1, max=5),
            ChoiceQuestion(name="label", options=["good", "bad"], required=False),
        ],
    )
    api.store.add_records(ds, [Record(content=TextContent(text=f"text {i}"), metadata={"i": i}) for i in range(n)])
    r = owner.put(f"{D}/workflow", json={"overlap": 2, "lease_seconds": 600, **workflow})
    assert r.status_code == 200, r.text
    return owner


def test_profiles_and_workflow(api: Api) -> None:
    owner = _seed(api)
    ann = api.member("lab", "annotator", "ann")
    r = owner.put(f"{P}/annotators/ann", json={"skills": ["medical"], "languages": ["fr", "de"]})
    assert r.status_code == 200
    assert r.json() == {"user": "ann", "role": "annotator", "skills": ["medical"], "languages": ["fr", "de"]}
    assert ann.get(f"{P}/annotators/me").json()["skills"] == ["medical"]
    assert ann.get(f"{P}/annotators").status_code == 403  # a reviewer's view
    assert [p["user"] for p in owner.get(f"{P}/annotators").json()] == ["ann", "olga"]
    assert owner.put(f"{P}/annotators/nobody", json={"skills": []}).status_code == 404
    wf = ann.get(f"{D}/workflow").json()
    assert wf == {
        "overlap": 2,
        "lease_seconds": 600,
        "review": "none",
        "consensus": {},
        "skill_key": "skill",
        "language_key": "language",
        "rules": [],
    }
    bad = owner.put(f"{D}/workflow", json={"consensus": {"label": "mean"}})
    assert bad.status_code == 422 and api.locs(bad) == [["consensus", "label"]]
    assert owner.get(f"{D}/workflow").json()["overlap"] == 2  # a failed request changes nothing
    bad = owner.put(f"{D}/workflow", json={"overlap": 0})
    assert bad.status_code == 422 and api.locs(bad) == [["body", "overlap"]]


def test_an_annotator_works_the_queue(api: Api) -> None:
    _seed(api, n=2)
    first = api.store.page_records(api.store.get_dataset("lab", "work"), limit=1)[0]
    api.store.save_suggestion(Suggestion(record_id=first.id, question="quality", value=3, agent="judge"))
    ann = api.member("lab", "annotator", "ann")
    assert ann.get(f"{D}/records").status_code == 403  # annotators reach records through their tasks
    (row,) = ann.get(f"{P}/queue").json()
    assert row == {"dataset": "work", "available": 2, "in_progress": 0, "done_by_me": 0, "to_review": 0}

    task = ann.post(f"{D}/queue/next").json()
    assert set(task) == {"assignment", "record", "questions", "guidelines", "suggestions", "draft"}
    a = task["assignment"]
    assert a["status"] == "leased" and a["user"] == "ann" and a["dataset"] == "work" and a["reject_reason"] is None
    assert a["lease_expires_at"].endswith(("Z", "+00:00"))
    assert task["record"]["content"] == {"kind": "text", "text": "text 0"} and task["record"]["id"] == a["record_id"]
    assert [q["name"] for q in task["questions"]] == ["quality", "label"]
    assert task["guidelines"] == "Rate **carefully**." and task["draft"] is None
    assert [(s["question"], s["value"]) for s in task["suggestions"]] == [("quality", 3)]
    assert ann.post(f"{D}/queue/next").json()["assignment"]["id"] == a["id"]  # reload-safe

    url = f"{P}/assignments/{a['id']}"
    bad = ann.put(f"{url}/draft", json={"answers": {"qualty": 3}})
    assert bad.status_code == 422 and api.locs(bad) == [["answers", "qualty"]]
    # A draft keeps work in progress as typed (submitting checks it): here an out-of-range score.
    assert ann.put(f"{url}/draft", json={"answers": {"quality": 7}}).status_code == 204
    assert ann.get(url).json()["draft"] == {"answers": {"quality": 7}}
    assert ann.put(f"{url}/draft", json={"answers": {"label": {"choice": "bad"}}}).status_code == 204
    assert ann.get(url).json()["draft"] == {"answers": {"label": {"choice": "bad", "rationale": None}}}
    bad = ann.post(f"{url}/submit", json={"answers": {"label": {"choice": "bad"}}})
    assert bad.status_code == 422 and api.locs(bad) == [["answers", "quality"]]
    done = ann.post(f"{url}/submit", json={"answers": ANSWER})
    assert done.status_code == 200
    body = done.json()
    assert body["assignment_id"] == a["id"] and body["user"] == "ann" and body["status"] == "submitted"
    assert body["answers"] == {"quality": 4, "label": {"choice": "good", "rationale": None}}
    assert ann.post(f"{url}/submit", json={"answers": ANSWER}).status_code == 409  # already submitted
    amended = ann.post(f"{url}/amend", json={"answers": {"quality": 2}})
    assert amended.status_code == 200 and amended.json()["answers"] == {"quality": 2}
    assert ann.get(url).json()["assignment"]["status"] == "amending"

    second = ann.post(f"{D}/queue/next").json()["assignment"]
    assert second["record_id"] != a["record_id"]
    assert ann.post(f"{P}/assignments/{second['id']}/skip", json={"reason": ""}).status_code == 422
    assert ann.post(f"{P}/assignments/{second['id']}/skip", json={"reason": "not my field"}).status_code == 204
    assert ann.post(f"{D}/queue/next").status_code == 204  # done one, skipped the other

    (h,) = ann.get(f"{D}/queue/history").json()
    assert h["assignment_id"] == a["id"] and h["answers"] == {"quality": 2} and h["status"] == "amending"
    assert h["review"] is None and h["submitted_at"] is not None

    other = api.member("lab", "annotator", "bob")
    assert other.get(url).status_code == 404  # someone else's assignment
    assert other.post(f"{url}/amend", json={"answers": ANSWER}).status_code == 404
    rev = api.member("lab", "reviewer", "rita")
    assert rev.get(url).json()["assignment"]["user"] == "ann"  # reviewers see any


def test_a_lost_lease_is_a_409(api: Api) -> None:
    _seed(api, n=1, overlap=1)
    ann = api.member("lab", "annotator", "ann")
    a = ann.post(f"{D}/queue/next").json()["assignment"]
    later = datetime.now(UTC) + timedelta(seconds=601)
    taken = annotate.next_task(api.store, api.store.get_dataset("lab", "work"), "bob", [], [], now=later)
    assert taken is not None and taken.record.id == a["record_id"]
    r = ann.post(f"{P}/assignments/{a['id']}/submit", json={"answers": ANSWER})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert ann.get(f"{P}/assignments/{a['id']}").json()["assignment"]["status"] == "expired"


def test_review_agreement_progress_and_consensus(api: Api) -> None:
    owner = _seed(api, n=2, review="all")
    people = {name: api.member("lab", "annotator", name) for name in ("ann", "bob")}
    given = {"ann": [(4, "good"), (2, "bad")], "bob": [(5, "good"), (2, "good")]}
    for name, client in people.items():
        for quality, label in given[name]:
            a = client.post(f"{D}/queue/next").json()["assignment"]
            answers = {"quality": quality, "label": {"choice": label}}
            assert client.post(f"{P}/assignments/{a['id']}/submit", json={"answers": answers}).status_code == 200
    rev = api.member("lab", "reviewer", "rita")
    assert people["ann"].post(f"{D}/review/next").status_code == 403
    item = rev.post(f"{D}/review/next").json()
    assert set(item) == {"record", "questions", "guidelines", "responses", "consensus"}
    assert item["record"]["content"]["text"] == "text 0"
    assert [(r["user"], r["answers"]["quality"], r["status"]) for r in item["responses"]] == [
        ("ann", 4, "submitted"),
        ("bob", 5, "submitted"),
    ]
    assert all(r["assignment_id"] and r["review_status"] == "pending" for r in item["responses"])
    assert item["consensus"] == {"quality": 4.5, "label": {"choice": "good", "rationale": None}}
    ann_response = item["responses"][0]["id"]
    url = f"{P}/responses/{ann_response}/review"
    bad = rev.post(url, json={"decision": "reject"})
    assert bad.status_code == 422 and api.locs(bad) == [["reason"]]
    bad = rev.post(url, json={"decision": "correct"})
    assert bad.status_code == 422 and api.locs(bad) == [["answers"]]
    bad = rev.post(url, json={"decision": "correct", "answers": {"quality": 0}})
    assert bad.status_code == 422 and api.locs(bad) == [["answers", "quality"]]
    assert rev.post(f"{P}/responses/nope/review", json={"decision": "accept"}).status_code == 404
    r = rev.post(url, json={"decision": "reject", "reason": "the text is not good"})
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("response_id", "decision", "reason", "reviewer")} == {
        "response_id": ann_response,
        "decision": "reject",
        "reason": "the text is not good",
        "reviewer": "rita",
    }
    assert rev.post(url, json={"decision": "accept"}).status_code == 409  # no longer submitted

    back = people["ann"].post(f"{D}/queue/next").json()
    assert back["assignment"]["status"] == "rejected"
    assert back["assignment"]["reject_reason"] == "the text is not good"
    assert back["draft"]["answers"]["quality"] == 4
    history = people["ann"].get(f"{D}/queue/history").json()
    assert [x["submitted_at"] for x in history] == sorted((x["submitted_at"] for x in history), reverse=True)
    h = next(x for x in history if x["assignment_id"] == back["assignment"]["id"])
    assert h["status"] == "rejected" and h["review"] == {
        "decision": "reject",
        "reason": "the text is not good",
        "reviewer": "rita",
    }
    fixed = {"quality": 5, "label": {"choice": "good"}}
    assert (
        people["ann"].post(f"{P}/assignments/{back['assignment']['id']}/submit", json={"answers": fixed}).status_code
        == 200
    )

    agreement = owner.get(f"{D}/agreement").json()
    by_q = {q["question"]: q for q in agreement["questions"]}
    assert by_q["quality"]["metric"] == "krippendorff_alpha" and by_q["quality"]["n_items"] == 2
    assert by_q["quality"]["value"] is not None and by_q["quality"]["n_annotators"] == 2
    label = by_q["label"]
    assert label["metric"] == "fleiss_kappa" and label["pairs"][0]["metric"] == "cohen_kappa"
    # ann: good, bad; bob: good, good -> po = 1/2, pe = (1/2 * 1 + 1/2 * 0) = 1/2 -> kappa 0
    assert label["pairs"][0]["value"] == 0.0 and label["pairs"][0]["n"] == 2

    progress = owner.get(f"{D}/progress").json()
    assert {k: progress[k] for k in ("records", "target", "submitted", "in_progress", "skipped", "complete")} == {
        "records": 2,
        "target": 4,
        "submitted": 4,
        "in_progress": 0,
        "skipped": 0,
        "complete": 2,
    }
    ann_stats = next(s for s in progress["annotators"] if s["user"] == "ann")
    assert ann_stats["submitted"] == 2 and ann_stats["rejected"] == 1 and ann_stats["median_seconds"] >= 0
    assert 0 <= ann_stats["agreement_with_consensus"] <= 1

    record_id = item["record"]["id"]
    cons = owner.get(f"{D}/records/{record_id}/consensus").json()
    assert cons == {
        "answers": {"quality": 5.0, "label": {"choice": "good", "rationale": None}},
        "rules": {"quality": "mean", "label": "majority"},
        "n": 2,
    }
    assert owner.get(f"{D}/records/nope/consensus").status_code == 404


def test_a_response_sent_straight_to_a_record_keeps_the_queues_rules(api: Api) -> None:
    """`PUT .../responses/me` on a dataset with a workflow: only the task's holder may answer, and
    a submission counts against the overlap like one from the queue."""
    _seed(api, n=1, overlap=1)
    ann, other = api.member("lab", "annotator", "ann"), api.member("lab", "annotator", "bea")
    rid = api.store.page_records(api.store.get_dataset("lab", "work"), limit=1)[0].id
    url = f"{D}/records/{rid}/responses/me"
    refused = ann.put(url, json={"answers": ANSWER})
    assert refused.status_code == 409 and "take it from the queue" in refused.json()["error"]["message"]
    assert ann.post(f"{D}/queue/next").json()["assignment"]["record_id"] == rid
    assert ann.put(url, json={"answers": {"quality": 2}, "status": "draft"}).status_code == 200
    done = ann.put(url, json={"answers": ANSWER})
    assert done.status_code == 200 and done.json()["status"] == "submitted"
    assert ann.put(url, json={"answers": {**ANSWER, "quality": 5}}).json()["answers"]["quality"] == 5  # amends
    # The overlap (1) is reached: the other annotator can neither take it nor answer it directly.
    assert other.post(f"{D}/queue/next").status_code in (200, 204)
    assert other.put(url, json={"answers": ANSWER}).status_code == 409
