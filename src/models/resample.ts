/**
 * Pillow's resampling (Resample.c), reproduced exactly for 8-bit RGB: separable convolution
 * with the filter support scaled by the downscale factor (antialiasing), edge taps dropped and
 * weights renormalised, 22-bit fixed-point coefficients, horizontal pass first with uint8
 * rounding between passes. Hugging Face image processors resize through Pillow, so this is what
 * makes lookalike's tensors match theirs. NEAREST follows Pillow's affine nearest: src = floor((x + 0.5) * scale).
 */
import type { Resample } from './spec.ts';

const PRECISION_BITS = 32 - 8 - 2;

interface Filter {
  support: number;
  f: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Pillow's filters: bilinear (triangle), bicubic (a = -0.5), lanczos (3 lobes). */
export const FILTERS: Record<Exclude<Resample, 'nearest'>, Filter> = {
  bilinear: { support: 1, f: (x) => (x < 0 ? -x : x) < 1 ? 1 - (x < 0 ? -x : x) : 0 },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const ax = x < 0 ? -x : x;
      if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
      if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, f: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

/** Integer coefficients of one axis: for each output index, first source index, tap count, taps. */
export interface Coeffs {
  bounds: Int32Array; // [xmin, count] per output
  ksize: number;
  k: Int32Array; // outSize x ksize
  kf: Float64Array; // float weights (before rounding), for tests
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for resizing inSize -> outSize. */
export function coefficients(inSize: number, outSize: number, filter: Filter): Coeffs {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kf = new Float64Array(outSize * ksize);
  const k = new Int32Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = filter.f((x + xmin - center + 0.5) * ss);
      kf[xx * ksize + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      if (ww !== 0) kf[xx * ksize + x] /= ww;
      const v = kf[xx * ksize + x] * (1 << PRECISION_BITS);
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, ksize, k, kf };
}

function clip8(v: number): number {
  // Pillow: in >> PRECISION_BITS, clamped to 0..255 (arithmetic shift of the accumulated sum;
  // the sums stay well inside int32: 255 x 2^22 x the filter's positive weight, at most ~1.3).
  const s = v >> PRECISION_BITS;
  return s < 0 ? 0 : s > 255 ? 255 : s;
}

const coeffCache = new Map<string, Coeffs>();

/** coefficients(), memoised: a folder of photos has few distinct sizes, and the table costs as much as a small resize. */
function cachedCoefficients(inSize: number, outSize: number, resample: Exclude<Resample, 'nearest'>): Coeffs {
  const key = `${resample}:${inSize}:${outSize}`;
  let c = coeffCache.get(key);
  if (!c) {
    if (coeffCache.size >= 256) coeffCache.clear();
    c = coefficients(inSize, outSize, FILTERS[resample]);
    coeffCache.set(key, c);
  }
  return c;
}

/** Scratch for the horizontal pass's output, reused across calls (the function is synchronous). */
let scratch = new Uint8Array(0);

/** Resize interleaved 8-bit pixels (`channels` per pixel) from w x h to ow x oh as Pillow does. */
export function resamplePil(src: Uint8Array, w: number, h: number, channels: number, ow: number, oh: number, resample: Resample): Buffer {
  if (ow === w && oh === h) return Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  if (resample === 'nearest') return nearest(src, w, h, channels, ow, oh);
  let cur: Uint8Array = src;
  let cw = w;
  const half = 1 << (PRECISION_BITS - 1);
  if (ow !== w) {
    const { bounds, ksize, k } = cachedCoefficients(w, ow, resample);
    // The last pass writes a fresh buffer (returned); a first of two passes writes the scratch.
    const len = ow * h * channels;
    let out: Uint8Array;
    if (oh === h) out = Buffer.allocUnsafe(len);
    else {
      if (scratch.length < len) scratch = new Uint8Array(len);
      out = scratch.subarray(0, len);
    }
    for (let y = 0; y < h; y++) {
      const row = y * w * channels;
      const orow = y * ow * channels;
      for (let xx = 0; xx < ow; xx++) {
        const xmin = bounds[xx * 2];
        const n = bounds[xx * 2 + 1];
        const kb = xx * ksize;
        if (channels === 3) {
          // The common case, three channels in one pass over the taps.
          let s0 = half;
          let s1 = half;
          let s2 = half;
          let si = row + xmin * 3;
          for (let x = 0; x < n; x++, si += 3) {
            const kv = k[kb + x];
            s0 += cur[si] * kv;
            s1 += cur[si + 1] * kv;
            s2 += cur[si + 2] * kv;
          }
          const o = orow + xx * 3;
          out[o] = clip8(s0);
          out[o + 1] = clip8(s1);
          out[o + 2] = clip8(s2);
          continue;
        }
        for (let c = 0; c < channels; c++) {
          let ss = half;
          let si = row + xmin * channels + c;
          for (let x = 0; x < n; x++, si += channels) ss += cur[si] * k[kb + x];
          out[orow + xx * channels + c] = clip8(ss);
        }
      }
    }
    cur = out;
    cw = ow;
  }
  if (oh !== h) {
    const { bounds, ksize, k } = cachedCoefficients(h, oh, resample);
    const out = Buffer.allocUnsafe(cw * oh * channels);
    const stride = cw * channels;
    for (let yy = 0; yy < oh; yy++) {
      const ymin = bounds[yy * 2];
      const n = bounds[yy * 2 + 1];
      const kb = yy * ksize;
      const orow = yy * stride;
      const base = ymin * stride;
      // Each output value sums its few taps in a register; up to 4 taps (every upscale and
      // downscales up to ~1.5x with bilinear) are unrolled, as the loop overhead is most of the cost.
      if (n === 2 || n === 3 || n === 4) {
        const k0 = k[kb];
        const k1 = k[kb + 1];
        const k2 = n > 2 ? k[kb + 2] : 0;
        const k3 = n > 3 ? k[kb + 3] : 0;
        const r1 = base + stride;
        const r2 = n > 2 ? base + 2 * stride : base;
        const r3 = n > 3 ? base + 3 * stride : base;
        for (let i = 0; i < stride; i++) out[orow + i] = clip8(half + cur[base + i] * k0 + cur[r1 + i] * k1 + cur[r2 + i] * k2 + cur[r3 + i] * k3);
        continue;
      }
      for (let i = 0; i < stride; i++) {
        let ss = half;
        for (let y = 0, si = base + i; y < n; y++, si += stride) ss += cur[si] * k[kb + y];
        out[orow + i] = clip8(ss);
      }
    }
    cur = out;
  }
  return Buffer.from(cur.buffer, cur.byteOffset, cur.byteLength);
}

function nearest(src: Uint8Array, w: number, h: number, channels: number, ow: number, oh: number): Buffer {
  const out = Buffer.alloc(ow * oh * channels);
  const sx = w / ow;
  const sy = h / oh;
  for (let y = 0; y < oh; y++) {
    const yi = Math.min(h - 1, Math.floor((y + 0.5) * sy));
    for (let x = 0; x < ow; x++) {
      const xi = Math.min(w - 1, Math.floor((x + 0.5) * sx));
      for (let c = 0; c < channels; c++) out[(y * ow + x) * channels + c] = src[(yi * w + xi) * channels + c];
    }
  }
  return out;
}
