/**
 * `--crop face` at decode time: decode the image, detect faces (src/models/face-detect.ts), take the
 * largest, and warp it so its eyes land on the spec's framing at the model's input size
 * (src/models/face-align.ts). The result has the same shape as decodeRgb's, so normalisation and
 * the rest of the one embedding pipeline are unchanged. An image with no face decodes as it would
 * without the face crop (the whole image) and says so (`face: false`), for the caller to report.
 */
import { decodeRgb } from './preprocess.ts';
import { inputSize, type ModelSpec } from './spec.ts';
import { detectFaces, largestFace } from './face-detect.ts';
import { eyeTargets, similarityFromPairs, warpSimilarity, type Point } from './face-align.ts';
import { sharpLib } from '../util/lazy-import.ts';

/** Images are decoded at most this large (longest side) before detection and warping. */
export const FACE_DECODE_MAX = 1536;

/** A decoded image at the model's input size; `face` is false when no face was found (the whole image was used). */
export interface FaceDecode {
  data: Buffer;
  width: number;
  height: number;
  face: boolean;
}

/** The spec an image with no face decodes with: the spec itself, with a square crop when it would otherwise keep the image's aspect ratio. */
function wholeImageSpec(spec: ModelSpec): ModelSpec {
  const { face: _, ...rest } = spec;
  return rest.crop || rest.resize.mode === 'fixed' ? rest : { ...rest, crop: inputSize(rest) };
}

/** Decode an image and cut the aligned crop of its largest face at the spec's input size (see the file header). */
export async function decodeFace(input: string | Buffer, spec: ModelSpec): Promise<FaceDecode> {
  if (!spec.face) throw new Error('decodeFace: the spec has no face framing');
  const sharp = sharpLib();
  const { data, info } = await sharp(input)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(FACE_DECODE_MAX, FACE_DECODE_MAX, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  const face = largestFace(await detectFaces(data, info.width, info.height));
  if (!face) return { ...(await decodeRgb(input, wholeImageSpec(spec))), face: false };
  const { height, width } = inputSize(spec);
  const target = eyeTargets(spec.face, width, height);
  let src: [Point, Point] = [face.keypoints[0], face.keypoints[1]];
  let t = similarityFromPairs(src, target);
  let rgb: Buffer = data;
  let [w, h] = [info.width, info.height];
  // Bilinear sampling aliases when it shrinks: first reduce the image (libvips, antialiased) to
  // about twice the output scale.
  const scale = Math.hypot(t.a, t.b);
  if (scale < 0.5) {
    const f = 2 * scale;
    const nw = Math.max(1, Math.round(w * f));
    const nh = Math.max(1, Math.round(h * f));
    rgb = await sharp(data, { raw: { width: w, height: h, channels: 3 } }).resize(nw, nh, { fit: 'fill' }).raw().toBuffer();
    src = src.map(([x, y]) => [(x * nw) / w, (y * nh) / h]) as [Point, Point];
    [w, h] = [nw, nh];
    t = similarityFromPairs(src, target);
  }
  return { data: warpSimilarity(rgb, w, h, t, width, height), width, height, face: true };
}
