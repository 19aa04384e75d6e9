"""Arena, evals and training in Chromium. Eval runs are started through the API against the test
model server (the server runs them as jobs); a training run and its stages are written through the
store. A voter gets blind battles (no model name in the page or in the battle the API sent), votes by
keyboard with a reason, sees the reveal and the next battle; the leaderboard ranks the models; the
eval runs page compares two runs and starts a third from its form; the stage report renders in its
sandboxed frame; the training page shows a run's lineage; an annotator sees no engineer-only link."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from web_support import Api, WebServer, page_errors, shot

from thresher.evals.fake_server import FakeModelServer
from thresher.store import Store
from thresher.store.training import TrainingRun

PROJECT = "arena-lab"
SUITE = "qa"
PASSWORD = "arena voter password"
QUESTIONS = {f"What is {i} times 3?": str(3 * i) for i in range(1, 13)}
MODELS = ("model-alpha", "model-beta")
LATER_MODEL = "model-gamma"  # started from the eval runs page's form


def wait_jobs(api: Api, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        jobs: list[dict[str, Any]] = api.get(f"/projects/{PROJECT}/evals/jobs")
        if all(j["status"] not in ("queued", "running") for j in jobs) or time.monotonic() > deadline:
            return jobs
        time.sleep(0.1)


@pytest.fixture(scope="module")
def model_server() -> Iterator[FakeModelServer]:
    answers = {q: f"The answer is {a}." for q, a in QUESTIONS.items()}
    accuracy = {MODELS[0]: 1.0, MODELS[1]: 0.0, LATER_MODEL: 1.0}
    with FakeModelServer(answers=answers, accuracy=accuracy) as srv:
        yield srv


@pytest.fixture(scope="module")
def seeded(web_server: WebServer, model_server: FakeModelServer) -> dict[str, Any]:
    api = Api(web_server.url)
    api.project(PROJECT, datasets=(SUITE, "sft-data"))
    items = [
        {
            "content": {
                "kind": "eval_item",
                "input": [{"role": "user", "content": q}],
                "reference": a,
                "grader": {"type": "numeric"},
            }
        }
        for q, a in QUESTIONS.items()
    ]
    api.records(PROJECT, SUITE, items)
    api.send("POST", f"/projects/{PROJECT}/datasets/{SUITE}/versions", {"name": "v1"})
    chats = [{"content": {"kind": "text", "text": f"training document {i}"}} for i in range(5)]
    api.records(PROJECT, "sft-data", chats)
    version = api.send("POST", f"/projects/{PROJECT}/datasets/sft-data/versions", {"name": "v1"})
    for name, role in (("voter", "annotator"), ("rev", "reviewer"), ("eng", "engineer")):
        api.user(name, PASSWORD, PROJECT, role)
    for model, stage in ((MODELS[1], "base"), (MODELS[0], "sft-1")):  # the tune is the good one
        body = {"suite": f"{SUITE}@v1", "model": f"openai:{model_server.url}#{model}", "stage": stage}
        if stage != "base":
            body["training_version"] = "sft-data@v1"
        api.send("POST", f"/projects/{PROJECT}/evals/runs", body)
    jobs = wait_jobs(api)
    assert [j["status"] for j in jobs] == ["done", "done"], jobs

    store = Store.open(web_server.home)  # the server's own database (SQLite, WAL): rows it will read
    try:
        store.training.create_stage(PROJECT, "base", "base", model_path="/models/tiny-base")
        store.training.create_run(
            TrainingRun(
                id="tr_webtest",
                project=PROJECT,
                method="sft",
                recipe={"method": "sft", "lora": {"r": 8}},
                base_model="/models/tiny-base",
                base_stage="base",
                dataset=f"{PROJECT}/sft-data",
                version="v1",
                manifest_hash=version["manifest_hash"],
                seed=13,
                output_path="/runs/tr_webtest",
                status="done",
                step=40,
                loss_curve=[{"step": s, "loss": 3.0 / s} for s in range(10, 50, 10)],
                libraries={"trl": "1.16.0"},
            )
        )
        store.training.create_stage(
            PROJECT, "sft-1", "sft", parent="base", model_path="/runs/tr_webtest/model", run_id="tr_webtest"
        )
    finally:
        store.close()
    return {"api": api, "manifest": version["manifest_hash"]}


def as_user(browser: Browser, web_server: WebServer, user: str) -> tuple[BrowserContext, Page]:
    ctx = browser.new_context(base_url=web_server.url, viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    r = page.request.post("/api/v1/auth/login", data={"username": user, "password": PASSWORD})
    assert r.ok, r.text()
    return ctx, page


def no_model_names(text: str) -> None:
    for m in (*MODELS, LATER_MODEL):
        assert m not in text


def test_a_voter_votes_blind_by_keyboard_and_sees_the_reveal(
    browser: Browser, web_server: WebServer, seeded: dict[str, Any]
) -> None:
    ctx, page = as_user(browser, web_server, "voter")
    errors = page_errors(page)
    with page.expect_response(re.compile(r"/arena/next$")) as dealt:
        page.goto(f"/projects/{PROJECT}/arena")
    battle = dealt.value.json()
    no_model_names(orjson.dumps(battle).decode())  # the API sent no name either
    expect(page.get_by_test_id("output-a")).to_contain_text("The answer is")
    expect(page.get_by_test_id("output-b")).to_contain_text("The answer is")
    expect(page.get_by_label("Prompt")).to_contain_text(battle["prompt"][0]["content"])
    no_model_names(page.content())
    first = page.locator("[data-battle]").get_attribute("data-battle")
    assert first == battle["battle_id"]
    shot(page, "arena-battle")

    page.get_by_label("Reason (optional)").fill("a clearer answer")
    page.keyboard.press("Escape")  # leave the reason box; the next key is a vote
    with page.expect_response(re.compile(r"/arena/votes$")) as voted:
        page.keyboard.press("a")
    vote = voted.value.json()
    assert vote["winner"] == "a" and vote["reason"] == "a clearer answer"
    reveal = page.get_by_test_id("reveal")
    expect(reveal).to_contain_text(f"A was {vote['model_a']}, B was {vote['model_b']}")
    expect(reveal).to_contain_text("a clearer answer")
    assert {vote["model_a"], vote["model_b"]} == set(MODELS)
    expect(page.locator("[data-battle]")).not_to_have_attribute("data-battle", first or "")
    expect(page.get_by_label("Reason (optional)")).to_have_value("")
    shot(page, "arena-reveal")
    for key, winner in (("2", "b"), ("t", "tie"), ("x", "both_bad")):
        dealt_id = page.locator("[data-battle]").get_attribute("data-battle") or ""
        expect(page.get_by_role("button", name="Tie")).to_be_enabled()  # dealt: keys count again
        with page.expect_response(re.compile(r"/arena/votes$")) as voted:
            page.keyboard.press(key)
        assert voted.value.json()["winner"] == winner
        expect(page.locator("[data-battle]")).not_to_have_attribute("data-battle", dealt_id)
    expect(reveal).to_contain_text("4 votes")

    # An annotator's bar and project page hold no link the role cannot use.
    nav = page.get_by_role("navigation", name="Project")
    expect(nav.get_by_role("link")).to_have_text(["Datasets", "Queue", "Arena"])
    page.goto(f"/projects/{PROJECT}")
    expect(page.locator("tr[data-dataset]")).to_have_count(2)
    for hidden in ("Browse", "Evals", "Training", "Exports", "Agreement", "Members & keys", "Import"):
        expect(page.get_by_role("link", name=hidden, exact=True)).to_have_count(0)
    expect(page.get_by_role("link", name="Arena", exact=True).first).to_be_visible()
    assert errors == []
    ctx.close()


def right(battle: dict[str, Any], side: str) -> bool:
    """Is ``side``'s output the right answer to the battle's question?"""
    q = battle["prompt"][0]["content"]
    return f"The answer is {QUESTIONS[q]}." == battle[side]["output"]


def test_the_leaderboard_ranks_the_models_after_votes(
    browser: Browser, web_server: WebServer, seeded: dict[str, Any]
) -> None:
    api: Api = seeded["api"]
    for _ in range(6):  # the good model wins a few more, so the order is known
        b = api.send("POST", f"/projects/{PROJECT}/arena/next")
        winner = "a" if right(b, "a") else "b"
        api.send("POST", f"/projects/{PROJECT}/arena/votes", {"battle_id": b["battle_id"], "winner": winner})
    expected = api.get(f"/projects/{PROJECT}/arena/leaderboard")
    ctx, page = as_user(browser, web_server, "rev")
    page.goto(f"/projects/{PROJECT}/arena/leaderboard")
    rows = page.locator("table.leaderboard tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator("td.mono")).to_have_text([m["model"] for m in expected["models"]])
    top = expected["models"][0]
    assert top["model"] == MODELS[0]
    expect(rows.first).to_contain_text(str(round(top["rating"])))
    expect(rows.first).to_contain_text(f"[{round(top['ci'][0])}, {round(top['ci'][1])}]")
    expect(page.get_by_text(f"{expected['votes']} votes")).to_be_visible()
    shot(page, "arena-leaderboard")
    ctx.close()


def test_eval_runs_compare_start_a_run_and_show_the_stage_report(
    browser: Browser, web_server: WebServer, model_server: FakeModelServer, seeded: dict[str, Any]
) -> None:
    ctx, page = as_user(browser, web_server, "eng")
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}/evals")
    runs = page.locator("table.runs tbody tr")
    expect(runs).to_have_count(2)
    alpha = runs.filter(has_text=MODELS[0])
    expect(alpha).to_contain_text("sft-1")
    expect(alpha.get_by_role("link", name="sft-data@v1")).to_have_attribute(
        "href", f"/projects/{PROJECT}/datasets/sft-data"
    )
    expect(alpha).to_contain_text("1.000")
    expect(runs.filter(has_text=MODELS[1])).to_contain_text("0.000")
    for row in (alpha, runs.filter(has_text=MODELS[1])):
        row.get_by_role("checkbox").check()
    page.get_by_role("button", name="Compare selected").click()
    comparison = page.get_by_label("Comparison")
    expect(comparison.locator(".badge")).to_have_text("significant")
    expect(comparison.locator(".verdict")).to_contain_text("sft-1 is better by 1.000")
    expect(comparison).to_contain_text(str(len(QUESTIONS)))
    shot(page, "eval-runs-compare")

    page.get_by_role("button", name="New run").click()
    page.locator("input[name=suite]").fill(f"{SUITE}@v1")
    page.locator("input[name=model]").fill(f"openai:{model_server.url}#{LATER_MODEL}")
    page.locator("input[name=stage]").fill("dpo-1")
    page.get_by_role("button", name="Start run").click()
    job = page.locator("table.jobs tbody tr").filter(has_text=LATER_MODEL)
    expect(job).to_contain_text("done", timeout=30_000)
    expect(job).to_contain_text(f"{len(QUESTIONS)} / {len(QUESTIONS)}")
    expect(runs).to_have_count(3)
    expect(runs.filter(has_text=LATER_MODEL)).to_contain_text("dpo-1")

    page.get_by_role("link", name=f"{SUITE}@v1").click()
    expect(page).to_have_url(re.compile(r"/evals/report\?suite=qa%40v1$"))
    frame_el = page.locator("iframe.report")
    expect(frame_el).to_have_attribute("sandbox", "")
    report = page.frame_locator("iframe.report")
    expect(report.get_by_role("heading", name=f"Stage report: {SUITE}@v1")).to_be_visible()
    expect(report.locator("table").first.locator("tr")).to_have_count(4)  # header + three stages
    expect(report.locator("svg").first).to_be_visible()
    expect(report.get_by_text("sft-1 is better (significant)")).to_be_visible()
    shot(page, "eval-stage-report")
    assert errors == []
    ctx.close()


def test_the_training_page_shows_a_run_with_its_lineage(
    browser: Browser, web_server: WebServer, seeded: dict[str, Any]
) -> None:
    ctx, page = as_user(browser, web_server, "rev")
    errors = page_errors(page)
    page.goto(f"/projects/{PROJECT}")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Training").click()
    run = page.locator("tr[data-run=tr_webtest]")
    expect(run).to_contain_text("sft + LoRA")
    expect(run.get_by_role("link", name="sft-data@v1")).to_have_attribute(
        "href", f"/projects/{PROJECT}/datasets/sft-data"
    )
    expect(run).to_contain_text(seeded["manifest"][:12])
    expect(run).to_contain_text("13")
    expect(run.get_by_role("link", name="sft-1")).to_be_visible()
    expect(page.locator("svg.loss polyline")).to_have_count(1)
    points = page.locator("svg.loss polyline").get_attribute("points") or ""
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert len(ys) == 4 and ys == sorted(ys)  # loss falls: each point lower on the plot (larger y)
    sft = page.locator("li[data-stage=sft-1]")
    expect(sft).to_contain_text("base →")
    expect(sft).to_contain_text("tr_webtest")
    expect(sft).to_contain_text("1.000")  # its eval run (model-alpha, stage sft-1)
    expect(page.locator("li[data-stage=base]")).to_contain_text("0.000")
    shot(page, "training")
    assert errors == []
    ctx.close()
