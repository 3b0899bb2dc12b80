/**
 * Tune options declared once: name, type, default, choices and help of every option of a tuning
 * run. The CLI generates `lookalike tune`'s flags from TUNE_OPTIONS, experiment configs and
 * hyperparameter-search spaces are checked against it, and the library fills its defaults from
 * it. Loss and miner parameters come from the losses and miners that own them.
 */
import { didYouMean } from '../util/text.ts';
import { OptionError } from '../util/options.ts';
import { LOSS_NAMES, LOSSES } from './losses/index.ts';
import { MINERS } from './miners.ts';
import type { TrainOptions } from './train.ts';

/** Option values as they come from flags, YAML/JSON or a search space. */
export type TuneValues = Record<string, string | number | boolean | undefined>;

/** One option of a tuning run. */
export interface TuneOption {
  /** camelCase name (library, configs); the CLI flag is its kebab-case form. */
  name: string;
  kind: 'int' | 'number' | 'string' | 'boolean' | 'choice';
  default?: string | number | boolean;
  choices?: readonly string[];
  /** Smallest value (int and number). */
  min?: number;
  /** Value placeholder in help. */
  arg?: string;
  help: string;
  group: 'head' | 'training' | 'loss' | 'miner';
}

/** Every loss/miner parameter name with the losses (or miners) that read it and their defaults. */
function paramOptions(group: 'loss' | 'miner', owners: readonly { name: string; params: Record<string, { default: number; help: string }> }[]): TuneOption[] {
  const by = new Map<string, string[]>();
  for (const o of owners) for (const [p, d] of Object.entries(o.params)) by.set(p, [...(by.get(p) ?? []), `${o.name} ${d.default} (${d.help})`]);
  return [...by].map(([name, uses]) => ({ name, kind: 'number', arg: 'f', group, help: `${group} parameter: ${uses.join('; ')}` }));
}

/** Options of a distillation by name and their defaults (tune's `teacher` runs and experiments' distill mode). */
export const DISTILL_DEFAULTS: Readonly<Record<string, string | number>> = { loss: 'cosine', headType: 'mlp', hidden: '512', dropout: 0.1, epochs: 30, batchSize: 128, lr: 1e-3, weightDecay: 1e-4 };

/** The options of a tuning run, in help order. */
export const TUNE_OPTIONS: readonly TuneOption[] = [
  // Linear by default: on held-out class-level and cross-domain sets a linear projection was the only
  // head that raised weighted top-k over frozen (issue 22: 892 vs 885, 3 of 5 seeds); MLP heads
  // lowered it in 29 of 30 runs.
  { name: 'headType', kind: 'choice', arg: 'type', choices: ['linear', 'mlp'], default: 'linear', help: 'head: linear (a projection, the default) or mlp (--hidden, --dropout)', group: 'head' },
  { name: 'hidden', kind: 'string', default: '512', arg: 'widths', help: 'MLP hidden widths, 1-3 comma-separated', group: 'head' },
  { name: 'outDim', kind: 'int', min: 1, arg: 'n', help: 'embedding size of the head (default: the input size)', group: 'head' },
  { name: 'dropout', kind: 'number', default: 0.1, arg: 'p', help: 'dropout after each hidden layer', group: 'head' },
  { name: 'batchNorm', kind: 'boolean', help: 'batch norm before each hidden ReLU', group: 'head' },
  { name: 'init', kind: 'string', arg: 'file', help: "where a linear head starts: a weight matrix (.npy, float32 [D, D']) or a linear head .onnx (lookalike whiten, or tune --head-type linear: weight and bias): projection tuning", group: 'head' },
  { name: 'loss', kind: 'choice', arg: 'loss', choices: LOSS_NAMES, default: 'hybrid', help: 'training loss', group: 'training' },
  { name: 'miner', kind: 'choice', arg: 'miner', choices: MINERS.map((m) => m.name), default: 'none', help: 'pair/triplet miner for contrastive, triplet, multi-similarity', group: 'training' },
  { name: 'sampler', kind: 'choice', arg: 'sampler', choices: ['random', 'm-per-class'], default: 'm-per-class', help: 'batch sampler', group: 'training' },
  { name: 'm', kind: 'int', min: 1, default: 4, arg: 'n', help: 'items per class per batch (m-per-class)', group: 'training' },
  { name: 'batchSize', kind: 'int', min: 2, default: 128, arg: 'n', help: 'rows per batch', group: 'training' },
  { name: 'epochs', kind: 'int', min: 1, default: 30, arg: 'n', help: 'maximum epochs', group: 'training' },
  { name: 'lr', kind: 'number', default: 1e-3, arg: 'f', help: 'peak learning rate', group: 'training' },
  { name: 'minLr', kind: 'number', default: 0, arg: 'f', help: 'learning rate at the end of the cosine', group: 'training' },
  { name: 'warmup', kind: 'number', default: 0.05, arg: 'f', help: 'share of steps with linear warmup', group: 'training' },
  { name: 'optimizer', kind: 'choice', arg: 'opt', choices: ['adam', 'adamw', 'sgd'], default: 'adamw', help: 'optimiser', group: 'training' },
  { name: 'weightDecay', kind: 'number', default: 1e-4, arg: 'f', help: 'weight decay (decoupled for adamw)', group: 'training' },
  { name: 'momentum', kind: 'number', default: 0.9, arg: 'f', help: 'SGD momentum', group: 'training' },
  { name: 'accumulate', kind: 'int', min: 1, default: 1, arg: 'n', help: 'batches per optimiser step (gradient accumulation)', group: 'training' },
  { name: 'monitor', kind: 'choice', arg: 'metric', choices: ['precision@1', 'mmp@5', 'map'], default: 'mmp@5', help: 'validation metric for early stopping', group: 'training' },
  { name: 'patience', kind: 'int', min: 0, default: 5, arg: 'n', help: 'epochs without improvement before stopping (0 = never)', group: 'training' },
  { name: 'seed', kind: 'int', min: 0, arg: 'n', help: 'random seed, runs repeat exactly (default 0; an experiment\'s own seed)', group: 'training' },
  ...paramOptions('loss', LOSSES),
  ...paramOptions('miner', MINERS),
];

const BY_NAME = new Map(TUNE_OPTIONS.map((o) => [o.name, o]));

/** The defaults of a tuning run (options without a default are unset). */
export const TUNE_DEFAULTS: Readonly<Record<string, string | number | boolean>> = Object.fromEntries(TUNE_OPTIONS.filter((o) => o.default !== undefined).map((o) => [o.name, o.default!]));

/** Option names a mode or search space may set. */
export const TUNE_OPTION_NAMES: readonly string[] = TUNE_OPTIONS.map((o) => o.name);

/** One value checked and converted to the option's type. */
function convert(o: TuneOption, v: string | number | boolean, where: string): string | number | boolean {
  const bad = (why: string) => new OptionError(`${where ? `${where}: ` : ''}{{${o.name}}} ${v}: ${why}`);
  switch (o.kind) {
    case 'boolean':
      if (typeof v === 'boolean') return v;
      if (v === 'true' || v === 'false') return v === 'true';
      throw bad('expected true or false');
    case 'choice':
      if (!o.choices!.includes(String(v))) throw bad(`expected one of ${o.choices!.join(', ')}${didYouMean(String(v), o.choices!)}`);
      return String(v);
    case 'string':
      return String(v);
    case 'int':
    case 'number': {
      const n = typeof v === 'number' ? v : String(v).trim() === '' ? NaN : Number(v);
      if (!Number.isFinite(n)) throw bad('not a number');
      if (o.kind === 'int' && !Number.isInteger(n)) throw bad('expected an integer');
      if (o.min !== undefined && n < o.min) throw bad(`expected ${o.kind === 'int' ? 'an integer' : 'a number'} >= ${o.min}`);
      return n;
    }
  }
}

/** Options merged over the defaults and checked: unknown names (with a did-you-mean), types, choices and minimums are errors naming `where`. */
export function resolveTuneValues(values: TuneValues, where: string): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = { ...TUNE_DEFAULTS };
  for (const [k, v] of Object.entries(values)) {
    const o = BY_NAME.get(k);
    if (!o) throw new OptionError(`${where ? `${where}: ` : ''}unknown tune option "${k}"${didYouMean(k, TUNE_OPTION_NAMES)} (known: ${TUNE_OPTION_NAMES.join(', ')})`);
    if (v !== undefined) out[k] = convert(o, v, where);
  }
  return out;
}

/** Head shape and training settings of resolved values (tuneHead's `head` and `training`). */
export function headAndTraining(v: Record<string, string | number | boolean>, where: string): { head: { kind: 'linear' | 'mlp'; hidden: number[]; outputDim?: number; dropout: number; batchNorm: boolean }; training: Omit<TrainOptions, 'head' | 'init'> } {
  const n = (k: string) => (v[k] === undefined ? undefined : Number(v[k]));
  const kind = String(v.headType) as 'linear' | 'mlp';
  const hidden = kind === 'mlp' ? String(v.hidden).split(/[,-]/).map((s) => Number(s.trim())) : [];
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new OptionError(`${where ? `${where}: ` : ''}{{hidden}} ${v.hidden}: expected widths like 512 or 512,256`);
  return {
    head: { kind, hidden, outputDim: n('outDim'), dropout: n('dropout')!, batchNorm: Boolean(v.batchNorm) },
    training: {
      loss: String(v.loss),
      lossOptions: Object.fromEntries(LOSSES.flatMap((l) => Object.keys(l.params)).map((p) => [p, n(p)])),
      miner: String(v.miner) as TrainOptions['miner'],
      minerOptions: { margin: n('minerMargin'), hardStart: n('hardStart'), hardEnd: n('hardEnd') },
      sampler: String(v.sampler) as TrainOptions['sampler'],
      m: n('m')!,
      batchSize: n('batchSize')!,
      epochs: n('epochs')!,
      lr: n('lr')!,
      minLr: n('minLr'),
      warmup: n('warmup'),
      optimizer: String(v.optimizer) as TrainOptions['optimizer'],
      weightDecay: n('weightDecay')!,
      momentum: n('momentum'),
      accumulate: n('accumulate')!,
      monitor: String(v.monitor) as TrainOptions['monitor'],
      patience: n('patience')!,
      seed: n('seed') ?? 0,
    },
  };
}

/** TrainOptions from resolved values, for embeddings of `dim` and `numClasses` training classes (experiments, search trials). */
export function trainOptionsFrom(v: Record<string, string | number | boolean>, dim: number, numClasses: number, seed: number, where: string): TrainOptions {
  const { head, training } = headAndTraining(v, where);
  const o: TrainOptions = { ...training, head: { ...head, outputDim: head.outputDim ?? dim }, seed: v.seed !== undefined ? Number(v.seed) : seed };
  // A grid or a config may combine a batch size and m that do not divide: the batch is rounded
  // down to whole classes and capped at the classes available (recorded in the run's params).
  if (o.sampler === 'm-per-class') {
    if (o.batchSize % o.m !== 0) o.batchSize = Math.max(o.m, Math.floor(o.batchSize / o.m) * o.m);
    if (o.batchSize / o.m > numClasses) o.batchSize = numClasses * o.m;
  }
  return o;
}
