import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import Annotate from "../pages/Annotate.svelte";

type Call = { method: string; path: string; body: unknown };

const TASK = {
  assignment: { id: "as1", record_id: "r1", dataset: "d", user: "ann", status: "leased", lease_expires_at: null, reject_reason: null },
  record: {
    id: "r1",
    content: {
      kind: "comparison",
      prompt: [{ role: "user", content: "hi" }],
      candidates: [
        { id: "a", messages: [{ role: "assistant", content: "Hello" }] },
        { id: "b", messages: [{ role: "assistant", content: "Yo" }] },
      ],
    },
  },
  questions: [
    { type: "rating", name: "helpful", title: "Helpful", min: 1, max: 5, anchors: { "1": "bad", "5": "great" } },
    { type: "choice", name: "pref", title: "Preferred", rationale: "optional" },
  ],
  guidelines: "Be **fair**.",
  suggestions: [],
  draft: null,
};

let calls: Call[] = [];
let queue: unknown[] = [];

function mockServer() {
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init: RequestInit) => {
      const path = url.replace("/api/v1", "");
      const method = init.method ?? "GET";
      calls.push({ method, path, body: init.body ? JSON.parse(String(init.body)) : undefined });
      const json = (data: unknown, status = 200) => new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });
      if (path.endsWith("/queue/next")) {
        const next = queue.shift();
        return next ? json(next) : new Response(null, { status: 204 });
      }
      if (path.endsWith("/submit")) return json({ id: "resp1", assignment_id: "as1" });
      if (path.includes("/queue/history")) return json([]);
      return new Response(null, { status: 204 });
    }),
  );
}

const press = (key: string, opts: KeyboardEventInit = {}) => fireEvent.keyDown(document.activeElement ?? window, { key, ...opts });
const checked = (q: string) => document.querySelector(`section[data-question=${q}] [aria-checked=true]`)?.textContent ?? null;

beforeEach(() => {
  queue = [structuredClone(TASK)];
  mockServer();
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe("the task shell (Annotate page)", () => {
  it("rates by number key with undo / redo, saves a draft, refuses a missing answer, submits and shows the empty queue", async () => {
    render(Annotate, { project: "p", dataset: "d" });
    await screen.findByText("Helpful");
    await waitFor(() => expect(document.activeElement?.closest("section")?.dataset.question).toBe("helpful"));
    expect(screen.getByText("fair")).toBeTruthy(); // the guidelines, as Markdown

    await press("4");
    expect(checked("helpful")).toContain("4");
    await press("z", { ctrlKey: true });
    expect(checked("helpful")).toBeNull();
    await press("Z", { ctrlKey: true, shiftKey: true });
    expect(checked("helpful")).toContain("4");

    await waitFor(() => expect(calls.some((c) => c.method === "PUT" && c.path.endsWith("/assignments/as1/draft"))).toBe(true), { timeout: 3000 });
    expect(calls.find((c) => c.method === "PUT")!.body).toEqual({ answers: { helpful: 4 } });

    // The choice is required: Ctrl+Enter names it instead of submitting.
    await press("Enter", { ctrlKey: true });
    expect(await screen.findByText(/Answer this question first: pref/)).toBeTruthy();
    expect(calls.some((c) => c.path.endsWith("/submit"))).toBe(false);

    await waitFor(() => expect(document.activeElement?.closest("section")?.dataset.question).toBe("pref"));
    await press("2");
    await press("Enter", { ctrlKey: true });
    await screen.findByTestId("queue-empty");
    const submit = calls.find((c) => c.path.endsWith("/submit"))!;
    expect(submit.path).toBe("/projects/p/assignments/as1/submit");
    expect(submit.body).toEqual({ answers: { helpful: 4, pref: { choice: "b", rationale: null } } });
    expect(screen.getByText("Nothing to do")).toBeTruthy();
  });

  it("moves between questions with j / k and skips with a reason picked by number", async () => {
    render(Annotate, { project: "p", dataset: "d" });
    await screen.findByText("Helpful");
    await waitFor(() => expect(document.activeElement?.closest("section")?.dataset.question).toBe("helpful"));
    await press("j");
    expect(document.activeElement?.closest("section")?.dataset.question).toBe("pref");
    await press("k");
    expect(document.activeElement?.closest("section")?.dataset.question).toBe("helpful");

    await press("s");
    const dialog = await screen.findByRole("dialog", { hidden: true });
    await fireEvent.keyDown(dialog, { key: "3" });
    await fireEvent.keyDown(dialog, { key: "Enter" });
    await screen.findByTestId("queue-empty");
    const skip = calls.find((c) => c.path.endsWith("/skip"))!;
    expect(skip.body).toEqual({ reason: "Broken or unreadable record" });
  });

  it("opens the shortcut sheet on ?", async () => {
    render(Annotate, { project: "p", dataset: "d" });
    await screen.findByText("Helpful");
    await press("?");
    expect(await screen.findByText("Keyboard shortcuts")).toBeTruthy();
  });

  it("starts a task sent back by a reviewer from the old answers, with the reason", async () => {
    queue = [{ ...structuredClone(TASK), assignment: { ...TASK.assignment, status: "rejected", reject_reason: "rate b lower" }, draft: { answers: { helpful: 2 } } }];
    render(Annotate, { project: "p", dataset: "d" });
    expect(await screen.findByText(/rate b lower/)).toBeTruthy();
    expect(checked("helpful")).toContain("2");
  });
});
