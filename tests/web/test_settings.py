"""Dataset settings: guidelines with a preview, and the question editor, checked through the API."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from web_support import Api, WebServer, login, page_errors, shot

PROJECT = "settings"


def test_question_editor_creates_edits_and_deletes_questions(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project(PROJECT, datasets=("prefs",))
    login(page)
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}")
    expect(page.locator("[data-dataset=prefs]")).to_be_visible()
    shot(page, "project-home")
    page.get_by_role("row", name="prefs").get_by_role("link", name="Settings").click()
    expect(page).to_have_url(f"{web_server.url}/projects/{PROJECT}/datasets/prefs/settings")

    # guidelines: Markdown with a live preview, saved with the description
    page.locator("textarea[name=guidelines]").fill("## Be kind\n\nPrefer **correct** answers. <b>raw</b>")
    preview = page.get_by_test_id("guidelines-preview")
    expect(preview.locator("h2")).to_have_text("Be kind")
    expect(preview.locator("strong")).to_have_text("correct")
    expect(preview).to_contain_text("<b>raw</b>")
    page.locator("input[name=description]").fill("Preference pairs")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Description and guidelines saved.")).to_be_visible()

    # a rating question with anchors
    page.locator("select[name=new-type]").select_option("rating")
    form = page.get_by_role("form", name="New question")
    form.locator("input[name=name]").fill("helpfulness")
    form.locator("input[name=title]").fill("How helpful?")
    form.locator("input[name=dimension]").fill("helpfulness")
    form.locator("input[name=max]").fill("7")
    form.locator("textarea[name=anchors]").fill("1: useless\n7: perfect")
    form.get_by_label("Rate each candidate").check()
    shot(page, "settings-question-form")
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("[data-question=helpfulness]")).to_contain_text("helpfulness 1–7 per candidate")

    # a choice question with a required rationale, then a bad one that the server refuses
    page.locator("select[name=new-type]").select_option("choice")
    form.locator("input[name=name]").fill("preferred")
    form.locator("textarea[name=description]").fill("Which answer is **better**?")
    form.locator("select[name=rationale]").select_option("required")
    form.get_by_role("button", name="Add question").click()
    expect(page.locator("[data-question=preferred]")).to_contain_text("candidates · rationale required")
    expect(page.locator("[data-question=preferred] strong", has_text="better")).to_be_visible()

    page.locator("select[name=new-type]").select_option("multi_choice")
    form.locator("input[name=name]").fill("Bad Name")
    form.locator("textarea[name=options]").fill("a, b")
    form.get_by_role("button", name="Add question").click()
    expect(form.get_by_role("alert")).to_contain_text("name")
    form.get_by_role("button", name="Cancel").click()

    dataset = api.get(f"/projects/{PROJECT}/datasets/prefs")
    assert dataset["description"] == "Preference pairs"
    assert dataset["guidelines"].startswith("## Be kind")
    questions = {q["name"]: q for q in dataset["questions"]}
    assert list(questions) == ["helpfulness", "preferred"]
    assert questions["helpfulness"] == {
        "type": "rating",
        "name": "helpfulness",
        "title": "How helpful?",
        "description": None,
        "required": True,
        "dimension": "helpfulness",
        "min": 1,
        "max": 7,
        "anchors": {"1": "useless", "7": "perfect"},
        "per_candidate": True,
    }
    assert questions["preferred"]["type"] == "choice"
    assert questions["preferred"]["rationale"] == "required"
    assert questions["preferred"]["options"] is None
    assert questions["preferred"]["description"] == "Which answer is **better**?"

    # edit keeps the question's place; delete removes it
    page.get_by_role("button", name="Edit helpfulness").click()
    edit = page.get_by_role("form", name="Edit question helpfulness")
    expect(edit.locator("textarea[name=anchors]")).to_have_value("1: useless\n7: perfect")
    edit.locator("input[name=max]").fill("5")
    edit.locator("textarea[name=anchors]").fill("1: useless\n5: perfect")
    edit.get_by_role("button", name="Save question").click()
    expect(page.locator("[data-question=helpfulness]")).to_contain_text("helpfulness 1–5")
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete preferred").click()
    expect(page.locator("[data-question=preferred]")).to_have_count(0)
    shot(page, "settings")

    questions_after = api.get(f"/projects/{PROJECT}/datasets/prefs/questions")
    assert [(q["name"], q["max"]) for q in questions_after] == [("helpfulness", 5)]
    assert errors == []


def test_workflow_form_saves_overlap_review_consensus_and_routing(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project("workflow", datasets=("wf",))
    for q in ({"type": "rating", "name": "quality"}, {"type": "choice", "name": "label", "options": ["a", "b"]}):
        api.send("POST", "/projects/workflow/datasets/wf/questions", q)
    login(page)
    errors = page_errors(page)
    page.goto("/projects/workflow/datasets/wf/settings")
    form = page.get_by_role("form", name="Workflow")
    expect(form.locator("input[name=overlap]")).to_have_value("1")
    expect(form.locator("select[name=consensus-quality] option")).to_have_count(5)  # default, mean, median, ...
    expect(form.locator("select[name=consensus-label] option")).to_have_count(3)  # default, majority, reviewer
    form.locator("input[name=overlap]").fill("2")
    form.locator("input[name=lease_seconds]").fill("600")
    form.locator("select[name=review]").select_option("all")
    form.locator("select[name=consensus-quality]").select_option("median")
    form.locator("select[name=consensus-label]").select_option("reviewer_wins")
    form.locator("input[name=language_key]").fill("lang")
    form.locator("textarea[name=rules]").fill("[not json")
    form.get_by_role("button", name="Save workflow").click()
    expect(form.get_by_role("alert")).to_have_text("rules: not valid JSON")
    form.locator("textarea[name=rules]").fill('[{"match": {"metadata.domain": "law"}, "skill": "legal"}]')
    form.get_by_role("button", name="Save workflow").click()
    expect(form.get_by_role("status")).to_have_text("Workflow saved.")
    shot(page, "settings-workflow")

    wf = api.get("/projects/workflow/datasets/wf/workflow")
    assert wf["overlap"] == 2 and wf["lease_seconds"] == 600 and wf["review"] == "all"
    assert wf["consensus"] == {"quality": "median", "label": "reviewer_wins"}
    assert wf["language_key"] == "lang" and wf["skill_key"] == "skill"
    assert wf["rules"] == [{"match": {"metadata.domain": "law"}, "skill": "legal", "language": None}]
    page.reload()
    expect(form.locator("select[name=consensus-quality]")).to_have_value("median")
    expect(form.locator("input[name=overlap]")).to_have_value("2")
    assert errors == []


def test_freeze_a_version_and_delete_a_dataset(page: Page, web_server: WebServer) -> None:
    api = Api(web_server.url)
    api.project("versioning", datasets=("docs", "scratch"))
    api.records("versioning", "docs", [{"content": {"kind": "text", "text": f"doc {i}"}} for i in range(4)])
    login(page)
    errors = page_errors(page)
    page.goto("/projects/versioning/datasets/docs/settings")
    freeze = page.get_by_role("form", name="Freeze a version")
    freeze.locator("input[name=version-name]").fill("v1")
    freeze.locator("input[name=version-description]").fill("first cut")
    freeze.get_by_role("button", name="Freeze the current records").click()
    expect(page.locator("[data-version=v1]")).to_contain_text("4")
    versions = api.get("/projects/versioning/datasets/docs/versions")
    assert [(v["name"], v["record_count"], v["description"]) for v in versions] == [("v1", 4, "first cut")]

    page.goto("/projects/versioning/datasets/scratch/settings")
    page.once("dialog", lambda d: d.accept("scratch"))
    page.get_by_role("button", name="Delete scratch…").click()
    expect(page).to_have_url(f"{web_server.url}/projects/versioning")
    expect(page.locator("[data-dataset=docs]")).to_be_visible()
    expect(page.locator("[data-dataset=scratch]")).to_have_count(0)
    assert [d["name"] for d in api.get("/projects/versioning/datasets")] == ["docs"]
    assert errors == []
