/**
 * Hyperparameter search for a head (`lookalike tune --search SPACE --trials N`): trials scored on
 * the validation split only, every trial a tracked run in a run store (and MLflow when
 * configured), the best retrained on train + validation rows and written as the head.
 */
import path from 'node:path';
import { peakRssMb, runEnvironment } from './environment.ts';
import { mlflowFromEnv } from './mlflow.ts';
import { writeRun, type RunRecord } from './run-records.ts';
import { headModel } from '../tune/export.ts';
import { searchHeads } from '../tune/hyper-search.ts';
import { checkSpace, readSpace, type SearchSpace } from '../tune/search-space.ts';
import { prepareTuneData, type TuneHeadOptions } from '../tune/run.ts';
import { resolveTuneValues, type TuneValues } from '../tune/tune-options.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { hashParts } from '../util/hash.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { toInteger } from '../util/options.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** Options of searchHead: tuneHead's inputs and fixed options, plus the space and the trials. */
export interface SearchHeadOptions extends Omit<TuneHeadOptions, 'head' | 'training' | 'init'> {
  /** The search space: "default", a YAML/JSON file, inline JSON, or a space object. */
  space: string | SearchSpace;
  /** Number of trials (default 10). */
  trials?: number;
  strategy?: 'random' | 'grid';
  /** Run store for the trials (default ./runs). */
  runs?: string;
}

/** What searchHead found and wrote. */
export interface SearchHeadResult {
  head: string;
  trials: { index: number; values: Record<string, unknown>; val?: Record<string, number>; best_epoch: number }[];
  best: { index: number; values: Record<string, unknown>; val?: Record<string, number>; score: number };
  retrained_epochs: number;
  runs: string;
  monitor: string;
}

/** Search tune options on the validation split, record every trial, retrain the best on train + validation rows and write it as the head. */
export async function searchHead(o: SearchHeadOptions): Promise<SearchHeadResult> {
  guardOutput(o.out, { option: 'out', kind: OUTPUT_KINDS.head, inputs: [typeof o.index === 'string' ? o.index : undefined, o.labels, o.trainDir] });
  const log = o.log ?? (() => undefined);
  const space = typeof o.space === 'string' ? readSpace(o.space) : checkSpace(o.space, 'space');
  const trials = toInteger(o.trials ?? 10, 'trials', 1);
  const strategy = o.strategy ?? 'random';
  const fixed: TuneValues = o.options ?? {};
  const v = resolveTuneValues(fixed, '');
  const seed = Number(v.seed ?? 0);
  const { pool, rule, source, model } = await prepareTuneData(o);
  const store = path.resolve(o.runs ?? 'runs');
  const experiment = 'tune-search';
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const mlflow = mlflowFromEnv();
  const base = { epochs: v.epochs, patience: v.patience, monitor: v.monitor, headType: v.headType, sampler: v.sampler, m: v.m };
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
      log(`trial ${t.index} of ${of}: ${Object.entries(t.values).map(([k, x]) => `${k}=${x}`).join(' ')}  val ${v.monitor} ${Number.isFinite(t.score) ? t.score.toFixed(4) : 'n/a'} (best epoch ${t.bestEpoch}, ${t.seconds.toFixed(1)}s)`);
    },
  });
  const meta: Record<string, string> = {
    [HEAD_META.loss]: String(r.final.values.loss),
    [HEAD_META.source]: source,
    [HEAD_META.classes]: String(r.final.classes.length),
    [HEAD_META.search]: JSON.stringify({ best_trial: r.best.index, values: r.best.values, val: r.best.val }),
    ...(model ? { [HEAD_META.model]: model } : {}),
  };
  writeFileAtomic(o.out, headModel(r.final.result.head, meta));
  return { head: o.out, trials: r.trials.map((t) => ({ index: t.index, values: t.values, val: t.val as Record<string, number> | undefined, best_epoch: t.bestEpoch })), best: { index: r.best.index, values: r.best.values, val: r.best.val as Record<string, number> | undefined, score: r.best.score }, retrained_epochs: r.final.result.epochs.length, runs: path.join(store, experiment), monitor: String(v.monitor) };
}
