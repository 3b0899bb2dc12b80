/**
 * Hyperparameter search for heads: random or grid over a space (learning rate on a log scale,
 * hidden widths, dropout, loss and its parameters, batch size...). Each trial trains on the train
 * part of the pool and is scored on its validation part only (early stopping included); the best
 * trial's options are trained again on train + validation rows for its best epoch count. The test set never reaches this module: it takes
 * the pool (train + validation rows) and nothing else.
 */
import { Rng } from '../util/random.ts';
import type { Labelled, SplitRule } from './data.ts';
import { fitHead, type Fit } from './fit.ts';
import type { TuneValues } from './tune-options.ts';
import type { SearchSpace, SpaceDim } from './search-space.ts';

function draw(d: SpaceDim, rng: Rng): string | number | boolean {
  if (Array.isArray(d)) return d[rng.int(d.length)];
  const u = rng.next();
  let v = d.log ? Math.exp(Math.log(d.min) + u * (Math.log(d.max) - Math.log(d.min))) : d.min + u * (d.max - d.min);
  if (d.integer) v = Math.round(v);
  return Number(v.toPrecision(4));
}

/** The trials' option values: `trials` random draws, or the grid (ranges take 3 points: min, middle, max) cut to `trials`. */
export function sampleTrials(space: SearchSpace, trials: number, strategy: 'random' | 'grid', seed: number): TuneValues[] {
  const rng = new Rng(seed);
  if (strategy === 'random') return Array.from({ length: trials }, () => Object.fromEntries(Object.entries(space).map(([k, d]) => [k, draw(d, rng)])));
  const axes = Object.entries(space).map(([k, d]): [string, (string | number | boolean)[]] => {
    if (Array.isArray(d)) return [k, d];
    const mid = d.log ? Math.sqrt(d.min * d.max) : (d.min + d.max) / 2;
    return [k, [...new Set([d.min, Number(mid.toPrecision(4)), d.max].map((x) => (d.integer ? Math.round(x) : x)))]];
  });
  let grid: TuneValues[] = [{}];
  for (const [k, vals] of axes) grid = grid.flatMap((g) => vals.map((v) => ({ ...g, [k]: v })));
  return grid.slice(0, trials);
}

/** One finished trial: its options and validation metrics. */
export interface Trial {
  index: number;
  values: TuneValues;
  val?: Record<string, number>;
  score: number;
  bestEpoch: number;
  seconds: number;
  fit: Fit;
}

/** Options for searchHeads. */
export interface HeadSearchOptions {
  space: SearchSpace;
  trials: number;
  strategy?: 'random' | 'grid';
  /** Options every trial shares (epochs, patience, monitor...). */
  base?: TuneValues;
  seed: number;
  valCrossDomain?: boolean;
  onTrial?: (t: Trial, of: number) => void | Promise<void>;
}

/** Run the trials on the pool, pick the best validation score, train it again on the whole pool; returns every trial and the final fit. */
export async function searchHeads(pool: Labelled, rule: SplitRule, o: HeadSearchOptions): Promise<{ trials: Trial[]; best: Trial; final: Fit }> {
  if (rule.kind === 'none') throw new Error('search: needs validation rows to compare trials (a validation split)');
  const draws = sampleTrials(o.space, o.trials, o.strategy ?? 'random', o.seed);
  const trials: Trial[] = [];
  for (let i = 0; i < draws.length; i++) {
    const values = { ...o.base, ...draws[i] };
    const t0 = performance.now();
    const fit = await fitHead(pool, rule, values, { seed: o.seed, valCrossDomain: o.valCrossDomain, where: `search trial ${i + 1}` });
    const monitor = fit.options.monitor;
    const val = fit.result.tuned as Record<string, number> | undefined;
    const t: Trial = { index: i + 1, values, val, score: val ? val[monitor] : NaN, bestEpoch: fit.result.bestEpoch, seconds: (performance.now() - t0) / 1000, fit };
    trials.push(t);
    await o.onTrial?.(t, draws.length);
  }
  const best = trials.reduce((a, b) => (b.score > a.score || Number.isNaN(a.score) ? b : a));
  // Retrain the winner on train + validation rows for its best epoch count (no early stopping: no rows left to watch).
  const final = await fitHead(pool, { kind: 'none' }, { ...best.values, epochs: Math.max(1, best.bestEpoch), patience: 0 }, { seed: o.seed, where: 'search: best trial' });
  return { trials, best, final };
}
