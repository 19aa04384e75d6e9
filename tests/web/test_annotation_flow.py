"""The annotation flow in Chromium: two annotators work their queues by keyboard alone (overlap 2),
a reviewer sends one answer back with a reason, its annotator fixes it, the agreement page shows
the alpha / kappa / tau that the kept libraries compute from the answers given, and an export
with consensus carries the consensus. Then a lease runs out and the record goes to another
annotator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import krippendorff
import numpy as np
import orjson
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from scipy.stats import kendalltau
from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa
from web_support import ADMIN, ADMIN_PASSWORD, WebServer, shot


class Api:
    """The HTTP API as a logged-in user (session cookie and CSRF token), to set up and check."""

    def __init__(self, url: str, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
        self.http = httpx.Client(base_url=f"{url}/api/v1", timeout=30)
        r = self.http.post("/auth/login", json={"username": user, "password": password})
        r.raise_for_status()
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]

    def get(self, path: str, **params: Any) -> Any:
        r = self.http.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def send(self, method: str, path: str, body: Any = None) -> Any:
        r = self.http.request(method, path, json=body)
        assert r.is_success, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def project(self, name: str) -> None:
        self.send("POST", "/projects", {"name": name})

    def user(self, name: str, password: str, project: str, role: str) -> None:
        self.send("POST", "/users", {"name": name, "password": password})
        self.send("PUT", f"/projects/{project}/members/{name}", {"role": role})

    def records(self, project: str, dataset: str, records: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = self.send("POST", f"/projects/{project}/datasets/{dataset}/records", records)["ids"]
        return ids


def login(page: Page, user: str = ADMIN, password: str = ADMIN_PASSWORD) -> None:
    """Log the page's browser context in through the API (the login form has its own test)."""
    r = page.request.post("/api/v1/auth/login", data={"username": user, "password": password})
    assert r.ok, r.text()


PROJECT = "flow"
DATASET = "prefs"
PASSWORD = "annotator password for the flow"
ANNOTATORS = ("ann1", "ann2")
REVIEWER = "rev1"

QUESTIONS: list[dict[str, Any]] = [
    {
        "type": "rating",
        "name": "helpful",
        "title": "Helpfulness",
        "description": "How much does the **best** answer help?",
        "min": 1,
        "max": 5,
        "anchors": {"1": "useless", "3": "partly", "5": "fully"},
    },
    {"type": "choice", "name": "preferred", "title": "Preferred answer", "rationale": "required"},
    {"type": "ranking", "name": "rank", "title": "Rank the answers"},
]


def _comparison(i: int) -> dict[str, Any]:
    cands = [
        {
            "id": cid,
            "model": f"m-{cid}",
            "messages": [{"role": "assistant", "content": f"Answer {cid} to question {i}."}],
        }
        for cid in ("a", "b", "c")
    ]
    return {
        "content": {
            "kind": "comparison",
            "prompt": [{"role": "user", "content": f"Question {i}?"}],
            "candidates": cands,
        }
    }


# What each annotator answers, by record index: (rating, choice, ranking keys, the ranking they give).
Plan = tuple[int, str, list[str], list[list[str]]]
DOWN, UP = "ArrowDown", "Shift+ArrowUp"
PLANS: dict[str, list[Plan]] = {
    "ann1": [
        (5, "a", ["Enter"], [["a"], ["b"], ["c"]]),
        (3, "b", [DOWN, UP, DOWN, DOWN, "t"], [["b"], ["a", "c"]]),
        (1, "c", [DOWN, DOWN, UP, UP, DOWN, DOWN, UP], [["c"], ["b"], ["a"]]),
    ],
    "ann2": [
        (4, "a", ["Enter"], [["a"], ["b"], ["c"]]),
        (3, "b", [DOWN, UP], [["b"], ["a"], ["c"]]),
        (2, "b", [DOWN, UP], [["b"], ["a"], ["c"]]),
    ],
}
AMENDED_RATING = 4  # ann1's answer to record 0 after the reviewer sends it back


@pytest.fixture(scope="module")
def setup(web_server: WebServer) -> Iterator[dict[str, Any]]:
    api = Api(web_server.url)
    api.project(PROJECT)
    api.send(
        "POST",
        f"/projects/{PROJECT}/datasets",
        {"name": DATASET, "guidelines": "## Guidelines\n\nPrefer **correct** answers.", "questions": QUESTIONS},
    )
    ids = api.records(PROJECT, DATASET, [_comparison(i) for i in range(3)])
    for u in ANNOTATORS:
        api.user(u, PASSWORD, PROJECT, "annotator")
    api.user(REVIEWER, PASSWORD, PROJECT, "reviewer")
    api.send(
        "PUT",
        f"/projects/{PROJECT}/datasets/{DATASET}/workflow",
        {"overlap": 2, "review": "all", "lease_seconds": 1800},
    )
    yield {"api": api, "ids": ids}


def _context(browser: Browser, web_server: WebServer, user: str) -> BrowserContext:
    ctx = browser.new_context(base_url=web_server.url, viewport={"width": 1400, "height": 950})
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    login(page, user, ADMIN_PASSWORD if user == ADMIN else PASSWORD)
    return ctx


def _annotate_by_keyboard(page: Page, ids: list[str], plans: list[Plan], shots: str | None = None) -> None:
    """Work the queue to its end with the keyboard: from the queue page, `1` starts the dataset."""
    page.goto(f"/projects/{PROJECT}/queue")
    expect(page.locator("tr[data-dataset] a.start")).to_have_count(1)
    page.keyboard.press("1")
    root = page.locator(".annotate")
    done = 0
    while True:
        expect(root).not_to_have_attribute("data-phase", "loading")
        if root.get_attribute("data-phase") == "empty":
            break
        record = root.get_attribute("data-record") or ""
        rating, choice, ranking_keys, _ = plans[ids.index(record)]
        # The first question has the focus: a number key rates.
        expect(page.locator("section[data-question=helpful]:focus-within")).to_be_visible()
        page.keyboard.press(str(rating))
        page.keyboard.press("j")
        page.keyboard.press(str("abc".index(choice) + 1))
        page.keyboard.press("r")
        page.keyboard.type(f"{choice} answers question {ids.index(record)} best")
        page.keyboard.press("Escape")
        page.keyboard.press("j")
        for k in ranking_keys:
            page.keyboard.press(k)
        if shots and done == 0:
            shot(page, shots)
        page.keyboard.press("Control+Enter")
        expect(page.locator(".notice")).to_contain_text("Submitted")
        expect(root).not_to_have_attribute("data-record", record)
        done += 1
    assert done == len(plans)
    expect(page.get_by_test_id("queue-empty")).to_contain_text("Nothing to do")


def _expected_agreement(answers: dict[str, list[Plan]]) -> dict[str, dict[str, float | None]]:
    """Alpha, kappa and tau computed here, from the answers given, with the kept libraries."""
    users = sorted(answers)
    ratings = np.array([[float(p[0]) for p in answers[u]] for u in users])
    alpha = krippendorff.alpha(reliability_data=ratings, level_of_measurement="interval")
    cats = sorted({p[1] for u in users for p in answers[u]})
    table = np.zeros((3, len(cats)))
    for u in users:
        for i, p in enumerate(answers[u]):
            table[i, cats.index(p[1])] += 1
    fleiss = fleiss_kappa(table, method="fleiss")
    confusion = np.zeros((len(cats), len(cats)))
    for x, y in zip(answers[users[0]], answers[users[1]], strict=True):
        confusion[cats.index(x[1]), cats.index(y[1])] += 1
    cohen = cohens_kappa(confusion, return_results=False)

    def ranks(groups: list[list[str]]) -> dict[str, float]:
        # Tied options share the mean of the positions they cover (1 = best).
        out, pos = {}, 1
        for g in groups:
            for o in g:
                out[o] = pos + (len(g) - 1) / 2
            pos += len(g)
        return out

    taus = []
    for (_, _, _, ra), (_, _, _, rb) in zip(answers[users[0]], answers[users[1]], strict=True):
        xa, xb = ranks(ra), ranks(rb)
        taus.append(kendalltau([xa[o] for o in "abc"], [xb[o] for o in "abc"]).statistic)
    tau = sum(taus) / len(taus)
    return {
        "helpful": {"value": float(alpha), "pair": float(alpha)},
        "preferred": {"value": float(fleiss), "pair": float(cohen)},
        "rank": {"value": float(tau), "pair": float(tau)},
    }


def test_two_annotators_a_reviewer_and_agreement_by_keyboard(
    browser: Browser, web_server: WebServer, setup: dict[str, Any]
) -> None:
    ids: list[str] = setup["ids"]
    api: Api = setup["api"]

    for user in ANNOTATORS:
        ctx = _context(browser, web_server, user)
        _annotate_by_keyboard(ctx.pages[0], ids, PLANS[user], shots="flow-annotate" if user == "ann1" else None)
        ctx.close()

    # The reviewer sends ann1's answer to record 0 back, with a reason, and accepts the rest.
    ctx = _context(browser, web_server, REVIEWER)
    page = ctx.pages[0]
    page.goto(f"/projects/{PROJECT}/datasets/{DATASET}/review")
    root = page.locator(".review")
    seen: list[str] = []
    for i in range(3):
        expect(root).to_have_attribute("data-phase", "ready")
        record = root.get_attribute("data-record") or ""
        assert record in ids and record not in seen
        seen.append(record)
        users = page.locator("thead th[data-user]").evaluate_all("els => els.map(e => e.dataset.user)")
        assert sorted(users) == sorted(ANNOTATORS)
        if i == 0:
            shot(page, "flow-review")
            page.keyboard.press(str(users.index("ann1") + 1))
            page.keyboard.press("x")
            page.keyboard.type("Answer a is only partly helpful: rate it 4")
            page.keyboard.press("Enter")
            expect(page.locator(".notice")).to_contain_text("ann1: sent back")
            page.keyboard.press(str(users.index("ann2") + 1))
            page.keyboard.press("a")
        else:
            page.keyboard.press("Shift+A")
        expect(root).not_to_have_attribute("data-record", record)
    rejected = seen[0]
    expect(page.get_by_test_id("review-empty")).to_be_visible()
    ctx.close()

    # ann1 finds the answer back first in their queue, with the reason, and fixes it.
    ctx = _context(browser, web_server, "ann1")
    page = ctx.pages[0]
    page.goto(f"/projects/{PROJECT}/queue")
    expect(page.locator("tr[data-dataset=prefs] a.start")).to_be_visible()
    page.keyboard.press("1")
    expect(page.locator(".rejected-box")).to_contain_text("rate it 4")
    expect(page.locator(".annotate")).to_have_attribute("data-record", rejected)
    # The old answers are there as the draft: only the rating changes.
    expect(page.locator("section[data-question=helpful] button[aria-checked=true]")).to_contain_text("5")
    shot(page, "flow-returned")
    page.keyboard.press(str(AMENDED_RATING))
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("queue-empty")).to_be_visible()
    ctx.close()

    final = {u: list(PLANS[u]) for u in ANNOTATORS}
    back = ids.index(rejected)
    old = final["ann1"][back]
    final["ann1"][back] = (AMENDED_RATING, old[1], old[2], old[3])
    expected = _expected_agreement(final)

    # The agreement page shows those values.
    page = _context(browser, web_server, ADMIN).pages[0]
    page.goto(f"/projects/{PROJECT}/datasets/{DATASET}/agreement")
    for q, want in expected.items():
        art = page.locator(f"article[data-question={q}]")
        expect(art).to_be_visible()
        shown = art.locator(".value").inner_text()
        assert shown == f"{want['value']:.3f}", (q, shown, want)
        pair = art.locator("tr[data-pair='ann1|ann2'] td").nth(3).inner_text()
        assert pair == f"{want['pair']:.3f}", (q, pair, want)
    expect(page.locator("[data-stat=complete]")).to_contain_text("3")
    shot(page, "flow-agreement")

    # The API agrees with the page, to the library's precision.
    agreement = api.get(f"/projects/{PROJECT}/datasets/{DATASET}/agreement")
    by_name = {q["question"]: q for q in agreement["questions"]}
    for q, want in expected.items():
        assert by_name[q]["value"] == pytest.approx(want["value"], abs=1e-6)

    # An export with consensus carries the consensus: the mean rating, the majority choice.
    _check_consensus_export(api, ids, final)


def _check_consensus_export(api: Api, ids: list[str], final: dict[str, list[Plan]]) -> None:
    job = api.send(
        "POST",
        f"/projects/{PROJECT}/datasets/{DATASET}/exports",
        {"format": "thresher", "options": {"answers": "consensus"}},
    )
    deadline = time.monotonic() + 30
    while job["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.3)
        job = api.get(f"/projects/{PROJECT}/exports/{job['id']}")
    assert job["status"] == "done", job
    r = api.http.get(job["download"].removeprefix("/api/v1"))
    r.raise_for_status()
    rows = [orjson.loads(line) for line in r.text.splitlines() if line.strip()]
    by_id = {row["id"]: row for row in rows}
    for i, rid in enumerate(ids):
        cons = _consensus_of(by_id[rid])
        ratings = [final[u][i][0] for u in ANNOTATORS]
        assert cons["helpful"] == pytest.approx(sum(ratings) / len(ratings))
        choices = [final[u][i][1] for u in ANNOTATORS]
        if choices[0] == choices[1]:
            assert cons["preferred"]["choice"] == choices[0]


def _consensus_of(row: dict[str, Any]) -> dict[str, Any]:
    """The consensus answers in an exported row: its one response, by the user ``consensus``."""
    (resp,) = row["responses"]
    assert resp["user"] == "consensus", resp
    answers: dict[str, Any] = resp["answers"]
    return answers


def test_a_lease_runs_out_and_the_record_goes_to_another_annotator(
    browser: Browser, web_server: WebServer, setup: dict[str, Any]
) -> None:
    api: Api = setup["api"]
    api.send("POST", f"/projects/{PROJECT}/datasets", {"name": "leases", "questions": QUESTIONS[:1]})
    (rid,) = api.records(PROJECT, "leases", [_comparison(99)])
    api.send("PUT", f"/projects/{PROJECT}/datasets/leases/workflow", {"overlap": 1, "lease_seconds": 10})
    api.user("slow", PASSWORD, PROJECT, "annotator")
    api.user("quick", PASSWORD, PROJECT, "annotator")

    slow = _context(browser, web_server, "slow").pages[0]
    slow.goto(f"/projects/{PROJECT}/datasets/leases/annotate")
    expect(slow.locator(".annotate")).to_have_attribute("data-record", rid)

    quick = _context(browser, web_server, "quick").pages[0]
    quick.goto(f"/projects/{PROJECT}/datasets/leases/annotate")
    expect(quick.get_by_test_id("queue-empty")).to_be_visible()

    time.sleep(11)  # the lease (10 s, the shortest allowed) runs out; slow did nothing meanwhile
    quick.get_by_role("button", name="Check again").click()
    expect(quick.locator(".annotate")).to_have_attribute("data-record", rid)
    quick.keyboard.press("3")
    quick.keyboard.press("Control+Enter")
    expect(quick.get_by_test_id("queue-empty")).to_be_visible()

    # slow comes back to a lost lease: the submit says so instead of losing the answer silently.
    slow.keyboard.press("4")
    slow.keyboard.press("Control+Enter")
    expect(slow.locator(".alert")).to_contain_text("ran out")
