import { describe, expect, it } from "vitest";
import { decodeRle, encodeRle, rleArea } from "./rle";

describe("COCO uncompressed RLE", () => {
  it("encodes column by column, starting with a run of zeros", () => {
    // 3 × 2 (h × w), row-major:
    // 0 1
    // 1 1
    // 0 0
    const mask = [0, 1, 1, 1, 0, 0];
    // column 0 top-down: 0 1 0, column 1: 1 1 0 -> 0 | 1 | 0 1 1 | 0 -> runs 1,1,1,2,1
    expect(encodeRle(mask, 3, 2)).toEqual({ size: [3, 2], counts: [1, 1, 1, 2, 1] });
  });

  it("starts with a zero-length run when the first cell is inside", () => {
    expect(encodeRle([1, 1, 0, 0], 2, 2)).toEqual({ size: [2, 2], counts: [0, 1, 1, 1, 1] });
  });

  it("round-trips a random mask and counts its area", () => {
    const h = 17, w = 23;
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const mask = Uint8Array.from({ length: h * w }, () => (rand() > 0.6 ? 1 : 0));
    const rle = encodeRle(mask, h, w);
    expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(h * w);
    expect(decodeRle(rle)).toEqual(mask);
    expect(rleArea(rle)).toBe(mask.reduce((a, b) => a + b, 0));
  });

  it("encodes an empty mask as one run of zeros", () => {
    expect(encodeRle(new Uint8Array(6), 2, 3)).toEqual({ size: [2, 3], counts: [6] });
  });

  it("names what is wrong in a malformed RLE", () => {
    expect(() => decodeRle({ size: [2, 2], counts: [1, 1] })).toThrow(/cover 2 of the 2 × 2/);
    expect(() => decodeRle({ size: [2], counts: [4] })).toThrow(/expected \[height, width\]/);
    expect(() => decodeRle({ size: [2, 2], counts: "abc" })).toThrow(/uncompressed RLE/);
    expect(() => decodeRle({ size: [2, 2], counts: [2, -1] })).toThrow(/not a run length/);
    expect(() => encodeRle([1, 0], 2, 2)).toThrow(/expected 2 × 2/);
  });
});
