/**
 * Distillation (feature regression): train a head that maps one backbone's embeddings (the
 * student) into another backbone's space (the teacher) on unlabelled images, with a cosine or MSE
 * loss against the teacher's L2-normalised embeddings. The head runs through the same ORT engine
 * as every tuned head. Agreement with the teacher is measured on held-out images: overlap of the
 * top-10 lists, and R@1 against the teacher's own nearest neighbour.
 */
import { searchExact } from '../store/exact.ts';
import { l2normalize } from '../models/pool.ts';
import { Rng } from '../util/random.ts';
import { OptionError } from '../util/options.ts';
import { DISTILL_DEFAULTS } from './tune-options.ts';
import { HeadEngine } from './engine.ts';
import { createHead, type TrainableHead, type HeadSpec } from './heads.ts';
import { normalizeRows } from './losses/base.ts';
import { Optimizer } from './optim.ts';
import { randomBatches } from './samplers.ts';
import { learningRate } from './schedule.ts';

/** Distillation loss. */
export type DistillLoss = 'cosine' | 'mse';

/** Loss and d loss / d emb for a batch: cosine = mean(1 - cos(e, t)), mse = mean ||e - t||^2 (t unit rows). */
export function distillLoss(kind: DistillLoss, emb: Float32Array, target: Float32Array, n: number, dim: number): { loss: number; dEmb: Float32Array } {
  const g = new Float32Array(n * dim);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    if (kind === 'mse') {
      for (let k = 0; k < dim; k++) {
        const d = emb[o + k] - target[o + k];
        loss += d * d;
        g[o + k] = (2 * d) / n;
      }
      continue;
    }
    let ee = 0, et = 0;
    for (let k = 0; k < dim; k++) (ee += emb[o + k] * emb[o + k]), (et += emb[o + k] * target[o + k]);
    const ne = Math.sqrt(ee) || 1e-12;
    const cos = et / ne;
    loss += 1 - cos;
    // d(-e.t/|e|)/de = -(t/|e| - (e.t) e/|e|^3)
    for (let k = 0; k < dim; k++) g[o + k] = -(target[o + k] / ne - (et * emb[o + k]) / (ne * ne * ne)) / n;
  }
  return { loss: loss / n, dEmb: g };
}

/** Options of distill(). */
export interface DistillOptions {
  loss: DistillLoss;
  head: Omit<HeadSpec, 'inputDim' | 'outputDim' | 'numClasses'>;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  onEpoch?: (e: { epoch: number; loss: number; seconds: number }) => void;
}


/** DistillOptions from option values over DISTILL_DEFAULTS (a loss of `hybrid`, tune's default, means cosine); errors name `where`. */
export function distillOptionsFrom(values: Record<string, unknown>, seed: number, where: string): DistillOptions {
  const v = { ...DISTILL_DEFAULTS, ...Object.fromEntries(Object.entries(values).filter(([, x]) => x !== undefined)) } as Record<string, unknown>;
  const loss = v.loss === 'hybrid' ? 'cosine' : String(v.loss);
  if (loss !== 'cosine' && loss !== 'mse') throw new OptionError(`${where}: {{loss}} ${v.loss}: distillation takes cosine or mse`);
  const kind = String(v.headType);
  if (kind !== 'linear' && kind !== 'mlp') throw new OptionError(`${where}: {{headType}} ${kind}: expected linear or mlp`);
  const num = (k: string, min: number, int = false) => {
    const n = Number(v[k]);
    if (!Number.isFinite(n) || n < min || (int && !Number.isInteger(n))) throw new OptionError(`${where}: {{${k}}} ${v[k]}: expected ${int ? 'an integer' : 'a number'} >= ${min}`);
    return n;
  };
  const hidden = kind === 'mlp' ? String(v.hidden).split(',').map((x) => Number(x.trim())) : [];
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new OptionError(`${where}: {{hidden}} ${v.hidden}: expected widths like 512 or 512,256`);
  return {
    loss,
    head: { kind, hidden, dropout: num('dropout', 0), batchNorm: false },
    epochs: num('epochs', 1, true),
    batchSize: num('batchSize', 1, true),
    lr: num('lr', 0),
    weightDecay: num('weightDecay', 0),
    seed: v.seed === undefined ? seed : num('seed', 0, true),
  };
}

/** Train the student -> teacher head on paired rows (same images, same order). */
export async function distill(student: Float32Array, sDim: number, teacher: Float32Array, tDim: number, o: DistillOptions): Promise<{ head: TrainableHead; epochs: { epoch: number; loss: number; seconds: number }[] }> {
  const n = student.length / sDim;
  if (n !== teacher.length / tDim) throw new Error(`distill: ${n} student rows but ${teacher.length / tDim} teacher rows`);
  if (n < 2) throw new Error('distill: need at least 2 images');
  const rng = new Rng(o.seed);
  const x = normalizeRows(student, n, sDim).unit;
  const t = normalizeRows(teacher, n, tDim).unit;
  const spec: HeadSpec = { ...o.head, inputDim: sDim, outputDim: tDim, numClasses: 0 };
  const head = createHead(spec, rng);
  const engine = await HeadEngine.create(head);
  const opt = new Optimizer({ kind: 'adamw', weightDecay: o.weightDecay });
  const steps = Math.ceil(n / o.batchSize) * o.epochs;
  const schedule = { lr: o.lr, minLr: 0, warmupSteps: Math.round(0.05 * steps), totalSteps: steps };
  const epochs: { epoch: number; loss: number; seconds: number }[] = [];
  let step = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      let sum = 0;
      const batches = randomBatches(n, o.batchSize, rng);
      for (const rows of batches) {
        const bn = rows.length;
        const xb = new Float32Array(bn * sDim), tb = new Float32Array(bn * tDim);
        rows.forEach((r, i) => (xb.set(x.subarray(r * sDim, (r + 1) * sDim), i * sDim), tb.set(t.subarray(r * tDim, (r + 1) * tDim), i * tDim)));
        const masks = spec.hidden.map((h) => {
          const m = new Float32Array(bn * h);
          for (let i = 0; i < m.length; i++) m[i] = spec.dropout > 0 ? (rng.next() >= spec.dropout ? 1 / (1 - spec.dropout) : 0) : 1;
          return m;
        });
        const f = await engine.forward(xb, bn, spec.dropout > 0 ? masks : []);
        const l = distillLoss(o.loss, f.emb, tb, bn, tDim);
        if (!Number.isFinite(l.loss)) throw new Error(`distill: loss is ${l.loss} at epoch ${epoch} (learning rate too high?)`);
        sum += l.loss;
        await engine.backward(f, l.dEmb);
        opt.step(head.params, learningRate(step++, schedule));
        engine.gradsZero = true;
      }
      const e = { epoch, loss: sum / batches.length, seconds: (performance.now() - t0) / 1000 };
      epochs.push(e);
      o.onEpoch?.(e);
    }
  } finally {
    await engine.dispose();
  }
  return { head, epochs };
}

/** Map rows through a trained head (then L2-normalise). */
export async function applyDistilled(head: TrainableHead, rows: Float32Array): Promise<Float32Array> {
  const engine = await HeadEngine.create(head);
  try {
    const n = rows.length / head.spec.inputDim;
    return l2normalize(await engine.embed(normalizeRows(rows, n, head.spec.inputDim).unit, n), head.spec.outputDim);
  } finally {
    await engine.dispose();
  }
}

/** How close the student gets to the teacher on the same images. */
export interface Agreement {
  /** Mean share of the teacher's top-k that the student's top-k also holds. */
  top10_agreement: number;
  /** Share of queries whose student top-1 is the teacher's top-1. */
  r_at_1: number;
  /** The student's own ranking scored against the teacher's top-1 within its top 10. */
  r_at_10: number;
  /** Mean cosine between the mapped student rows and the teacher rows. */
  mean_cosine: number;
  queries: number;
}

/** Leave-one-out retrieval of each image by the student (mapped) and by the teacher, compared. */
export async function agreement(mapped: Float32Array, teacher: Float32Array, dim: number, k = 10): Promise<Agreement> {
  const n = mapped.length / dim;
  const t = normalizeRows(teacher, n, dim).unit;
  const kk = Math.min(k, n - 1);
  const exclude = Int32Array.from({ length: n }, (_, i) => i);
  const a = await searchExact(mapped, mapped, dim, kk, { exclude });
  const b = await searchExact(t, t, dim, kk, { exclude });
  let overlap = 0, r1 = 0, r10 = 0, cos = 0;
  for (let q = 0; q < n; q++) {
    const ta = new Set(Array.from(a.indices.subarray(q * kk, (q + 1) * kk)));
    const tb = Array.from(b.indices.subarray(q * kk, (q + 1) * kk));
    overlap += tb.filter((g) => ta.has(g)).length / kk;
    if (a.indices[q * kk] === tb[0]) r1++;
    if (ta.has(tb[0])) r10++;
    for (let d = 0; d < dim; d++) cos += mapped[q * dim + d] * t[q * dim + d];
  }
  return { top10_agreement: overlap / n, r_at_1: r1 / n, r_at_10: r10 / n, mean_cosine: cos / n, queries: n };
}
