import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import ChoiceTask from "./ChoiceTask.svelte";
import MultiChoiceTask from "./MultiChoiceTask.svelte";
import RankingTask from "./RankingTask.svelte";
import RatingTask from "./RatingTask.svelte";
import SpanTask from "./SpanTask.svelte";
import StepVerdictTask from "./StepVerdictTask.svelte";
import TextTask from "./TextTask.svelte";
import ConversationTask from "./ConversationTask.svelte";
import type { TaskRecord } from "./types";

const comparison: TaskRecord = {
  id: "r1",
  kind: "comparison",
  content: {
    kind: "comparison",
    prompt: [{ role: "user", content: "Say hi" }],
    candidates: [
      { id: "a", messages: [{ role: "assistant", content: "Hi!" }], model: "m1" },
      { id: "b", messages: [{ role: "assistant", content: "Hello there." }] },
      { id: "c", messages: [{ role: "assistant", content: "Yo." }] },
    ],
  },
};
const run: TaskRecord = {
  id: "r2",
  kind: "agent_run",
  content: {
    kind: "agent_run",
    task: "Book a table",
    steps: [
      { type: "plan", content: "search then book" },
      { type: "tool_call", tool_call: { name: "search", arguments: { q: "sushi" } } },
      { type: "message", content: "Booked!" },
    ],
  },
};
afterEach(cleanup);
const key = (el: Element, k: string, opts: KeyboardEventInit = {}) => fireEvent.keyDown(el, { key: k, ...opts });
const root = (c: HTMLElement) => c.querySelector(".task") as HTMLElement;

describe("RatingTask", () => {
  it("sets the score with number keys, counted from the scale's start, and shows the anchors", async () => {
    const onchange = vi.fn();
    const q = { type: "rating" as const, name: "helpful", min: 0, max: 4, anchors: { "0": "useless", "4": "perfect" } };
    const { container } = render(RatingTask, { question: q, record: comparison, value: undefined, onchange });
    expect(screen.getByText("useless")).toBeTruthy();
    await key(root(container), "3");
    expect(onchange).toHaveBeenLastCalledWith(2);
    await key(root(container), "9"); // beyond the scale: ignored
    expect(onchange).toHaveBeenCalledTimes(1);
  });

  it("rates each candidate in turn when the question is per candidate", async () => {
    const onchange = vi.fn();
    const q = { type: "rating" as const, name: "helpful", min: 1, max: 5, per_candidate: true };
    const { container, rerender } = render(RatingTask, { question: q, record: comparison, value: undefined, onchange });
    await key(root(container), "4");
    expect(onchange).toHaveBeenLastCalledWith({ a: 4 });
    await rerender({ value: { a: 4 } });
    await key(root(container), "2");
    expect(onchange).toHaveBeenLastCalledWith({ a: 4, b: 2 });
  });

  it("ignores number keys typed into a text field", async () => {
    const onchange = vi.fn();
    const q = { type: "rating" as const, name: "x", min: 1, max: 5 };
    const { container } = render(RatingTask, { question: q, record: comparison, value: undefined, onchange });
    const input = document.createElement("textarea");
    root(container).appendChild(input);
    await key(input, "3");
    expect(onchange).not.toHaveBeenCalled();
  });
});

describe("ChoiceTask", () => {
  it("picks a candidate with a number key and keeps the rationale", async () => {
    const onchange = vi.fn();
    const q = { type: "choice" as const, name: "pref", rationale: "required" as const };
    const { container } = render(ChoiceTask, { question: q, record: comparison, value: { choice: "a", rationale: "clearer" }, onchange });
    await key(root(container), "2");
    expect(onchange).toHaveBeenLastCalledWith({ choice: "b", rationale: "clearer" });
    expect(screen.getByText(/required/)).toBeTruthy();
    const ta = container.querySelector("textarea")!;
    await fireEvent.input(ta, { target: { value: "more polite" } });
    expect(onchange).toHaveBeenLastCalledWith({ choice: "a", rationale: "more polite" });
  });

  it("has no rationale field when the question takes none, and sends null", async () => {
    const onchange = vi.fn();
    const q = { type: "choice" as const, name: "label", options: ["yes", "no"], rationale: "none" as const };
    const { container } = render(ChoiceTask, { question: q, record: comparison, value: undefined, onchange });
    expect(container.querySelector("textarea")).toBeNull();
    await key(root(container), "2");
    expect(onchange).toHaveBeenLastCalledWith({ choice: "no", rationale: null });
  });
});

describe("MultiChoiceTask", () => {
  it("toggles labels with number keys, in the question's order", async () => {
    const onchange = vi.fn();
    const q = { type: "multi_choice" as const, name: "task_type", options: ["generation", "open_qa", "chat"] };
    const { container, rerender } = render(MultiChoiceTask, { question: q, record: comparison, value: undefined, onchange });
    await key(root(container), "3");
    expect(onchange).toHaveBeenLastCalledWith({ choices: ["chat"], rationale: null });
    await rerender({ value: { choices: ["chat"], rationale: null } });
    await key(root(container), "1");
    expect(onchange).toHaveBeenLastCalledWith({ choices: ["generation", "chat"], rationale: null });
    await rerender({ value: { choices: ["generation", "chat"], rationale: null } });
    await key(root(container), "3");
    expect(onchange).toHaveBeenLastCalledWith({ choices: ["generation"], rationale: null });
  });
});

describe("RankingTask", () => {
  it("moves, ties and accepts by keyboard, giving best-first groups", async () => {
    const onchange = vi.fn();
    const q = { type: "ranking" as const, name: "rank" };
    const { container, rerender } = render(RankingTask, { question: q, record: comparison, value: undefined, onchange });
    const el = root(container);
    await key(el, "Enter");
    expect(onchange).toHaveBeenLastCalledWith([["a"], ["b"], ["c"]]);
    await key(el, "ArrowDown");
    await key(el, "ArrowDown"); // c selected
    await key(el, "ArrowUp", { shiftKey: true });
    expect(onchange).toHaveBeenLastCalledWith([["a"], ["c"], ["b"]]);
    await rerender({ value: [["a"], ["c"], ["b"]] });
    await key(el, "t"); // c (still selected) ties with a
    expect(onchange).toHaveBeenLastCalledWith([["a", "c"], ["b"]]);
    await rerender({ value: [["a", "c"], ["b"]] });
    expect(container.querySelectorAll(".group").length).toBe(2);
    expect(container.querySelector(".group.tied")).not.toBeNull();
  });

  it("does not tie when the question forbids ties", async () => {
    const onchange = vi.fn();
    const q = { type: "ranking" as const, name: "rank", allow_ties: false };
    const { container } = render(RankingTask, { question: q, record: comparison, value: [["a"], ["b"], ["c"]], onchange });
    await key(root(container), "ArrowDown");
    await key(root(container), "t");
    expect(onchange).not.toHaveBeenCalled();
  });
});

describe("StepVerdictTask", () => {
  it("judges steps by keyboard, needs a cause on a wrong step and marks the first failing step", async () => {
    const onchange = vi.fn();
    const q = { type: "step_verdict" as const, name: "steps" };
    const { container, rerender } = render(StepVerdictTask, { question: q, record: run, value: undefined, onchange });
    const el = root(container);
    await key(el, "c");
    expect(onchange).toHaveBeenLastCalledWith([{ step: 0, verdict: "correct" }]);
    await rerender({ value: [{ step: 0, verdict: "correct" }] });
    await key(el, "ArrowDown");
    await key(el, "w");
    expect(onchange).toHaveBeenLastCalledWith([{ step: 0, verdict: "correct" }, { step: 1, verdict: "wrong" }]);
    await rerender({ value: [{ step: 0, verdict: "correct" }, { step: 1, verdict: "wrong" }] });
    await key(el, "3");
    expect(onchange).toHaveBeenLastCalledWith([{ step: 0, verdict: "correct" }, { step: 1, verdict: "wrong", cause: "tool" }]);
    expect(container.querySelector('[data-step="1"]')!.classList.contains("first-wrong")).toBe(true);
    expect(screen.getByText("first failing step")).toBeTruthy();
    await key(el, "a");
    expect(onchange).toHaveBeenLastCalledWith([
      { step: 0, verdict: "correct" },
      { step: 1, verdict: "wrong" },
      { step: 2, verdict: "correct" },
    ]);
  });

  it("reads a corrected tool call typed as JSON", async () => {
    const onchange = vi.fn();
    const q = { type: "step_verdict" as const, name: "steps" };
    const { container } = render(StepVerdictTask, { question: q, record: run, value: [{ step: 1, verdict: "wrong", cause: "model_output" }], onchange });
    const ta = container.querySelector<HTMLTextAreaElement>('[data-step="1"] .corrected')!;
    await fireEvent.input(ta, { target: { value: '{"name": "search", "arguments": {"q": "sushi ko"}}' } });
    expect(onchange).toHaveBeenLastCalledWith([{ step: 1, verdict: "wrong", cause: "model_output", corrected: { name: "search", arguments: { q: "sushi ko" } } }]);
  });
});

describe("TextTask", () => {
  it("shows what changed against the suggestion", async () => {
    const onchange = vi.fn();
    const q = { type: "text" as const, name: "ideal" };
    const { container } = render(TextTask, {
      question: q,
      record: { id: "t", kind: "text", content: { kind: "text", text: "x" } },
      value: "The quick red fox",
      suggestion: { question: "ideal", value: "The quick brown fox", agent: "m" },
      onchange,
    });
    expect(container.querySelector("ins")!.textContent).toBe("red");
    expect(container.querySelector("del")!.textContent).toBe("brown");
    await fireEvent.input(container.querySelector("textarea")!, { target: { value: "" } });
    expect(onchange).toHaveBeenLastCalledWith(undefined);
  });

  it("on a conversation, diffs against the last assistant turn it replaces", () => {
    const record = { id: "c", kind: "conversation", content: { kind: "conversation", messages: [{ role: "user", content: "2+2?" }, { role: "assistant", content: "5" }] } };
    const { container } = render(TextTask, { question: { type: "text", name: "ideal" }, record, value: "4", onchange: () => {} });
    expect(container.querySelector("ins")!.textContent).toBe("4");
    expect(container.querySelector("summary")!.textContent).toContain("replaces turn 2");
  });
});

describe("SpanTask", () => {
  const record = { id: "s", kind: "text", content: { kind: "text", text: "Alice met Bob in Paris." } };
  const q = { type: "span" as const, name: "ner", labels: ["PER", "LOC"] };

  it("labels the found text with a number key and lists the span", async () => {
    const onchange = vi.fn();
    const { container } = render(SpanTask, { question: q, record, value: undefined, onchange });
    const find = container.querySelector<HTMLInputElement>(".find input")!;
    await fireEvent.input(find, { target: { value: "Paris" } });
    await key(find, "Enter");
    await key(root(container), "2");
    expect(onchange).toHaveBeenLastCalledWith([{ start: 17, end: 22, label: "LOC", field: "text" }]);
  });

  it("refuses overlapping spans and deletes a span", async () => {
    const onchange = vi.fn();
    const value = [{ start: 0, end: 5, label: "PER", field: "text" }];
    const { container } = render(SpanTask, { question: q, record, value, onchange });
    expect(container.querySelector("mark")!.textContent).toBe("Alice");
    const find = container.querySelector<HTMLInputElement>(".find input")!;
    await fireEvent.input(find, { target: { value: "Ali" } });
    await key(find, "Enter");
    await key(root(container), "1");
    expect(onchange).not.toHaveBeenCalled();
    expect(screen.getByRole("alert").textContent).toContain("overlap");
    await fireEvent.click(screen.getByLabelText("delete span PER 0-5"));
    expect(onchange).toHaveBeenLastCalledWith(undefined);
  });
});

describe("ConversationTask", () => {
  it("edits an assistant turn and adds and removes turns", async () => {
    const onchange = vi.fn();
    const record = { id: "c", kind: "conversation", content: { kind: "conversation", messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }] } };
    const { container } = render(ConversationTask, { question: { name: "conv" }, record, value: undefined, onchange });
    const areas = container.querySelectorAll("textarea");
    await fireEvent.input(areas[1], { target: { value: "Hello! How can I help?" } });
    expect(onchange).toHaveBeenLastCalledWith([{ role: "user", content: "hi" }, { role: "assistant", content: "Hello! How can I help?" }]);
    await fireEvent.click(container.querySelectorAll<HTMLButtonElement>(".ops button")[2]); // + after turn 2
    expect(onchange).toHaveBeenLastCalledWith([{ role: "user", content: "hi" }, { role: "assistant", content: "yo" }, { role: "user", content: "" }]);
    await fireEvent.click(container.querySelectorAll<HTMLButtonElement>(".ops button")[1]); // × turn 1
    expect(onchange).toHaveBeenLastCalledWith([{ role: "assistant", content: "yo" }]);
  });
});
