/**
 * COCO uncompressed RLE for segmentation masks: `{"size": [h, w], "counts": [...]}`. Counts are
 * run lengths over the mask in column-major (Fortran) order, starting with a run of zeros (which
 * may be 0 long), as `pycocotools.mask` reads them. Masks here are row-major `Uint8Array`s (what
 * a canvas gives), so encoding walks columns.
 */

export interface Rle {
  size: [number, number];
  counts: number[];
}

/** Encode a row-major `h × w` mask (non-zero = inside) as uncompressed COCO RLE. */
export function encodeRle(mask: ArrayLike<number>, h: number, w: number): Rle {
  if (mask.length !== h * w) throw new Error(`mask has ${mask.length} cells; expected ${h} × ${w} = ${h * w}`);
  const counts: number[] = [];
  let current = 0; // runs start with zeros
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x] ? 1 : 0;
      if (v !== current) {
        counts.push(run);
        current = v;
        run = 0;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [h, w], counts };
}

/** Decode uncompressed COCO RLE into a row-major mask of 0 / 1; throws on a malformed one. */
export function decodeRle(rle: { size: unknown; counts: unknown }): Uint8Array {
  const size = rle.size;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 0)) {
    throw new Error(`mask size ${JSON.stringify(size)}: expected [height, width]`);
  }
  if (!Array.isArray(rle.counts)) throw new Error("mask counts: expected a list of run lengths (uncompressed RLE)");
  const [h, w] = size as [number, number];
  const out = new Uint8Array(h * w);
  let at = 0;
  let v = 0;
  for (const n of rle.counts as unknown[]) {
    if (!Number.isInteger(n) || (n as number) < 0) throw new Error(`mask counts: ${JSON.stringify(n)} is not a run length`);
    if (at + (n as number) > h * w) throw new Error(`mask counts cover more than the ${h} × ${w} cells`);
    if (v) {
      for (let i = at; i < at + (n as number); i++) out[(i % h) * w + Math.floor(i / h)] = 1;
    }
    at += n as number;
    v ^= 1;
  }
  if (at !== h * w) throw new Error(`mask counts cover ${at} of the ${h} × ${w} cells`);
  return out;
}

/** Pixels inside the mask (COCO's `area`). */
export function rleArea(rle: Rle): number {
  let a = 0;
  for (let i = 1; i < rle.counts.length; i += 2) a += rle.counts[i];
  return a;
}
