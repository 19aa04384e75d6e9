/** One record of each kind, as the API returns them: for unit tests and for trying views out. */
import type { RecordPublic } from "../lib/types";

export const SAMPLES: Record<string, RecordPublic> = {
  text: {
    id: "t1",
    content: { kind: "text", text: "# Threshing\n\nA **thresher** separates grain from chaff.\n\n```python\nprint('grain')\n```" },
  },
  conversation: {
    id: "c1",
    content: {
      kind: "conversation",
      tools: [{ type: "function", function: { name: "weather" } }],
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: [{ type: "text", text: "Weather in Paris?" }, { type: "image", image: { uri: "blob://sha256/ab", mime_type: "image/png" } }] },
        {
          role: "assistant",
          content: null,
          reasoning: "I should call the weather tool.",
          tool_calls: [{ id: "call_1", name: "weather", arguments: { city: "Paris" } }],
        },
        { role: "tool", tool_call_id: "call_1", content: '{"temp": 18}' },
        { role: "assistant", content: "It is 18 °C in Paris.", weight: 1 },
      ],
    },
  },
  comparison: {
    id: "p1",
    content: {
      kind: "comparison",
      prompt: [{ role: "user", content: "Name a grain." }],
      candidates: [
        { id: "a", model: "m-7b", messages: [{ role: "assistant", content: "Wheat." }] },
        { id: "b", model: "m-70b", messages: [{ role: "assistant", content: "Barley, a cereal grain." }] },
      ],
    },
  },
  agent_run: {
    id: "r1",
    content: {
      kind: "agent_run",
      task: "Book a table for two at 8",
      steps: [
        { type: "plan", content: "Find a place, then book." },
        { type: "tool_call", tool_call: { id: "k1", name: "book", arguments: { place: "Sushi Ko", time: "20:00" } } },
        { type: "tool_result", tool_call_id: "k1", content: "503 Service Unavailable", is_error: true },
        { type: "message", content: "Booked!" },
      ],
      outcome: { status: "failure", detail: "No table was booked." },
      failure: { step: 3, cause: "model_output", reason: "claimed success after a failed call" },
    },
  },
  media: {
    id: "m1",
    content: {
      kind: "media",
      media_type: "image",
      blob: { uri: "blob://sha256/cafe", mime_type: "image/jpeg", size: 12345 },
      info: { width: 640, height: 480 },
      caption: "A field of wheat",
    },
  },
  eval_item: {
    id: "e1",
    content: {
      kind: "eval_item",
      input: [{ role: "user", content: "2 + 2 = ?" }],
      reference: "4",
      grader: { type: "numeric", params: { tolerance: 0 } },
    },
  },
};
