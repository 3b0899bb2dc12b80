/** `lookalike tune --search SPACE --trials N`: hyperparameter search on the validation split, every trial a tracked run, the best retrained and written as the head. */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { peakRssMb, runEnvironment } from '../experiments/environment.ts';
import { mlflowFromEnv } from '../experiments/mlflow.ts';
import { writeRun, type RunRecord } from '../experiments/run-records.ts';
import type { Labelled, SplitRule } from '../tune/data.ts';
import { headModel } from '../tune/export.ts';
import { checkSpace, DEFAULT_SPACE, searchHeads, type SearchSpace } from '../tune/hyper-search.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { hashParts } from '../util/hash.ts';
import { printJson } from './options.ts';

/** Flags the search reads. */
export interface SearchFlags {
  search: string;
  trials: string;
  strategy?: string;
  runs?: string;
  out: string;
  epochs: string;
  patience: string;
  monitor: string;
  headType: string;
  sampler: string;
  m: string;
  valCrossDomain?: boolean;
  json?: boolean;
}

/** Read a search space: "default", a YAML/JSON file, or inline JSON. */
export function readSpace(arg: string): SearchSpace {
  if (arg === 'default') return DEFAULT_SPACE;
  let data: unknown;
  if (fs.existsSync(arg)) {
    try {
      data = parseYaml(fs.readFileSync(arg, 'utf8'));
    } catch (e) {
      throw new Error(`${arg}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    return checkSpace(data, arg);
  }
  try {
    data = JSON.parse(arg);
  } catch {
    throw new Error(`--search ${arg}: no such file, and not inline JSON (give a YAML/JSON space file, inline JSON, or "default")`);
  }
  return checkSpace(data, '--search');
}

/** Run the search on the pool (train + validation rows only) and write the best head. */
export async function runTuneSearch(o: SearchFlags, pool: Labelled, rule: SplitRule, seed: number, source: string, model: string | undefined, log: (s: string) => void): Promise<void> {
  const space = readSpace(o.search);
  const trials = Number(o.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials ${o.trials}: expected a positive integer`);
  const strategy = o.strategy === 'grid' ? 'grid' : 'random';
  const store = path.resolve(o.runs ?? 'runs');
  const experiment = 'tune-search';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const mlflow = mlflowFromEnv();
  const base = { epochs: Number(o.epochs), patience: Number(o.patience), monitor: o.monitor, headType: o.headType, sampler: o.sampler, m: Number(o.m) };
  const r = await searchHeads(pool, rule, {
    space,
    trials,
    strategy,
    base,
    seed,
    valCrossDomain: o.valCrossDomain,
    onTrial: async (t, of) => {
      const id = `${stamp}__trial-${String(t.index).padStart(2, '0')}`;
      const params = Object.fromEntries(Object.entries(t.values).map(([k, v]) => [`tune.${k}`, v as string | number | boolean]));
      const rec: RunRecord = {
        format: 'lookalike-run',
        version: 1,
        id,
        experiment,
        status: 'finished',
        model: { name: model ?? 'unknown', ref: model ?? '' , dim: pool.dim },
        dataset: { name: path.basename(source), path: path.resolve(source), protocol: 'validation split' },
        mode: { name: `trial ${t.index}`, kind: 'trial' },
        params: { ...params, seed, strategy, trials },
        params_hash: hashParts(JSON.stringify(params)).slice(0, 16),
        metrics: Object.fromEntries(Object.entries(t.val ?? {}).map(([k, v]) => [`val_${k}`, v])),
        extra: { best_epoch: t.bestEpoch },
        epochs: t.fit.result.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, lr: e.lr, seconds: e.seconds, val: e.val as unknown as Record<string, number> | undefined })),
        timings: { total_seconds: t.seconds, seconds_per_epoch: t.fit.result.secondsPerEpoch, train_seconds: t.seconds, peak_rss_mb: peakRssMb() },
        counts: { queries: t.val ? (t.val.queries ?? 0) : 0, gallery: 0, train: t.fit.trainRows, val: t.fit.valRows },
        command: process.argv.slice(1),
        cwd: process.cwd(),
        environment: runEnvironment(),
        artefacts: {},
        started: new Date(Date.now() - t.seconds * 1000).toISOString(),
        finished: new Date().toISOString(),
      };
      writeRun(path.join(store, experiment, id), rec);
      if (mlflow) await mlflow.logRun(rec, path.join(store, experiment, id)).catch((e: Error) => log(`warning: trial ${t.index} not logged to MLflow: ${e.message}`));
      log(`trial ${t.index} of ${of}: ${Object.entries(t.values).map(([k, v]) => `${k}=${v}`).join(' ')}  val ${o.monitor} ${Number.isFinite(t.score) ? t.score.toFixed(4) : 'n/a'} (best epoch ${t.bestEpoch}, ${t.seconds.toFixed(1)}s)`);
    },
  });
  const meta: Record<string, string> = {
    'lookalike.loss': String(r.final.values.loss),
    'lookalike.source': source,
    'lookalike.classes': String(r.final.classes.length),
    'lookalike.search': JSON.stringify({ best_trial: r.best.index, values: r.best.values, val: r.best.val }),
    ...(model ? { 'lookalike.model': model } : {}),
  };
  writeFileAtomic(o.out, headModel(r.final.result.head, meta));
  const summary = { head: o.out, trials: r.trials.map((t) => ({ index: t.index, values: t.values, val: t.val, best_epoch: t.bestEpoch })), best: { index: r.best.index, values: r.best.values, val: r.best.val }, retrained_epochs: r.final.result.epochs.length, runs: path.join(store, experiment) };
  if (o.json) return printJson(summary);
  process.stdout.write(`best trial ${r.best.index} of ${r.trials.length}: ${Object.entries(r.best.values).map(([k, v]) => `${k}=${v}`).join(' ')} (val ${o.monitor} ${r.best.score.toFixed(4)})\n${o.out}: retrained on train + validation rows for ${r.final.result.epochs.length} epochs; trials in ${path.join(store, experiment)}\n`);
}
