/**
 * Cheaper decoding of large JPEGs for Pillow-exact specs (resampler 'pil'), opt-in
 * (LOOKALIKE_SHRINK_ON_LOAD=1 or EmbedOptions.shrinkOnLoad): the JPEG is decoded at a reduced DCT
 * scale (libjpeg's 1/2, 1/4, 1/8 shrink-on-load, through sharp) and reduced by libvips to an
 * intermediate SHRINK_GAP times the model's resize target, then resized exactly as before
 * (Pillow's filter, src/models/resample.ts) and centre-cropped. Only images at least
 * 3 x SHRINK_GAP times the target on both axes take this path; every other image (and every
 * non-JPEG) decodes exactly as decodeRgb does, so a gallery of small images gives identical
 * tensors. The tolerance (embedding cosine, retrieval metrics) is in docs/benchmarks.md
 * ("embed-shrink"); specs without 'pil' already get libvips' own shrink-on-load in decodeRgb.
 */
import type { ModelSpec } from './spec.ts';
import { assertPixelLimit, centerCrop, decodeRgb, resizeTarget } from './preprocess.ts';
import { resamplePil } from './resample.ts';
import { sharpLib } from '../util/lazy-import.ts';

/** The intermediate is this many times the resize target on its tighter axis (Pillow's reducing_gap idea). */
export const SHRINK_GAP = 2;

/**
 * The intermediate size a `w x h` (orientation-corrected) image is reduced to before the exact
 * resize, or undefined when the image is not large enough for the cheaper path.
 */
export function shrinkTarget(spec: ModelSpec, w: number, h: number): { width: number; height: number } | undefined {
  if (spec.resampler !== 'pil') return undefined;
  const t = resizeTarget(spec, w, h);
  const f = Math.min(w / t.width, h / t.height) / SHRINK_GAP;
  // sharp decodes a JPEG at 1/2 scale only for a shrink of 3 or more (it avoids libjpeg's rounding
  // at exactly 2): below that there is no DCT scaling to gain.
  if (f < 3) return undefined;
  return { width: Math.max(t.width, Math.round(w / f)), height: Math.max(t.height, Math.round(h / f)) };
}

/**
 * decodeRgb, except that a large JPEG under a 'pil' spec is decoded at a reduced DCT scale first
 * (see the file header); same output size and layout as decodeRgb.
 */
export async function decodeRgbShrunk(input: string | Buffer, spec: ModelSpec): Promise<{ data: Buffer; width: number; height: number }> {
  if (spec.resampler !== 'pil') return decodeRgb(input, spec);
  const sharp = sharpLib();
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  if (meta.format !== 'jpeg' || !meta.width || !meta.height) return decodeRgb(input, spec);
  assertPixelLimit(meta.width, meta.height);
  const swap = (meta.orientation ?? 1) >= 5;
  const [w0, h0] = swap ? [meta.height, meta.width] : [meta.width, meta.height];
  const mid = shrinkTarget(spec, w0, h0);
  if (!mid) return decodeRgb(input, spec);
  const { data, info } = await sharp(input).rotate().removeAlpha().toColourspace('srgb').resize(mid.width, mid.height, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: true }).raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  // The exact resize takes the original's target (not the intermediate's rounding of it).
  const target = resizeTarget(spec, w0, h0);
  const resized = resamplePil(data, info.width, info.height, 3, target.width, target.height, spec.resample);
  if (!spec.crop) return { data: resized, width: target.width, height: target.height };
  const { width: cw, height: ch } = spec.crop;
  return { data: centerCrop(resized, target.width, target.height, cw, ch), width: cw, height: ch };
}
