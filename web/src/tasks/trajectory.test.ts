import { describe, expect, it } from "vitest";
import {
  argsText,
  cleanTrajectory,
  decisionSteps,
  insertAfter,
  move,
  newStep,
  parseArgs,
  pick,
  problems,
  removeAt,
  stepOptions,
  toolNames,
  withRationale,
  type TrajStep,
} from "./trajectory";
import type { Step, TaskRecord } from "./types";

const record = (content: Record<string, unknown>): TaskRecord => ({ id: "r", content });

describe("trajectory helpers", () => {
  it("takes the tools from the question, else from the record (OpenAI or bare schemas)", () => {
    expect(toolNames({ tools: ["a"] }, record({ tools: [{ name: "b" }] }))).toEqual(["a"]);
    const r = record({ kind: "agent_run", tools: [{ type: "function", function: { name: "search" } }, { name: "book" }, { name: "book" }, { x: 1 }] });
    expect(toolNames({ tools: null }, r)).toEqual(["search", "book"]);
    expect(toolNames({}, record({ kind: "text", text: "x" }))).toEqual([]);
  });

  it("gives a new call the next free id and a result the id of the call before it", () => {
    const steps: TrajStep[] = [newStep("plan", [], -1)];
    const call1 = newStep("tool_call", steps, 0, ["search"]);
    expect(call1).toEqual({ type: "tool_call", tool_call: { id: "call_1", name: "search", arguments: {} } });
    const withCall = insertAfter(steps, 0, call1);
    expect(newStep("tool_call", withCall, 1).tool_call?.id).toBe("call_2");
    expect(newStep("tool_result", withCall, 1)).toEqual({ type: "tool_result", content: "", tool_call_id: "call_1" });
    expect(newStep("tool_result", withCall, 0)).toEqual({ type: "tool_result", content: "" }); // no call before step 1
  });

  it("inserts, moves (clamped) and removes", () => {
    expect(insertAfter(["a", "b"], -1, "x")).toEqual(["x", "a", "b"]);
    expect(insertAfter(["a", "b"], 1, "x")).toEqual(["a", "b", "x"]);
    expect(move(["a", "b", "c"], 2, -1)).toEqual(["a", "c", "b"]);
    const same = ["a", "b"];
    expect(move(same, 0, -1)).toBe(same);
    expect(removeAt(["a", "b", "c"], 1)).toEqual(["a", "c"]);
  });

  it("checks tool call arguments as JSON objects and says what is wrong", () => {
    expect(parseArgs('{"q": "sushi", "n": 2}')).toEqual({ ok: true, value: { q: "sushi", n: 2 } });
    expect(parseArgs("  ")).toEqual({ ok: true, value: {} });
    const bad = parseArgs('{"q": ');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/^not valid JSON/);
    expect(parseArgs("[1, 2]")).toEqual({ ok: false, error: 'expected a JSON object {"name": value, …}, got an array' });
    expect(parseArgs("3")).toMatchObject({ ok: false, error: expect.stringContaining("got number") });
    expect(argsText({ q: "x" })).toBe('{ "q": "x" }');
    expect(argsText("{oops")).toBe("{oops");
    expect(argsText({})).toBe(""); // a new call starts empty: typing does not land after "{}"
  });

  it("lists the problems of a trajectory per step", () => {
    const v = {
      steps: [
        { type: "plan", content: " " },
        { type: "tool_call", tool_call: { id: "call_1", name: "fly", arguments: "{bad" } },
        { type: "tool_call", tool_call: { id: "call_2", name: "", arguments: {} } },
        { type: "message", content: "done" },
      ],
    };
    expect(problems(v, {}, ["search"])).toEqual([
      "step 1 (plan): write its text",
      'step 2 (tool_call): unknown tool "fly"; expected one of search',
      "step 2 (tool_call): the arguments are not a JSON object",
      "step 3 (tool_call): name the tool",
    ]);
    expect(problems({ steps: [{ type: "message", content: "hi" }] }, { plan_only: true }, [])).toEqual(["step 1 (message): this question takes plan steps only"]);
    expect(problems(undefined, {}, [])).toEqual(["add at least one step"]);
  });

  it("stores what was written: empty optional fields dropped, a blank final left out", () => {
    const v = cleanTrajectory({
      steps: [
        { type: "tool_call", content: "", tool_call: { id: "call_1", name: "search", arguments: { q: "x" } } },
        { type: "tool_result", content: "found", tool_call_id: "call_1" },
        { type: "message", content: "ok", tool_call_id: "stray" },
      ],
      final: "  ",
    });
    expect(v).toEqual({
      steps: [
        { type: "tool_call", tool_call: { name: "search", arguments: { q: "x" }, id: "call_1" } },
        { type: "tool_result", content: "found", tool_call_id: "call_1" },
        { type: "message", content: "ok" },
      ],
    });
    expect(cleanTrajectory({ steps: [], final: "42" })).toEqual({ steps: [], final: "42" });
  });
});

describe("step preference helpers", () => {
  const steps: Step[] = [
    { type: "plan", content: "p" },
    { type: "message", content: "taken text", alternatives: [{ id: "b", content: "alt b", model: "m2" }] } as Step,
    { type: "tool_call", tool_call: { name: "x" }, alternatives: [] } as Step,
  ];

  it("offers the recorded output and the alternatives, only where there are alternatives", () => {
    expect(stepOptions(steps[0])).toEqual([]);
    expect(stepOptions(steps[2])).toEqual([]);
    expect(stepOptions(steps[1]).map((o) => [o.id, o.content])).toEqual([
      ["taken", "taken text"],
      ["b", "alt b"],
    ]);
    expect(decisionSteps(steps)).toEqual([1]);
  });

  it("picks, re-picks, unpicks and keeps the rationale with its pick", () => {
    let v = pick(undefined, 3, "b");
    expect(v).toEqual([{ step: 3, choice: "b" }]);
    v = pick(v, 1, "taken");
    expect(v).toEqual([
      { step: 1, choice: "taken" },
      { step: 3, choice: "b" },
    ]);
    v = withRationale(v, 3, "b checks first");
    v = pick(v, 3, "c");
    expect(v).toContainEqual({ step: 3, choice: "c", rationale: "b checks first" });
    v = withRationale(v, 3, " ");
    expect(v).toContainEqual({ step: 3, choice: "c" });
    expect(withRationale(v, 9, "x")).toBe(v); // no pick at step 9: nowhere to keep it
    expect(pick(pick(undefined, 2, "a"), 2, "a")).toBeUndefined();
  });
});
