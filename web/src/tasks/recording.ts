/**
 * Pure helpers of the recording view: the answer's shape (`RecordingQuestion`), the script to
 * read, the URLs of the takes routes, the recorder's media type and the level meter's reading.
 */

import { API, seg } from "../lib/api";
import { match } from "../lib/router";
import { messageText, messages, runTask } from "./content";
import type { TaskRecord } from "./types";

export interface RecordingQuestion {
  type: "recording";
  name: string;
  title?: string | null;
  tags?: Record<string, string[]>;
  min_seconds?: number;
  max_seconds?: number;
}

export interface BlobRef {
  uri: string;
  mime_type?: string | null;
  sha256?: string | null;
  size?: number | null;
}

export interface Take {
  blob: BlobRef;
  duration_s: number;
}

export interface RecordingValue {
  takes: Take[];
  selected: number;
  tags: Record<string, string>;
}

/** What the annotator reads aloud: the record's text (a text record, or its messages, or a run's task). */
export function scriptOf(record: TaskRecord): string {
  const c = record.content;
  if (typeof c.text === "string") return c.text;
  const ms = messages(record);
  if (ms.length) return ms.map(messageText).join("\n");
  return runTask(record);
}

/** `/api/v1/projects/P/datasets/D/records/R/takes[/SHA]` for the page's project and dataset. */
export function takesUrl(record: TaskRecord, sha256?: string, path = location.pathname): string | null {
  const { project, dataset } = match(path)?.params ?? {};
  if (!project || !dataset) return null;
  const base = `/projects/${seg(project)}/datasets/${seg(dataset)}/records/${seg(record.id)}/takes`;
  return sha256 ? `${API}${base}/${seg(sha256)}` : base;
}

/** The first media type the recorder supports, Opus first (small, and the server decodes it). */
export function recorderMime(supported: (t: string) => boolean): string | undefined {
  return ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"].find((t) => supported(t));
}

/** The meter's level, 0..1: the RMS of an AnalyserNode's time-domain bytes (128 = silence), scaled up. */
export function level(bytes: ArrayLike<number>): number {
  if (!bytes.length) return 0;
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) {
    const v = (bytes[i] - 128) / 128;
    sum += v * v;
  }
  return Math.min(1, Math.sqrt(sum / bytes.length) * 3);
}

/** A new take appended and selected (earlier takes are kept: the annotator may go back to one). */
export function addTake(value: RecordingValue | undefined, take: Take): RecordingValue {
  const takes = [...(value?.takes ?? []), take];
  return { takes, selected: takes.length - 1, tags: { ...(value?.tags ?? {}) } };
}

export function selectTake(value: RecordingValue | undefined, i: number): RecordingValue | undefined {
  if (!value || i < 0 || i >= value.takes.length || i === value.selected) return value;
  return { ...value, selected: i };
}

/** Remove take `i`; the selection follows the take it pointed at (or the last one). */
export function removeTake(value: RecordingValue | undefined, i: number): RecordingValue | undefined {
  if (!value || i < 0 || i >= value.takes.length) return value;
  const takes = value.takes.filter((_, k) => k !== i);
  if (!takes.length) return undefined;
  const selected = value.selected > i ? value.selected - 1 : Math.min(value.selected, takes.length - 1);
  return { ...value, takes, selected };
}

/** Set a tag ("" clears it); tags live on the answer even before a take exists only once one does. */
export function setTag(value: RecordingValue | undefined, name: string, option: string): RecordingValue | undefined {
  if (!value) return value;
  const tags = { ...value.tags };
  if (option) tags[name] = option;
  else delete tags[name];
  return { ...value, tags };
}

/** Why the selected take would be refused: out of the question's seconds. */
export function takeProblem(value: RecordingValue | undefined, q: Pick<RecordingQuestion, "min_seconds" | "max_seconds">): string | null {
  const take = value?.takes[value.selected];
  if (!take) return null;
  const lo = q.min_seconds ?? 0.5;
  const hi = q.max_seconds ?? 60;
  if (take.duration_s < lo) return `the selected take lasts ${take.duration_s.toFixed(1)} s; at least ${lo} s is expected`;
  if (take.duration_s > hi) return `the selected take lasts ${take.duration_s.toFixed(1)} s; at most ${hi} s is expected`;
  return null;
}

/** `1.2 s`, `1:03.4` for a take's length. */
export function seconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}
