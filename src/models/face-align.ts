/**
 * Eye alignment for `--crop face`: the similarity transform (rotation, uniform scale, translation)
 * that puts the two detected eyes on a face model's expected eye positions, and the bilinear warp
 * that cuts the aligned crop out of the image. Coordinates are continuous pixels (pixel i spans
 * [i, i + 1), its centre is i + 0.5).
 */

/**
 * Where a face model expects the eyes, as fractions of its input: both at height `eyeY` x H, level,
 * centred on the vertical midline, `eyeDist` x W apart.
 */
export interface FaceFraming {
  eyeY: number;
  eyeDist: number;
}

/**
 * ArcFace's 112 x 112 five-point template (insightface): eyes at (38.2946, 51.6963) and
 * (73.5318, 51.5014), i.e. centred at x 0.499 W, y 0.461 H, 0.315 W apart. MobileFaceNet and
 * MobileFace were trained on crops aligned this way.
 */
export const ARCFACE_FRAMING: FaceFraming = { eyeY: 0.4607, eyeDist: 0.3146 };

/** A 2-D point [x, y]. */
export type Point = [number, number];

/** x' = a x - b y + tx, y' = b x + a y + ty (a = s cos t, b = s sin t). */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** The eye positions of a framing in an output of width x height: the image-left eye first. */
export function eyeTargets(f: FaceFraming, width: number, height: number): [Point, Point] {
  const y = f.eyeY * height;
  const half = (f.eyeDist * width) / 2;
  return [
    [width / 2 - half, y],
    [width / 2 + half, y],
  ];
}

/** The similarity that maps src[0] onto dst[0] and src[1] onto dst[1] exactly (two point pairs fix it). */
export function similarityFromPairs(src: [Point, Point], dst: [Point, Point]): Similarity {
  // As complex numbers: z' = m z + t with m = (d1 - d0) / (s1 - s0).
  const sx = src[1][0] - src[0][0];
  const sy = src[1][1] - src[0][1];
  const dx = dst[1][0] - dst[0][0];
  const dy = dst[1][1] - dst[0][1];
  const n = sx * sx + sy * sy;
  if (n === 0) throw new Error('face alignment: the two eyes are at the same point');
  const a = (dx * sx + dy * sy) / n;
  const b = (dy * sx - dx * sy) / n;
  return { a, b, tx: dst[0][0] - (a * src[0][0] - b * src[0][1]), ty: dst[0][1] - (b * src[0][0] + a * src[0][1]) };
}

/** Apply a similarity to a point. */
export function applySimilarity(t: Similarity, p: Point): Point {
  return [t.a * p[0] - t.b * p[1] + t.tx, t.b * p[0] + t.a * p[1] + t.ty];
}

/** The inverse similarity. */
export function invertSimilarity(t: Similarity): Similarity {
  const n = t.a * t.a + t.b * t.b;
  const a = t.a / n;
  const b = -t.b / n;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/**
 * Warp an RGB image (w x h) by `t` into a new outW x outH RGB image: each output pixel centre is
 * mapped back into the source and sampled bilinearly; outside the image the border pixels are
 * repeated (black bars would be an edge the face models never saw in training).
 */
export function warpSimilarity(rgb: Uint8Array, w: number, h: number, t: Similarity, outW: number, outH: number): Buffer {
  const inv = invertSimilarity(t);
  const out = Buffer.alloc(outW * outH * 3);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      const [sx, sy] = applySimilarity(inv, [ox + 0.5, oy + 0.5]);
      const fx = sx - 0.5;
      const fy = sy - 0.5;
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const ax = fx - x0;
      const ay = fy - y0;
      const d = (oy * outW + ox) * 3;
      // Outside the image, the nearest edge pixel (replicated border).
      const xa = Math.min(w - 1, Math.max(0, x0));
      const xb = Math.min(w - 1, Math.max(0, x0 + 1));
      const ya = Math.min(h - 1, Math.max(0, y0));
      const yb = Math.min(h - 1, Math.max(0, y0 + 1));
      for (let c = 0; c < 3; c++) {
        const top = rgb[(ya * w + xa) * 3 + c] * (1 - ax) + rgb[(ya * w + xb) * 3 + c] * ax;
        const bottom = rgb[(yb * w + xa) * 3 + c] * (1 - ax) + rgb[(yb * w + xb) * 3 + c] * ax;
        out[d + c] = Math.round(top * (1 - ay) + bottom * ay);
      }
    }
  }
  return out;
}
