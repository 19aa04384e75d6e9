import { describe, expect, it } from "vitest";
import { initialAnswers, missingRequired } from "./shell";
import { fieldErrors } from "./api";
import { ApiError } from "../lib/api";
import { registeredTypes, viewFor } from "./registry";
import Unsupported from "./Unsupported.svelte";

const questions = [
  { type: "text", name: "ideal" },
  { type: "rating", name: "helpful", min: 1, max: 5 },
  { type: "choice", name: "pick", required: false },
];

describe("task shell helpers", () => {
  it("pre-fills text questions from a suggestion, never the others; a draft wins", () => {
    const s = [
      { question: "ideal", value: "a draft reply" },
      { question: "helpful", value: 4 },
    ];
    expect(initialAnswers(questions, s)).toEqual({ ideal: "a draft reply" });
    expect(initialAnswers(questions, s, { helpful: 2 })).toEqual({ helpful: 2 });
  });

  it("lists required questions without an answer", () => {
    expect(missingRequired(questions, { ideal: "  " })).toEqual(["ideal", "helpful"]);
    expect(missingRequired(questions, { ideal: "x", helpful: 3 })).toEqual([]);
  });

  it("maps a 422's field paths to question names, in both error shapes", () => {
    const ours = new ApiError(422, "invalid", "bad", [{ loc: ["answers", "pick", "rationale"], msg: "a rationale is required" }]);
    expect(fieldErrors(ours)).toEqual({ pick: "a rationale is required" });
    const fastapi = new ApiError(422, "422", JSON.stringify([{ loc: ["body", "answers", "helpful"], msg: "too big" }]));
    expect(fieldErrors(fastapi)).toEqual({ helpful: "too big" });
  });
});

describe("registry", () => {
  it("has a view for every LLM question type and a fallback for the rest", () => {
    for (const t of ["text", "rating", "ranking", "choice", "multi_choice", "span", "step_verdict"]) {
      expect(registeredTypes()).toContain(t);
      expect(viewFor({ type: t })).not.toBe(Unsupported);
    }
    expect(viewFor({ type: "no_such_type" })).toBe(Unsupported);
  });
});
