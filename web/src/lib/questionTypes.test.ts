import { describe, expect, it } from "vitest";
import { QUESTION_TYPES, emptyForm, fromForm, parseAnchors, summary, toForm } from "./questionTypes";

describe("question forms", () => {
  it("covers every question type of the model", () => {
    expect(Object.keys(QUESTION_TYPES).sort()).toEqual(
      ["choice", "conversation", "multi_choice", "ranking", "rating", "region", "span", "step_verdict", "text", "timeline_segment", "track", "transcript"].sort(),
    );
  });

  it("builds a rating with anchors, leaving empty optional fields out", () => {
    const form = { ...emptyForm("rating"), name: "helpfulness", dimension: "helpfulness", max: "7", anchors: "1: useless\n7 = perfect" };
    expect(fromForm(form)).toEqual({
      type: "rating",
      name: "helpfulness",
      required: true,
      dimension: "helpfulness",
      min: 1,
      max: 7,
      anchors: { "1": "useless", "7": "perfect" },
      per_candidate: false,
    });
  });

  it("builds a choice with options from lines or commas", () => {
    const q = fromForm({ ...emptyForm("choice"), name: "pick", options: "a, b\nc", rationale: "required" });
    expect(q).toMatchObject({ type: "choice", options: ["a", "b", "c"], rationale: "required" });
  });

  it("round-trips a question through the form", () => {
    const q = { type: "region", name: "boxes", title: "Boxes", required: false, labels: ["cat", "dog"], shapes: ["box", "polygon"] };
    expect(fromForm(toForm(q))).toEqual(q);
  });

  it("names the field that is wrong", () => {
    expect(() => fromForm({ ...emptyForm("span"), name: "s" })).toThrow("Labels is required");
    expect(() => fromForm({ ...emptyForm("rating"), name: "r", min: "x" })).toThrow("Lowest: expected a whole number");
    expect(() => parseAnchors("good")).toThrow('anchor "good"');
  });

  it("summarizes a question in a line", () => {
    expect(summary({ type: "rating", name: "r", dimension: "style", min: 1, max: 5 })).toBe("style 1–5");
    expect(summary({ type: "choice", name: "c", rationale: "optional" })).toBe("candidates · rationale optional");
  });
});
