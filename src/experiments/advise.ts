/**
 * `lookalike advise DATASET`: measure every available backbone x a small mode list on a labelled
 * sample of the user's images (held-out classes or the split column's test rows), rank by mmp@5
 * and cost, recommend one, and give the command that reproduces it. Runs through the experiment
 * runner, so embeddings are cached and a second call re-embeds nothing.
 */
import os from 'node:os';
import path from 'node:path';
import { presetRows } from '../models/catalog.ts';
import { checkConfig, type ExperimentConfig } from './experiment-config.ts';
import { runExperiment } from './runner.ts';
import type { RunRecord } from './run-records.ts';
import { OptionError } from '../util/options.ts';

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
  log?: (s: string) => void;
  quiet?: boolean;
}

/** One ranked option. */
export interface AdviseRow {
  rank: number;
  model: string;
  mode: string;
  'mmp@5': number;
  'mr@1': number;
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
  skipped: { model: string; mode: string; reason: string }[];
}

/** The default backbones: available presets with an image tower, face models left out. */
export function defaultAdviseModels(): string[] {
  return presetRows().filter((r) => r.available && r.family !== 'face').map((r) => r.name);
}

function quote(s: string): string {
  return /^[\w./@:=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Run the comparison and rank it. */
export async function advise(dataset: string, o: AdviseOptions = {}): Promise<Advice> {
  const models = o.models?.length ? o.models : defaultAdviseModels();
  if (!models.length) throw new OptionError('advise: no backbone available (set LOOKALIKE_MODELS to a folder of models, or pass {{models}})');
  const epochs = o.epochs ?? 10;
  const modes = o.modes ?? ['frozen', 'tune'];
  const home = path.join(os.homedir(), '.cache', 'lookalike');
  const raw = {
    name: `advise-${path.basename(path.resolve(dataset)).replace(/[^A-Za-z0-9._-]/g, '_')}`,
    store: o.store ?? path.join(home, 'advise'),
    cache: o.cache ?? path.join(home, 'embeddings'),
    seed: o.seed ?? 0,
    metrics: ['mmp@5', 'mr@1'],
    models: models.map((m) => ({ name: path.basename(m).replace(/\.(onnx|json)$/, '').replace(/[^A-Za-z0-9._-]/g, '_'), model: path.isAbsolute(m) || !/[/\\]/.test(m) ? m : path.resolve(m) })),
    datasets: [{ name: 'data', path: path.resolve(dataset), protocol: o.protocol ?? 'leave-one-out', limit: o.limit ?? 400 }],
    modes: modes.map((m) => (m === 'frozen' ? 'frozen' : m === 'projection' ? { name: 'projection', kind: 'projection', loss: 'supcon', epochs, patience: 3 } : { name: 'tune', kind: 'tune', loss: 'hybrid', epochs, patience: 3 })),
  };
  const c: ExperimentConfig = checkConfig(raw, path.join(process.cwd(), 'advise.yaml'));
  const r = await runExperiment(c, { quiet: o.quiet, log: o.log });
  const all = r.planned.map((p) => p.plan.id);
  const { readRuns } = await import('./run-records.ts');
  const records = readRuns(path.join(c.store, c.name)).filter((x) => all.includes(x.id));
  const finished = records.filter((x) => x.status === 'finished' && Number.isFinite(x.metrics['mmp@5']));
  if (!finished.length) throw new Error(`advise: no run finished (${records.map((x) => `${x.id}: ${x.reason}`).join('; ')})`);
  // Rank by mmp@5; within 0.5 points, the faster backbone first.
  const rows = finished
    .map((x) => ({ rank: 0, model: x.model.name, mode: x.mode.name, 'mmp@5': x.metrics['mmp@5'], 'mr@1': x.metrics['mr@1'], images_per_s: x.timings.embed_images_per_s, dim: x.model.dim, peak_rss_mb: x.timings.peak_rss_mb, run: x }))
    .sort((a, b) => (Math.abs(a['mmp@5'] - b['mmp@5']) > 0.005 ? b['mmp@5'] - a['mmp@5'] : (b.images_per_s ?? 0) - (a.images_per_s ?? 0)));
  rows.forEach((x, i) => (x.rank = i + 1));
  const best = rows[0];
  const model = c.models.find((m) => m.name === best.model)!.model;
  const labels = path.join(path.resolve(dataset), 'labels.csv');
  const commands =
    best.mode === 'frozen'
      ? [`lookalike index ${quote(path.resolve(dataset))} --model ${quote(model)} --out ${best.model}.lkx`]
      : [
          `lookalike tune --train ${quote(path.resolve(dataset))} --labels ${quote(labels)} --model ${quote(model)} --loss ${best.mode === 'projection' ? 'supcon --head-type linear' : 'hybrid'} --epochs ${epochs} --patience 3 --out ${best.model}-head.onnx`,
          `lookalike index ${quote(path.resolve(dataset))} --model ${quote(model)} --head ${best.model}-head.onnx --out ${best.model}.lkx`,
        ];
  return { dataset, rows, recommended: best, commands, skipped: records.filter((x) => x.status !== 'finished').map((x) => ({ model: x.model.name, mode: x.mode.name, reason: x.reason ?? x.status })) };
}

/** The ranked table as text. */
export function formatAdvice(a: Advice): string {
  const head = ['rank', 'model', 'mode', 'mmp@5', 'mr@1', 'images/s', 'dim', 'peak MiB'];
  const rows = a.rows.map((r) => [String(r.rank), r.model, r.mode, r['mmp@5'].toFixed(4), r['mr@1'].toFixed(4), r.images_per_s?.toFixed(1) ?? '-', String(r.dim ?? '-'), r.peak_rss_mb?.toFixed(0) ?? '-']);
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
    `recommended: ${r.model} (${r.mode}): mmp@5 ${r['mmp@5'].toFixed(4)} on held-out images${r.images_per_s ? `, ${r.images_per_s.toFixed(1)} images/s` : ''}${r.dim ? `, ${r.dim}-d` : ''}`,
    'reproduce with:',
    ...a.commands.map((c) => `  ${c}`),
  ].join('\n') + '\n';
}
