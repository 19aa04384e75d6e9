import { describe, expect, it } from "vitest";
import { boxAt, removeKeyframe, setKeyframe, type Keyframe } from "./interpolate";

const kf = (frame: number, box: number[], outside = false): Keyframe => ({ frame, box, outside });

describe("track interpolation", () => {
  const track = [kf(10, [0, 0, 10, 10]), kf(20, [100, 50, 30, 10]), kf(30, [0, 0, 1, 1], true), kf(40, [5, 5, 5, 5])];

  it("is absent before the first keyframe and exact on a keyframe", () => {
    expect(boxAt(track, 9)).toBeNull();
    expect(boxAt(track, 10)).toEqual({ box: [0, 0, 10, 10], keyframe: true });
    expect(boxAt(track, 20)).toEqual({ box: [100, 50, 30, 10], keyframe: true });
  });

  it("interpolates every coordinate linearly between two keyframes", () => {
    expect(boxAt(track, 15)).toEqual({ box: [50, 25, 20, 10], keyframe: false });
    expect(boxAt(track, 12)?.box[0]).toBeCloseTo(20);
  });

  it("holds the box up to an outside keyframe, hides it until the next one, and holds after the last", () => {
    expect(boxAt(track, 25)).toEqual({ box: [100, 50, 30, 10], keyframe: false });
    expect(boxAt(track, 30)).toBeNull();
    expect(boxAt(track, 35)).toBeNull();
    expect(boxAt(track, 40)?.keyframe).toBe(true);
    expect(boxAt(track, 99)).toEqual({ box: [5, 5, 5, 5], keyframe: false });
    expect(boxAt([], 0)).toBeNull();
  });

  it("inserts a keyframe in frame order, replacing one at the same frame, and removes one", () => {
    const a = setKeyframe(track, kf(15, [1, 1, 1, 1]));
    expect(a.map((k) => k.frame)).toEqual([10, 15, 20, 30, 40]);
    const b = setKeyframe(a, kf(15, [2, 2, 2, 2]));
    expect(b.filter((k) => k.frame === 15)).toEqual([kf(15, [2, 2, 2, 2])]);
    expect(removeKeyframe(b, 15).map((k) => k.frame)).toEqual([10, 20, 30, 40]);
    expect(track).toHaveLength(4); // inputs are not changed
  });
});
