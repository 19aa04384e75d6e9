/** Plain-text views of records and messages, for previews and search results (rendered as text). */
import type { Content, Message, Part } from "./types";
import { preview } from "./text";

export function partText(p: Part): string {
  switch (p.type) {
    case "text":
      return p.text;
    case "image":
      return "[image]";
    case "audio":
      return "[audio]";
    case "video":
      return "[video]";
  }
}

/** A message's text: its content (parts joined), or its tool calls by name. */
export function messageText(m: Message): string {
  const body = typeof m.content === "string" ? m.content : (m.content ?? []).map(partText).join(" ");
  if (body.trim()) return body;
  return (m.tool_calls ?? []).map((c) => `${c.name}(…)`).join(", ");
}

function firstOf(messages: Message[], role?: Message["role"]): string {
  const m = messages.find((x) => (role ? x.role === role : x.role !== "system")) ?? messages[0];
  return m ? messageText(m) : "";
}

/** One line that says what a record is about. */
export function contentPreview(c: Content, max = 160): string {
  switch (c.kind) {
    case "text":
      return preview(c.text, max);
    case "conversation":
      return preview(firstOf(c.messages, "user") || firstOf(c.messages), max);
    case "comparison": {
      const prompt = c.prompt.length ? firstOf(c.prompt, "user") : messageText(c.candidates[0]?.messages[0] ?? { role: "assistant", content: "" });
      return preview(`${prompt} · ${c.candidates.length} candidates`, max);
    }
    case "agent_run": {
      const task = typeof c.task === "string" ? c.task : firstOf(c.task, "user");
      const status = c.outcome?.status && c.outcome.status !== "unknown" ? ` · ${c.outcome.status}` : "";
      return preview(`${task} · ${c.steps.length} steps${status}`, max);
    }
    case "media":
      return preview(`${c.media_type}: ${c.caption ?? c.blob.uri}`, max);
    case "eval_item":
      return preview(firstOf(c.input, "user"), max);
    default:
      return preview(JSON.stringify(c), max);
  }
}

/** Tool-call arguments as readable JSON (they may arrive as an unparsed string). */
export function formatArguments(args: unknown): string {
  if (typeof args === "string") {
    try {
      return JSON.stringify(JSON.parse(args), null, 2);
    } catch {
      return args;
    }
  }
  return JSON.stringify(args ?? {}, null, 2);
}
