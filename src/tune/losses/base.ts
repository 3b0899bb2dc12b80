/**
 * The base of every loss: inputs (embeddings, labels, optional classifier logits), outputs (loss
 * value and gradients), and the shared pieces: row normalisation and cosine-similarity matrices
 * with their backward passes. Gradients are written by hand and checked by finite differences in tests.
 */
import type { Param } from '../params.ts';
import { allPairs, toPairs, type Miner, type Pairs } from '../miners.ts';
import type { Rng } from '../../util/random.ts';

/** What a loss sees for one batch. */
export interface LossInput {
  /** n x dim head outputs (not normalised). */
  emb: Float32Array;
  n: number;
  dim: number;
  /** Class index per row. */
  labels: Int32Array;
  /** n x numClasses classifier logits, for losses that need the head's classifier. */
  logits?: Float32Array;
  numClasses: number;
  /** Training progress in [0, 1] (progressive mining). */
  progress: number;
  rng: Rng;
}

/** The loss value and its gradients. */
export interface LossOutput {
  loss: number;
  /** d loss / d emb (n x dim). */
  dEmb: Float32Array;
  /** d loss / d logits, when logits were used. */
  dLogits?: Float32Array;
}

/** A loss: needsClassifier asks the head for a linear classifier; params are the loss's own weights (ArcFace, CosFace). */
export abstract class Loss {
  abstract readonly name: string;
  readonly needsClassifier: boolean = false;
  params: Param[] = [];
  miner: Miner | undefined;
  /** Loss and gradients for one batch; own-parameter gradients are added to params[i].grad. */
  abstract compute(input: LossInput): LossOutput;
}

/** L2-normalise rows; returns the unit rows and the original norms. */
export function normalizeRows(x: Float32Array, n: number, dim: number): { unit: Float32Array; norms: Float32Array } {
  const unit = new Float32Array(n * dim);
  const norms = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0, o = i * dim; k < dim; k++) s += x[o + k] * x[o + k];
    const nr = Math.max(Math.sqrt(s), 1e-12);
    norms[i] = nr;
    for (let k = 0, o = i * dim; k < dim; k++) unit[o + k] = x[o + k] / nr;
  }
  return { unit, norms };
}

/** Backward of row normalisation: dx = (du - u * <du, u>) / |x|. */
export function normalizeBackward(unit: Float32Array, norms: Float32Array, dUnit: Float32Array, n: number, dim: number): Float32Array {
  const dx = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let dot = 0;
    for (let k = 0; k < dim; k++) dot += dUnit[o + k] * unit[o + k];
    for (let k = 0; k < dim; k++) dx[o + k] = (dUnit[o + k] - unit[o + k] * dot) / norms[i];
  }
  return dx;
}

/** S = U U^T for n unit rows (n x n, symmetric). */
export function gram(u: Float32Array, n: number, dim: number): Float32Array {
  const s = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = i; j < n; j++) {
      const oj = j * dim;
      let d = 0;
      for (let k = 0; k < dim; k++) d += u[oi + k] * u[oj + k];
      s[i * n + j] = d;
      s[j * n + i] = d;
    }
  }
  return s;
}

/** Backward of S = U U^T: dU = (dS + dS^T) U. */
export function gramBackward(u: Float32Array, dS: Float32Array, n: number, dim: number): Float32Array {
  const du = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const oi = i * dim;
    for (let j = 0; j < n; j++) {
      const g = dS[i * n + j] + dS[j * n + i];
      if (g === 0) continue;
      const oj = j * dim;
      for (let k = 0; k < dim; k++) du[oi + k] += g * u[oj + k];
    }
  }
  return du;
}

/** A loss written on the cosine-similarity matrix of the batch: subclasses give loss and dS. */
export abstract class SimilarityLoss extends Loss {
  /** Loss value and d loss / d S for the n x n cosine similarities (diagonal unused). */
  abstract fromSimilarity(s: Float32Array, n: number, labels: Int32Array, input: LossInput): { loss: number; dS: Float32Array };

  /** The pairs a pair loss sums over: the miner's, or every positive and negative pair. */
  protected minedPairs(s: Float32Array, n: number, labels: Int32Array, input: LossInput): Pairs {
    return toPairs(this.miner ? this.miner.mine(s, n, labels, input.progress, input.rng) : allPairs(n, labels));
  }

  /** Normalise, build S, call fromSimilarity, and backpropagate to the raw embeddings. */
  compute(input: LossInput): LossOutput {
    const { emb, n, dim } = input;
    const { unit, norms } = normalizeRows(emb, n, dim);
    const s = gram(unit, n, dim);
    const { loss, dS } = this.fromSimilarity(s, n, input.labels, input);
    const dU = gramBackward(unit, dS, n, dim);
    return { loss, dEmb: normalizeBackward(unit, norms, dU, n, dim) };
  }
}

/** log(sum(exp(v))) over values, stable. */
export function logSumExp(v: ArrayLike<number>, start = 0, end = v.length): number {
  let m = -Infinity;
  for (let i = start; i < end; i++) if (v[i] > m) m = v[i];
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = start; i < end; i++) s += Math.exp(v[i] - m);
  return m + Math.log(s);
}

/**
 * Mean softmax cross-entropy with label smoothing over rows of logits (n x c):
 * target = (1 - eps) one-hot + eps / c. Returns the loss and d loss / d logits.
 */
export function softmaxCrossEntropy(logits: Float32Array, n: number, c: number, labels: Int32Array, smoothing = 0): { loss: number; dLogits: Float32Array } {
  const d = new Float32Array(n * c);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * c;
    const lse = logSumExp(logits, o, o + c);
    for (let j = 0; j < c; j++) {
      const q = (j === labels[i] ? 1 - smoothing : 0) + smoothing / c;
      const p = Math.exp(logits[o + j] - lse);
      loss -= q * (logits[o + j] - lse);
      d[o + j] = (p - q) / n;
    }
  }
  return { loss: loss / n, dLogits: d };
}

/**
 * A softmax over cosines between unit embeddings and unit class weights (its own parameter W,
 * dim x classes), with a margin applied to the target cosine by `target` (ArcFace, CosFace).
 * logits = scale * (c_ij, or target(c_iy) for the true class); mean cross-entropy.
 */
export abstract class CosineClassifierLoss extends Loss {
  readonly w: Param;

  constructor(
    readonly dim: number,
    readonly numClasses: number,
    readonly scale: number,
    rng: Rng,
  ) {
    super();
    const data = new Float32Array(dim * numClasses);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * Math.sqrt(2 / (dim + numClasses));
    this.w = { name: 'class_weights', shape: [dim, numClasses], data, grad: new Float32Array(data.length), decay: true };
    this.params = [this.w];
  }

  /** The margin-adjusted target cosine and its derivative with respect to the cosine. */
  abstract target(c: number): { phi: number; dphi: number };

  /** Loss and gradients (class-weight gradient added to w.grad). */
  compute(input: LossInput): LossOutput {
    const { emb, n, dim, labels } = input;
    const C = this.numClasses;
    if (dim !== this.dim) throw new Error(`${this.name}: embeddings are ${dim}-d, the loss was built for ${this.dim}-d`);
    const { unit, norms } = normalizeRows(emb, n, dim);
    // Column-normalise W (dim x C).
    const W = this.w.data;
    const wn = new Float32Array(dim * C);
    const colNorm = new Float32Array(C);
    for (let j = 0; j < C; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += W[k * C + j] * W[k * C + j];
      colNorm[j] = Math.max(Math.sqrt(s), 1e-12);
      for (let k = 0; k < dim; k++) wn[k * C + j] = W[k * C + j] / colNorm[j];
    }
    const cos = new Float32Array(n * C);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < dim; k++) {
        const u = unit[i * dim + k];
        if (u === 0) continue;
        for (let j = 0; j < C; j++) cos[i * C + j] += u * wn[k * C + j];
      }
    const logits = new Float32Array(n * C);
    const dTarget = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const y = labels[i];
      if (y < 0 || y >= C) throw new Error(`${this.name}: label ${y} outside 0..${C - 1}`);
      for (let j = 0; j < C; j++) logits[i * C + j] = this.scale * cos[i * C + j];
      const { phi, dphi } = this.target(cos[i * C + y]);
      logits[i * C + y] = this.scale * phi;
      dTarget[i] = dphi;
    }
    const ce = softmaxCrossEntropy(logits, n, C, labels, 0);
    const dCos = ce.dLogits;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < C; j++) dCos[i * C + j] *= this.scale;
      dCos[i * C + labels[i]] *= dTarget[i];
    }
    // dU = dCos Wn^T ; dWn = U^T dCos.
    const dU = new Float32Array(n * dim);
    const dWn = new Float32Array(dim * C);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < dim; k++) {
        let acc = 0;
        const u = unit[i * dim + k];
        for (let j = 0; j < C; j++) {
          const g = dCos[i * C + j];
          acc += g * wn[k * C + j];
          dWn[k * C + j] += u * g;
        }
        dU[i * dim + k] = acc;
      }
    // Backward of the column normalisation into w.grad.
    for (let j = 0; j < C; j++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += dWn[k * C + j] * wn[k * C + j];
      for (let k = 0; k < dim; k++) this.w.grad[k * C + j] += (dWn[k * C + j] - wn[k * C + j] * dot) / colNorm[j];
    }
    return { loss: ce.loss, dEmb: normalizeBackward(unit, norms, dU, n, dim) };
  }
}

/** One parameter a loss (or miner) declares: its default and what it means for that loss. */
export interface ParamDef {
  default: number;
  help: string;
}

/** Where a loss is built: embedding size, training classes, the run's random source. */
export interface LossContext {
  dim: number;
  numClasses: number;
  rng: Rng;
}

/** A loss as the registry knows it: its name, the parameters it owns, and its constructor. */
export interface LossDef {
  name: string;
  params: Record<string, ParamDef>;
  /** Build the loss from resolved parameters (every declared one is set). */
  make(o: Record<string, number>, c: LossContext): Loss;
}
