/**
 * Experiment configs (YAML or JSON): models x datasets x modes, metrics and cut-offs. Parsed with
 * the `yaml` package (YAML 1.2, a JSON superset, so .json files read the same way); every error
 * names the file and the field. Relative paths are resolved against the config file's folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LOSS_NAMES } from '../tune/losses/index.ts';
import { checkMetricNames } from '../metrics/registry.ts';
import { normaliseKs } from '../metrics/evaluate.ts';
import { DISTILL_DEFAULTS } from '../tune/tune-options.ts';
import { yamlLib } from '../util/lazy-import.ts';
import { formatRerank, parseRerank } from '../index/rerank/options.ts';
import { parseViews } from '../models/views.ts';

/** A backbone to compare: a preset, folder or file, plus its model flags (pooling, resize...). */
export interface ModelEntry {
  name: string;
  model: string;
  /** Model flags as in the CLI, camelCase keys (pooling, resize, crop, mean, std, dtype, feature...). */
  flags: Record<string, string>;
  /** Only these datasets (default: all), e.g. a face model on the face datasets. */
  datasets?: string[];
}

/** How a dataset is evaluated. */
export type Protocol = 'leave-one-out' | 'split' | 'cross-domain' | 'competition' | 'oxford' | 'captions';

/** A dataset and its evaluation protocol. */
export interface DatasetEntry {
  name: string;
  /** Root folder; label paths are relative to it. */
  path: string;
  /** labels.csv (path,label[,domain][,split]); default <path>/labels.csv. */
  labels?: string;
  protocol: Protocol;
  /** Without a test/query split: the share of classes held out for testing (class-disjoint), default 0.5. */
  testClasses: number;
  /** competition: truth JSON (default <path>/truth.json), query and gallery folders (default test/query, test/gallery). */
  truth?: string;
  queryDir?: string;
  galleryDir?: string;
  /** oxford: folder of NAME_query/_good/_ok/_junk.txt. */
  oxford?: string;
  /** captions: the captions CSV (path,caption; paths relative to `path`), default <path>/captions.csv. */
  captions?: string;
  /** Use at most this many labelled rows (seeded sample, stratified by class); for quick runs. */
  limit?: number;
  /**
   * classes: hold out testClasses of the classes (class-disjoint) even when the labels have a split
   * column, whose test/val rows are then ordinary rows (held-out classes instead of held-out images of seen classes).
   */
  holdOut?: 'classes';
}

/** Kinds of adaptation. */
export type ModeKind = 'frozen' | 'tune' | 'projection' | 'cross' | 'search' | 'distill' | 'whiten';

/**
 * Embedding options a mode may set (`embed: {NAME: value}`): `views` (e.g. `flip,scales=0.707,1,1.414`,
 * the `--views` syntax). Each changes the rows every kind of mode starts from, so it is part of the
 * embedding cache's key and of the run's params (`embed.NAME`); src/experiments/embed.ts applies it.
 */
export const MODE_EMBED_OPTIONS: readonly string[] = ['views'];

/** Options of a whiten mode (src/tune/whiten.ts): output dimensions, shrinkage, supervised (from matching pairs of the train pool). */
export const WHITEN_MODE_OPTIONS: readonly string[] = ['dims', 'shrinkage', 'supervised'];

/** One adaptation mode; `options` are `lookalike tune` flags in camelCase (loss, epochs, lr, hidden, ...). */
export interface ModeEntry {
  name: string;
  kind: ModeKind;
  /** cross: the dataset the head is trained on (then evaluated on every other dataset). */
  train?: string;
  /** distill: the teacher backbone (a model entry of the config, or a model path/preset). */
  teacher?: ModelEntry;
  /** search: trials and the space (see src/tune/hyper-search.ts). */
  trials?: number;
  space?: Record<string, unknown>;
  /** Re-ranking of the test evaluation (`rerank: aqe+dba`, parsed by parseRerank; docs/ranking.md), any kind. */
  rerank?: string;
  /** Embedding options of this mode (MODE_EMBED_OPTIONS); empty: the backbone's own embeddings. */
  embed?: Record<string, string>;
  /** projection with `init: whiten`: the whitening's options (WHITEN_MODE_OPTIONS), learned on the head's training rows. */
  whiten?: Record<string, string | number | boolean>;
  options: Record<string, string | number | boolean>;
}

/** A parsed, checked experiment config. */
export interface ExperimentConfig {
  file: string;
  name: string;
  /** Run store folder. */
  store: string;
  /** Embedding cache folder. */
  cache: string;
  seed: number;
  /**
   * Replicates of each tuned cell (default 1): replicate i uses seed + i as its tuning seed and, from
   * i = 1, the train pool in a seeded shuffled order; the cell's metrics are the mean, metrics_sd the sample sd.
   */
  seeds: number;
  ks: number[];
  /** Metrics shown in tables and reports (all are recorded). */
  metrics: string[];
  models: ModelEntry[];
  datasets: DatasetEntry[];
  modes: ModeEntry[];
}

/** The metrics tables show when the config names none. */
export const DEFAULT_TABLE_METRICS = ['mmp@5', 'mr@1', 'precision@1', 'map@r', 'weighted_topk'];

const PROTOCOLS: Protocol[] = ['leave-one-out', 'split', 'cross-domain', 'competition', 'oxford', 'captions'];
const KINDS: ModeKind[] = ['frozen', 'tune', 'projection', 'cross', 'search', 'distill', 'whiten'];

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Parse and check a config file. */
export function readExperimentConfig(file: string): ExperimentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const { parse: parseYaml } = yamlLib();
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new Error(`${file}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
  }
  return checkConfig(data, file);
}

/** Check a parsed config object; `file` names it in errors and anchors relative paths. */
export function checkConfig(data: unknown, file: string): ExperimentConfig {
  const base = path.dirname(path.resolve(file));
  const at = (p: string) => path.resolve(base, p);
  const fail = (where: string, msg: string): never => {
    throw new Error(`${file}: ${where}: ${msg}`);
  };
  if (!isObj(data)) fail('top level', 'expected a mapping with models, datasets and modes');
  const d = data as Obj;
  const known = new Set(['name', 'store', 'cache', 'seed', 'seeds', 'ks', 'k', 'metrics', 'models', 'datasets', 'modes']);
  for (const k of Object.keys(d)) if (!known.has(k)) fail(k, `unknown field (known: ${[...known].join(', ')})`);
  const str = (v: unknown, where: string): string => (typeof v === 'string' && v !== '' ? v : fail(where, `expected a non-empty string, got ${JSON.stringify(v)}`));
  const name = d.name === undefined ? path.basename(file).replace(/\.(ya?ml|json)$/, '') : str(d.name, 'name');
  if (!NAME.test(name)) fail('name', `"${name}": use letters, digits, . _ -`);
  const list = (v: unknown, where: string): unknown[] => (Array.isArray(v) && v.length > 0 ? v : fail(where, 'expected a non-empty list'));
  const names = new Set<string>();
  const entryName = (v: unknown, where: string, what: string): string => {
    const n = str(v, `${where}.name`);
    if (!NAME.test(n)) fail(`${where}.name`, `"${n}": use letters, digits, . _ -`);
    if (names.has(`${what}:${n}`)) fail(`${where}.name`, `${what} "${n}" is listed twice`);
    names.add(`${what}:${n}`);
    return n;
  };
  const models = list(d.models, 'models').map((m, i): ModelEntry => {
    const where = `models[${i}]`;
    if (typeof m === 'string') return { name: entryName(path.basename(m).replace(/\.(onnx|json)$/, ''), where, 'model'), model: resolveModel(m, at), flags: {} };
    if (!isObj(m)) return fail(where, 'expected a model name/path or {name, model, flags}');
    const model = str(m.model, `${where}.model`);
    const flags: Record<string, string> = {};
    if (m.flags !== undefined) {
      if (!isObj(m.flags)) fail(`${where}.flags`, 'expected a mapping of model flags');
      for (const [k, v] of Object.entries(m.flags as Obj)) flags[k] = String(v);
    }
    let only: string[] | undefined;
    if (m.datasets !== undefined) {
      if (!Array.isArray(m.datasets) || !m.datasets.length) fail(`${where}.datasets`, 'expected a non-empty list of dataset names');
      only = (m.datasets as unknown[]).map((x, j) => str(x, `${where}.datasets[${j}]`));
    }
    return { name: entryName(m.name ?? path.basename(model), where, 'model'), model: resolveModel(model, at), flags, datasets: only };
  });
  const datasets = list(d.datasets, 'datasets').map((x, i): DatasetEntry => {
    const where = `datasets[${i}]`;
    if (!isObj(x)) return fail(where, 'expected {name, path, protocol}');
    const protocol = (x.protocol ?? 'leave-one-out') as Protocol;
    if (!PROTOCOLS.includes(protocol)) fail(`${where}.protocol`, `"${protocol}" (choose ${PROTOCOLS.join(', ')})`);
    const root = at(str(x.path, `${where}.path`));
    const testClasses = x.testClasses === undefined ? 0.5 : Number(x.testClasses);
    if (!(testClasses > 0 && testClasses < 1)) fail(`${where}.testClasses`, `expected a share between 0 and 1, got ${x.testClasses}`);
    const opt = (k: string) => (x[k] === undefined ? undefined : path.resolve(root, str(x[k], `${where}.${k}`)));
    const limit = x.limit === undefined ? undefined : Number(x.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 4)) fail(`${where}.limit`, `expected an integer >= 4, got ${x.limit}`);
    if (x.holdOut !== undefined && x.holdOut !== 'classes') fail(`${where}.holdOut`, `"${x.holdOut}": the only choice is classes (hold out classes even when the labels have a split column)`);
    if (x.holdOut !== undefined && !['leave-one-out', 'cross-domain'].includes(protocol)) fail(`${where}.holdOut`, `applies to the leave-one-out and cross-domain protocols, not ${protocol}`);
    if (protocol === 'oxford' && x.oxford === undefined) fail(`${where}.oxford`, 'the oxford protocol needs the ground truth folder (oxford: gt/)');
    return {
      name: entryName(x.name ?? path.basename(root), where, 'dataset'),
      path: root,
      labels: opt('labels'),
      protocol,
      testClasses,
      truth: opt('truth'),
      queryDir: opt('queryDir'),
      galleryDir: opt('galleryDir'),
      oxford: opt('oxford'),
      captions: protocol === 'captions' ? opt('captions') ?? path.join(root, 'captions.csv') : opt('captions'),
      limit,
      ...(x.holdOut ? { holdOut: 'classes' as const } : {}),
    };
  });
  const datasetNames = new Set(datasets.map((x) => x.name));
  models.forEach((m, i) => m.datasets?.forEach((n) => datasetNames.has(n) || fail(`models[${i}].datasets`, `no dataset named "${n}"`)));
  const modes = list(d.modes, 'modes').map((x, i): ModeEntry => {
    const where = `modes[${i}]`;
    if (typeof x === 'string') {
      if (x !== 'frozen' && x !== 'projection' && x !== 'whiten') fail(where, `"${x}": a bare string is only "frozen", "projection" or "whiten"; give {name, kind, ...options} otherwise`);
      return { name: entryName(x, where, 'mode'), kind: x as ModeKind, options: {} };
    }
    if (!isObj(x)) return fail(where, 'expected {name, kind, ...tune options}');
    const kind = (x.kind ?? (x.name === 'frozen' ? 'frozen' : 'tune')) as ModeKind;
    if (!KINDS.includes(kind)) fail(`${where}.kind`, `"${kind}" (choose ${KINDS.join(', ')})`);
    const options: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(x)) {
      if (['name', 'kind', 'train', 'trials', 'space', 'teacher', 'rerank', 'embed', 'whiten'].includes(k)) continue;
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') fail(`${where}.${k}`, 'expected a string, number or boolean');
      options[k] = v as string | number | boolean;
    }
    let teacher: ModelEntry | undefined;
    if (kind === 'distill') {
      const t = str(x.teacher, `${where}.teacher`);
      teacher = models.find((m) => m.name === t) ?? { name: path.basename(t).replace(/\.(onnx|json)$/, ''), model: resolveModel(t, at), flags: {} };
      for (const k of Object.keys(options)) if (!(k in DISTILL_DEFAULTS)) fail(`${where}.${k}`, `not a distill option (known: ${Object.keys(DISTILL_DEFAULTS).join(', ')})`);
      if (options.loss !== undefined && options.loss !== 'cosine' && options.loss !== 'mse') fail(`${where}.loss`, `"${options.loss}": distillation takes cosine or mse`);
      if (options.headType !== undefined && options.headType !== 'linear' && options.headType !== 'mlp') fail(`${where}.headType`, `"${options.headType}" (choose linear, mlp)`);
    } else if (x.teacher !== undefined) fail(`${where}.teacher`, 'only a distill mode has a teacher');
    const checkWhiten = (o: Obj, at: string) => {
      for (const k of Object.keys(o)) if (!WHITEN_MODE_OPTIONS.includes(k)) fail(`${at}${k}`, `not a whiten option (known: ${WHITEN_MODE_OPTIONS.join(', ')})`);
      if (o.shrinkage !== undefined && !(Number(o.shrinkage) >= 0 && Number(o.shrinkage) <= 1)) fail(`${at}shrinkage`, `expected a number from 0 to 1, got ${o.shrinkage}`);
      if (o.dims !== undefined && !(Number.isInteger(Number(o.dims)) && Number(o.dims) >= 1)) fail(`${at}dims`, `expected a whole number >= 1, got ${o.dims}`);
      if (o.supervised !== undefined && typeof o.supervised !== 'boolean') fail(`${at}supervised`, `expected true or false, got ${o.supervised}`);
    };
    if (kind === 'whiten') checkWhiten(options, `${where}.`);
    // projection from a learned whitening: init: whiten, its options in a nested whiten: mapping.
    let whiten: Record<string, string | number | boolean> | undefined;
    if (options.init === 'whiten' && kind !== 'projection') fail(`${where}.init`, `"whiten" starts a projection mode's head (kind: projection), not a ${kind} mode`);
    if (x.whiten !== undefined) {
      if (options.init !== 'whiten') fail(`${where}.whiten`, 'whitening options need init: whiten (a projection mode starting from a learned whitening)');
      if (!isObj(x.whiten)) fail(`${where}.whiten`, `expected a mapping of whiten options (${WHITEN_MODE_OPTIONS.join(', ')})`);
      checkWhiten(x.whiten as Obj, `${where}.whiten.`);
      whiten = x.whiten as Record<string, string | number | boolean>;
    }
    let rerank: string | undefined;
    if (x.rerank !== undefined) {
      rerank = str(x.rerank, `${where}.rerank`);
      try {
        const steps = parseRerank(rerank);
        rerank = steps.length ? formatRerank(steps) : undefined;
      } catch (e) {
        fail(`${where}.rerank`, (e as Error).message.replace(/^(\{\{rerank\}\}|rerank)\s*/, ''));
      }
    }
    let embed: Record<string, string> | undefined;
    if (x.embed !== undefined) {
      if (!isObj(x.embed)) fail(`${where}.embed`, 'expected a mapping of embedding options');
      embed = {};
      for (const [k, v] of Object.entries(x.embed as Obj)) {
        if (!MODE_EMBED_OPTIONS.includes(k)) fail(`${where}.embed.${k}`, MODE_EMBED_OPTIONS.length ? `not an embedding option (known: ${MODE_EMBED_OPTIONS.join(', ')})` : 'no embedding option can be set per mode in this version');
        embed[k] = String(v);
        if (k === 'views') {
          try {
            parseViews(embed[k]);
          } catch (e) {
            fail(`${where}.embed.views`, (e as Error).message.replace(/\{\{(\w+)\}\}/g, '$1'));
          }
        }
      }
    }
    if (kind !== 'distill' && kind !== 'whiten' && options.loss !== undefined && !LOSS_NAMES.includes(String(options.loss) as never)) fail(`${where}.loss`, `"${options.loss}" (choose ${LOSS_NAMES.join(', ')})`);
    const train = x.train === undefined ? undefined : str(x.train, `${where}.train`);
    if (kind === 'cross') {
      if (!train) fail(`${where}.train`, 'cross mode needs train: DATASET (the dataset the head is tuned on)');
      if (!datasetNames.has(train!)) fail(`${where}.train`, `no dataset named "${train}"`);
    }
    const trials = x.trials === undefined ? undefined : Number(x.trials);
    if (kind === 'search' && !(Number.isInteger(trials) && trials! >= 1)) fail(`${where}.trials`, 'search mode needs trials: N (a positive integer)');
    if (x.space !== undefined && !isObj(x.space)) fail(`${where}.space`, 'expected a mapping of parameter -> values or {min, max, log}');
    return { name: entryName(x.name ?? kind, where, 'mode'), kind, train, trials, space: x.space as Obj | undefined, options, ...(teacher ? { teacher } : {}), ...(rerank ? { rerank } : {}), ...(embed && Object.keys(embed).length ? { embed } : {}), ...(whiten ? { whiten } : {}) };
  });
  let ks: number[];
  try {
    const raw = d.ks ?? d.k ?? [1, 5, 10];
    ks = normaliseKs(Array.isArray(raw) ? raw.map(Number) : String(raw).split(',').map(Number));
  } catch (e) {
    return fail('ks', (e as Error).message);
  }
  const metrics = d.metrics === undefined ? DEFAULT_TABLE_METRICS : (list(d.metrics, 'metrics') as unknown[]).map((m, i) => str(m, `metrics[${i}]`));
  checkMetricNames(metrics, `${file}: metrics`);
  const seed = d.seed === undefined ? 0 : Number(d.seed);
  if (!Number.isInteger(seed)) fail('seed', `expected an integer, got ${d.seed}`);
  const seeds = d.seeds === undefined ? 1 : Number(d.seeds);
  if (!(Number.isInteger(seeds) && seeds >= 1)) fail('seeds', `expected a whole number >= 1 (replicates per cell), got ${d.seeds}`);
  return {
    file: path.resolve(file),
    name,
    store: at(d.store === undefined ? 'runs' : str(d.store, 'store')),
    cache: at(d.cache === undefined ? '.lookalike-cache' : str(d.cache, 'cache')),
    seed,
    seeds,
    ks,
    metrics,
    models,
    datasets,
    modes,
  };
}

/** A model path relative to the config, or a preset name kept as is. */
function resolveModel(m: string, at: (p: string) => string): string {
  const p = at(m);
  return /[/\\]|\.onnx$|\.json$/.test(m) || fs.existsSync(p) ? p : m;
}

/** One cell of the experiment: a model, the dataset it is evaluated on, and a mode. */
export interface RunPlan {
  /** Stable id: model__dataset__mode (the run's folder name). */
  id: string;
  model: ModelEntry;
  dataset: DatasetEntry;
  mode: ModeEntry;
  /** cross: the dataset the head is trained on. */
  trainDataset?: DatasetEntry;
}

/** Every run of the config, grouped by model (so each backbone is loaded once). */
export function planRuns(c: ExperimentConfig): RunPlan[] {
  const runs: RunPlan[] = [];
  for (const model of c.models) {
    for (const dataset of c.datasets) {
      if (model.datasets && !model.datasets.includes(dataset.name)) continue;
      for (const mode of c.modes) {
        // A backbone distilled into itself is no cell.
        if (mode.kind === 'distill' && mode.teacher!.model === model.model && JSON.stringify(mode.teacher!.flags) === JSON.stringify(model.flags)) continue;
        if (mode.kind === 'cross') {
          if (mode.train === dataset.name) continue;
          if (model.datasets && !model.datasets.includes(mode.train!)) continue;
          const trainDataset = c.datasets.find((x) => x.name === mode.train)!;
          runs.push({ id: `${model.name}__${dataset.name}__${mode.name}`, model, dataset, mode, trainDataset });
        } else runs.push({ id: `${model.name}__${dataset.name}__${mode.name}`, model, dataset, mode });
      }
    }
  }
  return runs;
}
