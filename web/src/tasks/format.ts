/** One answer as short readable text (review and history tables); rendered as text, never HTML. */

import { steps } from "./content";
import type { OtherQuestion, SpanValue, StepVerdictValue, TaskRecord } from "./types";

const CAUSE: Record<string, string> = { model_output: "model output", system: "system", tool: "tool", unclear: "unclear" };
const VERDICT: Record<string, string> = { correct: "✓", wrong: "✗", unclear: "?" };

export function formatAnswer(question: OtherQuestion, value: unknown, record?: TaskRecord): string {
  if (value === undefined || value === null) return "—";
  switch (question.type) {
    case "text":
      return String(value);
    case "rating":
      if (typeof value === "number") return String(value);
      return Object.entries(value as Record<string, number>)
        .map(([k, v]) => `${k}: ${v}`)
        .join(", ");
    case "ranking":
      return (value as string[][]).map((g) => g.join(" = ")).join(" > ");
    case "choice": {
      const v = value as { choice: string; rationale?: string | null };
      return v.rationale ? `${v.choice} — ${v.rationale}` : v.choice;
    }
    case "multi_choice": {
      const v = value as { choices: string[]; rationale?: string | null };
      const s = v.choices.length ? v.choices.join(", ") : "(none)";
      return v.rationale ? `${s} — ${v.rationale}` : s;
    }
    case "span": {
      const spans = value as SpanValue[];
      if (!spans.length) return "(no spans)";
      const text = (field: string) => {
        const c = record?.content;
        if (!c) return "";
        if (field === "text" && typeof c.text === "string") return c.text;
        const m = /^messages\.(\d+)$/.exec(field);
        const msg = m && Array.isArray(c.messages) ? (c.messages as { content?: unknown }[])[Number(m[1])] : undefined;
        return typeof msg?.content === "string" ? msg.content : "";
      };
      return spans.map((s) => `${s.label} “${text(s.field).slice(s.start, s.end) || `${s.start}-${s.end}`}”`).join("; ");
    }
    case "step_verdict": {
      const n = record ? steps(record).length : 0;
      const vs = value as StepVerdictValue[];
      const parts = vs.map((v) => `${v.step + 1}${VERDICT[v.verdict] ?? v.verdict}${v.cause ? ` (${CAUSE[v.cause] ?? v.cause})` : ""}${v.note ? ` “${v.note}”` : ""}${v.corrected !== undefined ? " [corrected]" : ""}`);
      const wrong = vs.filter((v) => v.verdict === "wrong").map((v) => v.step)[0];
      return `${parts.join(" ")}${n ? ` of ${n}` : ""}${wrong !== undefined ? ` · first failing step ${wrong + 1}` : ""}`;
    }
    default:
      return JSON.stringify(value);
  }
}

/** Do two answers agree (for highlighting disagreement in review)? */
export function sameAnswer(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
