/**
 * Fit a head on a labelled pool: split off validation rows by the rule, encode the classes, build
 * TrainOptions from key/value options and train. Only the pool is passed in, so whatever calls this
 * (experiments, hyperparameter search) cannot show the trainer its test rows.
 */
import { Rng } from '../util/random.ts';
import { encodeLabels, splitRows, subset, type Labelled, type SplitRule } from './data.ts';
import { resolveTuneValues, trainOptionsFrom, type TuneValues } from './tune-options.ts';
import { train, type EpochLog, type TrainOptions, type TrainResult } from './train.ts';

/** A fitted head with what it was trained on. */
export interface Fit {
  result: TrainResult;
  options: TrainOptions;
  values: Record<string, string | number | boolean>;
  /** Class names in classifier order. */
  classes: string[];
  trainRows: number;
  valRows: number;
  rule: string;
}

/** Options for fitHead. */
export interface FitOptions {
  seed: number;
  valCrossDomain?: boolean;
  /** Initial matrix of a linear head (projection tuning), or a function giving it from the training rows (validation rows left out). */
  init?: TrainOptions['init'] | ((train: Labelled) => TrainOptions['init']);
  onEpoch?: (e: EpochLog) => void;
  /** Name used in errors. */
  where?: string;
}

/** Split the pool, train a head with the given options (merged over tune's defaults), return the fit. */
export async function fitHead(pool: Labelled, rule: SplitRule, values: TuneValues, o: FitOptions): Promise<Fit> {
  const where = o.where ?? 'tune';
  const v = resolveTuneValues(values, where);
  const split = splitRows(pool, rule, new Rng(o.seed));
  const tr = subset(pool, split.train);
  const va = split.val.length >= 2 ? subset(pool, split.val) : undefined;
  const { names, index } = encodeLabels(tr.labels);
  if (names.length < 2) throw new Error(`${where}: training needs at least 2 classes, found ${names.length}`);
  const options = trainOptionsFrom(v, pool.dim, names.length, o.seed, where);
  const init = typeof o.init === 'function' ? o.init(tr) : o.init;
  if (init) {
    options.head = { ...options.head, kind: 'linear', hidden: [] };
    options.init = init;
    options.head.outputDim = init.weight.length / pool.dim;
  }
  options.onEpoch = o.onEpoch;
  const result = await train(
    { vectors: tr.vectors, dim: tr.dim, labels: index, numClasses: names.length },
    va ? { vectors: va.vectors, dim: va.dim, labels: va.labels, domains: va.domains, ids: va.ids, crossDomain: o.valCrossDomain } : undefined,
    options,
  );
  return { result, options, values: v, classes: names, trainRows: tr.labels.length, valRows: va?.labels.length ?? 0, rule: split.rule };
}
