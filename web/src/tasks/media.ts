/**
 * What the media task views share: the question and answer shapes of `region`,
 * `timeline_segment`, `track` and `transcript` (`thresher.model.questions`), the URLs of the
 * record's media routes, and small geometry / time helpers.
 */

import { API, seg } from "../lib/api";
import { match } from "../lib/router";
import type { Keyframe } from "./interpolate";
import type { Rle } from "./rle";
import type { TaskRecord } from "./types";

export type Shape = "box" | "polygon" | "mask";

export interface RegionQuestion {
  type: "region";
  name: string;
  title?: string | null;
  labels: string[];
  shapes?: Shape[];
}
export interface TimelineSegmentQuestion {
  type: "timeline_segment";
  name: string;
  title?: string | null;
  labels: string[];
  with_text?: boolean;
}
export interface TrackQuestion {
  type: "track";
  name: string;
  title?: string | null;
  labels: string[];
}
export interface TranscriptQuestion {
  type: "transcript";
  name: string;
  title?: string | null;
  speakers?: string[] | null;
}

export interface Region {
  label: string;
  box?: number[];
  polygon?: number[][];
  mask?: Rle;
  frame?: number;
}
export interface Segment {
  start: number;
  end: number;
  label?: string;
  text?: string;
  speaker?: string;
}
export interface Track {
  track_id: string;
  label: string;
  keyframes: Keyframe[];
}

export interface MediaInfo {
  type: string;
  width: number | null;
  height: number | null;
  duration: number | null;
  fps: number | null;
  frames: number | null;
}

/** The record's media type and technical metadata (sizes as displayed, after EXIF orientation). */
export function mediaInfo(record: TaskRecord): MediaInfo {
  const c = record.content as { media_type?: string; info?: Record<string, number | null | undefined> };
  const i = c.info ?? {};
  const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? v : null);
  return {
    type: c.media_type ?? "",
    width: num(i.width),
    height: num(i.height),
    duration: num(i.duration_s),
    fps: num(i.fps),
    frames: num(i.frame_count),
  };
}

/**
 * The API path of one of the record's media routes (`media`, `thumbnail`, `peaks`). Views get
 * the record, not its dataset, so the project and dataset come from the page's path (the
 * annotate and review pages are both under `/projects/:project/datasets/:dataset/`).
 */
export function mediaUrl(record: TaskRecord, route: "media" | "thumbnail" | "peaks", path = location.pathname): string | null {
  const m = match(path);
  const { project, dataset } = m?.params ?? {};
  if (!project || !dataset) return null;
  return `${API}/projects/${seg(project)}/datasets/${seg(dataset)}/records/${seg(record.id)}/${route}`;
}

export const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
/** Pixel coordinates kept to 0.1 px, times to 1 ms: what a human can place. */
export const px = (v: number) => Math.round(v * 10) / 10;
export const ms = (v: number) => Math.round(v * 1000) / 1000;

/** `m:ss.mmm` for a time in seconds. */
export function clock(t: number): string {
  const m = Math.floor(t / 60);
  const s = t - m * 60;
  return `${m}:${s.toFixed(3).padStart(6, "0")}`;
}

/** A box `[x, y, w, h]` from two corners, clamped to a `w × h` image. */
export function boxFrom(ax: number, ay: number, bx: number, by: number, w: number, h: number): number[] {
  const x0 = clamp(Math.min(ax, bx), 0, w), x1 = clamp(Math.max(ax, bx), 0, w);
  const y0 = clamp(Math.min(ay, by), 0, h), y1 = clamp(Math.max(ay, by), 0, h);
  return [px(x0), px(y0), px(x1 - x0), px(y1 - y0)];
}

/** Move a box by (dx, dy), kept inside the image. */
export function moveBox(b: number[], dx: number, dy: number, w: number, h: number): number[] {
  return [px(clamp(b[0] + dx, 0, w - b[2])), px(clamp(b[1] + dy, 0, h - b[3])), b[2], b[3]];
}

/** Resize a box by dragging one corner (`nw`, `ne`, `sw`, `se`) to (x, y). */
export function resizeBox(b: number[], corner: string, x: number, y: number, w: number, h: number): number[] {
  const [x0, y0, x1, y1] = [b[0], b[1], b[0] + b[2], b[1] + b[3]];
  const ax = corner.includes("w") ? x1 : x0; // the corner that stays
  const ay = corner.includes("n") ? y1 : y0;
  return boxFrom(ax, ay, x, y, w, h);
}

/** The label a number key names (1-9), or null. */
export function labelKey(e: KeyboardEvent, labels: readonly string[]): string | null {
  if (e.ctrlKey || e.metaKey || e.altKey || !/^[1-9]$/.test(e.key)) return null;
  return labels[Number(e.key) - 1] ?? null;
}

export const COLORS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#808000"];
export const colorOf = (labels: readonly string[], label: string | undefined) =>
  COLORS[Math.max(0, labels.indexOf(label ?? "")) % COLORS.length];
