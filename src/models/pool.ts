/** Pooling a backbone output to one vector per image, and L2 normalisation. */
import type { RawOutput } from './backbone.ts';
import type { ModelSpec, Pooling } from './spec.ts';
import { OptionError } from '../util/options.ts';

/** The pooling 'auto' resolves to for an output of this rank: none (2-D), cls (3-D tokens), gap (4-D map). */
export function resolvePooling(p: Pooling, rank: number): Exclude<Pooling, 'auto'> {
  if (p !== 'auto') return p;
  if (rank === 2) return 'none';
  if (rank === 3) return 'cls';
  if (rank === 4) return 'gap';
  throw new OptionError(`cannot pool a rank-${rank} output automatically; choose {{pooling}}`);
}

/**
 * Reduce a batch output to n x D floats. Token outputs are [N, T, D]; spatial maps are
 * [N, C, H, W] for NCHW models and [N, H, W, C] for NHWC ones.
 */
export function pool(out: RawOutput, spec: Pick<ModelSpec, 'pooling' | 'gemP' | 'prefixTokens' | 'layout'> & { output?: string }): { data: Float32Array; dim: number } {
  const { data, dims } = out;
  const n = dims[0];
  const mode = resolvePooling(spec.pooling, dims.length);
  const named = out.name ?? spec.output;
  const what = `output ${named ? `${named} ` : ''}of shape [${dims}]`;
  if (mode === 'none') {
    if (dims.length !== 2) throw new OptionError(`{{pooling}} none needs a 2-D output, got the ${what}; choose {{pooling}} auto`);
    return { data, dim: dims[1] };
  }
  if (dims.length === 3 && (mode === 'cls' || mode === 'mean')) {
    const [, t, d] = dims;
    const res = new Float32Array(n * d);
    for (let i = 0; i < n; i++) {
      if (mode === 'cls') res.set(data.subarray(i * t * d, i * t * d + d), i * d);
      else {
        const from = Math.min(spec.prefixTokens, t - 1);
        for (let j = from; j < t; j++) for (let k = 0; k < d; k++) res[i * d + k] += data[(i * t + j) * d + k];
        for (let k = 0; k < d; k++) res[i * d + k] /= t - from;
      }
    }
    return { data: res, dim: d };
  }
  if (dims.length === 4 && (mode === 'gap' || mode === 'gem')) {
    const nhwc = spec.layout === 'nhwc';
    const c = nhwc ? dims[3] : dims[1];
    const hw = nhwc ? dims[1] * dims[2] : dims[2] * dims[3];
    // A 1x1 map is already pooled: an explicit pooling would change nothing but be recorded as if it had.
    if (hw === 1 && spec.pooling !== 'auto') {
      throw new OptionError(`{{pooling}} ${mode} cannot apply to the ${what}: it is already pooled (a 1x1 map); read a spatial map with {{output}} (e.g. last_hidden_state) or use {{pooling}} auto`);
    }
    const res = new Float32Array(n * c);
    const p = spec.gemP;
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let q = 0; q < hw; q++) {
          const v = nhwc ? data[(i * hw + q) * c + ch] : data[(i * c + ch) * hw + q];
          s += mode === 'gap' ? v : Math.pow(Math.max(v, 1e-6), p);
        }
        res[i * c + ch] = mode === 'gap' ? s / hw : Math.pow(s / hw, 1 / p);
      }
    }
    return { data: res, dim: c };
  }
  const hint = dims.length === 2 ? 'it is already pooled; use {{pooling}} auto or none' : 'choose {{pooling}} auto';
  throw new OptionError(`{{pooling}} ${mode} does not apply to the ${what}: ${hint}`);
}

/** L2-normalise n rows of length dim in place (a zero row stays zero). */
export function l2normalize(data: Float32Array, dim: number): Float32Array {
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += data[o + k] * data[o + k];
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let k = 0; k < dim; k++) data[o + k] *= inv;
  }
  return data;
}
