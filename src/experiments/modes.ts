/**
 * The adaptation modes of an experiment cell: frozen embeddings; a tuned head (any loss, head,
 * sampler, miner, schedule); projection tuning (a linear head starting from the identity, a
 * given matrix or linear head file, a whitening learned on its training rows, or the model's own
 * pretrained projection on its pre-projection feature); cross (tuned on another dataset); search
 * (hyperparameter search on the validation split, best retrained); whiten. Each returns the test evaluation and the run's extras.
 */
import { l2normalize } from '../models/pool.ts';
import { classificationReport } from '../metrics/classification.ts';
import { perQueryCsv } from '../metrics/eval-report.ts';
import { HeadEngine } from '../tune/engine.ts';
import { headModel } from '../tune/export.ts';
import { fitHead, type Fit, type FitOptions } from '../tune/fit.ts';
import { readInit } from '../tune/head-read.ts';
import { createHead, param, type TrainableHead } from '../tune/heads.ts';
import { Rng } from '../util/random.ts';
import { searchHeads, type Trial } from '../tune/hyper-search.ts';
import { checkSpace, DEFAULT_SPACE } from '../tune/search-space.ts';
import { agreement, applyDistilled, distill, distillOptionsFrom } from '../tune/distill.ts';
import type { Labelled } from '../tune/data.ts';
import { gatherRows } from '../util/matrix.ts';
import type { ModeEntry } from './experiment-config.ts';
import type { DatasetData } from './datasets.ts';
import { evaluateCaptionsTest, evaluateTest, type ItemVectors, type ProtocolResult } from './protocols.ts';
import type { TextEncoder } from '../models/text-encoder.ts';
import { parseRerank } from '../index/rerank/options.ts';
import type { RerankStep } from '../index/rerank/base.ts';
import { learnWhitening, WHITEN_SHRINKAGE, type Whitening } from '../tune/whiten.ts';

/** A cell that cannot apply by design (a tuning mode on a protocol without labels, image<->text without a text tower): recorded as not-applicable, not failed. */
export class NotApplicable extends Error {}
import { toCsv, type EpochRecord } from './run-records.ts';
import { DISTILL_DEFAULTS } from '../tune/tune-options.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** What a mode produced for the run record. */
export interface ModeOutput {
  test: ProtocolResult;
  files: Record<string, string | Uint8Array>;
  extra: Record<string, unknown>;
  epochs?: EpochRecord[];
  trainSeconds?: number;
  secondsPerEpoch?: number;
  counts?: { train?: number; val?: number };
  /** Search trials, each recorded as its own run. */
  trials?: Trial[];
}

/** The labelled training pool of a dataset (embedded rows only), in item order or shuffled by the seed `order` (a seeds replicate). */
export function poolOf(d: DatasetData, v: ItemVectors, order?: number): Labelled {
  let rows = d.trainPool.filter((i) => v.row[i] >= 0 && d.items[i].label !== undefined);
  if (order !== undefined) rows = new Rng(order).shuffle([...rows]);
  if (rows.length < 4) throw new Error(`dataset ${d.entry.name}: only ${rows.length} labelled training rows; nothing to tune on`);
  return {
    ids: rows.map((i) => d.items[i].id),
    vectors: gatherRows(v.vectors, v.dim, rows.map((i) => v.row[i])),
    dim: v.dim,
    labels: rows.map((i) => d.items[i].label!),
    domains: rows.map((i) => d.items[i].domain),
    splits: rows.map((i) => d.items[i].split),
  };
}

/** Apply a trained head to every row (then L2-normalise). */
export async function applyHead(head: TrainableHead, v: ItemVectors): Promise<ItemVectors> {
  const engine = await HeadEngine.create(head);
  try {
    const n = v.vectors.length / v.dim;
    const out = await engine.embed(v.vectors, n);
    return { vectors: l2normalize(out, head.spec.outputDim), dim: head.spec.outputDim, row: v.row };
  } finally {
    await engine.dispose();
  }
}

/** Classification metrics of the head's classifier on the test items whose class it was trained on (undefined without a classifier or shared classes); `v` are the frozen rows. */
export async function classifierMetrics(fit: Fit, d: DatasetData, v: ItemVectors): Promise<Record<string, number> | undefined> {
  const head = fit.result.head;
  if (head.spec.numClasses === 0) return undefined;
  const known = new Set(fit.classes);
  const items = [...new Set([...d.test.queries, ...d.test.gallery])].filter((i) => v.row[i] >= 0 && known.has(d.items[i].label ?? '\u0000'));
  if (items.length === 0) return undefined;
  const wc = param(head, 'wc').data, bc = param(head, 'bc').data;
  const D = head.spec.outputDim, C = head.spec.numClasses;
  // The classifier reads the head's output before normalisation, as in training.
  const engine = await HeadEngine.create(head);
  let emb: Float32Array;
  try {
    emb = await engine.embed(gatherRows(v.vectors, v.dim, items.map((i) => v.row[i])), items.length);
  } finally {
    await engine.dispose();
  }
  const yTrue: string[] = [], yPred: string[] = [];
  items.forEach((i, r) => {
    let best = -Infinity, arg = 0;
    for (let c = 0; c < C; c++) {
      let s = bc[c];
      for (let k = 0; k < D; k++) s += emb[r * D + k] * wc[k * C + c];
      if (s > best) (best = s), (arg = c);
    }
    yTrue.push(d.items[i].label!);
    yPred.push(fit.classes[arg]);
  });
  const rep = classificationReport(yTrue, yPred, fit.classes);
  return { accuracy: rep.accuracy, macro_precision: rep.macro_precision, macro_recall: rep.macro_recall, macro_f1: rep.macro_f1, items: items.length };
}

function epochsCsv(epochs: EpochRecord[]): string {
  const valKeys = [...new Set(epochs.flatMap((e) => Object.keys(e.val ?? {})))];
  return toCsv(['epoch', 'loss', 'lr', 'seconds', ...valKeys.map((k) => `val_${k}`)], epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, lr: e.lr, seconds: e.seconds, ...Object.fromEntries(valKeys.map((k) => [`val_${k}`, e.val?.[k]])) })));
}

/** Rankings and per-query files of a test evaluation. */
export function testFiles(t: ProtocolResult): Record<string, string> {
  return { 'per_query.csv': perQueryCsv(t.result), 'rankings.json': JSON.stringify(t.rankings) + '\n', ...(t.submission ? { 'submission.json': JSON.stringify(t.submission, null, 1) + '\n' } : {}) };
}

async function fromFit(fit: Fit, d: DatasetData, v: ItemVectors, ks: readonly number[], meta: Record<string, string>, rerank: readonly RerankStep[]): Promise<ModeOutput> {
  const tuned = await applyHead(fit.result.head, v);
  const test = await evaluateTest(d, tuned, ks, tuned, rerank);
  const cls = await classifierMetrics(fit, d, v);
  const epochs: EpochRecord[] = fit.result.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, lr: e.lr, seconds: e.seconds, val: e.val as unknown as Record<string, number> | undefined }));
  const onnx = headModel(fit.result.head, { [HEAD_META.loss]: String(fit.values.loss), [HEAD_META.classes]: String(fit.classes.length), [HEAD_META.bestEpoch]: String(fit.result.bestEpoch), ...meta });
  return {
    test,
    files: { ...testFiles(test), 'head.onnx': onnx, 'epochs.csv': epochsCsv(epochs) },
    extra: {
      validation: fit.result.frozen && fit.result.tuned ? { frozen: fit.result.frozen, tuned: fit.result.tuned } : undefined,
      best_epoch: fit.result.bestEpoch,
      trainable: fit.result.trainable,
      split_rule: fit.rule,
      tune_options: fit.values,
      ...(cls ? { classification: cls } : {}),
    },
    epochs,
    trainSeconds: fit.result.epochs.reduce((a, e) => a + e.seconds, 0),
    secondsPerEpoch: fit.result.secondsPerEpoch,
    counts: { train: fit.trainRows, val: fit.valRows },
  };
}

const crossFits = new WeakMap<ItemVectors, Map<string, Fit>>();

/** What runMode needs besides the mode and the data. */
export interface ModeContext {
  ks: readonly number[];
  /** Tuning seed (the experiment's seed, + i for seeds replicate i). */
  seed: number;
  /** Shuffle the train pool with this seed before tuning (seeds replicates from 1); undefined: item order. */
  order?: number;
  model: string;
  text?: () => Promise<TextEncoder>;
  pretrained?: { weight: Float32Array; reference?: ItemVectors };
  teacher?: { name: string; ref: string; v: ItemVectors };
}

/** Run one mode on a dataset (`train` is the dataset tuned on: the same one, or another for cross). */
export async function runMode(mode: ModeEntry, d: DatasetData, v: ItemVectors, train: { data: DatasetData; v: ItemVectors } | undefined, o: ModeContext): Promise<ModeOutput> {
  const rerank = parseRerank(mode.rerank);
  if (d.test.protocol === 'captions' || train?.data.test.protocol === 'captions') {
    if (rerank.length) throw new NotApplicable(`mode ${mode.name}: rerank does not apply to image<->text retrieval (captions)`);
    if (mode.kind !== 'frozen') throw new NotApplicable(`${mode.kind} mode: the captions protocol has no labels to tune on (only frozen applies to ${train?.data.test.protocol === 'captions' ? train.data.entry.name : d.entry.name})`);
    if (!o.text) throw new NotApplicable(`model ${o.model}: no text tower`);
    const test = await evaluateCaptionsTest(d, v, await o.text(), o.ks);
    return { test, files: { 'captions.json': JSON.stringify(test.captions ? { ...test.captions, metrics: test.result.mean } : test.result.mean, null, 2) + '\n' }, extra: { ...test.captions } };
  }
  if (mode.kind === 'frozen') {
    const test = await evaluateTest(d, v, o.ks, v, rerank);
    return { test, files: testFiles(test), extra: rerank.length ? { rerank: mode.rerank } : {} };
  }
  if (mode.kind === 'distill') return runDistillMode(mode, d, v, o, rerank);
  const src = train ?? { data: d, v };
  if (src.data.test.protocol === 'oxford') throw new NotApplicable(`dataset ${src.data.entry.name}: the Oxford protocol has no labels to tune on`);
  const pool = poolOf(src.data, src.v, o.order);
  if (mode.kind === 'whiten') return runWhitenMode(mode, pool, d, v, o, rerank);
  const where = `mode ${mode.name}`;
  const meta = { [HEAD_META.model]: o.model, [HEAD_META.source]: src.data.entry.name, [HEAD_META.mode]: mode.name };
  if (mode.kind === 'search') {
    const space = mode.space ? checkSpace(mode.space, `${where}: space`) : DEFAULT_SPACE;
    const { strategy, ...base } = mode.options;
    const r = await searchHeads(pool, src.data.valRule, { space, trials: mode.trials!, strategy: strategy === 'grid' ? 'grid' : 'random', base, seed: o.seed, valCrossDomain: src.data.valCrossDomain });
    const out = await fromFit(r.final, d, v, o.ks, meta, rerank);
    out.extra.search = { best_trial: r.best.index, best_values: r.best.values, best_val: r.best.val, trials: r.trials.map((t) => ({ index: t.index, values: t.values, val: t.val, best_epoch: t.bestEpoch, seconds: t.seconds })) };
    out.trials = r.trials;
    return out;
  }
  const values = { ...mode.options };
  let init: FitOptions['init'];
  let agreement: number | undefined;
  let whitened: WhitenSettings | undefined;
  if (mode.kind === 'projection') {
    values.headType = 'linear';
    if (values.init === 'pretrained') {
      if (!o.pretrained) throw new Error(`${where}: init: pretrained needs the model's projection matrix (given by lookalike experiment)`);
      if (o.pretrained.weight.length % v.dim !== 0) throw new Error(`${where}: the pretrained projection has ${o.pretrained.weight.length} values, not a multiple of the ${v.dim}-d pre-projection feature`);
      init = { weight: o.pretrained.weight };
      if (o.pretrained.reference) agreement = await initAgreement(init.weight, v, o.pretrained.reference);
    } else if (values.init === 'whiten') {
      // Learned on the rows the head trains on (fitHead's training split), as the whiten mode learns it.
      init = (rows) => {
        const r = learnModeWhitening(mode.whiten ?? {}, rows);
        whitened = r.settings;
        return { weight: r.whitening.weight, bias: r.whitening.bias };
      };
    } else if (values.init !== undefined && values.init !== 'identity') {
      let m: ReturnType<typeof readInit>;
      try {
        m = readInit(String(values.init), v.dim);
      } catch (e) {
        throw new Error(`${where}: init ${(e as Error).message}`);
      }
      init = { weight: m.weight, ...(m.bias ? { bias: m.bias } : {}) };
    }
  }
  delete values.init;
  // A cross head is trained once per (backbone rows, mode) and reused for every dataset it is scored on.
  const memo = train ? crossFits.get(train.v) ?? crossFits.set(train.v, new Map()).get(train.v)! : undefined;
  const memoKey = `${mode.name}\u0000${o.seed}\u0000${o.order ?? ''}`;
  let fit = memo?.get(memoKey);
  if (!fit) {
    fit = await fitHead(pool, src.data.valRule, values, { seed: o.seed, valCrossDomain: src.data.valCrossDomain, init, where });
    memo?.set(memoKey, fit);
  }
  const out = await fromFit(fit, d, v, o.ks, meta, rerank);
  if (agreement !== undefined) out.extra.init = { from: 'pretrained', min_cosine_to_frozen: agreement };
  if (whitened) out.extra.init = { from: 'whiten', ...whitened };
  return out;
}

/**
 * How closely an untrained linear head with `weight` (inputDim x outputDim) on the pre-projection
 * rows `pre` reproduces the frozen embeddings `ref`: the smallest row cosine over items in both.
 */
export async function initAgreement(weight: Float32Array, pre: ItemVectors, ref: ItemVectors): Promise<number> {
  const outputDim = weight.length / pre.dim;
  if (outputDim !== ref.dim) throw new Error(`the projection gives ${outputDim}-d rows but the frozen embeddings are ${ref.dim}-d`);
  const head = createHead({ kind: 'linear', inputDim: pre.dim, outputDim, hidden: [], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(0), { weight });
  const out = await applyHead(head, pre);
  let min = Infinity;
  for (let i = 0; i < pre.row.length; i++) {
    const a = pre.row[i], b = ref.row[i];
    if (a < 0 || b < 0) continue;
    let dot = 0;
    for (let k = 0; k < outputDim; k++) dot += out.vectors[a * outputDim + k] * ref.vectors[b * outputDim + k];
    min = Math.min(min, dot);
  }
  return min;
}

/**
 * distill: train a head mapping this backbone's embeddings into the teacher's space on the train
 * pool's images (labels unused; src/tune/distill.ts, as `tune --teacher`), then score the test part
 * with the mapped student rows as queries against the teacher's gallery, and measure agreement
 * with the teacher's own retrieval on the test images.
 */
async function runDistillMode(mode: ModeEntry, d: DatasetData, v: ItemVectors, o: ModeContext, rerank: readonly RerankStep[]): Promise<ModeOutput> {
  if (!d.trainPool.length) throw new NotApplicable(`distill mode: dataset ${d.entry.name} (${d.test.protocol}) has no training images to distil on`);
  const t = o.teacher;
  if (!t) throw new Error(`mode ${mode.name}: no teacher embeddings`);
  let rows = d.trainPool.filter((i) => v.row[i] >= 0 && t.v.row[i] >= 0);
  if (o.order !== undefined) rows = new Rng(o.order).shuffle([...rows]);
  if (rows.length < 4) throw new Error(`dataset ${d.entry.name}: only ${rows.length} training images embedded by both models; nothing to tune on`);
  const opt = { ...DISTILL_DEFAULTS, ...mode.options };
  const t0 = performance.now();
  const r = await distill(gatherRows(v.vectors, v.dim, rows.map((i) => v.row[i])), v.dim, gatherRows(t.v.vectors, t.v.dim, rows.map((i) => t.v.row[i])), t.v.dim, distillOptionsFrom(mode.options, o.seed, `mode ${mode.name}`));
  const trainSeconds = (performance.now() - t0) / 1000;
  const mapped: ItemVectors = { vectors: await applyDistilled(r.head, v.vectors), dim: t.v.dim, row: v.row };
  const test = await evaluateTest(d, t.v, o.ks, mapped, rerank);
  // Agreement on the test images both models embedded: the student's (mapped) retrieval vs the teacher's.
  const testItems = [...new Set([...d.test.queries, ...d.test.gallery])].filter((i) => v.row[i] >= 0 && t.v.row[i] >= 0);
  const agree = testItems.length >= 2 ? await agreement(gatherRows(mapped.vectors, mapped.dim, testItems.map((i) => mapped.row[i])), gatherRows(t.v.vectors, t.v.dim, testItems.map((i) => t.v.row[i])), t.v.dim) : undefined;
  // lr: the peak rate (distill() warms up and decays it within the run).
  const epochs: EpochRecord[] = r.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, lr: Number(opt.lr), seconds: e.seconds }));
  const onnx = headModel(r.head, { [HEAD_META.distilledFrom]: t.ref, [HEAD_META.model]: o.model, [HEAD_META.loss]: String(opt.loss), [HEAD_META.mode]: mode.name, ...(agree ? { [HEAD_META.agreement]: JSON.stringify(agree) } : {}) });
  return {
    test,
    files: { ...testFiles(test), 'head.onnx': onnx, 'epochs.csv': epochsCsv(epochs) },
    extra: { distill: { teacher: t.name, teacher_ref: t.ref, student_dim: v.dim, teacher_dim: t.v.dim, train_images: rows.length, options: opt, agreement: agree } },
    epochs,
    trainSeconds,
    secondsPerEpoch: r.epochs.length ? trainSeconds / r.epochs.length : undefined,
    counts: { train: rows.length },
  };
}

/**
 * whiten: PCA-whitening learned on the train pool's rows (supervised: from its matching pairs), as
 * `lookalike whiten` learns it, applied as a linear head to every row, then scored on the test part.
 */
async function runWhitenMode(mode: ModeEntry, pool: Labelled, d: DatasetData, v: ItemVectors, o: ModeContext, rerank: readonly RerankStep[]): Promise<ModeOutput> {
  const t0 = performance.now();
  const { whitening: w, settings } = learnModeWhitening(mode.options, pool);
  const head = createHead({ kind: 'linear', inputDim: pool.dim, outputDim: w.outputDim, hidden: [], dropout: 0, batchNorm: false, numClasses: 0 }, new Rng(1), { weight: w.weight, bias: w.bias });
  const trainSeconds = (performance.now() - t0) / 1000;
  const whitened = await applyHead(head, v);
  const test = await evaluateTest(d, whitened, o.ks, whitened, rerank);
  const supervised = settings.supervised;
  const onnx = headModel(head, { [HEAD_META.mode]: supervised ? 'whiten-supervised' : 'whiten', [HEAD_META.model]: o.model, [HEAD_META.source]: d.entry.name, [HEAD_META.whiten]: JSON.stringify(settings) });
  return { test, files: { ...testFiles(test), 'head.onnx': onnx }, extra: { whiten: settings, ...(rerank.length ? { rerank: mode.rerank } : {}) }, trainSeconds, counts: { train: pool.labels.length } };
}

/** What a learned whitening was: its settings and the rows it was learned from. */
export interface WhitenSettings {
  shrinkage: number;
  dims: number;
  rows: number;
  supervised: boolean;
}

/** Learn a whitening on labelled rows with a whiten mode's options (WHITEN_MODE_OPTIONS: dims, shrinkage, supervised; a projection's `whiten:` mapping). */
export function learnModeWhitening(options: Readonly<Record<string, string | number | boolean>>, rows: Labelled): { whitening: Whitening; settings: WhitenSettings } {
  const shrinkage = options.shrinkage === undefined ? WHITEN_SHRINKAGE : Number(options.shrinkage);
  const dims = options.dims === undefined ? undefined : Number(options.dims);
  const supervised = options.supervised === true;
  const whitening = learnWhitening(rows.vectors, rows.dim, { dims, shrinkage, labels: supervised ? rows.labels : undefined });
  return { whitening, settings: { shrinkage, dims: whitening.outputDim, rows: rows.labels.length, supervised } };
}
