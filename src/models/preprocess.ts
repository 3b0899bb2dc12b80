/** Decoding and preprocessing images with sharp into model input tensors. */
import type { ModelSpec, Resample } from './spec.ts';
import type { TensorInfo } from './backbone.ts';
import { imageInput, readInputShape } from './input-shape.ts';
import { inputChannels, inputSize } from './spec.ts';
import { OptionError } from '../util/options.ts';
import { sharpLib } from '../util/lazy-import.ts';
import { resamplePil } from './resample.ts';

const KERNEL: Record<Resample, 'nearest' | 'linear' | 'cubic' | 'lanczos3'> = { nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos: 'lanczos3' };

/** Output size of a resize rule for an image of w x h (Hugging Face's rounding: int() of the scaled long side). */
export function resizeTarget(spec: ModelSpec, w: number, h: number): { width: number; height: number } {
  if (spec.resize.mode === 'fixed') return { width: spec.resize.width, height: spec.resize.height };
  const s = spec.resize.shortestEdge;
  return w <= h ? { width: s, height: Math.floor((s * h) / w) } : { width: Math.floor((s * w) / h), height: s };
}

/**
 * Decode an image (path or bytes) to RGB uint8 at the model's input size: EXIF-rotate,
 * drop alpha, convert to sRGB, resize by the spec's rule, center crop.
 */
export async function decodeRgb(input: string | Buffer, spec: ModelSpec): Promise<{ data: Buffer; width: number; height: number }> {
  if (spec.resampler === 'pil') return decodeRgbPil(input, spec);
  const sharp = sharpLib();
  // One libvips pipeline: the header gives the size (orientation-corrected), then rotate, resize and crop in one pass.
  const meta = await sharp(input, { limitInputPixels: false }).metadata();
  if (!meta.width || !meta.height) throw new Error('image has no size');
  assertPixelLimit(meta.width, meta.height);
  const swap = (meta.orientation ?? 1) >= 5;
  const [w0, h0] = swap ? [meta.height, meta.width] : [meta.width, meta.height];
  const target = resizeTarget(spec, w0, h0);
  let img = sharp(input).rotate().removeAlpha().toColourspace('srgb').resize(target.width, target.height, { fit: 'fill', kernel: KERNEL[spec.resample] });
  const crop = spec.crop;
  const inside = crop && crop.width <= target.width && crop.height <= target.height;
  if (crop && inside) {
    img = img.extract({ left: Math.floor((target.width - crop.width) / 2), top: Math.floor((target.height - crop.height) / 2), width: crop.width, height: crop.height });
  }
  const buf = await img.raw().toBuffer({ resolveWithObject: true });
  if (buf.info.channels !== 3) throw new Error(`decoded to ${buf.info.channels} channels, expected 3`);
  if (crop && !inside) return { data: centerCrop(buf.data, buf.info.width, buf.info.height, crop.width, crop.height), width: crop.width, height: crop.height };
  return { data: buf.data, width: buf.info.width, height: buf.info.height };
}

/** sharp's default input pixel limit (0x3FFF squared), kept for every decode: larger headers are refused before decoding. */
export const PIXEL_LIMIT = 268402689;

/** Refuse an image whose header claims more than PIXEL_LIMIT pixels (a decompression bomb's shape). */
export function assertPixelLimit(width: number, height: number): void {
  if (width * height > PIXEL_LIMIT) throw new Error(`image too large: ${width}x${height} pixels exceeds the pixel limit of ${PIXEL_LIMIT}`);
}

/** Center crop an RGB buffer (Hugging Face's rounding; pads with zeros when the crop is larger). */
export function centerCrop(src: Buffer, w: number, h: number, cw: number, ch: number): Buffer {
  const top = Math.floor((h - ch) / 2);
  const left = Math.floor((w - cw) / 2);
  const out = Buffer.alloc(cw * ch * 3);
  for (let y = 0; y < ch; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < cw; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= w) continue;
      const si = (sy * w + sx) * 3;
      const di = (y * cw + x) * 3;
      out[di] = src[si];
      out[di + 1] = src[si + 1];
      out[di + 2] = src[si + 2];
    }
  }
  return out;
}

/**
 * True when the tensor size depends on the image: a shortest-edge resize with no crop keeps each
 * image's aspect ratio, so images are batched by size (src/embed/pipeline.ts) instead of being
 * forced into one N x N slot.
 */
export function variableSize(spec: Pick<ModelSpec, 'resize' | 'crop' | 'face'>): boolean {
  return spec.crop === null && spec.resize.mode === 'shortest-edge' && !spec.face;
}

/**
 * Refuse a variable-size spec (`--crop none` after a shortest-edge `--resize`), or `views` at
 * scales other than 1, for a graph whose image input has a fixed height and width: such a model
 * cannot take each image at its own aspect ratio or at another size.
 */
export function assertInputFits(spec: ModelSpec, inputs: readonly TensorInfo[], model: string): void {
  const rescaled = spec.views?.scales.some((s) => s !== 1);
  if (!variableSize(spec) && !rescaled) return;
  const input = imageInput([...inputs], spec.inputName);
  const fixed = input ? readInputShape(input.shape)?.size : undefined;
  if (fixed && rescaled) {
    throw new OptionError(`${model}: {{views}} scales=${spec.views!.scales.join(',')} changes the input size, but the model's input ${input!.name} is fixed at ${fixed.height}x${fixed.width}; use {{views}} flip alone, or a model whose input takes any size`);
  }
  if (fixed && variableSize(spec)) {
    throw new OptionError(
      `${model}: {{crop}} none keeps each image's aspect ratio, but the model's input ${input!.name} is fixed at ${fixed.height}x${fixed.width}; give a crop ({{crop}} ${fixed.height}x${fixed.width}) or a fixed {{resize}} ${fixed.height}x${fixed.width} (which stretches)`,
    );
  }
}

/**
 * Write normalised RGB pixels into `dst` at image slot `slot` in the spec's layout and channel order
 * (or as grey for 1-channel specs). `size` is the decoded image's size (default: the spec's fixed
 * input size); a buffer of any other size is an error, never cut or sheared into the slot.
 */
export function normalizeInto(rgb: Buffer, spec: ModelSpec, dst: Float32Array, slot: number, size: { height: number; width: number } = inputSize(spec)): void {
  const { height, width } = size;
  const plane = height * width;
  if (rgb.length !== plane * 3) throw new Error(`decoded image has ${rgb.length / 3} pixels, expected ${height}x${width}; a variable-size spec must be batched by size`);
  if (inputChannels(spec) === 1) {
    // ITU-R 601 luma (Pillow's "L" weights), rounded to 8 bits, then rescale and normalise.
    const scale = spec.rescale / spec.std[0];
    const shift = spec.mean[0] / spec.std[0];
    const o = slot * plane;
    for (let p = 0; p < plane; p++) dst[o + p] = Math.round((rgb[p * 3] * 299 + rgb[p * 3 + 1] * 587 + rgb[p * 3 + 2] * 114) / 1000) * scale - shift;
    return;
  }
  const base = slot * plane * 3;
  // One 256-entry table per channel (value * rescale / std - mean / std), then one pass over the
  // pixels: each source byte is read once and looked up, no arithmetic per pixel.
  const { tables: [t0, t1, t2], dest } = channelTables(spec);
  if (spec.layout === 'nchw') {
    const o0 = base + dest[0] * plane;
    const o1 = base + dest[1] * plane;
    const o2 = base + dest[2] * plane;
    for (let p = 0, s = 0; p < plane; p++, s += 3) {
      dst[o0 + p] = t0[rgb[s]];
      dst[o1 + p] = t1[rgb[s + 1]];
      dst[o2 + p] = t2[rgb[s + 2]];
    }
  } else {
    const [d0, d1, d2] = dest;
    for (let s = 0, o = base; s < plane * 3; s += 3, o += 3) {
      dst[o + d0] = t0[rgb[s]];
      dst[o + d1] = t1[rgb[s + 1]];
      dst[o + d2] = t2[rgb[s + 2]];
    }
  }
}

const tableCache = new WeakMap<ModelSpec, { tables: Float32Array[]; dest: number[] }>();

/**
 * Normalisation as lookup tables, one per SOURCE channel (R, G, B): table[v] is exactly the float32
 * of `v * (rescale / std) - mean / std` with that channel's mean and std; `dest` is the channel
 * position each source channel is written to (BGR order swaps R and B).
 */
export function channelTables(spec: ModelSpec): { tables: Float32Array[]; dest: number[] } {
  let t = tableCache.get(spec);
  if (!t) {
    const order = spec.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
    const tables = [0, 1, 2].map((src) => {
      const scale = spec.rescale / spec.std[src];
      const shift = spec.mean[src] / spec.std[src];
      return Float32Array.from({ length: 256 }, (_, v) => v * scale - shift);
    });
    t = { tables, dest: [0, 1, 2].map((src) => order.indexOf(src)) };
    tableCache.set(spec, t);
  }
  return t;
}

/** Decode and preprocess one image into a new tensor of 3 x H x W floats. */
export async function preprocess(input: string | Buffer, spec: ModelSpec): Promise<Float32Array> {
  const { data, width, height } = await decodeRgb(input, spec);
  const size = inputSize(spec);
  if (width !== size.width || height !== size.height) throw new Error(`preprocessed to ${width}x${height}, expected ${size.width}x${size.height}`);
  const out = new Float32Array(inputChannels(spec) * width * height);
  normalizeInto(data, spec, out, 0);
  return out;
}

/** decodeRgb with Pillow's resize (src/models/resample.ts), for exact parity with Hugging Face processors. */
export async function decodeRgbPil(input: string | Buffer, spec: ModelSpec): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharpLib()(input).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  const target = resizeTarget(spec, info.width, info.height);
  const resized = resamplePil(data, info.width, info.height, 3, target.width, target.height, spec.resample);
  if (!spec.crop) return { data: resized, width: target.width, height: target.height };
  const { width: cw, height: ch } = spec.crop;
  return { data: centerCrop(resized, target.width, target.height, cw, ch), width: cw, height: ch };
}
