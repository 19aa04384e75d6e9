import { describe, expect, it } from "vitest";
import { formatAnswer } from "./format";

describe("formatAnswer", () => {
  it("writes each answer shape readably", () => {
    expect(formatAnswer({ type: "ranking", name: "r" }, [["b"], ["a", "c"]])).toBe("b > a = c");
    expect(formatAnswer({ type: "rating", name: "r" }, { a: 5, b: 3 })).toBe("a: 5, b: 3");
    expect(formatAnswer({ type: "choice", name: "c" }, { choice: "a", rationale: "why" })).toBe("a — why");
    expect(formatAnswer({ type: "multi_choice", name: "m" }, { choices: [], rationale: null })).toBe("(none)");
    const rec = { id: "x", kind: "text", content: { kind: "text", text: "Alice met Bob" } };
    expect(formatAnswer({ type: "span", name: "s" }, [{ start: 0, end: 5, label: "PER", field: "text" }], rec)).toBe("PER “Alice”");
    expect(formatAnswer({ type: "step_verdict", name: "v" }, [{ step: 0, verdict: "correct" }, { step: 1, verdict: "wrong", cause: "tool" }])).toBe(
      "1✓ 2✗ (tool) · first failing step 2",
    );
    expect(formatAnswer({ type: "rating", name: "r" }, undefined)).toBe("—");
  });
});
