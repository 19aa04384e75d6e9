import { describe, expect, it } from "vitest";
import { preview } from "./text";

describe("preview", () => {
  it("flattens whitespace and cuts long text with an ellipsis", () => {
    expect(preview("a\n\n b")).toBe("a b");
    expect(preview("x".repeat(10), 5)).toBe("xxxx…");
  });
});

describe("preview of long text", () => {
  it("reads only the head of a long document and still marks the cut", () => {
    const long = "word ".repeat(200_000);
    expect(preview(long, 20)).toBe("word word word word…");
    expect(preview(" ".repeat(10_000) + "x", 5)).toBe("…");
  });
});
