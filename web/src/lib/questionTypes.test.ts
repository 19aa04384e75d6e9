import { describe, expect, it } from "vitest";
import { QUESTION_TYPES, emptyForm, fromForm, parseAnchors, summary, toForm } from "./questionTypes";

describe("question forms", () => {
  it("covers every question type of the model", () => {
    expect(Object.keys(QUESTION_TYPES).sort()).toEqual(
      ["choice", "conversation", "multi_choice", "ranking", "rating", "region", "span", "step_verdict", "text", "timeline_segment", "track", "transcript"]
        .concat(["trajectory", "step_preference", "recording"])
        .sort(),
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

  it("builds the authoring questions: a trajectory's tools, a recording's tag sets and seconds", () => {
    expect(fromForm({ ...emptyForm("trajectory"), name: "plan", plan_only: true, tools: "search, book" })).toEqual({
      type: "trajectory",
      name: "plan",
      required: true,
      plan_only: true,
      tools: ["search", "book"],
    });
    expect(fromForm({ ...emptyForm("step_preference"), name: "pick" })).toEqual({ type: "step_preference", name: "pick", required: true, rationale: "optional" });
    const rec = fromForm({ ...emptyForm("recording"), name: "take", tags: "emotion: neutral, happy;\nstyle: calm", max_seconds: "12.5" });
    expect(rec).toEqual({ type: "recording", name: "take", required: true, tags: { emotion: ["neutral", "happy"], style: ["calm"] }, min_seconds: 0.5, max_seconds: 12.5 });
    expect(fromForm(toForm(rec))).toEqual(rec);
    expect(summary(rec)).toBe("emotion · style");
    expect(() => fromForm({ ...emptyForm("recording"), name: "t", tags: "happy" })).toThrow('tags "happy"');
    expect(() => fromForm({ ...emptyForm("recording"), name: "t", max_seconds: "ten" })).toThrow("Longest take (s): expected a number");
  });

  it("summarizes a question in a line", () => {
    expect(summary({ type: "rating", name: "r", dimension: "style", min: 1, max: 5 })).toBe("style 1–5");
    expect(summary({ type: "choice", name: "c", rationale: "optional" })).toBe("candidates · rationale optional");
  });
});
