/**
 * The question editor's model: for each question type of src/thresher/model/questions.py, the
 * fields a person edits, and the conversion between a question (the API's JSON) and the form's
 * flat values (strings, booleans, lists of choices).
 */
import type { Question } from "./types";

// "number": seconds and other decimals; "tags": named option sets, `emotion: neutral, happy; style: calm`.
export type FieldKind = "text" | "int" | "bool" | "list" | "anchors" | "select" | "multi" | "number" | "tags";
export type FieldSpec = {
  key: string;
  label: string;
  kind: FieldKind;
  default?: FormValue;
  options?: string[];
  required?: boolean;
  hint?: string;
};
export type FormValue = string | boolean | string[];
export type QuestionForm = Record<string, FormValue>;

const LABELS: FieldSpec = { key: "labels", label: "Labels", kind: "list", required: true, hint: "one a line or comma-separated" };
const RATIONALE = ["none", "optional", "required"];

export const QUESTION_TYPES: Record<string, { title: string; fields: FieldSpec[] }> = {
  text: {
    title: "Text (write or rewrite a response)",
    fields: [
      { key: "min_length", label: "Minimum length", kind: "int", default: "1" },
      { key: "max_length", label: "Maximum length", kind: "int" },
      { key: "markdown", label: "Markdown", kind: "bool", default: true },
    ],
  },
  conversation: {
    title: "Conversation (fix any turn, add or remove turns)",
    fields: [],
  },
  rating: {
    title: "Rating (Likert scale on one dimension)",
    fields: [
      { key: "dimension", label: "Dimension", kind: "text", hint: "helpfulness, correctness, style…" },
      { key: "min", label: "Lowest", kind: "int", default: "1", required: true },
      { key: "max", label: "Highest", kind: "int", default: "5", required: true },
      { key: "anchors", label: "Anchors", kind: "anchors", hint: "one a line: 1: useless" },
      { key: "per_candidate", label: "Rate each candidate", kind: "bool", default: false },
    ],
  },
  ranking: {
    title: "Ranking (order candidates or options)",
    fields: [
      { key: "options", label: "Options", kind: "list", hint: "empty: the record's candidates" },
      { key: "allow_ties", label: "Ties allowed", kind: "bool", default: true },
    ],
  },
  choice: {
    title: "Choice (one label, or the preferred candidate)",
    fields: [
      { key: "options", label: "Options", kind: "list", hint: "empty: the record's candidates" },
      { key: "rationale", label: "Rationale", kind: "select", options: RATIONALE, default: "optional" },
    ],
  },
  multi_choice: {
    title: "Multiple choice (labels)",
    fields: [
      { key: "options", label: "Options", kind: "list", required: true },
      { key: "rationale", label: "Rationale", kind: "select", options: RATIONALE, default: "none" },
      { key: "min_choices", label: "At least this many", kind: "int", default: "0" },
    ],
  },
  span: {
    title: "Span labels in text",
    fields: [LABELS, { key: "allow_overlap", label: "Spans may overlap", kind: "bool", default: false }],
  },
  step_verdict: {
    title: "Step verdicts (agent runs)",
    fields: [{ key: "require_cause", label: "A wrong step needs a cause", kind: "bool", default: true }],
  },
  region: {
    title: "Regions (boxes, polygons, masks)",
    fields: [LABELS, { key: "shapes", label: "Shapes", kind: "multi", options: ["box", "polygon", "mask"], default: ["box"] }],
  },
  timeline_segment: {
    title: "Timeline segments (seconds)",
    fields: [LABELS, { key: "with_text", label: "Text per segment", kind: "bool", default: false }],
  },
  track: { title: "Tracks (objects across frames)", fields: [LABELS] },
  transcript: {
    title: "Transcript (timed text with speakers)",
    fields: [{ key: "speakers", label: "Speakers", kind: "list", hint: "empty: any speaker" }],
  },
  trajectory: {
    title: "Trajectory (write an agent's steps and tool calls, or a plan)",
    fields: [
      { key: "plan_only", label: "Plan steps only", kind: "bool", default: false },
      { key: "tools", label: "Tools", kind: "list", hint: "empty: the record's tools, or any" },
    ],
  },
  step_preference: {
    title: "Step preference (pick the preferred output at agent steps)",
    fields: [{ key: "rationale", label: "Rationale", kind: "select", options: RATIONALE, default: "optional" }],
  },
  recording: {
    title: "Recording (read the record's script into the microphone)",
    fields: [
      { key: "tags", label: "Tags", kind: "tags", hint: "emotion: neutral, happy; style: calm, excited" },
      { key: "min_seconds", label: "Shortest take (s)", kind: "number", default: "0.5" },
      { key: "max_seconds", label: "Longest take (s)", kind: "number", default: "60" },
    ],
  },
};

export const COMMON_FIELDS: FieldSpec[] = [
  { key: "name", label: "Name", kind: "text", required: true, hint: "lowercase letters, digits, _" },
  { key: "title", label: "Title", kind: "text" },
  { key: "description", label: "Description (Markdown, shown beside the task)", kind: "text" },
  { key: "required", label: "Required", kind: "bool", default: true },
];

export function splitList(s: string): string[] {
  return s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/** Tag sets (`emotion: neutral, happy; style: calm`, `;` or new lines between sets) -> `{emotion: [...]}`. */
export function parseTags(s: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const part of s.split(/[\n;]/).map((l) => l.trim()).filter(Boolean)) {
    const m = /^([a-z][a-z0-9_]*)\s*:\s*(.+)$/.exec(part);
    if (!m) throw new Error(`tags "${part}": expected "name: option, option"`);
    out[m[1]] = m[2].split(",").map((o) => o.trim()).filter(Boolean);
  }
  return out;
}

/** Anchor lines (`3: fine`) -> `{3: "fine"}`; a bad line throws, naming it. */
export function parseAnchors(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of s.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const m = /^(-?\d+)\s*[:=]\s*(.+)$/.exec(line);
    if (!m) throw new Error(`anchor "${line}": expected "number: label"`);
    out[m[1]] = m[2].trim();
  }
  return out;
}

function fieldsOf(type: string): FieldSpec[] {
  const spec = QUESTION_TYPES[type];
  if (!spec) throw new Error(`unknown question type ${type}`);
  return [...COMMON_FIELDS, ...spec.fields];
}

/** A blank form for a type, with the server's defaults. */
export function emptyForm(type: string): QuestionForm {
  const form: QuestionForm = { type };
  for (const f of fieldsOf(type)) form[f.key] = f.default ?? (f.kind === "bool" ? false : f.kind === "multi" ? [] : "");
  return form;
}

/** A question -> form values (for editing). */
export function toForm(q: Question): QuestionForm {
  const form = emptyForm(q.type);
  for (const f of fieldsOf(q.type)) {
    const v = q[f.key];
    if (v === undefined || v === null) continue;
    if (f.kind === "list") form[f.key] = (v as string[]).join("\n");
    else if (f.kind === "anchors")
      form[f.key] = Object.entries(v as Record<string, string>)
        .map(([k, label]) => `${k}: ${label}`)
        .join("\n");
    else if (f.kind === "tags")
      form[f.key] = Object.entries(v as Record<string, string[]>)
        .map(([k, options]) => `${k}: ${options.join(", ")}`)
        .join("; ");
    else if (f.kind === "bool") form[f.key] = Boolean(v);
    else if (f.kind === "multi") form[f.key] = [...(v as string[])];
    else form[f.key] = String(v);
  }
  return form;
}

/** Form values -> a question for the API; empty optional fields are left out (server defaults). */
export function fromForm(form: QuestionForm): Question {
  const type = String(form.type);
  const q: Record<string, unknown> = { type };
  for (const f of fieldsOf(type)) {
    const v = form[f.key];
    if (f.kind === "bool") {
      q[f.key] = Boolean(v);
      continue;
    }
    if (f.kind === "multi") {
      q[f.key] = v as string[];
      continue;
    }
    const s = String(v ?? "").trim();
    if (!s) {
      if (f.required) throw new Error(`${f.label} is required`);
      continue;
    }
    if (f.kind === "int") {
      if (!/^-?\d+$/.test(s)) throw new Error(`${f.label}: expected a whole number, got "${s}"`);
      q[f.key] = Number(s);
    } else if (f.kind === "number") {
      if (!/^\d+(\.\d+)?$/.test(s)) throw new Error(`${f.label}: expected a number, got "${s}"`);
      q[f.key] = Number(s);
    } else if (f.kind === "tags") {
      q[f.key] = parseTags(s);
    } else if (f.kind === "list") {
      q[f.key] = splitList(s);
    } else if (f.kind === "anchors") {
      q[f.key] = parseAnchors(s);
    } else {
      q[f.key] = f.key === "description" ? String(v) : s;
    }
  }
  return q as Question;
}

/** A one-line summary of a question's settings, for the list. */
export function summary(q: Question): string {
  const bits: string[] = [];
  if (q.type === "rating") bits.push(`${q.dimension ? `${q.dimension} ` : ""}${q.min ?? 1}–${q.max ?? 5}${q.per_candidate ? " per candidate" : ""}`);
  for (const k of ["options", "labels", "speakers", "shapes"]) {
    const v = q[k];
    if (Array.isArray(v) && v.length) bits.push(v.join(" · "));
  }
  if ((q.type === "choice" || q.type === "ranking") && !q.options) bits.push("candidates");
  if (typeof q.rationale === "string" && q.rationale !== "none") bits.push(`rationale ${q.rationale}`);
  if (q.type === "trajectory" && q.plan_only) bits.push("plan only");
  if (q.type === "recording" && q.tags && typeof q.tags === "object") bits.push(Object.keys(q.tags).join(" · "));
  if (q.required === false) bits.push("optional");
  return bits.join(" · ");
}
