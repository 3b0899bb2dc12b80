/**
 * Learned whitening of embeddings (Jégou & Chum 2012; Radenović et al. 2018): PCA-whitening of the
 * rows, with eigenvalue shrinkage and a chosen output dimension, or the supervised variant from
 * matching pairs (same label): whiten the within-pair differences, then rotate to the principal
 * directions of the data. Written as a linear head (`lookalike whiten`, usable with --head).
 * Every eigen-problem is solved in min(rows, dim) dimensions (the Gram matrix when rows < dim).
 */
import { symmetricEigen } from './eigen.ts';

/** Options of learnWhitening. */
export interface WhitenOptions {
  /** Output dimensions (default: every direction the data spans, at most the input's). */
  dims?: number;
  /** Eigenvalue shrinkage toward their mean, 0..1: λ' = (1 - s) λ + s · mean(λ); 0 = plain whitening. */
  shrinkage?: number;
  /** Per-row labels: learn from matching pairs (rows sharing a label); absent = unsupervised PCA-whitening. */
  labels?: readonly string[];
}

/** A learned whitening: y = (x - mean) · weight, as a d x d' matrix and a bias (-mean · weight). */
export interface Whitening {
  weight: Float32Array;
  bias: Float32Array;
  inputDim: number;
  outputDim: number;
  /** The (shrunk) variances of the kept directions, largest first. */
  variances: number[];
  supervised: boolean;
}

/** Default shrinkage of learnWhitening. */
export const WHITEN_SHRINKAGE = 0.1;

/**
 * Principal directions of M = Aᵀ A for rows A (n x d): eigenvalues (descending) and unit
 * eigenvectors (d-long columns of `vectors`, d x r) of its r non-negligible directions; the trace of M.
 */
function principal(a: Float64Array, n: number, d: number): { values: number[]; vectors: Float64Array; r: number; trace: number } {
  let trace = 0;
  for (let i = 0; i < a.length; i++) trace += a[i] * a[i];
  if (n < d) {
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i; j < n; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += a[i * d + k] * a[j * d + k];
        g[i * n + j] = g[j * n + i] = s;
      }
    }
    const e = symmetricEigen(g, n);
    const keep = [...e.values].filter((v) => v > 1e-10 * Math.max(trace, 1e-300)).length;
    const vectors = new Float64Array(d * keep);
    for (let c = 0; c < keep; c++) {
      // v = Aᵀ u / sqrt(λ): unit length because ‖Aᵀu‖² = uᵀ A Aᵀ u = λ.
      const inv = 1 / Math.sqrt(e.values[c]);
      for (let i = 0; i < n; i++) {
        const u = e.vectors[i * n + c] * inv;
        if (u === 0) continue;
        for (let k = 0; k < d; k++) vectors[k * keep + c] += u * a[i * d + k];
      }
    }
    return { values: [...e.values].slice(0, keep), vectors, r: keep, trace };
  }
  const m = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < d; p++) {
      const x = a[i * d + p];
      if (x === 0) continue;
      for (let q = p; q < d; q++) m[p * d + q] += x * a[i * d + q];
    }
  }
  for (let p = 0; p < d; p++) for (let q = 0; q < p; q++) m[p * d + q] = m[q * d + p];
  const e = symmetricEigen(m, d);
  return { values: [...e.values].map((v) => Math.max(v, 0)), vectors: e.vectors, r: d, trace };
}

/** Learn a whitening from n rows of dim floats (index rows: L2-normalised). */
export function learnWhitening(x: Float32Array, dim: number, o: WhitenOptions = {}): Whitening {
  const n = x.length / dim;
  const s = o.shrinkage ?? WHITEN_SHRINKAGE;
  if (!(s >= 0 && s <= 1)) throw new Error(`shrinkage ${s}: expected a number from 0 to 1`);
  if (n < 2) throw new Error(`whitening needs at least 2 rows, got ${n}`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k] += x[i * dim + k] / n;
  const centred = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) centred[i * dim + k] = (x[i * dim + k] - mean[k]) / Math.sqrt(n);
  let weight: Float64Array;
  let outputDim: number;
  let variances: number[];
  if (!o.labels) {
    const pc = principal(centred, n, dim);
    outputDim = Math.min(o.dims ?? pc.r, pc.r);
    if (o.dims !== undefined && o.dims > pc.r) throw new Error(`dims ${o.dims}: the ${n} rows span only ${pc.r} directions; choose at most ${pc.r}`);
    const avg = pc.trace / dim;
    variances = pc.values.slice(0, outputDim).map((v) => (1 - s) * v + s * avg);
    weight = new Float64Array(dim * outputDim);
    for (let k = 0; k < dim; k++) for (let c = 0; c < outputDim; c++) weight[k * outputDim + c] = pc.vectors[k * pc.r + c] / Math.sqrt(variances[c]);
  } else {
    if (o.labels.length !== n) throw new Error(`labels: ${o.labels.length} labels for ${n} rows`);
    // Matching pairs (i != j, same label): Σ (x_i - x_j)(x_i - x_j)ᵀ = Σ_class 2 n_c · scatter_c, so
    // their covariance comes from within-class deviations weighted by sqrt(2 n_c / pairs).
    const byLabel = new Map<string, number[]>();
    o.labels.forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
    const pairs = [...byLabel.values()].reduce((t, r) => t + r.length * (r.length - 1), 0);
    if (pairs === 0) throw new Error('labels: no two rows share a label, so there are no matching pairs to learn from');
    const within = new Float64Array(n * dim);
    for (const rows of byLabel.values()) {
      if (rows.length < 2) continue;
      const m = new Float64Array(dim);
      for (const i of rows) for (let k = 0; k < dim; k++) m[k] += x[i * dim + k] / rows.length;
      const w = Math.sqrt((2 * rows.length) / pairs);
      for (const i of rows) for (let k = 0; k < dim; k++) within[i * dim + k] = (x[i * dim + k] - m[k]) * w;
    }
    const cs = principal(within, n, dim);
    // C_S shrunk toward its mean eigenvalue is full rank: C_S'^(-1/2) = t I + V (diag(λ'^(-1/2)) - t) Vᵀ, t = (s · mean)^(-1/2).
    const floor = Math.max(s, 1e-6) * (cs.trace / dim);
    const t = 1 / Math.sqrt(floor);
    const shrunk = cs.values.map((v) => 1 / Math.sqrt((1 - s) * v + floor) - t);
    const isqrt = (v: Float64Array): Float64Array => {
      // v · C_S'^(-1/2) for a row v (C_S'^(-1/2) is symmetric).
      const proj = new Float64Array(cs.r);
      for (let c = 0; c < cs.r; c++) {
        let z = 0;
        for (let k = 0; k < dim; k++) z += v[k] * cs.vectors[k * cs.r + c];
        proj[c] = z * shrunk[c];
      }
      const out = new Float64Array(dim);
      for (let k = 0; k < dim; k++) {
        let z = v[k] * t;
        for (let c = 0; c < cs.r; c++) z += cs.vectors[k * cs.r + c] * proj[c];
        out[k] = z;
      }
      return out;
    };
    // The data whitened by C_S'^(-1/2), then its principal directions.
    const y = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) y.set(isqrt(centred.subarray(i * dim, (i + 1) * dim)), i * dim);
    const pd = principal(y, n, dim);
    outputDim = Math.min(o.dims ?? pd.r, pd.r);
    if (o.dims !== undefined && o.dims > pd.r) throw new Error(`dims ${o.dims}: the ${n} rows span only ${pd.r} directions; choose at most ${pd.r}`);
    variances = pd.values.slice(0, outputDim);
    // weight = C_S'^(-1/2) R: column c is C_S'^(-1/2) applied to the c-th principal direction.
    weight = new Float64Array(dim * outputDim);
    const col = new Float64Array(dim);
    for (let c = 0; c < outputDim; c++) {
      for (let k = 0; k < dim; k++) col[k] = pd.vectors[k * pd.r + c];
      const w = isqrt(col);
      for (let k = 0; k < dim; k++) weight[k * outputDim + c] = w[k];
    }
  }
  const bias = new Float32Array(outputDim);
  for (let c = 0; c < outputDim; c++) {
    let b = 0;
    for (let k = 0; k < dim; k++) b -= mean[k] * weight[k * outputDim + c];
    bias[c] = b;
  }
  return { weight: Float32Array.from(weight), bias, inputDim: dim, outputDim, variances, supervised: Boolean(o.labels) };
}
