/**
 * BlazeFace's SSD anchors and the decoding of its raw outputs into faces (box, score, six
 * keypoints), with a score threshold and non-maximum suppression. Pure math, no model: the
 * detector (src/models/face-detect.ts) feeds it the network's tensors.
 *
 * The anchor scheme is MediaPipe's SSD anchors for the short-range (front camera) model: a 128 x 128
 * input, strides 8, 16, 16, 16 with a fixed anchor size, where layers of equal stride share one grid
 * (16 x 16 cells with 2 anchors, then 8 x 8 cells with 6 anchors: 896 in all), each anchor centred on
 * its cell ((x + 0.5) / grid, (y + 0.5) / grid). A regression row is 16 numbers in input pixels,
 * relative to the anchor centre: box centre x, y, box width, height, then x, y of the keypoints
 * (the subject's right eye, left eye, nose tip, mouth centre, right ear, left ear). Scores are logits.
 */

/** One grid of anchors: cells per side and anchors per cell. */
export interface AnchorGrid {
  grid: number;
  perCell: number;
}

/** BlazeFace short-range (front) model: 128 x 128 input, a 16 x 16 grid with 2 anchors per cell and an 8 x 8 grid with 6. */
export const BLAZEFACE_FRONT = { inputSize: 128, grids: [{ grid: 16, perCell: 2 }, { grid: 8, perCell: 6 }] as AnchorGrid[] };

/** A decoded face in normalised coordinates of the detector input ([0, 1] on both axes). */
export interface Face {
  score: number;
  /** Box corners: x0, y0 (top left), x1, y1 (bottom right). */
  box: [number, number, number, number];
  /** Six [x, y] points: the subject's right eye, left eye, nose tip, mouth centre, right ear, left ear. */
  keypoints: [number, number][];
}

/** Anchor centres (x, y pairs, normalised), grid by grid, row by row, cell by cell, anchor by anchor. */
export function anchorCentres(grids: readonly AnchorGrid[]): Float32Array {
  const n = grids.reduce((s, g) => s + g.grid * g.grid * g.perCell, 0);
  const out = new Float32Array(n * 2);
  let k = 0;
  for (const { grid, perCell } of grids) {
    for (let y = 0; y < grid; y++) {
      for (let x = 0; x < grid; x++) {
        for (let a = 0; a < perCell; a++) {
          out[k++] = (x + 0.5) / grid;
          out[k++] = (y + 0.5) / grid;
        }
      }
    }
  }
  return out;
}

/** Intersection over union of two boxes [x0, y0, x1, y1]. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
}

/** Options of decodeFaces: the input size the regressions are in, the least score kept, the overlap that suppresses. */
export interface DecodeOptions {
  inputSize: number;
  minScore: number;
  iouThreshold: number;
}

/**
 * Faces from raw detector outputs: `scores` (one logit per anchor) and `regressors` (16 per anchor),
 * both in anchor order; faces scoring below `minScore` are dropped, then greedy NMS keeps the best
 * of every group overlapping by more than `iouThreshold`. Sorted by score, best first.
 */
export function decodeFaces(scores: Float32Array, regressors: Float32Array, anchors: Float32Array, o: DecodeOptions): Face[] {
  const n = anchors.length / 2;
  if (scores.length !== n || regressors.length !== n * 16) throw new Error(`face detector: expected ${n} scores and ${n * 16} regressions, got ${scores.length} and ${regressors.length}`);
  const candidates: Face[] = [];
  for (let i = 0; i < n; i++) {
    const score = 1 / (1 + Math.exp(-Math.max(-100, Math.min(100, scores[i]))));
    if (score < o.minScore) continue;
    const r = regressors.subarray(i * 16, i * 16 + 16);
    const ax = anchors[i * 2];
    const ay = anchors[i * 2 + 1];
    const s = o.inputSize;
    const cx = r[0] / s + ax;
    const cy = r[1] / s + ay;
    const w = r[2] / s;
    const h = r[3] / s;
    const keypoints: [number, number][] = [];
    for (let k = 0; k < 6; k++) keypoints.push([r[4 + k * 2] / s + ax, r[5 + k * 2] / s + ay]);
    candidates.push({ score, box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], keypoints });
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: Face[] = [];
  for (const c of candidates) if (kept.every((k) => iou(k.box, c.box) <= o.iouThreshold)) kept.push(c);
  return kept;
}
