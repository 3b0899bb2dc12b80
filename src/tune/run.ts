/**
 * One tuning run from inputs to a head file: read labelled embeddings (an index + labels, or a
 * folder embedded now), choose the validation split, load --init (a matrix or a linear head),
 * train, write the ONNX head with its metadata. Options and defaults come from the one schema (./options.ts).
 */
import path from 'node:path';
import { readLabels } from '../data/labels.ts';
import { listFolder, listingSkips } from '../data/images.ts';
import { embedWithBackbone, type Skipped } from '../embed/pipeline.ts';
import { loadIndex, type IndexData } from '../index/whole-index.ts';
import { openModel, type ModelChoice } from '../models/open-model.ts';
import { Rng } from '../util/random.ts';
import { writeHead } from './export.ts';
import { readInit } from './head-read.ts';
import { encodeLabels, folderLabels, joinLabels, splitRows, subset, type Labelled, type SplitRule } from './data.ts';
import { train, type TrainOptions, type TrainResult } from './train.ts';
import { headAndTraining, resolveTuneValues, type TuneValues } from './tune-options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { OptionError } from '../util/options.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** Inputs and settings of a tuning run. */
export interface TuneHeadOptions {
  /** Index of the training images (built without a head), with `labels`. */
  index?: string | IndexData;
  /** Labels CSV path,label[,domain][,split]; paths are index ids or paths under `trainDir`. */
  labels?: string;
  /** Folder of images to embed now (class folders, or paths from `labels`); needs `model`. */
  trainDir?: string;
  /** The backbone for `trainDir` (no head: tuning takes the backbone's own embeddings). */
  model?: ModelChoice;
  /** Head file to write (.onnx). */
  out: string;
  /** Stratified validation share of each class (0 = none; default 0.2, or the split column). */
  valFrac?: number;
  /** Class-disjoint validation: a share of the classes, or class names. */
  valClasses?: number | string[];
  /** Validation queries rank only items of other domains. */
  valCrossDomain?: boolean;
  /** Tune options by name (TUNE_OPTIONS in tune/tune-options.ts: headType, hidden, loss, lr, epochs, ...), as values or text; unset ones take their defaults. */
  options?: TuneValues;
  /** Head shape, instead of the head options; outputDim defaults to the input size (or the init matrix's columns). */
  head?: { kind: 'linear' | 'mlp'; hidden: number[]; outputDim?: number; dropout: number; batchNorm: boolean };
  /** Where a linear head starts: a .npy matrix (float32 [D, D']) or a linear head .onnx lookalike wrote (whiten, tune: weight and bias); also the `init` option. */
  init?: string;
  /**
   * Write the head even when it does not beat the frozen embeddings on validation (by the monitored
   * metric); by default such a head is not written and the result says why (`written: false`).
   */
  keepWorse?: boolean;
  /** Training settings that win over the options (and epoch callbacks: onStart, onEpoch). */
  training?: Partial<Omit<TrainOptions, 'head' | 'init'>>;
  /** Notes about the data (left-out rows, batch size changes). */
  log?: (line: string) => void;
  onSkip?: (s: Skipped) => void;
  /** Embedding of `trainDir`: total at the start, then items per batch. */
  onEmbedStart?: (total: number) => void;
  onEmbedProgress?: (n: number) => void;
}

/** A finished tuning run: the training result plus what went in and out. */
export interface TuneHeadResult extends TrainResult {
  out: string;
  /** Whether the head file was written (false: it did not beat frozen on validation, see `notWritten`). */
  written: boolean;
  /** Why the head was not written, in one line (with the validation figures). */
  notWritten?: string;
  source: string;
  model?: string;
  inputDim: number;
  outputDim: number;
  classes: number;
  trainRows: number;
  valRows: number;
}

/** Read the labelled embeddings named by index + labels or trainDir. */
async function loadInputs(o: TuneHeadOptions, log: (s: string) => void): Promise<{ data: Labelled; source: string; model?: string }> {
  if (o.index && o.trainDir) throw new OptionError('give {{index}} or {{trainDir}}, not both');
  if (o.index) {
    if (!o.labels) throw new OptionError('{{index}} needs {{labels}} (a CSV with path,label: the index ids are its paths)');
    const idx = typeof o.index === 'string' ? await loadIndex(o.index) : o.index;
    const name = typeof o.index === 'string' ? o.index : o.index.dir;
    if (idx.manifest.head) throw new Error(`${name}: built with head ${idx.manifest.head.file}; tune on an index built without a head (heads take the backbone's embeddings)`);
    const { data, unlabelled, missing } = joinLabels(idx.ids, idx.vectors, idx.dim, readLabels(o.labels), `${name} + ${o.labels}`);
    if (unlabelled) log(`note: ${unlabelled} index ids have no row in ${o.labels}; left out`);
    if (missing) log(`note: ${missing} rows of ${o.labels} are not in ${name}`);
    return { data, source: name, model: idx.manifest.model.name };
  }
  if (!o.trainDir) throw new OptionError('give {{index}} X.lkx {{labels}} labels.csv, or {{trainDir}} DIR {{model}} M');
  if (o.model?.head) throw new OptionError('{{head}}: tune trains on the backbone\'s own embeddings; apply heads with index/search/compete/eval');
  const listing = listFolder(o.trainDir);
  const rows = o.labels ? readLabels(o.labels) : folderLabels(listing.images, o.trainDir);
  const known = new Set(listing.images);
  const items = rows.filter((r) => known.has(r.path)).map((r) => ({ id: r.path, source: path.join(o.trainDir!, r.path) }));
  if (!items.length) throw new Error(`${o.trainDir}: none of the ${rows.length} labelled paths is an image in this folder`);
  const { backbone } = await openModel(o.model ?? {});
  try {
    for (const s of listingSkips(listing)) o.onSkip?.(s);
    o.onEmbedStart?.(items.length);
    const emb = await embedWithBackbone(backbone, items, { batchSize: o.model?.runtime?.batchSize, onProgress: o.onEmbedProgress, onSkip: o.onSkip });
    const { data } = joinLabels(emb.ids, emb.vectors, emb.dim, rows, o.trainDir);
    return { data, source: o.trainDir, model: backbone.name };
  } finally {
    await backbone.dispose();
  }
}

function splitRule(o: TuneHeadOptions, hasColumn: boolean): SplitRule {
  if (o.valClasses !== undefined) return typeof o.valClasses === 'number' ? { kind: 'classes', frac: o.valClasses } : { kind: 'classes', names: o.valClasses };
  if (o.valFrac !== undefined) return o.valFrac === 0 ? { kind: 'none' } : { kind: 'stratified', frac: o.valFrac };
  return hasColumn ? { kind: 'column' } : { kind: 'stratified', frac: 0.2 };
}

/** The rows a tuning run may use (test/query/gallery rows left out) and the validation rule. */
export interface TuneData {
  pool: Labelled;
  rule: SplitRule;
  source: string;
  model?: string;
  dim: number;
}

/** Read the inputs of a tuning run and choose its validation rule (tuneHead's first half; also used by `tune --search`). */
export async function prepareTuneData(o: Omit<TuneHeadOptions, 'out' | 'head' | 'training' | 'options'>): Promise<TuneData> {
  const log = o.log ?? (() => undefined);
  const { data, source, model } = await loadInputs(o as TuneHeadOptions, log);
  // Rows marked test/query/gallery in the split column never take part.
  const hasColumn = data.splits.some((s) => s !== undefined);
  const usable = data.labels.map((_, i) => i).filter((i) => !hasColumn || ['train', 'val', 'valid', 'validation', undefined].includes(data.splits[i]));
  let pool = subset(data, usable);
  const rule = splitRule(o as TuneHeadOptions, hasColumn && pool.splits.some((s) => s && s !== 'train'));
  if (rule.kind !== 'column' && hasColumn) pool = subset(pool, pool.labels.map((_, i) => i).filter((i) => pool.splits[i] === 'train' || pool.splits[i] === undefined));
  return { pool, rule, source, model, dim: data.dim };
}

/**
 * Train a head (linear or MLP) on frozen embeddings and write it to `o.out` as ONNX (for a
 * model's `head`). Every option has a default (TUNE_OPTIONS): give the inputs and `out`.
 * @example await tuneHead({ index: 'g.lkx', labels: 'labels.csv', out: 'head.onnx', options: { loss: 'triplet', epochs: 10 } });
 */
export async function tuneHead(o: TuneHeadOptions, prepared?: TuneData): Promise<TuneHeadResult> {
  const log = o.log ?? (() => undefined);
  const values = resolveTuneValues(o.options ?? {}, '');
  const settings = headAndTraining(values, '');
  const headSpec = o.head ?? settings.head;
  const training: Omit<TrainOptions, 'head' | 'init'> = { ...settings.training, ...o.training };
  const initFile = o.init ?? (values.init === undefined ? undefined : String(values.init));
  guardOutput(o.out, { option: 'out', kind: OUTPUT_KINDS.head, inputs: [typeof o.index === 'string' ? o.index : undefined, o.labels, o.trainDir, initFile] });
  const { pool, rule, source, model, dim } = prepared ?? (await prepareTuneData(o));
  const data = { dim };
  const split = splitRows(pool, rule, new Rng(training.seed));
  const tr = subset(pool, split.train);
  const va = split.val.length >= 2 ? subset(pool, split.val) : undefined;
  if (!va) log('note: no validation rows (set valFrac or valClasses); training for all epochs, no early stopping');
  const { names, index } = encodeLabels(tr.labels);
  if (names.length < 2) throw new Error(`${source}: training needs at least 2 classes, found ${names.length}`);
  let init: TrainOptions['init'];
  let outputDim = headSpec.outputDim;
  if (initFile) {
    if (headSpec.kind !== 'linear') throw new OptionError('{{init}} needs {{headType}} linear');
    const m = readInit(initFile, data.dim);
    // Same size is not enough: a head learned on another backbone's embeddings means nothing here.
    if (m.model && model && m.model !== model) throw new Error(`${initFile}: a head for model ${m.model}, but these embeddings are from ${model}; learn it on ${source} (lookalike whiten)`);
    init = { weight: m.weight, ...(m.bias ? { bias: m.bias } : {}) };
    if (outputDim !== undefined && outputDim !== m.cols) throw new OptionError(`{{outDim}} ${outputDim} differs from ${initFile}'s ${m.cols} columns`);
    outputDim = m.cols;
  }
  outputDim ??= data.dim;
  const hidden = headSpec.kind === 'mlp' ? headSpec.hidden : [];
  log(`${source}: ${tr.labels.length} training rows, ${names.length} classes; ${va?.labels.length ?? 0} validation rows (${split.rule}); ${data.dim}-d`);
  const opts: TrainOptions = { ...training, head: { kind: headSpec.kind, hidden, outputDim, dropout: headSpec.dropout, batchNorm: headSpec.batchNorm }, init };
  if (opts.sampler === 'm-per-class' && opts.batchSize % opts.m !== 0) throw new OptionError(`{{batchSize}} ${opts.batchSize} must be a multiple of {{m}} ${opts.m}`);
  if (opts.sampler === 'm-per-class' && opts.batchSize / opts.m > names.length) {
    const bs = names.length * opts.m;
    log(`note: ${names.length} classes x m=${opts.m}: batch size lowered from ${opts.batchSize} to ${bs}`);
    opts.batchSize = bs;
  }
  const r = await train({ vectors: tr.vectors, dim: tr.dim, labels: index, numClasses: names.length }, va ? { vectors: va.vectors, dim: va.dim, labels: va.labels, domains: va.domains, ids: va.ids, crossDomain: o.valCrossDomain } : undefined, opts);
  const meta: Record<string, string> = {
    [HEAD_META.loss]: training.loss,
    [HEAD_META.source]: source,
    [HEAD_META.classes]: String(names.length),
    [HEAD_META.bestEpoch]: String(r.bestEpoch),
    ...(model ? { [HEAD_META.model]: model } : {}),
    ...(r.frozen && r.tuned ? { [HEAD_META.val]: JSON.stringify({ frozen: r.frozen, tuned: r.tuned }) } : {}),
  };
  // A head that does not beat the frozen embeddings on its own validation rows is not worth
  // shipping: say so, and write it only when asked to.
  const monitor = training.monitor;
  const worse = r.frozen && r.tuned && !(r.tuned[monitor] > r.frozen[monitor]);
  const notWritten = worse && !o.keepWorse ? `the head does not beat the frozen embeddings on validation (${monitor} ${r.tuned![monitor].toFixed(4)} vs frozen ${r.frozen![monitor].toFixed(4)}); ${o.out} was not written (set keepWorse to write it anyway)` : undefined;
  if (!notWritten) writeHead(o.out, r.head, meta);
  return { ...r, out: o.out, written: !notWritten, ...(notWritten ? { notWritten } : {}), source, model, inputDim: data.dim, outputDim, classes: names.length, trainRows: tr.labels.length, valRows: va?.labels.length ?? 0 };
}
