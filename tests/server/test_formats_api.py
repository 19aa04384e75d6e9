"""GET /formats: the formats registry as the web app's import and export pages read it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from thresher.formats import formats

if TYPE_CHECKING:
    from tests.server.conftest import Api


def by_name(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in body["formats"]}


def test_every_registered_format_is_listed_with_what_it_needs(api: Api) -> None:
    api.store.accounts.create_user("ann", "a long password")
    r = api.login("ann", "a long password").get("/api/v1/formats")
    assert r.status_code == 200, r.text
    listed = by_name(r.json())
    assert set(listed) == set(formats())
    assert all(f["description"] for f in listed.values())

    coco = listed["coco"]  # a media export: answers to region questions on images, not importable as rows
    assert (coco["importable"], coco["exportable"], coco["writes_files"]) == (False, True, True)
    assert coco["kinds"] == ["media"] and coco["question_types"] == ["region"] and coco["media_types"] == ["image"]
    assert listed["mot"]["question_types"] == ["track"] and listed["mot"]["media_types"] == ["video"]

    dpo = listed["trl-preference"]  # labels carried in the file answer a ranking question
    assert dpo["importable"] and dpo["exportable"] and dpo["training"] and not dpo["writes_files"]
    assert dpo["question_types"] == ["ranking"] and dpo["extensions"] == [".jsonl", ".ndjson"]
    assert listed["sharegpt"]["default_container"] == "json" and listed["sharegpt"]["extensions"] == [".json"]
    assert [n for n, f in listed.items() if f["needs_mapping"]] == ["generic"]
    assert listed["thresher"]["kinds"] == ["text", "conversation", "comparison", "agent_run", "media", "eval_item"]

    boxes = {c["name"]: c["extensions"] for c in r.json()["containers"]}
    assert boxes["parquet"] == [".parquet", ".pq"] and boxes["hf"] == []


def test_formats_need_a_signed_in_caller(api: Api) -> None:
    r = api.anonymous().get("/api/v1/formats")
    assert r.status_code == 401
