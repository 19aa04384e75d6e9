import { describe, expect, it } from "vitest";
import { initialRanking, moveDown, moveTo, moveUp, tieWithPrevious } from "./ranking";

describe("ranking moves", () => {
  const r = [["a"], ["b"], ["c"]];

  it("starts from the options in order, or from the value with missing options appended", () => {
    expect(initialRanking(undefined, ["a", "b"])).toEqual([["a"], ["b"]]);
    expect(initialRanking([["b", "a"]], ["a", "b", "c"])).toEqual([["b", "a"], ["c"]]);
  });

  it("moves an item up and down by swapping with its neighbour group", () => {
    expect(moveUp(r, "b")).toEqual([["b"], ["a"], ["c"]]);
    expect(moveDown(r, "b")).toEqual([["a"], ["c"], ["b"]]);
    expect(moveUp(r, "a")).toEqual(r);
    expect(moveDown(r, "c")).toEqual(r);
  });

  it("ties with the previous group and unties on the second press", () => {
    const tied = tieWithPrevious(r, "b");
    expect(tied).toEqual([["a", "b"], ["c"]]);
    expect(tieWithPrevious(tied, "b")).toEqual([["a"], ["b"], ["c"]]);
    expect(tieWithPrevious(r, "a")).toEqual(r);
  });

  it("moving a tied item splits it off above or below its group", () => {
    const tied = [["a", "b"], ["c"]];
    expect(moveUp(tied, "b")).toEqual([["b"], ["a"], ["c"]]);
    expect(moveDown(tied, "a")).toEqual([["b"], ["a"], ["c"]]);
  });

  it("drops an item at a place or into a group (drag and drop)", () => {
    expect(moveTo(r, "a", 3)).toEqual([["b"], ["c"], ["a"]]);
    expect(moveTo(r, "c", 0)).toEqual([["c"], ["a"], ["b"]]);
    expect(moveTo(r, "c", 0, true)).toEqual([["a", "c"], ["b"]]);
    expect(moveTo(r, "a", 2, true)).toEqual([["b"], ["c", "a"]]);
  });

  it("never mutates its input", () => {
    const before = JSON.stringify(r);
    moveUp(r, "c");
    tieWithPrevious(r, "c");
    moveTo(r, "a", 2);
    expect(JSON.stringify(r)).toBe(before);
  });
});
