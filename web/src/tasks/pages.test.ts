import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Agreement from "../pages/Agreement.svelte";
import Queue from "../pages/Queue.svelte";
import Review from "../pages/Review.svelte";

type Call = { method: string; path: string; body: unknown };
let calls: Call[] = [];
let routes: Record<string, unknown[] | unknown> = {};

const RECORD = {
  id: "r1",
  content: {
    kind: "comparison",
    prompt: [{ role: "user", content: "hi" }],
    candidates: [
      { id: "a", messages: [{ role: "assistant", content: "Hello" }] },
      { id: "b", messages: [{ role: "assistant", content: "Yo" }] },
    ],
  },
};
const QUESTIONS = [
  { type: "rating", name: "helpful", title: "Helpful", min: 1, max: 5 },
  { type: "ranking", name: "rank", title: "Rank" },
];
const ITEM = {
  record: RECORD,
  questions: QUESTIONS,
  guidelines: null,
  responses: [
    { id: "x1", assignment_id: "a1", user: "ann1", answers: { helpful: 5, rank: [["a"], ["b"]] }, status: "submitted" },
    { id: "x2", assignment_id: "a2", user: "ann2", answers: { helpful: 3, rank: [["a", "b"]] }, status: "submitted" },
  ],
  consensus: { helpful: 4, rank: [["a"], ["b"]] },
};

beforeEach(() => {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const path = url.replace("/api/v1", "");
      const method = init.method ?? "GET";
      calls.push({ method, path, body: init.body ? JSON.parse(String(init.body)) : undefined });
      const key = Object.keys(routes).find((k) => path.split("?")[0].endsWith(k));
      let data = key ? routes[key] : undefined;
      if (Array.isArray(data) && key?.endsWith("/next")) data = data.shift();
      if (data === undefined) return new Response(null, { status: 204 });
      return new Response(JSON.stringify(data), { status: 200, headers: { "content-type": "application/json" } });
    }),
  );
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  routes = {};
});

describe("Review page", () => {
  it("shows every answer beside the consensus; x rejects with a reason, a accepts, then the next record", async () => {
    routes = { "/review/next": [structuredClone(ITEM)], "/review": { ok: true } };
    const { container } = render(Review, { project: "p", dataset: "d" });
    await screen.findByText("ann1");
    const row = container.querySelector("tr[data-question=rank]")!;
    expect(row.textContent).toContain("a > b");
    expect(row.textContent).toContain("a = b");
    expect(row.querySelector("td.differs")?.textContent).toContain("a = b"); // ann2 differs from the consensus

    await fireEvent.keyDown(window, { key: "2" });
    await fireEvent.keyDown(window, { key: "x" });
    const input = await screen.findByLabelText("reason");
    await fireEvent.input(input, { target: { value: "ties are not allowed here" } });
    await fireEvent.submit(input.closest("form")!);
    await waitFor(() => expect(calls.some((c) => c.path === "/projects/p/responses/x2/review")).toBe(true));
    expect(calls.find((c) => c.path.endsWith("/x2/review"))!.body).toEqual({ decision: "reject", reason: "ties are not allowed here" });
    await screen.findByText("ann2: sent back.");

    await fireEvent.keyDown(window, { key: "1" });
    await fireEvent.keyDown(window, { key: "a" });
    await screen.findByTestId("review-empty");
    expect(calls.find((c) => c.path.endsWith("/x1/review"))!.body).toEqual({ decision: "accept" });
  });

  it("corrects an answer with the task views and sends the corrected answers", async () => {
    routes = { "/review/next": [structuredClone(ITEM)], "/review": { ok: true } };
    render(Review, { project: "p", dataset: "d" });
    await screen.findByText("ann1");
    await fireEvent.keyDown(window, { key: "c" });
    await screen.findByText(/Correct ann1's answer/);
    const rating = document.querySelector<HTMLElement>(".correct section[data-question=helpful] .task")!;
    await fireEvent.keyDown(rating, { key: "4" });
    await fireEvent.keyDown(window, { key: "Enter", ctrlKey: true });
    await waitFor(() => expect(calls.some((c) => c.path.endsWith("/x1/review"))).toBe(true));
    expect(calls.find((c) => c.path.endsWith("/x1/review"))!.body).toEqual({
      decision: "correct",
      answers: { helpful: 4, rank: [["a"], ["b"]] },
    });
  });
});

describe("Queue page", () => {
  it("lists datasets with counts and start links, and my submissions with amend links", async () => {
    routes = {
      "/projects/p/queue": [
        { dataset: "prefs", available: 4, in_progress: 1, done_by_me: 2, to_review: 3 },
        { dataset: "done", available: 0, in_progress: 0, done_by_me: 0, to_review: 0 },
      ],
      "/queue/history": [
        { assignment_id: "as9", record_id: "rec123", answers: {}, status: "amending", submitted_at: "2026-01-01T00:00:00Z", review: { decision: "reject", reason: "too short", reviewer: "rev" } },
      ],
    };
    const { container } = render(Queue, { project: "p" });
    await screen.findByText("prefs");
    expect(container.querySelector<HTMLAnchorElement>("a[data-start=prefs]")!.getAttribute("href")).toBe("/projects/p/datasets/prefs/annotate");
    expect(container.querySelector("a[data-start=done]")).toBeNull();
    const amend = await screen.findByText("Amend");
    expect(amend.getAttribute("href")).toBe("/projects/p/datasets/prefs/annotate?amend=as9");
    expect(screen.getByText("too short")).toBeTruthy();
  });
});

describe("Agreement page", () => {
  it("shows each question's metric and value, the pairs, and progress per annotator", async () => {
    routes = {
      "/agreement": {
        questions: [
          { question: "helpful", type: "rating", metric: "krippendorff_alpha", value: 0.8781, n_items: 3, n_annotators: 2, pairs: [{ a: "ann1", b: "ann2", metric: "krippendorff_alpha", value: 0.8781, n: 3 }] },
          { question: "pref", type: "choice", metric: "fleiss_kappa", value: null, n_items: 0, n_annotators: 1, pairs: [] },
        ],
      },
      "/progress": { records: 4, target: 8, submitted: 6, in_progress: 1, skipped: 1, complete: 2, annotators: [{ user: "ann1", submitted: 3, skipped: 1, rejected: 0, median_seconds: 41.2, agreement_with_consensus: 0.75 }] },
    };
    const { container } = render(Agreement, { project: "p", dataset: "d" });
    await screen.findAllByText("Krippendorff's α");
    expect(container.querySelector("article[data-question=helpful] .value")!.textContent).toBe("0.878");
    expect(container.querySelector("article[data-question=pref] .value")!.textContent).toBe("—");
    expect(container.querySelector("tr[data-pair='ann1|ann2']")!.textContent).toContain("0.878");
    expect(container.querySelector("[data-stat=complete]")!.textContent).toContain("2 (50%)");
    expect(container.querySelector("tr[data-user=ann1]")!.textContent).toContain("41 s");
  });
});
