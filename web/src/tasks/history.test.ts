import { describe, expect, it } from "vitest";
import { History } from "./history";

describe("History (undo / redo inside a task)", () => {
  it("undoes and redoes answer changes, and a new change drops the redo steps", () => {
    let t = 0;
    const h = new History({}, 500, () => (t += 1000));
    h.set("rating", 3);
    h.set("rating", 5);
    h.set("choice", { choice: "a", rationale: null });
    expect(h.undo()).toEqual({ rating: 5 });
    expect(h.undo()).toEqual({ rating: 3 });
    expect(h.redo()).toEqual({ rating: 5 });
    h.set("rating", 1);
    expect(h.canRedo).toBe(false);
    expect(h.current).toEqual({ rating: 1 });
    expect(h.undo()).toEqual({ rating: 5 });
  });

  it("counts quick changes to one answer (typing) as one step", () => {
    let t = 0;
    const h = new History({}, 500, () => (t += 10));
    h.set("text", "h");
    h.set("text", "he");
    h.set("text", "hello");
    expect(h.undo()).toEqual({});
    expect(h.canUndo).toBe(false);
  });

  it("removes an answer set to undefined, and reset forgets the steps", () => {
    const h = new History({ a: 1 }, 0);
    expect(h.set("a", undefined)).toEqual({});
    h.reset({ b: 2 });
    expect(h.canUndo).toBe(false);
    expect(h.current).toEqual({ b: 2 });
  });
});
