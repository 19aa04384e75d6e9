import { describe, expect, it } from "vitest";
import { preview } from "./text";

describe("preview", () => {
  it("flattens whitespace and cuts long text with an ellipsis", () => {
    expect(preview("a\n\n b")).toBe("a b");
    expect(preview("x".repeat(10), 5)).toBe("xxxx…");
  });
});
