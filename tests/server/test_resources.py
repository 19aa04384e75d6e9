"""The resource routers end to end, on SQLite and PostgreSQL, as the roles that use them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from tests.server.conftest import Api

API = "/api/v1"
P = f"{API}/projects/lab"
DS = f"{P}/datasets/chat"
QUALITY = {"type": "rating", "name": "quality", "min": 1, "max": 5}


def text(t: str, **extra: Any) -> dict[str, Any]:
    return {"content": {"kind": "text", "text": t}, **extra}


def chat(user: str, assistant: str, **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return {"content": {"kind": "conversation", "messages": messages}, **extra}


@pytest.fixture
def owner(api: Api) -> TestClient:
    """The owner of project `lab`, which has a dataset `chat` with one rating question."""
    api.store.create_project("lab")
    c = api.member("lab", "owner", "olivia")
    r = c.post(f"{P}/datasets", json={"name": "chat", "questions": [QUALITY]})
    assert r.status_code == 201, r.text
    return c


def add(c: TestClient, records: list[dict[str, Any]], url: str = DS) -> list[str]:
    r = c.post(f"{url}/records", json=records)
    assert r.status_code == 200, r.text
    ids: list[str] = r.json()["ids"]
    return ids


def count(c: TestClient, url: str = DS) -> int:
    r = c.get(f"{url}/records", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


# -- projects ---------------------------------------------------------------------------------


def test_projects_created_by_admins_seen_by_members_deleted_by_owners(api: Api) -> None:
    admin = api.user("root", admin=True)
    r = admin.post(f"{API}/projects", json={"name": "lab", "description": "the lab"})
    assert r.status_code == 201 and r.json()["name"] == "lab"
    assert admin.post(f"{API}/projects", json={"name": "lab"}).status_code == 409
    assert admin.post(f"{API}/projects", json={"name": "no spaces"}).status_code == 422
    admin.post(f"{API}/projects", json={"name": "secret"})

    member = api.member("lab", "annotator", "ann")
    assert [p["name"] for p in member.get(f"{API}/projects").json()] == ["lab"]
    assert member.get(f"{API}/projects").json()[0]["role"] == "annotator"
    assert {p["name"] for p in admin.get(f"{API}/projects").json()} == {"lab", "secret"}
    assert member.post(f"{API}/projects", json={"name": "mine"}).status_code == 403
    assert member.get(f"{API}/projects/secret").status_code == 404  # not "403": existence is not confirmed
    assert member.get(f"{API}/projects/nope").status_code == 404

    owner = api.member("lab", "owner", "olivia")
    r = owner.patch(f"{API}/projects/lab", json={"description": "renamed"})
    assert r.status_code == 200 and r.json()["description"] == "renamed"
    assert owner.patch(f"{API}/projects/lab", json={}).json()["description"] == "renamed"  # unset: unchanged
    assert member.patch(f"{API}/projects/lab", json={"description": "x"}).status_code == 403

    owner.post(f"{API}/projects/lab/datasets", json={"name": "d"})
    add(owner, [text("kept until the project goes")], f"{API}/projects/lab/datasets/d")
    assert member.delete(f"{API}/projects/lab").status_code == 403
    assert owner.delete(f"{API}/projects/lab").status_code == 204
    assert admin.get(f"{API}/projects/lab").status_code == 404
    assert [p["name"] for p in admin.get(f"{API}/projects").json()] == ["secret"]
    assert api.store.list_datasets("lab") == []


# -- datasets, questions, guidelines ----------------------------------------------------------


def test_dataset_crud(api: Api, owner: TestClient) -> None:
    r = owner.get(DS)
    assert r.status_code == 200 and r.json()["questions"][0]["name"] == "quality"
    assert owner.post(f"{P}/datasets", json={"name": "chat"}).status_code == 409
    r = owner.post(f"{P}/datasets", json={"name": "twice", "questions": [QUALITY, QUALITY]})
    assert r.status_code == 422 and "unique" in r.text
    assert owner.get(f"{P}/datasets/nope").status_code == 404

    r = owner.patch(DS, json={"description": "support chats", "guidelines": "# Rate helpfulness"})
    assert r.status_code == 200 and r.json()["guidelines"] == "# Rate helpfulness"
    r = owner.patch(DS, json={"description": None})  # null clears; a field left out stays
    assert r.json()["description"] is None and r.json()["guidelines"] == "# Rate helpfulness"
    assert owner.get(f"{DS}/guidelines").json() == {"guidelines": "# Rate helpfulness"}
    assert owner.put(f"{DS}/guidelines", json={"guidelines": "be kind"}).json() == {"guidelines": "be kind"}
    assert owner.get(DS).json()["guidelines"] == "be kind"

    owner.post(f"{P}/datasets", json={"name": "other"})
    assert [d["name"] for d in owner.get(f"{P}/datasets").json()] == ["chat", "other"]
    engineer = api.member("lab", "engineer")
    assert engineer.delete(f"{P}/datasets/other").status_code == 403  # deleting a dataset is the owner's
    assert owner.delete(f"{P}/datasets/other").status_code == 204
    assert owner.get(f"{P}/datasets/other").status_code == 404
    assert owner.delete(f"{P}/datasets/other").status_code == 404


def test_questions(owner: TestClient) -> None:
    note = {"type": "text", "name": "note", "required": False}
    r = owner.post(f"{DS}/questions", json=note)
    assert r.status_code == 201 and r.json()["name"] == "note"
    assert owner.post(f"{DS}/questions", json=note).status_code == 409
    r = owner.post(f"{DS}/questions", json={"type": "rating", "name": "bad", "min": 5, "max": 1})
    assert r.status_code == 422
    assert [q["name"] for q in owner.get(f"{DS}/questions").json()] == ["quality", "note"]

    r = owner.put(f"{DS}/questions/quality", json={**QUALITY, "max": 7})
    assert r.status_code == 200 and r.json()["max"] == 7
    assert owner.get(f"{DS}/questions").json()[0]["max"] == 7  # replaced in place
    assert owner.put(f"{DS}/questions/quality", json={**QUALITY, "name": "note"}).status_code == 409
    assert owner.put(f"{DS}/questions/nope", json=QUALITY).status_code == 404

    assert owner.delete(f"{DS}/questions/note").status_code == 204
    assert owner.delete(f"{DS}/questions/note").status_code == 404
    assert [q["name"] for q in owner.get(f"{DS}/questions").json()] == ["quality"]


# -- records ----------------------------------------------------------------------------------


def test_records_are_paged_by_keyset_and_filtered(owner: TestClient) -> None:
    ids = add(
        owner,
        [
            text("Bonjour tout le monde", metadata={"lang": "fr", "source": {"site": "wiki"}}, split="train"),
            text("Hello world", metadata={"lang": "en", "stars": 5, "reviewed": True}, split="train"),
            chat("Wie spät ist es?", "Drei Uhr.", metadata={"lang": "de"}, split="test", task_type="open_qa"),
            chat("What is 2+2?", "4", metadata={"lang": "en", "stars": 3}, task_type="closed_qa"),
            text("50% off_today", metadata={"lang": "en", "source": {"site": "shop"}}),
        ],
    )
    assert len(set(ids)) == 5

    seen: list[str] = []
    after: int | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"after": after} if after is not None else {})
        page = owner.get(f"{DS}/records", params=params).json()
        seen += [r["id"] for r in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
        assert after == page["items"][-1]["seq"]
    assert seen == ids and pages == 3  # in insertion order, and no empty page at the end

    def ids_for(**params: Any) -> list[str]:
        r = owner.get(f"{DS}/records", params=params)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    assert ids_for(kind="conversation") == ids[2:4]
    assert ids_for(kind=["conversation", "text"]) == ids
    assert ids_for(split="train") == ids[:2]
    assert ids_for(task_type="closed_qa") == [ids[3]]
    assert ids_for(**{"metadata.lang": "en"}) == [ids[1], ids[3], ids[4]]
    assert ids_for(**{"metadata.lang": "en", "kind": "text"}) == [ids[1], ids[4]]
    assert ids_for(**{"metadata.source.site": "wiki"}) == [ids[0]]
    assert ids_for(**{"metadata.stars": "5"}) == [ids[1]]
    assert ids_for(**{"metadata.reviewed": "true"}) == [ids[1]]
    assert ids_for(**{"metadata.lang": "xx"}) == []
    assert ids_for(q="hello") == [ids[1]]  # case-insensitive
    assert ids_for(q="spät") == [ids[2]]
    assert ids_for(q="50%") == [ids[4]]  # LIKE wildcards are literal
    assert ids_for(q="_") == [ids[4]]
    assert ids_for(q="2+2", kind="conversation") == [ids[3]]
    first = owner.get(f"{DS}/records", params={"metadata.lang": "en", "limit": 2}).json()
    assert [x["id"] for x in first["items"]] == [ids[1], ids[3]]
    assert ids_for(**{"metadata.lang": "en", "after": first["next"]}) == [ids[4]]  # filters keep keyset pages

    r = owner.get(f"{DS}/records", params={"metadata.a'b": "x"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["metadata", "a'b"]
    assert owner.get(f"{DS}/records", params={"limit": 0}).status_code == 422
    assert owner.get(f"{DS}/records", params={"kind": "poem"}).status_code == 422

    one = owner.get(f"{DS}/records/{ids[2]}").json()
    assert one["content"]["messages"][1]["content"] == "Drei Uhr." and one["metadata"] == {"lang": "de"}
    assert owner.get(f"{DS}/records/nope").status_code == 404


def test_adding_records_is_atomic_and_deduplicated(owner: TestClient) -> None:
    r = owner.post(f"{DS}/records", json=[text("one"), text("two")])
    assert r.json()["added"] == 2 and r.json()["duplicates"] == 0
    r = owner.post(f"{DS}/records", json=[text("one"), text("  one "), text("three")])  # same normalized content
    assert r.json()["added"] == 1 and r.json()["duplicates"] == 2
    assert r.json()["ids"][0] == r.json()["ids"][1]

    bad = [text("four"), {"content": {"kind": "conversation", "messages": [{"role": "robot", "content": "x"}]}}]
    r = owner.post(f"{DS}/records", json=bad)
    assert r.status_code == 422
    locs = [d["loc"] for d in r.json()["detail"]]
    assert ["body", 1, "content", "conversation", "messages", 0, "role"] in locs
    assert (
        owner.post(f"{DS}/records", json=[{"content": {"kind": "text", "text": "x"}, "id": "forged"}]).status_code
        == 422
    )
    assert owner.post(f"{DS}/records", json=[]).status_code == 422
    assert count(owner) == 3  # "four" was not written


def test_a_record_of_another_project_is_not_found(api: Api, owner: TestClient) -> None:
    api.store.create_project("elsewhere")
    other = api.member("elsewhere", "owner")
    other.post(f"{API}/projects/elsewhere/datasets", json={"name": "chat"})
    [foreign] = add(other, [text("theirs")], f"{API}/projects/elsewhere/datasets/chat")
    assert owner.get(f"{DS}/records/{foreign}").status_code == 404
    assert owner.put(f"{DS}/records/{foreign}/responses/me", json={"answers": {"quality": 1}}).status_code == 404
    assert owner.get(f"{API}/projects/elsewhere/datasets/chat/records/{foreign}").status_code == 404


def test_import_upload(owner: TestClient) -> None:
    good = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n' * 2
    good += b'{"messages": [{"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]}\n'
    r = owner.post(f"{DS}/records/import", files={"file": ("chats.jsonl", good)}, data={"split": "train"})
    assert r.status_code == 200, r.text
    assert r.json() | {"import_id": "-"} == {
        "file": "chats.jsonl",
        "format": "openai-chat",
        "container": "jsonl",
        "import_id": "-",
        "rows": 3,
        "added": 2,
        "duplicates": 1,
        "invalid": 0,
        "responses": 0,
    }
    assert owner.get(f"{DS}/records", params={"split": "train"}).json()["items"][0]["source"]["file"] == "chats.jsonl"

    bad = (
        b'{"messages": [{"role": "user", "content": "new"}, {"role": "assistant", "content": "row"}]}\n'
        b'{"messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "b"}]}\n'
    )
    r = owner.post(f"{DS}/records/import", files={"file": ("../../etc/bad file.jsonl", bad)})
    assert r.status_code == 422, r.text
    [detail] = r.json()["error"]["details"]
    assert detail["loc"][:2] == ["bad_file.jsonl", 2] and "role" in detail["loc"]
    assert count(owner) == 2  # the good first row was not written either

    r = owner.post(f"{DS}/records/import", files={"file": ("rows.xlsx", b"PK")})
    assert r.status_code == 400 and "rows.xlsx" in r.json()["error"]["message"]
    r = owner.post(f"{DS}/records/import", files={"file": ("rows.jsonl", good)}, data={"format": "nope"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["format"]
    assert owner.post(f"{DS}/records/import", data={"format": "openai-chat"}).status_code == 422  # no file
    assert count(owner) == 2


# -- versions ---------------------------------------------------------------------------------


def test_versions(owner: TestClient) -> None:
    add(owner, [text("a"), text("b")])
    r = owner.post(f"{DS}/versions", json={"name": "v1", "description": "first cut"})
    assert r.status_code == 201 and r.json()["record_count"] == 2 and len(r.json()["manifest_hash"]) == 64
    assert owner.post(f"{DS}/versions", json={"name": "v1"}).status_code == 409
    add(owner, [text("c")])
    owner.post(f"{DS}/versions", json={"name": "v2"})
    assert [(v["name"], v["record_count"]) for v in owner.get(f"{DS}/versions").json()] == [("v1", 2), ("v2", 3)]
    assert owner.get(f"{DS}/versions/v1").json()["description"] == "first cut"
    assert owner.get(f"{DS}/versions/v9").status_code == 404


# -- responses and suggestions ----------------------------------------------------------------


def test_responses_annotators_see_their_own(api: Api, owner: TestClient) -> None:
    [rid] = add(owner, [text("rate me")])
    url = f"{DS}/records/{rid}/responses"
    ann, bob, rev = api.member("lab", "annotator", "ann"), api.member("lab", "annotator", "bob"), None
    rev = api.member("lab", "reviewer", "rev")

    r = ann.put(f"{url}/me", json={"answers": {"quality": 4}})
    assert r.status_code == 200 and r.json()["user"] == "ann" and r.json()["status"] == "submitted"
    r = ann.put(f"{url}/me", json={"answers": {"quality": 2}})  # amended, not added
    assert r.json()["answers"] == {"quality": 2}
    assert bob.put(f"{url}/me", json={"answers": {}, "status": "draft"}).status_code == 200  # drafts may be partial

    r = bob.put(f"{url}/me", json={"answers": {"quality": 9}})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"] == ["answers", "quality"]
    r = bob.put(f"{url}/me", json={"answers": {}})
    assert r.status_code == 422 and "required" in r.text
    assert bob.put(f"{url}/me", json={"answers": {"nope": 1, "quality": 3}}).status_code == 422

    assert [(x["user"], x["answers"]) for x in ann.get(url).json()] == [("ann", {"quality": 2})]
    assert [(x["user"], x["status"]) for x in bob.get(url).json()] == [("bob", "draft")]
    assert [x["user"] for x in rev.get(url).json()] == ["ann", "bob"]
    assert [x["user"] for x in owner.get(url).json()] == ["ann", "bob"]
    assert ann.get(f"{DS}/records/nope/responses").status_code == 404


def test_suggestions(api: Api, owner: TestClient) -> None:
    [rid] = add(owner, [text("suggest")])
    url = f"{DS}/records/{rid}/suggestions"
    engineer = api.member("lab", "engineer")
    r = engineer.post(url, json={"question": "quality", "value": 4, "agent": "judge-v1", "score": 0.8})
    assert r.status_code == 201 and r.json()["value"] == 4
    engineer.post(url, json={"question": "quality", "value": 5, "agent": "judge-v1"})  # replaces its own
    r = engineer.post(url, json={"question": "quality", "value": 6, "agent": "judge-v1"})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["loc"][0] == "value"
    assert engineer.post(url, json={"question": "nope", "value": 1, "agent": "a"}).status_code == 422

    annotator = api.member("lab", "annotator")
    assert annotator.post(url, json={"question": "quality", "value": 4, "agent": "me"}).status_code == 403
    assert [(s["agent"], s["value"]) for s in annotator.get(url).json()] == [("judge-v1", 5)]


# -- members, keys, users ---------------------------------------------------------------------


def test_members_and_keys(api: Api, owner: TestClient) -> None:
    api.store.accounts.create_user("newbie", "a long password")
    r = owner.put(f"{P}/members/newbie", json={"role": "annotator", "skills": ["medical"], "languages": ["fr"]})
    assert r.status_code == 200 and r.json() == {
        "user": "newbie",
        "role": "annotator",
        "skills": ["medical"],
        "languages": ["fr"],
    }
    assert owner.put(f"{P}/members/ghost", json={"role": "annotator"}).status_code == 404
    assert owner.put(f"{P}/members/newbie", json={"role": "app"}).status_code == 422  # `app` is for keys
    assert [(m["user"], m["role"]) for m in owner.get(f"{P}/members").json()] == [
        ("newbie", "annotator"),
        ("olivia", "owner"),
    ]
    newbie = api.login("newbie", "a long password")
    assert newbie.get(f"{P}/members").status_code == 403
    assert owner.delete(f"{P}/members/olivia").status_code == 409  # the last owner stays
    assert owner.put(f"{P}/members/olivia", json={"role": "engineer"}).status_code == 409
    assert owner.delete(f"{P}/members/newbie").status_code == 204
    assert owner.delete(f"{P}/members/newbie").status_code == 404
    assert newbie.get(P).status_code == 404

    r = owner.post(f"{P}/keys", json={"name": "ci", "role": "engineer"})
    assert r.status_code == 201 and r.json()["secret"].startswith("thr_")
    key_id, secret = r.json()["id"], r.json()["secret"]
    listed = owner.get(f"{P}/keys").json()
    assert [(k["name"], k["role"], k["revoked"]) for k in listed] == [("ci", "engineer", False)]
    assert "secret" not in listed[0] and secret.startswith(listed[0]["prefix"])

    bot = api.client({"Authorization": f"Bearer {secret}"})
    assert bot.post(f"{DS}/records", json=[text("from CI")]).status_code == 200
    assert bot.get(f"{P}/keys").status_code == 403
    assert owner.delete(f"{P}/keys/{key_id}").status_code == 204
    assert bot.get(P).status_code == 401
    assert owner.get(f"{P}/keys").json()[0]["revoked"] is True
    assert owner.delete(f"{P}/keys/nope").status_code == 404

    api.store.create_project("elsewhere")
    foreign = api.store.accounts.create_key(api.store.get_project("elsewhere").id or 0, "owner", "theirs")[0]
    assert owner.delete(f"{P}/keys/{foreign.id}").status_code == 404  # another project's key


def test_users_are_managed_by_admins(api: Api, owner: TestClient) -> None:
    admin = api.user("root", admin=True)
    r = admin.post(f"{API}/users", json={"name": "carla", "password": "a long password"})
    assert r.status_code == 201 and r.json()["is_admin"] is False
    assert admin.post(f"{API}/users", json={"name": "carla", "password": "a long password"}).status_code == 409
    assert admin.post(f"{API}/users", json={"name": "dan", "password": "short"}).status_code == 422
    assert admin.post(f"{API}/users", json={"name": "key:x", "password": "a long password"}).status_code == 422
    assert [u["name"] for u in admin.get(f"{API}/users").json()] == ["carla", "olivia", "root"]
    assert "password" not in str(admin.get(f"{API}/users").json())
    assert owner.get(f"{API}/users").status_code == 403
    assert api.key("lab", "owner").get(f"{API}/users").status_code == 403  # keys act in a project, not on accounts
    assert api.login("carla", "a long password").get(f"{API}/projects").json() == []


def test_browser_writes_need_the_csrf_token(api: Api, owner: TestClient) -> None:
    token = owner.headers.pop("X-CSRF-Token")
    assert owner.post(f"{DS}/records", json=[text("forged")]).status_code == 403
    assert owner.get(f"{DS}/records").status_code == 200  # reads need no token
    owner.headers["X-CSRF-Token"] = token
    assert owner.post(f"{DS}/records", json=[text("real")]).status_code == 200


def test_nul_characters_are_refused_on_postgresql_never_a_server_error(api: Api, owner: TestClient) -> None:
    postgres = api.store.backend == "postgresql"  # SQLite stores NUL; PostgreSQL cannot
    r = owner.post(f"{DS}/records", json=[text("ok"), text("nul\u0000inside")])
    assert r.status_code == (422 if postgres else 200), r.text
    assert "NUL" in r.text or not postgres
    assert count(owner) == (0 if postgres else 2)  # all or nothing
    r = owner.post(f"{DS}/records", json=[text("ok", metadata={"k": "\u0000"})])
    assert r.status_code == (422 if postgres else 200)
    assert owner.patch(DS, json={"description": "a\u0000b"}).status_code == (422 if postgres else 200)
    assert owner.get(f"{P}/datasets/a%00b").status_code == (422 if postgres else 404)
    assert owner.get(f"{DS}/records", params={"q": "\u0000"}).status_code in (200, 422)


def test_numbers_the_store_cannot_hold_are_refused(owner: TestClient) -> None:
    huge = 2**70
    r = owner.post(f"{DS}/records", json=[text("ok", metadata={"n": huge})])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == ["body", 0, "metadata"]
    tool = {"type": "function", "function": {"name": "f", "parameters": {"maximum": huge}}}
    r = owner.post(
        f"{DS}/records", json=[chat("hi", "yo") | {"content": chat("hi", "yo")["content"] | {"tools": [tool]}}]
    )
    assert r.status_code == 422
    [rid] = add(owner, [text("rate")])
    assert owner.put(f"{DS}/records/{rid}/responses/me", json={"answers": {"quality": huge}}).status_code == 422
    assert owner.get(f"{DS}/records", params={"after": 2**64}).status_code == 422
    assert count(owner) == 1
