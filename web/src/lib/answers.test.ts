import { describe, expect, it } from "vitest";
import { formatAnswer } from "./answers";

describe("formatAnswer", () => {
  it("reads each answer shape", () => {
    expect(formatAnswer("the ideal response")).toBe("the ideal response");
    expect(formatAnswer(5)).toBe("5");
    expect(formatAnswer({ a: 5, b: 3 })).toBe("a: 5 · b: 3");
    expect(formatAnswer([["b"], ["a", "c"]])).toBe("b > a = c");
    expect(formatAnswer({ choice: "a", rationale: "more precise" })).toBe("a — more precise");
    expect(formatAnswer({ choice: "a", rationale: null })).toBe("a");
    expect(formatAnswer({ choices: ["x", "y"], rationale: null })).toBe("x, y");
    expect(formatAnswer([{ step: 0, verdict: "correct" }, { step: 2, verdict: "wrong", cause: "tool", note: "timeout" }])).toBe(
      "step 1: correct; step 3: wrong (tool) — timeout",
    );
    expect(formatAnswer([{ start: 0, end: 4, label: "PER" }])).toBe('[{"start":0,"end":4,"label":"PER"}]');
    expect(formatAnswer(null)).toBe("");
  });
});
