/**
 * `lookalike advise DATASET`: measure every available backbone x a small mode list (frozen always
 * among them) on a labelled sample of the user's images, over several splits drawn like the test
 * the advice predicts (held-out classes/identities, or held-out images of seen classes when the
 * set's own test rows are of seen classes), rank by mean mmp@5 and cost, and recommend one: a
 * tuned mode only when it beats the same backbone frozen by more than the spread of that
 * difference over the splits. Each split is written as a labels file; the printed commands rerun
 * the first split exactly (same rows, seed and options). Runs through the experiment runner, so
 * embeddings are cached and a second call re-embeds nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presetRows } from '../models/catalog.ts';
import { checkConfig, type ExperimentConfig } from './experiment-config.ts';
import { runExperiment } from './runner.ts';
import { readRuns, type RunRecord } from './run-records.ts';
import { OptionError } from '../util/options.ts';
import { readLabels, type LabelRow } from '../data/labels.ts';
import { listFolder } from '../data/images.ts';
import { folderLabels } from '../tune/data.ts';
import { TUNE_DEFAULTS } from '../tune/tune-options.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { Rng } from '../util/random.ts';
import { sample } from './datasets.ts';

/** Modes advise can measure. */
export type AdviseMode = 'frozen' | 'tune' | 'projection';

/** Options of advise. */
export interface AdviseOptions {
  /** Backbones to compare (presets, folders, files); default: every available image preset except face models. */
  models?: string[];
  /** Modes: frozen (always measured) and tune (tune's default head) by default. */
  modes?: AdviseMode[];
  /** Labelled images used at most per split (stratified sample), default 400. */
  limit?: number;
  /** Epochs of the tuned modes (default 10). */
  epochs?: number;
  /** How held-out images are scored: leave-one-out, or cross-domain (queries of one domain rank the others); default from the data. */
  protocol?: 'leave-one-out' | 'cross-domain';
  /** What each split holds out: classes (class-disjoint), or images of seen classes; default: like the set's own test rows, else classes. */
  holdOut?: 'classes' | 'images';
  /** Embedding cache and run store (default ~/.cache/lookalike/{embeddings,advise}). */
  cache?: string;
  store?: string;
  seed?: number;
  /** Splits measured (seeds seed, seed+1, ...; default 3): the noise a tuned mode must beat frozen by. */
  seeds?: number;
  log?: (s: string) => void;
  quiet?: boolean;
}

/** One ranked option. */
export interface AdviseRow {
  rank: number;
  model: string;
  mode: string;
  /** Mean over the splits. */
  'mmp@5': number;
  'mr@1': number;
  /** Standard deviation of mmp@5 over the splits (0 with one split). */
  'mmp@5_sd': number;
  /** Tuned modes: mean over the splits of (this mode − the same backbone frozen) in mmp@5, and its standard deviation (the noise; Infinity with one split). */
  margin?: number;
  noise?: number;
  /** Frozen, or a tuned mode whose margin exceeds its noise: the only rows advise may recommend. */
  eligible: boolean;
  /** mmp@5 per split, in seed order. */
  splits: number[];
  images_per_s?: number;
  dim?: number;
  peak_rss_mb?: number;
  /** Commands that rerun this row on the first split exactly and print its mmp@5 there (splits[0]). */
  commands: string[];
  run: RunRecord;
}

/** One measured split: its seed, the labels file it was measured on (split train/test or train/query/gallery) and its held-out rows alone (for eval). */
export interface AdviseSplit {
  seed: number;
  labels: string;
  test: string;
  train: number;
  held: number;
}

/** The advice: ranked rows, the recommendation and the commands that reproduce its first split. */
export interface Advice {
  dataset: string;
  rows: AdviseRow[];
  recommended: AdviseRow;
  /** Commands that rerun the recommended row on split 1 (the same rows, seed and options) and score it: they print its split-1 mmp@5. */
  commands: string[];
  /** Splits measured. */
  seeds: number;
  splits: AdviseSplit[];
  /** What the splits hold out and how they are scored, in words. */
  design: string;
  skipped: { model: string; mode: string; reason: string }[];
}

/** The default backbones: available presets with an image tower, face models left out. */
export function defaultAdviseModels(): string[] {
  return presetRows().filter((r) => r.available && r.family !== 'face').map((r) => r.name);
}

function quote(s: string): string {
  return /^[\w./@:=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Share of the classes (or of each class's images) a split holds out. */
const HELD_SHARE = 0.5;

/**
 * The labelled rows advise may sample, and how the set's own test part looks. Test rows, or query
 * and gallery rows, of a labels.csv are what the advice predicts, so they are never sampled; their
 * classes and domains say how to draw the validation splits.
 */
function adviseRows(dataset: string, log?: (s: string) => void): { rows: LabelRow[]; held: LabelRow[]; file?: string } {
  const file = path.join(path.resolve(dataset), 'labels.csv');
  if (!fs.existsSync(file)) return { rows: folderLabels(listFolder(dataset).images, dataset), held: [] };
  const all = readLabels(file);
  // Query and gallery rows together (or test rows) are a test split; a gallery column alone is not.
  const splits = new Set(all.map((r) => r.split));
  const heldSplits = new Set(['test', ...(splits.has('query') && splits.has('gallery') ? ['query', 'gallery'] : [])]);
  const held = all.filter((r) => heldSplits.has(r.split ?? ''));
  const rows = all.filter((r) => !heldSplits.has(r.split ?? ''));
  if (held.length) {
    if (new Set(rows.map((r) => r.label)).size < 2) throw new OptionError(`advise: ${file} has ${held.length} test/query/gallery rows, which advise never samples, and fewer than 2 classes besides them`);
    log?.(`advise: ${held.length} test/query/gallery rows of ${file} left out (they are what the advice predicts); measuring on the other ${rows.length}`);
  }
  return { rows, held, file };
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Write path,label[,domain][,split] rows (atomic). */
function writeLabelRows(file: string, rows: { path: string; label: string; domain?: string; split?: string }[]): void {
  const domain = rows.some((r) => r.domain !== undefined);
  const split = rows.some((r) => r.split !== undefined);
  const head = ['path', 'label', ...(domain ? ['domain'] : []), ...(split ? ['split'] : [])];
  writeFileAtomic(file, `${head.join(',')}\n${rows.map((r) => [r.path, r.label, ...(domain ? [r.domain ?? ''] : []), ...(split ? [r.split ?? ''] : [])].map(csvCell).join(',')).join('\n')}\n`);
}

/**
 * Draw one split: a stratified sample of at most `limit` rows, then half of its classes (or half of
 * each class's images) held out. Cross-domain: held-out rows of the query domains are queries, the
 * others the gallery. Rows keep their order in the labels (the order tune reads them in).
 */
export function drawSplit(rows: readonly LabelRow[], o: { seed: number; limit: number; holdOut: 'classes' | 'images'; queryDomains?: Set<string> }): { path: string; label: string; domain?: string; split: string }[] {
  const rng = new Rng(o.seed);
  const picked = sample([...rows], o.limit, rng);
  const test = new Set<LabelRow>();
  const byClass = new Map<string, LabelRow[]>();
  for (const r of picked) (byClass.get(r.label) ?? byClass.set(r.label, []).get(r.label)!).push(r);
  const classes = [...byClass.keys()].sort();
  if (classes.length < 2) throw new OptionError(`advise: only ${classes.length} class in the labelled images; advice needs at least 2 (class folders or a labels.csv)`);
  if (o.holdOut === 'classes') {
    if (classes.length < 4) throw new OptionError(`advise: ${classes.length} classes cannot be split into classes to tune on and held-out classes (at least 4 needed); use {{holdOut}} images`);
    const k = Math.min(classes.length - 2, Math.max(2, Math.round(HELD_SHARE * classes.length)));
    for (const c of rng.shuffle([...classes]).slice(0, k)) for (const r of byClass.get(c)!) test.add(r);
  } else {
    for (const c of classes) {
      const rs = rng.shuffle([...byClass.get(c)!]);
      // Held-out images of a class need a second one to be found; the class keeps at least one to tune on.
      if (rs.length < 3) continue;
      for (const r of rs.slice(0, Math.max(2, Math.floor(rs.length * HELD_SHARE)))) test.add(r);
    }
  }
  return picked.map((r) => ({ path: r.path, label: r.label, ...(r.domain !== undefined ? { domain: r.domain } : {}), split: !test.has(r) ? 'train' : o.queryDomains ? (o.queryDomains.has(r.domain ?? '') ? 'query' : 'gallery') : 'test' }));
}

/** Run the comparison and rank it. */
export async function advise(dataset: string, o: AdviseOptions = {}): Promise<Advice> {
  const models = o.models?.length ? o.models : defaultAdviseModels();
  if (!models.length) throw new OptionError('advise: no backbone available (set LOOKALIKE_MODELS to a folder of models, or pass {{models}})');
  const epochs = o.epochs ?? 10;
  const seeds = o.seeds ?? 3;
  const limit = o.limit ?? 400;
  if (!Number.isInteger(seeds) || seeds < 1) throw new OptionError(`{{seeds}} ${seeds}: expected a whole number >= 1`);
  // Frozen is always measured: it is the baseline every tuned mode must beat.
  const modes = [...new Set<AdviseMode>(['frozen', ...(o.modes ?? ['tune'])])];
  const root = path.resolve(dataset);
  const home = path.join(os.homedir(), '.cache', 'lookalike');
  const store = path.resolve(o.store ?? path.join(home, 'advise'));
  const base = `advise-${path.basename(root).replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const seed0 = o.seed ?? 0;
  const { rows, held } = adviseRows(root, o.log);
  // Drawn like the test it predicts: the set's own test rows say whether new classes or new images of seen classes are asked.
  const trainClasses = new Set(rows.map((r) => r.label));
  const seenTest = Boolean(held?.length) && held!.some((r) => trainClasses.has(r.label));
  const holdOut = o.holdOut ?? (seenTest ? 'images' : 'classes');
  // Cross-domain: queries of the domains the set's own queries come from (else the first domain) rank the other domains.
  const domains = [...new Set(rows.map((r) => r.domain).filter((d): d is string => d !== undefined))].sort();
  const heldQueries = new Set(held?.filter((r) => r.split === 'query').map((r) => r.domain ?? '') ?? []);
  const heldGallery = new Set(held?.filter((r) => r.split === 'gallery').map((r) => r.domain ?? '') ?? []);
  const autoCross = heldQueries.size > 0 && ![...heldQueries].some((d) => d === '' || heldGallery.has(d));
  const protocol = o.protocol ?? (autoCross ? 'cross-domain' : 'leave-one-out');
  if (protocol === 'cross-domain' && domains.length < 2) throw new OptionError('{{protocol}} cross-domain: the labels need a domain column with at least 2 domains');
  const queryDomains = protocol === 'cross-domain' ? (autoCross ? heldQueries : new Set([domains[0]])) : undefined;
  const design = `${holdOut === 'classes' ? 'half of the classes held out (class-disjoint)' : 'half of each class\'s images held out (seen classes)'}, ${queryDomains ? `queries of domain ${[...queryDomains].join('/')} rank the other domains` : 'leave-one-out'}; at most ${limit} labelled images per split`;
  const defaults = { headType: String(TUNE_DEFAULTS.headType), loss: String(TUNE_DEFAULTS.loss) };
  const modeOf = (m: AdviseMode) =>
    m === 'frozen' ? 'frozen' : m === 'projection' ? { name: 'projection', kind: 'projection', loss: 'supcon', epochs, patience: 3 } : { name: 'tune', kind: 'tune', headType: defaults.headType, loss: defaults.loss, epochs, patience: 3 };
  fs.mkdirSync(store, { recursive: true });
  let c: ExperimentConfig | undefined;
  const bySplit: RunRecord[][] = [];
  const skippedRecords: RunRecord[] = [];
  const splits: AdviseSplit[] = [];
  for (let i = 0; i < seeds; i++) {
    const seed = seed0 + i;
    const name = seeds === 1 ? base : `${base}-seed${seed}`;
    const drawn = drawSplit(rows, { seed, limit, holdOut, queryDomains });
    const labels = path.join(store, `${name}-labels.csv`);
    const test = path.join(store, `${name}-test.csv`);
    writeLabelRows(labels, drawn);
    const heldRows = drawn.filter((r) => r.split !== 'train');
    writeLabelRows(test, heldRows.map((r) => (queryDomains ? r : { ...r, split: undefined })));
    splits.push({ seed, labels, test, train: drawn.length - heldRows.length, held: heldRows.length });
    const raw = {
      name,
      store,
      cache: o.cache ?? path.join(home, 'embeddings'),
      seed,
      metrics: ['mmp@5', 'mr@1'],
      models: models.map((m) => ({ name: path.basename(m).replace(/\.(onnx|json)$/, '').replace(/[^A-Za-z0-9._-]/g, '_'), model: path.isAbsolute(m) || !/[/\\]/.test(m) ? m : path.resolve(m) })),
      datasets: [{ name: 'data', path: root, protocol, labels }],
      modes: modes.map(modeOf),
    };
    c = checkConfig(raw, path.join(process.cwd(), 'advise.yaml'));
    const r = await runExperiment(c, { quiet: o.quiet, log: o.log });
    const all = r.planned.map((p) => p.plan.id);
    const records = readRuns(path.join(c.store, c.name)).filter((x) => all.includes(x.id));
    bySplit.push(records.filter((x) => x.status === 'finished' && Number.isFinite(x.metrics['mmp@5'])));
    if (i === 0) skippedRecords.push(...records.filter((x) => x.status !== 'finished'));
  }
  // A (model, mode) counts only when it finished on every split.
  const keys = [...new Set(bySplit[0].map((x) => `${x.model.name}\u0000${x.mode.name}`))].filter((k) => bySplit.every((runs) => runs.some((x) => `${x.model.name}\u0000${x.mode.name}` === k)));
  if (!keys.length) throw new Error(`advise: no run finished on every split (${skippedRecords.map((x) => `${x.id}: ${x.reason}`).join('; ') || 'see the run store'})`);
  const runsOf = (k: string) => bySplit.map((runs) => runs.find((x) => `${x.model.name}\u0000${x.mode.name}` === k)!);
  const mean = (v: number[]) => v.reduce((t, x) => t + x, 0) / v.length;
  const sd = (v: number[]) => (v.length < 2 ? 0 : Math.sqrt(v.reduce((t, x) => t + (x - mean(v)) ** 2, 0) / (v.length - 1)));
  const ranked: AdviseRow[] = keys.map((k) => {
    const runs = runsOf(k);
    const x = runs[0];
    const scores = runs.map((r) => r.metrics['mmp@5']);
    const row: AdviseRow = { rank: 0, model: x.model.name, mode: x.mode.name, 'mmp@5': mean(scores), 'mr@1': mean(runs.map((r) => r.metrics['mr@1'])), 'mmp@5_sd': sd(scores), eligible: x.mode.name === 'frozen', splits: scores, images_per_s: x.timings.embed_images_per_s, dim: x.model.dim, peak_rss_mb: x.timings.peak_rss_mb, commands: [], run: x };
    const frozenKey = `${x.model.name}\u0000frozen`;
    if (x.mode.name !== 'frozen' && keys.includes(frozenKey)) {
      const frozen = runsOf(frozenKey).map((r) => r.metrics['mmp@5']);
      const diffs = scores.map((v, j) => v - frozen[j]);
      row.margin = mean(diffs);
      row.noise = diffs.length < 2 ? Infinity : sd(diffs);
      row.eligible = row.margin > 0 && row.margin > row.noise;
    }
    return row;
  });
  // Rank by mean mmp@5; within 0.5 points, the faster backbone first.
  ranked.sort((a, b) => (Math.abs(a['mmp@5'] - b['mmp@5']) > 0.005 ? b['mmp@5'] - a['mmp@5'] : (b.images_per_s ?? 0) - (a.images_per_s ?? 0)));
  ranked.forEach((x, i) => (x.rank = i + 1));
  for (const x of ranked) x.commands = reproduce(x, { root, model: c!.models.find((m) => m.name === x.model)!.model, split: splits[0], epochs, valRule: x.run.extra?.split_rule as string | undefined, crossDomain: Boolean(queryDomains), headType: defaults.headType, loss: defaults.loss });
  const best = ranked.find((x) => x.eligible) ?? ranked[0];
  return { dataset, rows: ranked, recommended: best, commands: best.commands, seeds, splits, design, skipped: skippedRecords.map((x) => ({ model: x.model.name, mode: x.mode.name, reason: x.reason ?? x.status })) };
}

/**
 * The commands that rerun a row on one split exactly as advise measured it: tune on that split's
 * labels file (its held-out rows are left out by tune) with the same options, validation rule and
 * seed, written even if tune's own validation check would refuse it (--keep-worse: advise measured
 * it); index the folder with the head; score the held-out rows with eval.
 */
function reproduce(best: AdviseRow, o: { root: string; model: string; split: AdviseSplit; epochs: number; valRule?: string; crossDomain: boolean; headType: string; loss: string }): string[] {
  const root = quote(o.root);
  const model = quote(o.model);
  const lkx = `${best.model}-${best.mode}.lkx`;
  const evalCmd = `lookalike eval ${lkx} --labels ${quote(o.split.test)}`;
  if (best.mode === 'frozen') return [`lookalike index ${root} --model ${model} --out ${lkx}`, evalCmd];
  const head = `${best.model}-${best.mode}-head.onnx`;
  // The validation rows of the measured run: fitHead's rule (class-disjoint or stratified 0.2 of the tune rows).
  const val = /^class-disjoint/.test(o.valRule ?? '') ? '--val-classes 0.2' : '--val-frac 0.2';
  const kind = best.mode === 'projection' ? '--head-type linear --loss supcon' : `--head-type ${o.headType} --loss ${o.loss}`;
  return [
    `lookalike tune --train ${root} --labels ${quote(o.split.labels)} --model ${model} ${kind} --epochs ${o.epochs} --patience 3 ${val}${o.crossDomain ? ' --val-cross-domain' : ''} --seed ${o.split.seed} --keep-worse --out ${head}`,
    `lookalike index ${root} --model ${model} --head ${head} --out ${lkx}`,
    evalCmd,
  ];
}
