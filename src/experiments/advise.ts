/**
 * `lookalike advise DATASET`: measure every available backbone x a small mode list (frozen always
 * among them) on a labelled sample of the user's images, over several splits (held-out classes
 * drawn per seed, or the split column's test rows), rank by mean mmp@5 and cost, and recommend one:
 * a tuned mode only when it beats the same backbone frozen by more than the spread of that
 * difference over the splits. Runs through the experiment runner, so embeddings are cached and a
 * second call re-embeds nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { presetRows } from '../models/catalog.ts';
import { checkConfig, type ExperimentConfig } from './experiment-config.ts';
import { runExperiment } from './runner.ts';
import type { RunRecord } from './run-records.ts';
import { OptionError } from '../util/options.ts';
import { readLabels } from '../data/labels.ts';
import { writeFileAtomic } from '../util/atomic.ts';

/** Options of advise. */
export interface AdviseOptions {
  /** Backbones to compare (presets, folders, files); default: every available image preset except face models. */
  models?: string[];
  /** Modes: frozen and a short hybrid tune by default. */
  modes?: ('frozen' | 'tune' | 'projection')[];
  /** Labelled images used at most (stratified sample), default 400. */
  limit?: number;
  /** Epochs of the tuned modes (default 10). */
  epochs?: number;
  protocol?: 'leave-one-out' | 'cross-domain' | 'split';
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
  run: RunRecord;
}

/** The advice: ranked rows, the recommendation and the commands that reproduce it. */
export interface Advice {
  dataset: string;
  rows: AdviseRow[];
  recommended: AdviseRow;
  commands: string[];
  /** Splits measured. */
  seeds: number;
  skipped: { model: string; mode: string; reason: string }[];
}

/** The default backbones: available presets with an image tower, face models left out. */
export function defaultAdviseModels(): string[] {
  return presetRows().filter((r) => r.available && r.family !== 'face').map((r) => r.name);
}

function quote(s: string): string {
  return /^[\w./@:=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A labels.csv with test rows, or with query and gallery rows, is a competition-style set: those rows are what
 * the advice must predict, so they are never sampled. Returns a labels file of the other rows
 * (written under the run store), or undefined when there are none to leave out.
 */
function trainRowsOnly(dataset: string, store: string, name: string, log?: (s: string) => void): string | undefined {
  const file = path.join(path.resolve(dataset), 'labels.csv');
  if (!fs.existsSync(file)) return undefined;
  const rows = readLabels(file);
  // Query and gallery rows together (or test rows) are a test split; a gallery column alone is not.
  const splits = new Set(rows.map((r) => r.split));
  const held = new Set(['test', ...(splits.has('query') && splits.has('gallery') ? ['query', 'gallery'] : [])]);
  const keep = rows.filter((r) => !held.has(r.split ?? ''));
  if (keep.length === rows.length) return undefined;
  if (new Set(keep.map((r) => r.label)).size < 2) throw new OptionError(`advise: ${file} has ${rows.length - keep.length} test/query/gallery rows, which advise never samples, and fewer than 2 classes besides them`);
  const out = path.join(store, `${name}-labels.csv`);
  fs.mkdirSync(store, { recursive: true });
  const cell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const hasDomain = keep.some((r) => r.domain !== undefined);
  writeFileAtomic(out, `path,label${hasDomain ? ',domain' : ''}\n${keep.map((r) => [r.path, r.label, ...(hasDomain ? [r.domain ?? ''] : [])].map(cell).join(',')).join('\n')}\n`);
  log?.(`advise: ${rows.length - keep.length} test/query/gallery rows of ${file} left out (they are what the advice predicts); measuring on the other ${keep.length}`);
  return out;
}

/** Run the comparison and rank it. */
export async function advise(dataset: string, o: AdviseOptions = {}): Promise<Advice> {
  const models = o.models?.length ? o.models : defaultAdviseModels();
  if (!models.length) throw new OptionError('advise: no backbone available (set LOOKALIKE_MODELS to a folder of models, or pass {{models}})');
  const epochs = o.epochs ?? 10;
  const seeds = o.seeds ?? 3;
  if (!Number.isInteger(seeds) || seeds < 1) throw new OptionError(`{{seeds}} ${seeds}: expected a whole number >= 1`);
  // Frozen is always measured: it is the baseline every tuned mode must beat.
  const modes = [...new Set<'frozen' | 'tune' | 'projection'>(['frozen', ...(o.modes ?? ['tune'])])];
  const home = path.join(os.homedir(), '.cache', 'lookalike');
  const base = `advise-${path.basename(path.resolve(dataset)).replace(/[^A-Za-z0-9._-]/g, '_')}`;
  const seed0 = o.seed ?? 0;
  const modeOf = (m: string) => (m === 'frozen' ? 'frozen' : m === 'projection' ? { name: 'projection', kind: 'projection', loss: 'supcon', epochs, patience: 3 } : { name: 'tune', kind: 'tune', loss: 'hybrid', epochs, patience: 3 });
  const { readRuns } = await import('./run-records.ts');
  const labelsOnly = trainRowsOnly(dataset, o.store ?? path.join(home, 'advise'), base, o.log);
  let c: ExperimentConfig | undefined;
  const bySplit: RunRecord[][] = [];
  const skippedRecords: RunRecord[] = [];
  for (let i = 0; i < seeds; i++) {
    const raw = {
      name: seeds === 1 ? base : `${base}-seed${seed0 + i}`,
      store: o.store ?? path.join(home, 'advise'),
      cache: o.cache ?? path.join(home, 'embeddings'),
      seed: seed0 + i,
      metrics: ['mmp@5', 'mr@1'],
      models: models.map((m) => ({ name: path.basename(m).replace(/\.(onnx|json)$/, '').replace(/[^A-Za-z0-9._-]/g, '_'), model: path.isAbsolute(m) || !/[/\\]/.test(m) ? m : path.resolve(m) })),
      datasets: [{ name: 'data', path: path.resolve(dataset), protocol: o.protocol ?? 'leave-one-out', limit: o.limit ?? 400, ...(labelsOnly ? { labels: labelsOnly } : {}) }],
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
  const rows: AdviseRow[] = keys.map((k) => {
    const runs = runsOf(k);
    const x = runs[0];
    const splits = runs.map((r) => r.metrics['mmp@5']);
    const row: AdviseRow = { rank: 0, model: x.model.name, mode: x.mode.name, 'mmp@5': mean(splits), 'mr@1': mean(runs.map((r) => r.metrics['mr@1'])), 'mmp@5_sd': sd(splits), eligible: x.mode.name === 'frozen', splits, images_per_s: x.timings.embed_images_per_s, dim: x.model.dim, peak_rss_mb: x.timings.peak_rss_mb, run: x };
    const frozenKey = `${x.model.name}\u0000frozen`;
    if (x.mode.name !== 'frozen' && keys.includes(frozenKey)) {
      const base = runsOf(frozenKey).map((r) => r.metrics['mmp@5']);
      const diffs = splits.map((v, i) => v - base[i]);
      row.margin = mean(diffs);
      row.noise = diffs.length < 2 ? Infinity : sd(diffs);
      row.eligible = row.margin > 0 && row.margin > row.noise;
    }
    return row;
  });
  // Rank by mean mmp@5; within 0.5 points, the faster backbone first.
  rows.sort((a, b) => (Math.abs(a['mmp@5'] - b['mmp@5']) > 0.005 ? b['mmp@5'] - a['mmp@5'] : (b.images_per_s ?? 0) - (a.images_per_s ?? 0)));
  rows.forEach((x, i) => (x.rank = i + 1));
  const best = rows.find((x) => x.eligible) ?? rows[0];
  const model = c!.models.find((m) => m.name === best.model)!.model;
  const labels = path.join(path.resolve(dataset), 'labels.csv');
  const hasLabels = fs.existsSync(labels);
  const commands =
    best.mode === 'frozen'
      ? [`lookalike index ${quote(path.resolve(dataset))} --model ${quote(model)} --out ${best.model}.lkx`]
      : [
          `lookalike tune --train ${quote(path.resolve(dataset))}${hasLabels ? ` --labels ${quote(labels)}` : ''} --model ${quote(model)} --loss ${best.mode === 'projection' ? 'supcon --head-type linear' : 'hybrid'} --epochs ${epochs} --patience 3 --seed ${seed0} --out ${best.model}-head.onnx`,
          `lookalike index ${quote(path.resolve(dataset))} --model ${quote(model)} --head ${best.model}-head.onnx --out ${best.model}.lkx`,
        ];
  return { dataset, rows, recommended: best, commands, seeds, skipped: skippedRecords.map((x) => ({ model: x.model.name, mode: x.mode.name, reason: x.reason ?? x.status })) };
}

/** The ranked table as text. */
export function formatAdvice(a: Advice): string {
  const head = ['rank', 'model', 'mode', 'mmp@5', 'mr@1', 'sd', 'vs frozen', 'images/s', 'dim', 'peak MiB'];
  const vs = (r: AdviseRow) => (r.margin === undefined ? '-' : `${r.margin >= 0 ? '+' : ''}${r.margin.toFixed(4)} ± ${Number.isFinite(r.noise!) ? r.noise!.toFixed(4) : '?'}${r.eligible ? '' : ' (not above noise)'}`);
  const rows = a.rows.map((r) => [String(r.rank), r.model, r.mode, r['mmp@5'].toFixed(4), r['mr@1'].toFixed(4), r['mmp@5_sd'].toFixed(4), vs(r), r.images_per_s?.toFixed(1) ?? '-', String(r.dim ?? '-'), r.peak_rss_mb?.toFixed(0) ?? '-']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  const r = a.recommended;
  return [
    `${a.dataset}: ${r.run.dataset.description ?? ''}`,
    '',
    line(head),
    ...rows.map(line),
    ...(a.skipped.length ? ['', ...a.skipped.map((s) => `not measured: ${s.model} / ${s.mode}: ${s.reason}`)] : []),
    '',
    `recommended: ${r.model} (${r.mode}): mmp@5 ${r['mmp@5'].toFixed(4)} ± ${r['mmp@5_sd'].toFixed(4)} on held-out images over ${a.seeds} split(s)${r.images_per_s ? `, ${r.images_per_s.toFixed(1)} images/s` : ''}${r.dim ? `, ${r.dim}-d` : ''}`,
    r.margin !== undefined
      ? `  it beats ${r.model} frozen by ${r.margin.toFixed(4)} mmp@5, more than the spread of that difference over the splits (${r.noise!.toFixed(4)})`
      : `  tuned modes are recommended only when they beat the same backbone frozen by more than the spread over the splits${a.seeds < 2 ? ' (one split: no spread, so never)' : ''}`,
    'reproduce with:',
    ...a.commands.map((c) => `  ${c}`),
  ].join('\n') + '\n';
}
