/**
 * Pure helpers of the authoring views: a trajectory being written (steps added, moved, removed,
 * tool call arguments checked as typed), and the picks of a step-preference answer. The shapes
 * are those of `TrajectoryQuestion` / `StepPreferenceQuestion` in `thresher.model.questions`.
 */

import type { Step, TaskRecord, ToolCall } from "./types";

export type StepKind = "plan" | "reasoning" | "tool_call" | "tool_result" | "message";

export interface TrajectoryQuestion {
  type: "trajectory";
  name: string;
  title?: string | null;
  plan_only?: boolean;
  tools?: string[] | null;
}

export interface TrajStep {
  type: StepKind | string;
  content?: string;
  tool_call?: { id?: string; name: string; arguments: Record<string, unknown> | string };
  tool_call_id?: string;
}

export interface TrajectoryValue {
  steps: TrajStep[];
  final?: string;
}

/** The keys that add a step (while the focus is not in a text field), and what they add. */
export const STEP_KEYS: Record<string, StepKind> = { p: "plan", r: "reasoning", t: "tool_call", o: "tool_result", m: "message" };

/** Tools a call may name: the question's list, else the record's offered tools (OpenAI or bare). */
export function toolNames(question: Pick<TrajectoryQuestion, "tools">, record: TaskRecord): string[] {
  if (question.tools && question.tools.length) return [...question.tools];
  const tools = record.content.tools;
  if (!Array.isArray(tools)) return [];
  const names = tools.map((t) => {
    const f = (t as { function?: { name?: unknown }; name?: unknown }) ?? {};
    const name = f.function?.name ?? f.name;
    return typeof name === "string" ? name : null;
  });
  return [...new Set(names.filter((n): n is string => !!n))];
}

/** A fresh step of a kind; a tool call gets the next free id, a result answers the last call before `at`. */
export function newStep(kind: StepKind, steps: TrajStep[], at: number, tools: string[] = []): TrajStep {
  if (kind === "tool_call") {
    const used = new Set(steps.map((s) => s.tool_call?.id));
    let n = 1;
    while (used.has(`call_${n}`)) n++;
    return { type: kind, tool_call: { id: `call_${n}`, name: tools[0] ?? "", arguments: {} } };
  }
  if (kind === "tool_result") {
    const call = steps.slice(0, at + 1).reverse().find((s) => s.type === "tool_call" && s.tool_call?.id);
    return call ? { type: kind, content: "", tool_call_id: call.tool_call!.id } : { type: kind, content: "" };
  }
  return { type: kind, content: "" };
}

/** Insert `step` after index `at` (-1: first). */
export function insertAfter<T>(items: T[], at: number, item: T): T[] {
  return [...items.slice(0, at + 1), item, ...items.slice(at + 1)];
}

/** Move item `i` by `delta` places, clamped; the same list when it cannot move. */
export function move<T>(items: T[], i: number, delta: number): T[] {
  const j = Math.max(0, Math.min(items.length - 1, i + delta));
  if (i === j || i < 0 || i >= items.length) return items;
  const out = [...items];
  const [it] = out.splice(i, 1);
  out.splice(j, 0, it);
  return out;
}

export const removeAt = <T>(items: T[], i: number): T[] => items.filter((_, k) => k !== i);

export type ParsedArgs = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

/** Tool call arguments as typed: a JSON object, or an error that says where and what was expected. */
export function parseArgs(text: string): ParsedArgs {
  if (!text.trim()) return { ok: true, value: {} };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, error: `not valid JSON: ${msg}` };
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return { ok: false, error: `expected a JSON object {"name": value, …}, got ${Array.isArray(v) ? "an array" : v === null ? "null" : typeof v}` };
  }
  return { ok: true, value: v as Record<string, unknown> };
}

/** The arguments as the editor shows them: an object pretty-printed, a string (unparsed text) as is. */
export const argsText = (a: Record<string, unknown> | string | undefined): string =>
  typeof a === "string" ? a : a && Object.keys(a).length ? JSON.stringify(a, null, 1).replace(/\n\s*/g, " ") : "";

/**
 * What would stop the trajectory from being a good answer, per step: empty text, a call without a
 * tool name or with a tool not offered, arguments that are not a JSON object, a plan-only
 * question with other steps. The view shows these; the server checks the same on submit.
 */
export function problems(value: TrajectoryValue | undefined, question: Pick<TrajectoryQuestion, "plan_only">, tools: string[]): string[] {
  const out: string[] = [];
  if (!value || !value.steps.length) return ["add at least one step"];
  value.steps.forEach((s, i) => {
    const at = `step ${i + 1} (${s.type})`;
    if (question.plan_only && s.type !== "plan") out.push(`${at}: this question takes plan steps only`);
    if (s.type === "tool_call") {
      const name = s.tool_call?.name ?? "";
      if (!name) out.push(`${at}: name the tool`);
      else if (tools.length && !tools.includes(name)) out.push(`${at}: unknown tool "${name}"; expected one of ${tools.join(", ")}`);
      if (typeof s.tool_call?.arguments === "string") out.push(`${at}: the arguments are not a JSON object`);
    } else if (!(s.content ?? "").trim()) out.push(`${at}: write its text`);
  });
  return out;
}

/** The answer to store: empty optional fields dropped, so the server stores what was written. */
export function cleanTrajectory(v: TrajectoryValue): TrajectoryValue {
  const steps = v.steps.map((s) => {
    const out: TrajStep = { type: s.type };
    if (s.type === "tool_call" && s.tool_call) {
      const call: TrajStep["tool_call"] = { name: s.tool_call.name, arguments: s.tool_call.arguments };
      if (s.tool_call.id) call.id = s.tool_call.id;
      out.tool_call = call;
      if (s.content) out.content = s.content;
    } else out.content = s.content ?? "";
    if (s.type === "tool_result" && s.tool_call_id) out.tool_call_id = s.tool_call_id;
    return out;
  });
  return v.final && v.final.trim() ? { steps, final: v.final } : { steps };
}

// -- step preference --------------------------------------------------------------------------

export interface StepChoice {
  step: number;
  choice: string;
  rationale?: string;
}

export interface StepOption {
  id: string;
  label: string;
  content?: string | null;
  tool_call?: ToolCall | null;
  model?: string | null;
}

type Alternative = { id: string; content?: string | null; tool_call?: ToolCall | null; model?: string | null };

/** The options at a step: the recorded output ("taken") first, then the alternatives. */
export function stepOptions(step: Step & { alternatives?: Alternative[] | null; model?: string | null }): StepOption[] {
  const alts = Array.isArray(step.alternatives) ? step.alternatives : [];
  if (!alts.length) return [];
  return [
    { id: "taken", label: "taken (recorded)", content: step.content, tool_call: step.tool_call, model: step.model },
    ...alts.map((a) => ({ id: a.id, label: a.id, content: a.content, tool_call: a.tool_call, model: a.model })),
  ];
}

/** Indices of the steps that offer a choice. */
export const decisionSteps = (steps: Step[]): number[] =>
  steps.map((s, i) => (stepOptions(s).length > 1 ? i : -1)).filter((i) => i >= 0);

/** Set (or, picking the same again, clear) the choice at a step, keeping its rationale; sorted by step. */
export function pick(value: StepChoice[] | undefined, step: number, choice: string): StepChoice[] | undefined {
  const cur = (value ?? []).find((v) => v.step === step);
  const rest = (value ?? []).filter((v) => v.step !== step);
  const next = cur?.choice === choice ? rest : [...rest, { ...cur, step, choice }];
  next.sort((a, b) => a.step - b.step);
  return next.length ? next : undefined;
}

/** Set the rationale of a step's pick (a step not picked yet has nowhere to keep it). */
export function withRationale(value: StepChoice[] | undefined, step: number, rationale: string): StepChoice[] | undefined {
  if (!value?.some((v) => v.step === step)) return value;
  return value.map((v) => {
    if (v.step !== step) return v;
    const out: StepChoice = { step: v.step, choice: v.choice };
    if (rationale.trim()) out.rationale = rationale;
    return out;
  });
}
