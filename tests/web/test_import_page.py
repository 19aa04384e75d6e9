"""Importing a file from the page: the rows go in (or none, with each bad line named)."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect
from web_support import Api, WebServer, login, page_errors, shot

PROJECT = "importing"


def test_upload_a_file_and_see_bad_lines_named(page: Page, web_server: WebServer, tmp_path: Path) -> None:
    api = Api(web_server.url)
    api.project(PROJECT, datasets=("sft",))
    good = tmp_path / "chats.jsonl"
    rows = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(3)
    ]
    good.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    bad = tmp_path / "broken.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"messages": [{"role": "wizard", "content": "x"}]}) + "\n")

    login(page)
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}/datasets/sft/import")
    form = page.get_by_role("form", name="Import a file")
    form.locator("input[name=file]").set_input_files(str(bad))
    form.get_by_role("button", name="Import").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.locator("table.list")).to_contain_text("broken.jsonl › 2")
    assert api.get(f"/projects/{PROJECT}/datasets/sft/records")["items"] == []  # all or none

    form.locator("input[name=file]").set_input_files(str(good))
    form.locator("select[name=format]").select_option("openai-chat")
    form.locator("input[name=split]").fill("train")
    form.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text("3 added")
    shot(page, "import")
    page.get_by_role("link", name="Browse the records").click()
    expect(page.locator("table.records tbody tr")).to_have_count(3)
    items = api.get(f"/projects/{PROJECT}/datasets/sft/records")["items"]
    assert {r["split"] for r in items} == {"train"}
    assert errors == []


def test_the_format_list_is_the_servers(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project("import-formats", datasets=("d",))
    listed = api.get("/formats")["formats"]
    importable = [f["name"] for f in listed if f["importable"] and not f["needs_mapping"]]
    assert "trl-preference" in importable and "coco" not in importable

    login(page)
    errors = page_errors(page)
    page.goto("/projects/import-formats/datasets/d/import")
    form = page.get_by_role("form", name="Import a file")
    options = form.locator("select[name=format] option")
    expect(options).to_have_count(len(importable) + 1)  # and "detect"
    assert options.evaluate_all("os => os.map(o => o.value)") == ["", *importable]
    form.locator("select[name=format]").select_option("trl-preference")
    hint = form.locator(".format-info")
    description = next(f["description"] for f in listed if f["name"] == "trl-preference")
    expect(hint).to_contain_text(description)
    expect(hint).to_contain_text("comparison · labels: ranking")
    accept = form.locator("input[name=file]").get_attribute("accept") or ""
    assert {".jsonl", ".json", ".csv", ".parquet", ".txt"} <= set(accept.split(","))
    assert errors == []
