/** Pure helpers of the conversation editor: where a conversation starts, and whose turn is next. */

import { messageText, messages } from "./content";
import type { Message } from "./types";

/**
 * The turns the editor starts from: the record's messages (editing a chat), or an empty user turn
 * and its empty reply when the record is a brief (a text record saying what to write) or has no
 * messages. The reply is there from the start because a conversation answer needs an assistant
 * turn: a draft saved after the first user turn is then a valid answer-in-progress.
 */
export function startTurns(record: { content: Record<string, unknown> }): Message[] {
  const ms = messages(record as never).map((m) => ({ role: m.role, content: messageText(m) }) as Message);
  return ms.length
    ? ms
    : [
        { role: "user", content: "" },
        { role: "assistant", content: "" },
      ];
}

/** Alt+Enter on turn `at`: go to the next turn when it is still empty, else add one there. */
export const addsTurn = (turns: Message[], at: number): boolean => {
  const next = turns[at + 1];
  return !next || messageText(next).trim() !== "";
};

/** Does the record hold a conversation to edit (rather than a brief to write from)? */
export const editsChat = (record: { content: Record<string, unknown> }): boolean => messages(record as never).length > 0;

/** The role of the turn that answers `role`: user and assistant alternate; after a tool result the assistant goes on. */
export function nextRole(role: Message["role"] | undefined): Message["role"] {
  return role === "user" || role === "system" ? "assistant" : "user";
}

const CYCLE: Message["role"][] = ["user", "assistant", "system"];

/** The role a turn switches to (Alt+R): user -> assistant -> system -> user. */
export function cycleRole(role: Message["role"]): Message["role"] {
  const i = CYCLE.indexOf(role);
  return CYCLE[(i + 1) % CYCLE.length];
}

/** Problems the server would refuse or that make poor data: no assistant turn, empty turns. */
export function conversationProblems(turns: Message[]): string[] {
  const out: string[] = [];
  if (!turns.some((m) => m.role === "assistant")) out.push("write at least one assistant turn");
  turns.forEach((m, i) => {
    if (!messageText(m).trim()) out.push(`turn ${i + 1} (${m.role}) is empty`);
  });
  return out;
}
