/**
 * Tracks across video frames: boxes at keyframes, linear interpolation between them (as CVAT
 * and MOT tools show them). A keyframe marked `outside` means the object left the view from that
 * frame until the next keyframe.
 */

export type Box = [number, number, number, number];

export interface Keyframe {
  frame: number;
  box: number[];
  outside: boolean;
}

export interface TrackBox {
  box: Box;
  /** The box is a keyframe of the track (not interpolated). */
  keyframe: boolean;
}

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

/**
 * The track's box at `frame`, or null where the object is not in view: before its first
 * keyframe, and from an `outside` keyframe to the next keyframe. After the last keyframe the
 * box stays where it was. `keyframes` must be in increasing frame order.
 */
export function boxAt(keyframes: readonly Keyframe[], frame: number): TrackBox | null {
  if (!keyframes.length || frame < keyframes[0].frame) return null;
  let i = 0;
  while (i + 1 < keyframes.length && keyframes[i + 1].frame <= frame) i++;
  const k = keyframes[i];
  if (k.outside) return null;
  if (k.frame === frame) return { box: k.box.slice(0, 4) as Box, keyframe: true };
  const next = keyframes[i + 1];
  // The last keyframe, or the object leaves at the next one: hold the box until then.
  if (!next || next.outside) return { box: k.box.slice(0, 4) as Box, keyframe: false };
  const t = (frame - k.frame) / (next.frame - k.frame);
  return { box: k.box.map((v, j) => lerp(v, next.box[j], t)).slice(0, 4) as Box, keyframe: false };
}

/** The keyframes with `kf` put in (replacing one at the same frame), in frame order. */
export function setKeyframe(keyframes: readonly Keyframe[], kf: Keyframe): Keyframe[] {
  return [...keyframes.filter((k) => k.frame !== kf.frame), kf].sort((a, b) => a.frame - b.frame);
}

/** The keyframes without the one at `frame`. */
export function removeKeyframe(keyframes: readonly Keyframe[], frame: number): Keyframe[] {
  return keyframes.filter((k) => k.frame !== frame);
}
