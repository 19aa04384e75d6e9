/** Reading what a task needs out of a record's content (all of it untrusted, rendered as text). */

import type { Candidate, Message, Step, TaskRecord } from "./types";

/** The record's kind: in its content (the API's record has no top-level `kind`). */
export function kindOf(record: TaskRecord): string {
  return typeof record.content?.kind === "string" ? record.content.kind : String(record.kind ?? "");
}

/** A message's text, parts joined; media parts left out (as `Message.text()` in Python). */
export function messageText(m: Message): string {
  if (m.content == null) return "";
  if (typeof m.content === "string") return m.content;
  return m.content.map((p) => (p.type === "text" && typeof p.text === "string" ? p.text : "")).join("");
}

export function candidates(record: TaskRecord): Candidate[] {
  const c = record.content.candidates;
  return Array.isArray(c) ? (c as Candidate[]) : [];
}

/** What a candidate said: the text of its messages, tool calls named. */
export function candidateText(c: Candidate): string {
  return c.messages
    .map((m) => {
      const calls = (m.tool_calls ?? []).map((t) => `→ ${t.name}(${typeof t.arguments === "string" ? t.arguments : JSON.stringify(t.arguments ?? {})})`);
      return [messageText(m), ...calls].filter(Boolean).join("\n");
    })
    .join("\n\n");
}

/** The question's fixed options, or the record's candidate ids (ranking / choice of candidates). */
export function optionsFor(question: { options?: string[] | null }, record: TaskRecord): string[] {
  if (question.options && question.options.length) return question.options;
  return candidates(record).map((c) => c.id);
}

/** A label for an option: the candidate's model when the option is a candidate id. */
export function optionLabel(option: string, record: TaskRecord): string {
  const c = candidates(record).find((x) => x.id === option);
  return c ? `${c.id}${c.model ? ` (${c.model})` : ""}` : option;
}

export function messages(record: TaskRecord): Message[] {
  const c = record.content;
  if (Array.isArray(c.messages)) return c.messages as Message[];
  return [];
}

/** The text fields a span question can mark: `text` of a text record, `messages.N` of a conversation. */
export function spanFields(record: TaskRecord): { field: string; label: string; text: string }[] {
  const c = record.content;
  if (kindOf(record) === "text" && typeof c.text === "string") return [{ field: "text", label: "text", text: c.text }];
  return messages(record)
    .map((m, i) => ({ field: `messages.${i}`, label: `${i + 1}. ${m.role}`, text: messageText(m) }))
    .filter((f) => f.text.length > 0);
}

export function steps(record: TaskRecord): Step[] {
  const s = record.content.steps;
  return Array.isArray(s) ? (s as Step[]) : [];
}

/** One line saying what an agent step did. */
export function stepSummary(s: Step): string {
  if (s.type === "tool_call" && s.tool_call) {
    const args = typeof s.tool_call.arguments === "string" ? s.tool_call.arguments : JSON.stringify(s.tool_call.arguments ?? {});
    return `${s.tool_call.name}(${args})${s.content ? `\n${s.content}` : ""}`;
  }
  if (s.type === "handoff") return `→ ${s.handoff_to ?? ""}${s.content ? `\n${s.content}` : ""}`;
  return s.content ?? "";
}

/** The agent run's task as text. */
export function runTask(record: TaskRecord): string {
  const t = record.content.task;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) return (t as Message[]).map(messageText).join("\n");
  return "";
}

/** The text a text question starts from: a suggestion, else the record's last assistant turn. */
export function lastAssistant(record: TaskRecord): string | undefined {
  const ms = messages(record);
  for (let i = ms.length - 1; i >= 0; i--) if (ms[i].role === "assistant") return messageText(ms[i]);
  return undefined;
}

/** Is the keyboard event aimed at a place where the annotator types? Then single keys are text. */
export function isTyping(e: Event): boolean {
  const t = e.target as HTMLElement | null;
  if (!t || !t.tagName) return false;
  const tag = t.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || t.isContentEditable) return true;
  if (tag === "input") {
    const type = (t as HTMLInputElement).type;
    return !["checkbox", "radio", "button", "submit", "range"].includes(type);
  }
  return false;
}

/** The digit of a key press ("1".."9", "0" as 10), or null; modifiers make it not a digit. */
export function digit(e: KeyboardEvent): number | null {
  if (e.ctrlKey || e.metaKey || e.altKey) return null;
  if (!/^[0-9]$/.test(e.key)) return null;
  return e.key === "0" ? 10 : Number(e.key);
}
