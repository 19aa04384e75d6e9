import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import RegionTask from "./RegionTask.svelte";
import TimelineSegmentTask from "./TimelineSegmentTask.svelte";
import TrackTask from "./TrackTask.svelte";
import TranscriptTask from "./TranscriptTask.svelte";
import type { TaskRecord } from "./types";

// The views read the project and dataset of their media routes from the page's path. jsdom has
// no layout, media playback or canvas: those are stubbed (the browser tests cover them).
beforeEach(() => {
  window.history.replaceState({}, "", "/projects/p/datasets/d/annotate");
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  };
  vi.spyOn(HTMLMediaElement.prototype, "pause").mockImplementation(() => {});
  vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(() => null);
  vi.spyOn(globalThis, "fetch").mockImplementation(async () => new Response(JSON.stringify({ peaks: [-0.5, 0.5], duration_s: 4 }), { headers: { "content-type": "application/json" } }));
});
afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const media = (media_type: string, info: Record<string, number>): TaskRecord => ({
  id: "r1",
  content: { kind: "media", media_type, blob: { uri: "blob://sha256/ab" }, info },
});
const image = media("image", { width: 320, height: 240 });
const video = media("video", { width: 160, height: 120, fps: 10, duration_s: 3, frame_count: 30 });
const audio = media("audio", { duration_s: 4, sample_rate: 16000 });
const key = (el: Element, k: string, opts: KeyboardEventInit = {}) => fireEvent.keyDown(el, { key: k, ...opts });
const root = (c: HTMLElement) => c.querySelector(".task") as HTMLElement;

describe("RegionTask", () => {
  const question = { type: "region" as const, name: "objects", labels: ["car", "person"], shapes: ["box" as const, "polygon" as const] };
  const regions = [
    { label: "car", box: [10, 10, 50, 40] },
    { label: "car", polygon: [[100, 100], [150, 100], [120, 160]] },
  ];

  it("shows the image from the record's media route and a suggestion dashed until `a` accepts it", async () => {
    const onchange = vi.fn();
    const suggestion = { question: "objects", value: [regions[0]], agent: "detector" };
    const { container } = render(RegionTask, { question, record: image, value: undefined, suggestion, onchange });
    expect(container.querySelector("img")?.getAttribute("src")).toBe("/api/v1/projects/p/datasets/d/records/r1/media");
    expect(container.querySelectorAll("g.shape.preview")).toHaveLength(1);
    expect(screen.getByTestId("suggestion").textContent).toContain("detector");
    await key(root(container), "a");
    expect(onchange).toHaveBeenLastCalledWith([regions[0]]);
  });

  it("selects shapes with n, relabels with a number, nudges a box with arrows and deletes with Delete", async () => {
    const onchange = vi.fn();
    const { container } = render(RegionTask, { question, record: image, value: regions, onchange });
    const el = root(container);
    await key(el, "n");
    await key(el, "2");
    expect(onchange).toHaveBeenLastCalledWith([{ ...regions[0], label: "person" }, regions[1]]);
    await key(el, "ArrowRight", { shiftKey: true });
    expect(onchange).toHaveBeenLastCalledWith([{ ...regions[0], box: [20, 10, 50, 40] }, regions[1]]);
    await key(el, "n");
    await key(el, "Delete");
    expect(onchange).toHaveBeenLastCalledWith([regions[0]]);
    await key(el, "m"); // masks are not allowed in this question: no mask tool
    expect(el.dataset.tool).not.toBe("mask");
    await key(el, "p");
    expect(el.dataset.tool).toBe("polygon");
  });
});

describe("TimelineSegmentTask", () => {
  const question = { type: "timeline_segment" as const, name: "events", labels: ["walk", "jump"], with_text: true };

  it("marks a segment by keyboard: frames at the record's fps, [ and ], the current label", async () => {
    const onchange = vi.fn();
    const { container } = render(TimelineSegmentTask, { question, record: video, value: undefined, onchange });
    const el = root(container);
    for (let i = 0; i < 5; i++) await key(el, ".");
    await key(el, "[");
    for (let i = 0; i < 11; i++) await key(el, ".");
    await key(el, ",");
    await key(el, "]");
    expect(onchange).toHaveBeenLastCalledWith([{ start: 0.5, end: 1.5, label: "walk", text: "" }]);
    await key(el, "[");
    await key(el, "]");
    expect(screen.getByRole("alert").textContent).toMatch(/empty/);
  });

  it("relabels the selected segment and moves its end to the current time", async () => {
    const onchange = vi.fn();
    const value = [{ start: 0.2, end: 1, label: "walk" }];
    const { container } = render(TimelineSegmentTask, { question, record: video, value, onchange });
    const el = root(container);
    await key(el, "n");
    await key(el, "2");
    expect(onchange).toHaveBeenLastCalledWith([{ start: 0.2, end: 1, label: "jump" }]);
    await key(el, ">", { shiftKey: true }); // a second on from the segment's start
    await key(el, "}");
    expect(onchange).toHaveBeenLastCalledWith([{ start: 0.2, end: 1.2, label: "walk" }]);
  });
});

describe("TrackTask", () => {
  const question = { type: "track" as const, name: "tracks", labels: ["box"] };
  const track = { track_id: "1", label: "box", keyframes: [{ frame: 0, box: [0, 0, 20, 20], outside: false }, { frame: 10, box: [40, 20, 20, 20], outside: false }] };

  it("draws the interpolated box between keyframes and marks the object outside with o", async () => {
    const onchange = vi.fn();
    const { container } = render(TrackTask, { question, record: video, value: [track], onchange });
    const el = root(container);
    for (let i = 0; i < 5; i++) await key(el, ".");
    expect(el.dataset.frame).toBe("5");
    const rect = container.querySelector("g.obj rect")!;
    expect([rect.getAttribute("x"), rect.getAttribute("y")]).toEqual(["20", "10"]);
    await key(el, "n");
    await key(el, "o");
    expect(onchange).toHaveBeenLastCalledWith([{ ...track, keyframes: [track.keyframes[0], { frame: 5, box: [20, 10, 20, 20], outside: true }, track.keyframes[1]] }]);
    await key(el, "x"); // frame 5 is not a keyframe of the track as given
    expect(screen.getByRole("alert").textContent).toMatch(/not a keyframe/);
  });
});

describe("TranscriptTask", () => {
  it("gives the selected segment a speaker by number key, from the question's speakers", async () => {
    const onchange = vi.fn();
    const question = { type: "transcript" as const, name: "transcript", speakers: ["A", "B"] };
    const value = [{ start: 0.5, end: 1.5, text: "hi" }, { start: 2, end: 3, text: "hello" }];
    const { container } = render(TranscriptTask, { question, record: audio, value, onchange });
    expect(vi.mocked(fetch).mock.calls[0][0]).toBe("/api/v1/projects/p/datasets/d/records/r1/peaks?buckets=2000");
    const el = root(container);
    await key(el, "n");
    await key(el, "n");
    await key(el, "2");
    expect(onchange).toHaveBeenLastCalledWith([value[0], { ...value[1], speaker: "B" }]);
    await key(el, "Delete");
    expect(onchange).toHaveBeenLastCalledWith([value[0]]);
  });

  it("takes free speaker names when the question fixes none, and a suggestion with `a`", async () => {
    const onchange = vi.fn();
    const question = { type: "transcript" as const, name: "transcript" };
    const suggestion = { question: "transcript", value: [{ start: 0, end: 1, text: "hey", speaker: "Ann" }], agent: "asr" };
    const { container } = render(TranscriptTask, { question, record: audio, value: undefined, suggestion, onchange });
    const add = screen.getByLabelText("add a speaker") as HTMLInputElement;
    await fireEvent.input(add, { target: { value: "Bob" } });
    await key(add, "Enter");
    const names = [...container.querySelectorAll(".speakers button")].map((b) => b.textContent?.trim());
    expect(names).toEqual(["1 Ann", "2 Bob"]);
    await key(root(container), "a");
    expect(onchange).toHaveBeenLastCalledWith(suggestion.value);
  });
});
