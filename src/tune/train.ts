/**
 * The tuning loop: batches (random or m-per-class) -> head forward (ORT) -> loss (+ miner) ->
 * head backward (ORT) -> gradient accumulation -> Adam/AdamW/SGD step under warmup + cosine,
 * validation retrieval metrics each epoch, early stopping with patience, best weights restored.
 * Guards: the trainable-parameter count is reported, and a run whose weights did not change after
 * the first optimiser step fails loudly (the competition paper's silent failure).
 */
import { HeadEngine } from './engine.ts';
import { createHead, trainableCount, type TrainableHead, type HeadSpec } from './heads.ts';
import { makeLoss, type LossOptions } from './losses/index.ts';
import { normalizeRows } from './losses/base.ts';
import { makeMiner, type MinerKind, type MinerOptions } from './miners.ts';
import { Optimizer, type OptimizerKind } from './optim.ts';
import { countParams, type Param } from './params.ts';
import { Rng } from '../util/random.ts';
import { mPerClassBatches, randomBatches, type SamplerKind } from './samplers.ts';
import { learningRate } from './schedule.ts';
import { retrievalMetrics, type EvalSet, type TuneMetrics } from './validation.ts';
import { OptionError } from '../util/options.ts';

/** Labelled training rows (row-major n x dim; normalised by train()). */
export interface TrainSet {
  vectors: Float32Array;
  dim: number;
  /** Class index per row, 0..numClasses-1. */
  labels: Int32Array;
  numClasses: number;
}

/** Everything a run needs besides the data. */
export interface TrainOptions {
  head: Omit<HeadSpec, 'inputDim' | 'numClasses'>;
  /** Initial matrix for a linear head (inputDim x outputDim), for projection tuning. */
  init?: { weight: Float32Array; bias?: Float32Array };
  loss: string;
  lossOptions?: LossOptions;
  miner?: MinerKind;
  minerOptions?: MinerOptions;
  sampler: SamplerKind;
  /** Items per class per batch for m-per-class. */
  m: number;
  batchSize: number;
  epochs: number;
  lr: number;
  minLr?: number;
  /** Warmup length as a share of all optimiser steps (default 0.05). */
  warmup?: number;
  optimizer: OptimizerKind;
  weightDecay: number;
  momentum?: number;
  /** Micro-batches per optimiser step. */
  accumulate: number;
  /** Early stopping metric and patience (epochs without improvement); 0 = never stop early. */
  monitor: 'precision@1' | 'mmp@5' | 'map';
  patience: number;
  seed: number;
  /** Called after every epoch. */
  onEpoch?: (e: EpochLog) => void;
  /** Called once before training with the parameter counts. */
  onStart?: (info: { trainable: number; embedding: number; classifier: number; lossParams: number; stepsPerEpoch: number }) => void;
}

/** One epoch's log line. */
export interface EpochLog {
  epoch: number;
  loss: number;
  lr: number;
  seconds: number;
  val?: TuneMetrics;
  best: boolean;
}

/** A finished run: the head (best weights restored), the metrics before and after, and the epochs. */
export interface TrainResult {
  head: TrainableHead;
  frozen?: TuneMetrics;
  tuned?: TuneMetrics;
  bestEpoch: number;
  epochs: EpochLog[];
  trainable: number;
  secondsPerEpoch: number;
}

function snapshot(head: TrainableHead): { params: Float32Array[]; bn: { mean: Float32Array; variance: Float32Array }[] } {
  return { params: head.params.map((p) => Float32Array.from(p.data)), bn: head.bn.map((b) => ({ mean: Float32Array.from(b.mean), variance: Float32Array.from(b.variance) })) };
}

function restore(head: TrainableHead, s: ReturnType<typeof snapshot>): void {
  head.params.forEach((p, i) => p.data.set(s.params[i]));
  head.bn.forEach((b, i) => {
    b.mean.set(s.bn[i].mean);
    b.variance.set(s.bn[i].variance);
  });
}

/** Throw if no head weight matrix changed in the first optimiser step (the silent "nothing trains" failure). */
export function assertWeightsChanged(params: Param[], before: Float32Array[], gradNorm: number, lr: number): void {
  const unchanged: string[] = [];
  params.forEach((p, i) => {
    if (!/^w\d+$/.test(p.name)) return;
    let diff = 0;
    for (let j = 0; j < p.data.length; j++) diff = Math.max(diff, Math.abs(p.data[j] - before[i][j]));
    if (diff === 0) unchanged.push(p.name);
  });
  if (unchanged.length) {
    throw new Error(
      `tune: head weights ${unchanged.join(', ')} did not change after the first optimiser step ` +
        `(gradient norm ${gradNorm.toExponential(3)}, learning rate ${lr.toExponential(3)}); ` +
        (gradNorm === 0 ? 'the loss gave a zero gradient on the first batch (margins already met, or no positive pairs: try m-per-class sampling)' : 'nothing is being trained'),
    );
  }
}

/** Train a head on a labelled set, validating on `val` (leave-one-out retrieval) when given. */
export async function train(data: TrainSet, val: EvalSet | undefined, o: TrainOptions): Promise<TrainResult> {
  const n = data.labels.length;
  if (n < 2) throw new Error(`tune: need at least 2 training rows, got ${n}`);
  if (o.accumulate < 1 || !Number.isInteger(o.accumulate)) throw new OptionError(`tune: {{accumulate}} must be a positive integer (got ${o.accumulate})`);
  if (o.batchSize < 2) throw new Error(`tune: batch size must be at least 2 (got ${o.batchSize})`);
  const rng = new Rng(o.seed);
  const x = normalizeRows(data.vectors, n, data.dim).unit;
  const loss = makeLoss(o.loss, o.lossOptions ?? {}, o.head.outputDim, data.numClasses, rng);
  if (o.miner && o.miner !== 'none') loss.miner = makeMiner(o.miner, o.minerOptions);
  const spec: HeadSpec = { ...o.head, inputDim: data.dim, numClasses: loss.needsClassifier ? data.numClasses : 0 };
  const head = createHead(spec, rng, o.init);
  const engine = await HeadEngine.create(head);
  try {
    const params = [...head.params, ...loss.params];
    const trainable = countParams(params);
    const counts = trainableCount(head);
    const batchesPerEpoch = (o.sampler === 'm-per-class' ? Math.max(1, Math.floor(n / o.batchSize)) : Math.ceil(n / o.batchSize));
    const stepsPerEpoch = Math.max(1, Math.ceil(batchesPerEpoch / o.accumulate));
    const totalSteps = stepsPerEpoch * o.epochs;
    const schedule = { lr: o.lr, minLr: o.minLr ?? 0, warmupSteps: Math.round((o.warmup ?? 0.05) * totalSteps), totalSteps };
    o.onStart?.({ trainable, embedding: counts.embedding, classifier: counts.classifier, lossParams: countParams(loss.params), stepsPerEpoch });
    if (trainable === 0) throw new Error('tune: the head has no trainable parameters');
    const opt = new Optimizer({ kind: o.optimizer, weightDecay: o.weightDecay, momentum: o.momentum });

    const evalHead = async (): Promise<TuneMetrics | undefined> => {
      if (!val) return undefined;
      const vn = val.labels.length;
      return retrievalMetrics({ ...val, vectors: await engine.embed(val.vectors, vn), dim: spec.outputDim });
    };
    const frozen = val ? await retrievalMetrics(val) : undefined;
    let best = -Infinity, bestEpoch = 0, bad = 0;
    let bestState = snapshot(head);
    let tuned: TuneMetrics | undefined;
    const epochs: EpochLog[] = [];
    let step = 0;
    let trainSeconds = 0;
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      const batches = o.sampler === 'm-per-class' ? mPerClassBatches(data.labels, o.m, o.batchSize, rng) : randomBatches(n, o.batchSize, rng);
      let lossSum = 0, lr = 0;
      for (let b = 0; b < batches.length; b++) {
        const rows = batches[b];
        const bn = rows.length;
        const xb = new Float32Array(bn * data.dim);
        const yb = new Int32Array(bn);
        for (let i = 0; i < bn; i++) {
          xb.set(x.subarray(rows[i] * data.dim, (rows[i] + 1) * data.dim), i * data.dim);
          yb[i] = data.labels[rows[i]];
        }
        const masks = spec.hidden.map((h) => {
          const m = new Float32Array(bn * h);
          if (spec.dropout > 0) for (let i = 0; i < m.length; i++) m[i] = rng.next() >= spec.dropout ? 1 / (1 - spec.dropout) : 0;
          return m;
        });
        const f = await engine.forward(xb, bn, spec.dropout > 0 ? masks : []);
        const out = loss.compute({ emb: f.emb, n: bn, dim: spec.outputDim, labels: yb, logits: f.logits, numClasses: data.numClasses, progress: step / totalSteps, rng });
        if (!Number.isFinite(out.loss)) throw new Error(`tune: loss is ${out.loss} at epoch ${epoch}, batch ${b + 1} (learning rate too high?)`);
        lossSum += out.loss;
        await engine.backward(f, out.dEmb, out.dLogits);
        const last = b === batches.length - 1;
        if ((b + 1) % o.accumulate === 0 || last) {
          const micro = (b % o.accumulate) + 1;
          lr = learningRate(step, schedule);
          if (step === 0) {
            const before = params.map((p) => Float32Array.from(p.data));
            let g2 = 0;
            for (const p of params) for (const g of p.grad) g2 += g * g;
            opt.step(params, lr, micro);
            assertWeightsChanged(params, before, Math.sqrt(g2), lr);
          } else opt.step(params, lr, micro);
          engine.gradsZero = true;
          step++;
        }
      }
      const seconds = (performance.now() - t0) / 1000;
      trainSeconds += seconds;
      const m = await evalHead();
      let isBest = false;
      if (m) {
        const v = m[o.monitor];
        if (v > best) {
          (best = v), (bestEpoch = epoch), (bad = 0), (isBest = true), (tuned = m);
          bestState = snapshot(head);
        } else bad++;
      } else {
        (bestEpoch = epoch), (isBest = true);
        bestState = snapshot(head);
      }
      const log: EpochLog = { epoch, loss: lossSum / batches.length, lr, seconds, val: m, best: isBest };
      epochs.push(log);
      o.onEpoch?.(log);
      if (m && o.patience > 0 && bad >= o.patience) break;
    }
    restore(head, bestState);
    return { head, frozen, tuned, bestEpoch, epochs, trainable, secondsPerEpoch: trainSeconds / Math.max(1, epochs.length) };
  } finally {
    await engine.dispose();
  }
}
