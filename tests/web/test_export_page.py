"""Exports: queue a job from the page, see it finish, download the file, and find it again after a reload."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect
from web_support import Api, WebServer, login, page_errors, shot

PROJECT = "exporting"


def test_export_flow_create_progress_download_and_reload(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project(PROJECT, datasets=("chats", "other"))
    chats = [
        {
            "content": {
                "kind": "conversation",
                "messages": [
                    {"role": "user", "content": f"question {i}"},
                    {"role": "assistant", "content": f"answer {i}"},
                ],
            }
        }
        for i in range(25)
    ]
    api.records(PROJECT, "chats", chats)
    api.send("POST", f"/projects/{PROJECT}/datasets/chats/versions", {"name": "v1"})

    login(page)
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}/exports")
    expect(page.get_by_text("No exports yet.")).to_be_visible()
    form = page.get_by_role("form", name="New export")
    form.locator("select[name=dataset]").select_option("chats")
    expect(form.locator("select[name=version] option", has_text="v1 (25)")).to_have_count(1)
    form.locator("select[name=version]").select_option("v1")
    form.locator("select[name=format]").select_option("trl-conversational")
    form.get_by_text("Options and filters").click()
    form.get_by_role("checkbox", name="conversation").check()
    form.get_by_role("button", name="Start export").click()

    row = page.locator("table.jobs tbody tr").first
    expect(row).to_contain_text("chats")
    expect(row).to_contain_text("v1")
    expect(row.locator(".status")).to_have_text("done", timeout=30_000)  # polled until the job ends
    expect(row).to_contain_text("25 / 25")
    shot(page, "exports")

    link = row.locator("a.download")
    with page.expect_download() as info:
        link.click()
    path = info.value.path()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 25
    assert lines[0]["messages"][0] == {"role": "user", "content": "question 0"}

    # its manifest: what was read, written and skipped
    row.get_by_role("button", name="Details").click()
    manifest = page.locator("table.manifest")
    expect(manifest.locator("tr", has_text="rows written")).to_contain_text("25")
    expect(manifest.locator("tr", has_text="skipped")).to_contain_text("none")
    sha = manifest.locator("tr", has_text="sha256").locator("td").inner_text()
    shot(page, "exports-details")

    # the job is a row on the server: a reload (a new page, even) finds it, done, with its file
    page.reload()
    row = page.locator("table.jobs tbody tr").first
    expect(row.locator(".status")).to_have_text("done")
    expect(row.locator("a.download")).to_have_text(info.value.suggested_filename)
    job_id = row.get_attribute("data-job")
    job = api.get(f"/projects/{PROJECT}/exports/{job_id}")
    assert job["status"] == "done" and job["filters"]["kinds"] == ["conversation"] and job["version"] == "v1"
    assert job["manifest"]["sha256"] == sha

    # a second job (an empty dataset) ends too; removing a job takes it off the list and the server
    form.locator("select[name=dataset]").select_option("other")
    form.locator("select[name=format]").select_option("thresher")
    form.get_by_role("button", name="Start export").click()
    expect(page.locator("table.jobs tbody tr")).to_have_count(2)
    newest = page.locator("table.jobs tbody tr").first
    expect(newest.locator(".status")).to_have_text("done", timeout=30_000)
    page.once("dialog", lambda d: d.accept())
    newest.get_by_role("button", name="Remove").click()
    expect(page.locator("table.jobs tbody tr")).to_have_count(1)
    assert len(api.get(f"/projects/{PROJECT}/exports")) == 1
    assert errors == []


def test_the_format_list_is_the_servers_and_media_formats_choose_their_files(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project("export-formats", datasets=("d",))
    listed = api.get("/formats")["formats"]
    exportable = [f["name"] for f in listed if f["exportable"] and not f["needs_mapping"]]
    assert {"mot", "coco", "trl-conversational"} <= set(exportable) and "generic" not in exportable

    login(page)
    errors = page_errors(page)
    page.goto("/projects/export-formats/exports")
    form = page.get_by_role("form", name="New export")
    options = form.locator("select[name=format] option")
    expect(options).to_have_count(len(exportable))
    assert options.evaluate_all("os => os.map(o => o.value)") == exportable
    expect(form.locator("select[name=format]")).to_have_value("thresher")

    form.locator("select[name=format]").select_option("mot")
    expect(form.locator(".format-info")).to_contain_text("video · answers: track")
    expect(form.locator("select[name=container]")).to_be_disabled()  # MOT writes its own folder
    form.locator("select[name=format]").select_option("trl-conversational")
    expect(form.locator("select[name=container]")).to_be_enabled()
    boxes = form.locator("select[name=container] option").evaluate_all("os => os.map(o => o.value)")
    assert boxes == ["", *[c["name"] for c in api.get("/formats")["containers"]]]
    assert errors == []
