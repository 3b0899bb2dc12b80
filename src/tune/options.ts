/**
 * Tuning options as plain key/values (an experiment config's mode, a search trial): the same
 * names and defaults as `lookalike tune`'s flags, in camelCase, turned into TrainOptions.
 */
import { LOSS_NAMES } from './losses/index.ts';
import type { TrainOptions } from './train.ts';

/** Option values as they come from YAML/JSON or a search space. */
export type TuneValues = Record<string, string | number | boolean | undefined>;

/** The defaults of `lookalike tune`. */
export const TUNE_DEFAULTS = {
  headType: 'mlp',
  hidden: '512',
  dropout: 0.1,
  loss: 'hybrid',
  miner: 'none',
  sampler: 'm-per-class',
  m: 4,
  batchSize: 128,
  epochs: 30,
  lr: 1e-3,
  minLr: 0,
  warmup: 0.05,
  optimizer: 'adamw',
  weightDecay: 1e-4,
  momentum: 0.9,
  accumulate: 1,
  monitor: 'mmp@5',
  patience: 5,
} as const;

const KNOWN = new Set([
  ...Object.keys(TUNE_DEFAULTS),
  'outDim', 'batchNorm', 'init', 'smoothing', 'lambda', 'temperature', 'margin', 'posMargin', 'negMargin', 'scale', 'alpha', 'beta', 'base', 'hardStart', 'hardEnd', 'seed',
]);

/** Option names a mode may set. */
export const TUNE_OPTION_NAMES: readonly string[] = [...KNOWN];

function numberOf(v: unknown, name: string, where: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${where}: ${name} ${v}: not a number`);
  return n;
}

/** Options merged over the defaults, checked (unknown names and bad values are errors naming `where`). */
export function resolveTuneValues(values: TuneValues, where: string): Record<string, string | number | boolean> {
  for (const k of Object.keys(values)) if (!KNOWN.has(k)) throw new Error(`${where}: unknown tune option "${k}" (known: ${[...KNOWN].join(', ')})`);
  const out: Record<string, string | number | boolean> = { ...TUNE_DEFAULTS };
  for (const [k, v] of Object.entries(values)) if (v !== undefined) out[k] = v;
  if (!LOSS_NAMES.includes(String(out.loss) as never)) throw new Error(`${where}: loss "${out.loss}" (choose ${LOSS_NAMES.join(', ')})`);
  if (!['linear', 'mlp'].includes(String(out.headType))) throw new Error(`${where}: headType "${out.headType}" (linear or mlp)`);
  return out;
}

/** TrainOptions from resolved values, for embeddings of `dim` and `numClasses` training classes. */
export function trainOptionsFrom(v: Record<string, string | number | boolean>, dim: number, numClasses: number, seed: number, where: string): TrainOptions {
  const n = (k: string) => numberOf(v[k], k, where);
  const int = (k: string, min: number) => {
    const x = n(k)!;
    if (!Number.isInteger(x) || x < min) throw new Error(`${where}: ${k} ${v[k]}: expected an integer >= ${min}`);
    return x;
  };
  const kind = String(v.headType) as 'linear' | 'mlp';
  const hidden = kind === 'mlp' ? String(v.hidden).split(/[,-]/).map((s) => Number(s.trim())) : [];
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new Error(`${where}: hidden ${v.hidden}: expected widths like 512 or 512,256`);
  const o: TrainOptions = {
    head: { kind, hidden, outputDim: v.outDim !== undefined ? int('outDim', 1) : dim, dropout: n('dropout')!, batchNorm: Boolean(v.batchNorm) },
    loss: String(v.loss),
    lossOptions: { smoothing: n('smoothing'), lambda: n('lambda'), temperature: n('temperature'), margin: n('margin'), posMargin: n('posMargin'), negMargin: n('negMargin'), scale: n('scale'), alpha: n('alpha'), beta: n('beta'), base: n('base') },
    miner: String(v.miner) as TrainOptions['miner'],
    minerOptions: { margin: n('margin'), hardStart: n('hardStart'), hardEnd: n('hardEnd') },
    sampler: String(v.sampler) as TrainOptions['sampler'],
    m: int('m', 1),
    batchSize: int('batchSize', 2),
    epochs: int('epochs', 1),
    lr: n('lr')!,
    minLr: n('minLr'),
    warmup: n('warmup'),
    optimizer: String(v.optimizer) as TrainOptions['optimizer'],
    weightDecay: n('weightDecay')!,
    momentum: n('momentum'),
    accumulate: int('accumulate', 1),
    monitor: String(v.monitor) as TrainOptions['monitor'],
    patience: int('patience', 0),
    seed: v.seed !== undefined ? int('seed', 0) : seed,
  };
  if (o.sampler === 'm-per-class') {
    if (o.batchSize % o.m !== 0) o.batchSize = Math.max(o.m, Math.floor(o.batchSize / o.m) * o.m);
    if (o.batchSize / o.m > numClasses) o.batchSize = numClasses * o.m;
  }
  return o;
}
