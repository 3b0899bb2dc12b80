/**
 * The run store: a folder anyone can read (docs/runs.md). One folder per run,
 * `<store>/<experiment>/<run id>/`, with run.json (params, metrics, timings, command, versions,
 * artefact names) and plain files beside it (epochs.csv, per_query.csv, rankings.json, head.onnx).
 * `<store>/<experiment>/runs.csv` is a one-row-per-run summary rewritten after each run. Every
 * write is atomic; a run folder is written in full before its run.json (the finished mark).
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic.ts';
import { readJson } from '../util/json.ts';
import type { RunEnvironment } from './environment.ts';

/** One epoch of a tuned run. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  lr: number;
  seconds: number;
  val?: Record<string, number>;
}

/** A run record (run.json). */
export interface RunRecord {
  format: 'lookalike-run';
  version: 1;
  id: string;
  experiment: string;
  /** not-applicable: the mode or model cannot apply to the dataset's protocol by design (reason says why). */
  status: 'finished' | 'skipped' | 'not-applicable' | 'failed';
  /** Why a run was skipped or failed. */
  reason?: string;
  model: { name: string; ref: string; fingerprint?: string; dim?: number };
  dataset: { name: string; path: string; protocol: string; description?: string; train?: string };
  mode: { name: string; kind: string };
  /** Flat parameters (mode options with defaults, seed, ks). */
  params: Record<string, string | number | boolean>;
  /** Hash of the parameters: a finished run with the same hash is not run again. */
  params_hash: string;
  /** Final test metrics (means over queries; with seeds: N, the mean of the replicates). */
  metrics: Record<string, number>;
  /** seeds: N (N > 1): the sample standard deviation (n - 1) of each metric over the replicates. */
  metrics_sd?: Record<string, number>;
  /** seeds: N (N > 1): each replicate's tuning seed, input order and test metrics; artefacts are replicate 0's. */
  replicates?: { seed: number; order: string; metrics: Record<string, number> }[];
  /** Validation metrics before/after tuning, classification metrics of the head, distillation agreement... */
  extra?: Record<string, unknown>;
  epochs?: EpochRecord[];
  timings: {
    total_seconds: number;
    embed_images_per_s?: number;
    embed_seconds?: number;
    embedded_now?: number;
    from_cache?: number;
    train_seconds?: number;
    seconds_per_epoch?: number;
    eval_seconds?: number;
    peak_rss_mb: number;
  };
  counts: { queries: number; gallery: number; train?: number; val?: number; missing?: number };
  command: string[];
  cwd: string;
  environment: RunEnvironment;
  /** Artefact file names, relative to the run folder. */
  artefacts: Record<string, string>;
  started: string;
  finished: string;
}

/** The folder of one experiment in a store. */
export function experimentDir(store: string, experiment: string): string {
  return path.join(store, experiment);
}

/** Read a run.json, or undefined when the run has not finished (no run.json). */
export function readRun(dir: string): RunRecord | undefined {
  const f = path.join(dir, 'run.json');
  if (!fs.existsSync(f)) return undefined;
  const r = readJson(f) as RunRecord;
  if (r?.format !== 'lookalike-run') throw new Error(`${f}: not a lookalike run record`);
  return r;
}

/** Write the run's files, then run.json last (atomic each). */
export function writeRun(dir: string, record: RunRecord, files: Record<string, string | Uint8Array> = {}): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, data] of Object.entries(files)) writeFileAtomic(path.join(dir, name), data);
  writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
}

/** Every run record under a path: a run folder, an experiment folder, or a store of experiments. */
export function readRuns(location: string): RunRecord[] {
  if (!fs.existsSync(location)) throw new Error(`${location}: no such run store, experiment or run folder`);
  const one = readRun(location);
  if (one) return [one];
  const out: RunRecord[] = [];
  const walk = (dir: string, depth: number) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const sub = path.join(dir, e.name);
      const r = readRun(sub);
      if (r) out.push(r);
      else if (depth < 2) walk(sub, depth + 1);
    }
  };
  walk(location, 0);
  return out;
}

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text of rows with the given columns. */
export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  return [columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

/** Rewrite `<experiment dir>/runs.csv`: one row per run with the key metrics and timings. */
export function writeSummaryCsv(dir: string, runs: RunRecord[], metrics: string[]): void {
  // With seeds: N, each metric gets a METRIC_sd column (sample sd over the replicates) and a seeds column.
  const sd = runs.some((r) => r.metrics_sd);
  const cols = ['id', 'status', 'model', 'dataset', 'mode', 'kind', ...(sd ? metrics.flatMap((m) => [m, `${m}_sd`]) : metrics), ...(sd ? ['seeds'] : []), 'embed_images_per_s', 'seconds_per_epoch', 'total_seconds', 'peak_rss_mb'];
  const rows = runs.map((r) => ({
    id: r.id,
    status: r.status,
    model: r.model.name,
    dataset: r.dataset.name,
    mode: r.mode.name,
    kind: r.mode.kind,
    ...Object.fromEntries(metrics.map((m) => [m, r.metrics[m]])),
    ...Object.fromEntries(metrics.map((m) => [`${m}_sd`, r.metrics_sd?.[m] ?? (r.status === 'finished' ? 0 : undefined)])),
    seeds: r.replicates?.length ?? 1,
    embed_images_per_s: r.timings.embed_images_per_s,
    seconds_per_epoch: r.timings.seconds_per_epoch,
    total_seconds: r.timings.total_seconds,
    peak_rss_mb: r.timings.peak_rss_mb,
  }));
  writeFileAtomic(path.join(dir, 'runs.csv'), toCsv(cols, rows));
}
