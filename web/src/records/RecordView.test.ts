import { render } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import RecordView from "./RecordView.svelte";
import { SAMPLES } from "./samples";
import { contentPreview, formatArguments } from "../lib/recordText";

const view = (kind: string) => render(RecordView, { props: { record: SAMPLES[kind] } }).container;

describe("RecordView", () => {
  it("renders text as Markdown with code blocks", () => {
    const c = view("text");
    expect(c.querySelector("h1")?.textContent).toBe("Threshing");
    expect(c.querySelector("strong")?.textContent).toBe("thresher");
    expect(c.querySelector("pre code")?.textContent).toContain("print('grain')");
  });

  it("renders a conversation as bubbles by role, with tool calls, results and reasoning collapsible", () => {
    const c = view("conversation");
    const roles = Array.from(c.querySelectorAll<HTMLElement>(".msg")).map((m) => m.dataset.role);
    expect(roles).toEqual(["system", "user", "assistant", "tool", "assistant"]);
    expect(c.textContent).toContain("Weather in Paris?");
    expect(c.textContent).toContain("[image]");
    expect(c.textContent).toContain("blob://sha256/ab");
    const summaries = Array.from(c.querySelectorAll("summary")).map((s) => s.textContent);
    expect(summaries).toContain("reasoning");
    expect(summaries.some((s) => s?.includes("weather(#call_1)"))).toBe(true);
    expect(summaries.some((s) => s?.includes("tool result for #call_1"))).toBe(true);
    expect(summaries.some((s) => s?.includes("1 tool offered"))).toBe(true);
    expect(c.textContent).toContain('"city": "Paris"');
    expect(c.textContent).toContain("weight 1");
  });

  it("renders a comparison's candidates side by side with their models", () => {
    const c = view("comparison");
    const cands = c.querySelectorAll<HTMLElement>("[data-candidate]");
    expect(Array.from(cands).map((x) => x.dataset.candidate)).toEqual(["a", "b"]);
    expect(cands[0].textContent).toContain("m-7b");
    expect(cands[1].textContent).toContain("Barley, a cereal grain.");
    expect(c.querySelector(".prompt")?.textContent).toContain("Name a grain.");
  });

  it("renders an agent run as a timeline with the error and the first failing step marked", () => {
    const c = view("agent_run");
    const steps = c.querySelectorAll<HTMLElement>("li.step");
    expect(steps).toHaveLength(4);
    expect(steps[1].textContent).toContain("tool call");
    expect(steps[1].textContent).toContain('"place": "Sushi Ko"');
    expect(steps[2].classList.contains("error")).toBe(true);
    expect(steps[3].classList.contains("first-failure")).toBe(true);
    expect(steps[3].textContent).toContain("first failure · the model's output");
    expect(steps[3].textContent).toContain("claimed success after a failed call");
    expect(c.querySelector(".outcome")?.textContent).toContain("Outcome: failure");
    expect(c.querySelector(".failure-summary")?.textContent).toContain("step 4");
  });

  it("renders media metadata and eval items", () => {
    const m = view("media");
    expect(m.textContent).toContain("640 × 480");
    expect(m.textContent).toContain("A field of wheat");
    expect(m.textContent).toContain("image/jpeg");
    const e = view("eval_item");
    expect(e.textContent).toContain("2 + 2 = ?");
    expect(e.querySelector(".reference")?.textContent).toBe("4");
    expect(e.textContent).toContain("numeric");
    expect(e.textContent).toContain('"tolerance": 0');
  });

  it("shows untrusted HTML in a message as text and runs nothing", () => {
    const record = {
      id: "x",
      content: {
        kind: "conversation",
        messages: [{ role: "user", content: '<img src=x onerror="window.__pwned=1"> [l](javascript:window.__pwned=1)' }],
      },
    };
    const c = render(RecordView, { props: { record } }).container;
    expect(c.querySelector("img")).toBeNull();
    expect(c.textContent).toContain('<img src=x onerror="window.__pwned=1">');
    expect(c.querySelector("a")?.hasAttribute("href")).toBe(false);
  });
});

describe("previews", () => {
  it("says in one line what each kind is about", () => {
    expect(contentPreview(SAMPLES.conversation.content)).toBe("Weather in Paris? [image]");
    expect(contentPreview(SAMPLES.comparison.content)).toBe("Name a grain. · 2 candidates");
    expect(contentPreview(SAMPLES.agent_run.content)).toBe("Book a table for two at 8 · 4 steps · failure");
    expect(contentPreview(SAMPLES.media.content)).toBe("image: A field of wheat");
    expect(contentPreview(SAMPLES.text.content, 12)).toBe("# Threshing…");
  });
  it("formats tool arguments, parsed or not", () => {
    expect(formatArguments('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(formatArguments("not json")).toBe("not json");
  });
});
