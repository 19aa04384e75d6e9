import { cleanup, fireEvent, render } from "@testing-library/svelte";
import { afterEach, describe, expect, it, vi } from "vitest";
import ConversationTask from "./ConversationTask.svelte";
import { addsTurn, conversationProblems, cycleRole, editsChat, nextRole, startTurns } from "./conversation";
import { addTake, level, recorderMime, removeTake, scriptOf, selectTake, setTag, takeProblem, takesUrl, type RecordingValue } from "./recording";
import StepPreferenceTask from "./StepPreferenceTask.svelte";
import TrajectoryTask from "./TrajectoryTask.svelte";
import type { Message, TaskRecord } from "./types";

afterEach(cleanup);
const brief: TaskRecord = { id: "b1", content: { kind: "text", text: "Write a chat where a user asks for a pasta recipe." } };
const take = (sha: string, s: number) => ({ blob: { uri: `blob://sha256/${sha}`, sha256: sha, mime_type: "audio/webm" }, duration_s: s });

describe("conversation helpers", () => {
  it("starts a brief with an empty user turn and its reply, and a chat with its messages", () => {
    expect(startTurns(brief)).toEqual([
      { role: "user", content: "" },
      { role: "assistant", content: "" },
    ]);
    expect(editsChat(brief)).toBe(false);
    const chat = { id: "c", content: { kind: "conversation", messages: [{ role: "user", content: [{ type: "text", text: "hi" }] }] } };
    expect(startTurns(chat)).toEqual([{ role: "user", content: "hi" }]);
    expect(editsChat(chat)).toBe(true);
  });

  it("alternates roles and names what is missing", () => {
    expect([nextRole("user"), nextRole("assistant"), nextRole("system"), nextRole("tool")]).toEqual(["assistant", "user", "assistant", "user"]);
    expect([cycleRole("user"), cycleRole("assistant"), cycleRole("system")]).toEqual(["assistant", "system", "user"]);
    expect(addsTurn([{ role: "user", content: "q" }, { role: "assistant", content: " " }], 0)).toBe(false); // goes to the empty reply
    expect(addsTurn([{ role: "user", content: "q" }, { role: "assistant", content: "a" }], 0)).toBe(true);
    expect(addsTurn([{ role: "user", content: "q" }], 0)).toBe(true);
    expect(conversationProblems([{ role: "user", content: "hi" }, { role: "user", content: " " }])).toEqual(["write at least one assistant turn", "turn 2 (user) is empty"]);
  });
});

describe("recording helpers", () => {
  it("reads the script, builds the takes URLs of the page's dataset and picks an Opus recorder", () => {
    expect(scriptOf(brief)).toBe("Write a chat where a user asks for a pasta recipe.");
    expect(takesUrl(brief, undefined, "/projects/p%20x/datasets/d/annotate")).toBe("/projects/p%20x/datasets/d/records/b1/takes");
    expect(takesUrl(brief, "ab", "/projects/p/datasets/d/review")).toBe("/api/v1/projects/p/datasets/d/records/b1/takes/ab");
    expect(takesUrl(brief, "ab", "/projects")).toBeNull();
    expect(recorderMime((t) => t === "audio/webm" || t === "audio/ogg;codecs=opus")).toBe("audio/ogg;codecs=opus");
    expect(recorderMime(() => false)).toBeUndefined();
  });

  it("measures the level of silence as 0 and of a full-scale wave near 1", () => {
    expect(level(new Uint8Array(64).fill(128))).toBe(0);
    const loud = Uint8Array.from({ length: 64 }, (_, i) => (i % 2 ? 255 : 0));
    expect(level(loud)).toBe(1);
    expect(level([])).toBe(0);
  });

  it("keeps every take, selects the newest, and keeps the selection on removal", () => {
    let v: RecordingValue | undefined = addTake(undefined, take("a", 1));
    v = setTag(v, "emotion", "happy");
    v = addTake(v, take("b", 2));
    v = addTake(v, take("c", 3));
    expect(v.selected).toBe(2);
    expect(v.tags).toEqual({ emotion: "happy" });
    v = selectTake(v, 1);
    expect(v?.selected).toBe(1);
    expect(selectTake(v, 7)).toBe(v);
    v = removeTake(v, 0);
    expect(v?.takes.map((t) => t.blob.sha256)).toEqual(["b", "c"]);
    expect(v?.selected).toBe(0); // still take b
    v = setTag(v, "emotion", "");
    expect(v?.tags).toEqual({});
    expect(removeTake(removeTake(v, 0), 0)).toBeUndefined();
    expect(setTag(undefined, "emotion", "x")).toBeUndefined();
  });

  it("says when the selected take is too short or too long", () => {
    const v = addTake(undefined, take("a", 0.2));
    expect(takeProblem(v, {})).toBe("the selected take lasts 0.2 s; at least 0.5 s is expected");
    expect(takeProblem(addTake(undefined, take("a", 9)), { max_seconds: 5 })).toBe("the selected take lasts 9.0 s; at most 5 s is expected");
    expect(takeProblem(addTake(undefined, take("a", 3)), {})).toBeNull();
  });
});

describe("authoring views", () => {
  it("writes a conversation from a brief: Alt+Enter adds the other role's turn, Alt+X removes one", async () => {
    const onchange = vi.fn();
    const { container, rerender } = render(ConversationTask, { question: { name: "chat" }, record: brief, value: undefined, onchange });
    const first = container.querySelector("textarea")!;
    expect(first.readOnly).toBe(false);
    await fireEvent.input(first, { target: { value: "A pasta recipe please" } });
    const asked: Message[] = [
      { role: "user", content: "A pasta recipe please" },
      { role: "assistant", content: "" },
    ];
    expect(onchange).toHaveBeenLastCalledWith(asked);
    await rerender({ value: asked });
    expect(container.querySelector(".problems")?.textContent).toContain("turn 2 (assistant) is empty");
    await fireEvent.keyDown(container.querySelector("textarea")!, { key: "Enter", code: "Enter", altKey: true });
    expect(onchange).toHaveBeenCalledTimes(1); // the reply is still empty: Alt+Enter only goes there
    const answered: Message[] = [asked[0], { role: "assistant", content: "Boil water." }];
    await rerender({ value: answered });
    await fireEvent.keyDown(container.querySelectorAll("textarea")[1], { key: "Enter", code: "Enter", altKey: true });
    expect(onchange).toHaveBeenLastCalledWith([...answered, { role: "user", content: "" }]);
    await fireEvent.keyDown(container.querySelectorAll("textarea")[0], { key: "x", code: "KeyX", altKey: true });
    expect(onchange).toHaveBeenLastCalledWith([answered[1]]);
  });

  it("adds trajectory steps by key, checks the arguments as JSON and moves steps", async () => {
    const onchange = vi.fn();
    const record: TaskRecord = { id: "t", content: { kind: "agent_run", task: "Find sushi", tools: [{ name: "search" }] } };
    const q = { type: "trajectory" as const, name: "traj" };
    const { container, rerender } = render(TrajectoryTask, { question: q, record, value: undefined, onchange });
    const root = container.querySelector(".task") as HTMLElement;
    await fireEvent.keyDown(root, { key: "p" });
    expect(onchange).toHaveBeenLastCalledWith({ steps: [{ type: "plan", content: "" }] });
    await rerender({ value: { steps: [{ type: "plan", content: "search" }] } });
    await fireEvent.keyDown(root, { key: "t" });
    const withCall = { steps: [{ type: "plan", content: "search" }, { type: "tool_call", tool_call: { id: "call_1", name: "search", arguments: {} } }] };
    expect(onchange).toHaveBeenLastCalledWith(withCall);
    await rerender({ value: withCall });
    const args = container.querySelector("textarea.args") as HTMLTextAreaElement;
    await fireEvent.input(args, { target: { value: '{"q": ' } });
    expect(onchange.mock.lastCall?.[0].steps[1].tool_call.arguments).toBe('{"q": ');
    await rerender({ value: onchange.mock.lastCall?.[0] });
    expect(container.querySelector(".error")?.textContent).toContain("not valid JSON");
    await fireEvent.input(args, { target: { value: '{"q": "sushi"}' } });
    expect(onchange.mock.lastCall?.[0].steps[1].tool_call.arguments).toEqual({ q: "sushi" });
    await rerender({ value: onchange.mock.lastCall?.[0] });
    await fireEvent.keyDown(root, { key: "ArrowUp", shiftKey: true }); // the call (current) moves above the plan
    expect(onchange.mock.lastCall?.[0].steps.map((s: { type: string }) => s.type)).toEqual(["tool_call", "plan"]);
  });

  it("picks the preferred output at a step with number keys; untrusted text stays text", async () => {
    const onchange = vi.fn();
    const record: TaskRecord = {
      id: "s",
      content: {
        kind: "agent_run",
        task: "Answer",
        steps: [
          { type: "plan", content: "think" },
          { type: "message", content: "<img src=x onerror=alert(1)>", alternatives: [{ id: "b", content: "plain answer" }] },
        ],
      },
    };
    const { container, rerender } = render(StepPreferenceTask, { question: { name: "pref" }, record, value: undefined, onchange });
    expect(container.querySelector("img")).toBeNull();
    expect(container.textContent).toContain("<img src=x onerror=alert(1)>");
    const root = container.querySelector(".task") as HTMLElement;
    await fireEvent.keyDown(root, { key: "2" });
    expect(onchange).toHaveBeenLastCalledWith([{ step: 1, choice: "b" }]);
    await rerender({ value: [{ step: 1, choice: "b" }] });
    await fireEvent.keyDown(root, { key: "3" }); // only two options
    expect(onchange).toHaveBeenCalledTimes(1);
    const rationale = container.querySelector(".rationale") as HTMLInputElement;
    await fireEvent.input(rationale, { target: { value: "b answers without markup" } });
    expect(onchange).toHaveBeenLastCalledWith([{ step: 1, choice: "b", rationale: "b answers without markup" }]);
  });
});
