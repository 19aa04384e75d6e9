/** Pure helpers of the task shell (tested without a DOM). */

import type { Answers } from "./history";
import type { OtherQuestion, Suggestion } from "./types";

/**
 * The answers a task starts from: the saved draft when there is one; otherwise text questions
 * start from their suggestion (the annotator rewrites it). Other questions start empty, so a
 * suggestion never becomes an answer that nobody looked at.
 */
export function initialAnswers(questions: OtherQuestion[], suggestions: Suggestion[], draft?: Answers | null): Answers {
  if (draft && Object.keys(draft).length) return { ...draft };
  const out: Answers = {};
  for (const q of questions) {
    if (q.type !== "text") continue;
    const s = suggestions.find((x) => x.question === q.name && typeof x.value === "string");
    if (s) out[q.name] = s.value;
  }
  return out;
}

/** Names of required questions without an answer (an empty list of spans counts as none). */
export function missingRequired(questions: OtherQuestion[], answers: Answers): string[] {
  return questions
    .filter((q) => q.required !== false)
    .filter((q) => {
      const v = answers[q.name];
      if (v === undefined || v === null) return true;
      if (typeof v === "string") return v.trim() === "";
      if (q.type === "choice") return !(v as { choice?: string }).choice;
      return false;
    })
    .map((q) => q.name);
}
