import { describe, expect, it } from "vitest";
import { boxFrom, clock, mediaInfo, mediaUrl, moveBox, resizeBox } from "./media";

describe("media view helpers", () => {
  it("builds the media routes from the page's project and dataset, escaped", () => {
    const r = { id: "ab/c", content: {} };
    expect(mediaUrl(r, "peaks", "/projects/my%20p/datasets/d1/annotate")).toBe("/api/v1/projects/my%20p/datasets/d1/records/ab%2Fc/peaks");
    expect(mediaUrl(r, "media", "/projects/p/datasets/d/review")).toBe("/api/v1/projects/p/datasets/d/records/ab%2Fc/media");
    expect(mediaUrl(r, "media", "/projects/p")).toBeNull();
  });

  it("reads the media metadata, ignoring missing or zero values", () => {
    const r = { id: "x", content: { kind: "media", media_type: "video", info: { width: 320, height: 240, fps: 10, duration_s: 4, frame_count: 0 } } };
    expect(mediaInfo(r)).toEqual({ type: "video", width: 320, height: 240, duration: 4, fps: 10, frames: null });
  });

  it("makes, moves and resizes boxes inside the image", () => {
    expect(boxFrom(50, 40, 10, 10, 100, 100)).toEqual([10, 10, 40, 30]);
    expect(boxFrom(-5, -5, 200, 20, 100, 100)).toEqual([0, 0, 100, 20]);
    expect(moveBox([10, 10, 40, 30], 100, -100, 100, 100)).toEqual([60, 0, 40, 30]);
    expect(resizeBox([10, 10, 40, 30], "se", 60, 70, 100, 100)).toEqual([10, 10, 50, 60]);
    expect(resizeBox([10, 10, 40, 30], "nw", 0, 5, 100, 100)).toEqual([0, 5, 50, 35]);
  });

  it("formats times as m:ss.mmm", () => {
    expect(clock(75.5)).toBe("1:15.500");
    expect(clock(0.04)).toBe("0:00.040");
  });
});
