/**
 * `lookalike experiment`: run every cell of a config. Backbones are loaded once per model; each
 * (model, dataset) is embedded once through the embedding cache; finished runs (run.json with the
 * same parameter hash) are skipped, so an interrupted experiment resumes where it stopped.
 */
import path from 'node:path';
import type { Backbone } from '../models/backbone.ts';
import { loadBackbone } from '../models/load.ts';
import { specOverrides, type ModelSettings } from '../models/settings.ts';
import { config as runtime } from '../util/config.ts';
import { crashPoint } from '../util/atomic.ts';
import { hashParts } from '../util/hash.ts';
import { formatSeconds, Progress } from '../util/progress.ts';
import { resolveTuneValues } from '../tune/tune-options.ts';
import { EmbeddingCache } from './cache.ts';
import { planRuns, type ExperimentConfig, type ModelEntry, type RunPlan } from './experiment-config.ts';
import { loadDataset, type DatasetData } from './datasets.ts';
import { embedDataset, type DatasetEmbedding } from './embed.ts';
import { peakRssMb, runEnvironment } from './environment.ts';
import { NotApplicable, runMode } from './modes.ts';
import { loadTextEncoder, type TextEncoder } from '../models/text-encoder.ts';
import { notApplicable } from './applicable.ts';
import { readProjection } from '../models/projection.ts';
import { experimentDir, readRun, readRuns, writeRun, writeSummaryCsv, type RunRecord } from './run-records.ts';
import { DISTILL_DEFAULTS } from '../tune/tune-options.ts';

/** Options of runExperiment. */
export interface RunOptions {
  /** Only list the runs. */
  dryRun?: boolean;
  /** Quiet progress (no TTY lines). */
  quiet?: boolean;
  /** One line per event (run finished, embedding...). */
  log?: (line: string) => void;
  /** The command line recorded in every run. */
  command?: string[];
  /** Called with every written run record (the MLflow logger). */
  onRecord?: (r: RunRecord, dir: string) => Promise<void>;
  /** Run again even when a finished run exists. */
  force?: boolean;
}

/** A planned run and whether it will run. */
export interface PlannedRun {
  plan: RunPlan;
  params: Record<string, string | number | boolean>;
  hash: string;
  done: boolean;
}

/** What an experiment did. */
export interface ExperimentResult {
  planned: PlannedRun[];
  records: RunRecord[];
  ran: number;
  skipped: number;
  embeddedNow: number;
  fromCache: number;
  seconds: number;
}

/** The embedding cache key of rows embedded with a mode's embedding options: the backbone's fingerprint alone without any. */
export function embedCacheKey(fingerprint: string, embed?: Record<string, string>): string {
  const entries = Object.entries(embed ?? {}).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return entries.length ? hashParts(fingerprint, JSON.stringify(entries)) : fingerprint;
}

/** Mode kinds whose result depends on the seed and the input order (a seeds: N config replicates them); frozen and whiten are deterministic. */
export const SEEDED_KINDS: readonly string[] = ['tune', 'projection', 'cross', 'search', 'distill'];

/** How many replicates a cell runs: the config's seeds for a seeded kind, else 1. */
export function replicatesOf(c: ExperimentConfig, p: RunPlan): number {
  return SEEDED_KINDS.includes(p.mode.kind) ? c.seeds : 1;
}

/** Mean and sample standard deviation (n - 1) of each metric every replicate reports. */
export function meanAndSd(runs: readonly Record<string, number>[]): { mean: Record<string, number>; sd: Record<string, number> } {
  const mean: Record<string, number> = {};
  const sd: Record<string, number> = {};
  const n = runs.length;
  for (const k of Object.keys(runs[0] ?? {})) {
    const xs = runs.map((r) => r[k]);
    if (!xs.every((x) => Number.isFinite(x))) continue;
    const m = xs.reduce((a, b) => a + b, 0) / n;
    mean[k] = m;
    sd[k] = n < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1));
  }
  return { mean, sd };
}

/** Flat parameters of a run (what makes it the run it is). */
export function runParams(c: ExperimentConfig, p: RunPlan): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {
    model: p.model.model,
    dataset: p.dataset.path,
    protocol: p.dataset.protocol,
    test_classes: p.dataset.testClasses,
    mode: p.mode.kind,
    seed: c.seed,
    ks: c.ks.join(','),
  };
  if (p.dataset.limit) out.limit = p.dataset.limit;
  if (p.dataset.holdOut) out.hold_out = p.dataset.holdOut;
  if (replicatesOf(c, p) > 1) out.seeds = replicatesOf(c, p);
  if (p.mode.rerank) out.rerank = p.mode.rerank;
  for (const [k, v] of Object.entries(p.mode.embed ?? {})) out[`embed.${k}`] = v;
  if (p.dataset.protocol === 'captions') out.captions = p.dataset.captions!;
  for (const [k, v] of Object.entries(p.model.flags)) out[`model.${k}`] = v;
  if (p.trainDataset) out.train_dataset = p.trainDataset.path;
  if (p.mode.kind === 'distill') {
    const t = p.mode.teacher!;
    out['distill.teacher'] = t.model;
    for (const [k, v] of Object.entries(t.flags)) out[`teacher.${k}`] = v;
    for (const [k, v] of Object.entries({ ...DISTILL_DEFAULTS, ...p.mode.options })) out[`distill.${k}`] = v;
  } else if (p.mode.kind === 'whiten') {
    for (const [k, v] of Object.entries(p.mode.options)) out[`whiten.${k}`] = v;
  } else if (p.mode.kind !== 'frozen') {
    const { strategy, ...rest } = p.mode.options;
    const values = resolveTuneValues(p.mode.kind === 'projection' ? { ...rest, headType: 'linear', init: undefined } : rest, `mode ${p.mode.name}`);
    for (const [k, v] of Object.entries(values)) out[`tune.${k}`] = v;
    if (p.mode.kind === 'projection' && p.mode.options.init !== undefined) out['tune.init'] = String(p.mode.options.init);
    for (const [k, v] of Object.entries(p.mode.whiten ?? {})) out[`whiten.${k}`] = v;
    if (p.mode.kind === 'search') {
      out['search.trials'] = p.mode.trials!;
      out['search.strategy'] = String(strategy ?? 'random');
      out['search.space'] = JSON.stringify(p.mode.space ?? 'default');
    }
  }
  return out;
}

/** The runs of a config with their state in the store. */
export function planExperiment(c: ExperimentConfig): PlannedRun[] {
  const dir = experimentDir(c.store, c.name);
  return planRuns(c).map((plan) => {
    const params = runParams(c, plan);
    const hash = hashParts(JSON.stringify(params)).slice(0, 16);
    const prev = readRun(path.join(dir, plan.id));
    return { plan, params, hash, done: Boolean(prev && prev.params_hash === hash && prev.status !== 'failed') };
  });
}

/** A model's pre-projection backbone and its pretrained projection matrix (inputDim x outputDim). */
interface PreProjection {
  backbone: Backbone;
  weight: Float32Array;
  embeddingOf: (dataset: string, embed?: Record<string, string>) => Promise<DatasetEmbedding>;
}

/**
 * Open the pre-projection feature of a model (CLIP: pooler_output) and read the projection that maps
 * it to the model's embedding (image_embeds) from the ONNX graph. One-line errors name the model
 * and suggest init: identity when there is no such projection.
 */
export async function openPreProjection(p: RunPlan, main: Backbone): Promise<Omit<PreProjection, 'embeddingOf'>> {
  const name = p.model.name;
  if (p.model.flags.feature === 'pre-projection') throw new Error(`model ${name}: init: pretrained starts from the projected embedding; drop feature: pre-projection from the model's flags`);
  if (!main.file) throw new Error(`model ${name}: no ONNX graph to read a projection from (${main.engine ?? 'not an ONNX model'}); use init: identity`);
  const proj = readProjection(main.file, main.spec.output ?? main.outputs[0]?.name ?? '', name);
  const flags = p.model.flags as unknown as ModelSettings;
  const backbone = await loadBackbone(p.model.model, { overrides: specOverrides(flags), dtype: flags.dtype, feature: 'pre-projection' });
  if (backbone.fingerprint === main.fingerprint || backbone.spec.output !== proj.input) {
    await backbone.dispose();
    throw new Error(`model ${name}: no pre-projection feature to start from (its last layer ${proj.node} reads ${proj.input}, which is not a graph output; CLIP-like models give pooler_output -> image_embeds); use init: identity`);
  }
  return { backbone, weight: proj.weight };
}

/** Open a model entry's backbone with its flags. */
async function openBackbone(m: ModelEntry): Promise<Backbone> {
  const flags = m.flags as unknown as ModelSettings;
  if (flags.threads) runtime.threads = Number(flags.threads);
  if (flags.batch) runtime.batchSize = Number(flags.batch);
  return loadBackbone(m.model, { overrides: specOverrides(flags), dtype: flags.dtype, feature: flags.feature });
}

/** Run an experiment (or list it with dryRun). */
export async function runExperiment(c: ExperimentConfig, o: RunOptions = {}): Promise<ExperimentResult> {
  const t0 = performance.now();
  const log = o.log ?? (() => {});
  const planned = planExperiment(c);
  if (o.force) for (const p of planned) p.done = false;
  const result: ExperimentResult = { planned, records: [], ran: 0, skipped: planned.filter((p) => p.done).length, embeddedNow: 0, fromCache: 0, seconds: 0 };
  if (o.dryRun) return result;
  const dir = experimentDir(c.store, c.name);
  const datasets = new Map<string, DatasetData>();
  const dataset = (name: string) => {
    let d = datasets.get(name);
    if (!d) {
      const entry = c.datasets.find((x) => x.name === name)!;
      d = loadDataset(entry, c.seed);
      datasets.set(name, d);
      log(`dataset ${name}: ${d.description}`);
    }
    return d;
  };
  const todo = planned.filter((p) => !p.done);
  const bar = new Progress('runs', todo.length, { quiet: o.quiet });
  let index = 0;
  const env = runEnvironment();
  for (const model of c.models) {
    const mine = todo.filter((p) => p.plan.model.name === model.name);
    if (!mine.length) continue;
    const backbone = await openBackbone(model);
    const openCache = (fingerprint: string) => {
      const opened = EmbeddingCache.open(c.cache, fingerprint);
      for (const bad of opened.corrupt) log(`embedding cache: ${bad.file}: ${bad.reason}; not used (renamed to .corrupt), its images are embedded again`);
      return opened;
    };
    const cache = openCache(backbone.fingerprint);
    // Each (backbone, embedding options, dataset) is embedded once, through the embedding cache of
    // that backbone's fingerprint (with a mode's embedding options, a cache keyed by both).
    const embedder = (bb: Backbone, label: string) => {
      const caches = new Map<string, EmbeddingCache>([[bb.fingerprint, bb === backbone ? cache : openCache(bb.fingerprint)]]);
      const embedded = new Map<string, DatasetEmbedding>();
      return async (name: string, embed?: Record<string, string>) => {
        const key = embedCacheKey(bb.fingerprint, embed);
        let e = embedded.get(`${key}\u0000${name}`);
        if (!e) {
          const d = dataset(name);
          if (!caches.has(key)) caches.set(key, openCache(key));
          const ebar = new Progress(`embedding ${label} x ${name}`, d.items.length, { quiet: o.quiet });
          e = await embedDataset(d, bb, caches.get(key)!, (n) => ebar.update(n), undefined, embed);
          if (e.embeddedNow) ebar.end();
          embedded.set(`${key}\u0000${name}`, e);
          result.embeddedNow += e.embeddedNow;
          result.fromCache += e.fromCache;
          log(`embedded ${label} x ${name}: ${e.embeddedNow} now, ${e.fromCache} from the cache${e.skipped.length ? `, ${e.skipped.length} undecodable (first: ${e.skipped[0].id}: ${e.skipped[0].reason})` : ''}`);
        }
        return e;
      };
    };
    const embeddingOf = embedder(backbone, model.name);
    // distill: each teacher backbone, opened on first use (its embeddings come from its own cache).
    const teachers = new Map<string, Promise<{ backbone: Backbone; embeddingOf: (dataset: string, embed?: Record<string, string>) => Promise<DatasetEmbedding> }>>();
    const teacherOf = (t: ModelEntry) => {
      const key = JSON.stringify([t.model, t.flags]);
      let e = teachers.get(key);
      if (!e) teachers.set(key, (e = openBackbone(t).then((bb) => ({ backbone: bb, embeddingOf: embedder(bb, `${t.name} (teacher)`) }))));
      return e;
    };
    // projection with init: pretrained: the pre-projection feature and the model's projection, opened on first use.
    let pre: Promise<PreProjection> | undefined;
    const preOf = () => (pre ??= openPreProjection(mine[0].plan, backbone).then((x) => ({ ...x, embeddingOf: embedder(x.backbone, `${model.name} (pre-projection)`) })));
    // The text tower, loaded on the first captions run that needs it.
    let text: Promise<TextEncoder> | undefined;
    const textOf = () => (text ??= loadTextEncoder(model.model, { dtype: model.flags.dtype, download: false }));
    try {
      for (const p of mine) {
        index++;
        const started = new Date();
        const r0 = performance.now();
        const plan = p.plan;
        const runDir = path.join(dir, plan.id);
        let record: RunRecord;
        const base = {
          format: 'lookalike-run' as const,
          version: 1 as const,
          id: plan.id,
          experiment: c.name,
          model: { name: model.name, ref: model.model, fingerprint: backbone.fingerprint },
          dataset: { name: plan.dataset.name, path: plan.dataset.path, protocol: plan.dataset.protocol, train: plan.trainDataset?.name },
          mode: { name: plan.mode.name, kind: plan.mode.kind },
          params: p.params,
          params_hash: p.hash,
          command: o.command ?? process.argv,
          cwd: process.cwd(),
          environment: env,
          started: started.toISOString(),
        };
        let files: Record<string, string | Uint8Array> = {};
        try {
          const na = notApplicable(plan);
          if (na) throw new NotApplicable(na);
          const d = dataset(plan.dataset.name);
          const pretrained = plan.mode.kind === 'projection' && plan.mode.options.init === 'pretrained' ? await preOf() : undefined;
          // The mode's embedding options (views...) apply to every row it starts from.
          const embed = plan.mode.embed;
          const frozen = await embeddingOf(plan.dataset.name, embed);
          const v = pretrained ? await pretrained.embeddingOf(plan.dataset.name, embed) : frozen;
          const train = plan.trainDataset ? { data: dataset(plan.trainDataset.name), v: await (pretrained?.embeddingOf ?? embeddingOf)(plan.trainDataset.name, embed) } : undefined;
          const e0 = performance.now();
          const teacher = plan.mode.kind === 'distill' && d.trainPool.length ? { name: plan.mode.teacher!.name, ref: plan.mode.teacher!.model, v: await (await teacherOf(plan.mode.teacher!)).embeddingOf(plan.dataset.name) } : undefined;
          const ctx = { ks: c.ks, model: model.name, text: textOf, pretrained: pretrained && { weight: pretrained.weight, reference: frozen }, teacher };
          // seeds: N: replicate i tunes with seed + i and, from i = 1, the train pool in a shuffled order; replicate 0 is the single run.
          const n = replicatesOf(c, plan);
          const outs = [];
          for (let i = 0; i < n; i++) outs.push(await runMode(plan.mode, d, v, train, { ...ctx, seed: c.seed + i, order: i ? c.seed + i : undefined }));
          const out = outs[0];
          const agg = n > 1 ? meanAndSd(outs.map((x) => x.test.result.mean)) : undefined;
          files = out.files;
          const evalSeconds = (performance.now() - e0) / 1000 - outs.reduce((a, x) => a + (x.trainSeconds ?? 0), 0);
          record = {
            ...base,
            status: 'finished',
            dataset: { ...base.dataset, description: d.description },
            model: { ...base.model, dim: v.dim },
            metrics: agg ? agg.mean : out.test.result.mean,
            ...(agg ? { metrics_sd: agg.sd, replicates: outs.map((x, i) => ({ seed: c.seed + i, order: i ? `shuffled (seed ${c.seed + i})` : 'items', metrics: x.test.result.mean })) } : {}),
            extra: { ...out.extra, queries_skipped_no_relevant: out.test.result.queries_skipped_no_relevant.length },
            epochs: out.epochs,
            timings: {
              total_seconds: 0,
              embed_images_per_s: cache.seconds > 0 ? Math.round((cache.images / cache.seconds) * 10) / 10 : undefined,
              embed_seconds: v.seconds,
              embedded_now: v.embeddedNow,
              from_cache: v.fromCache,
              train_seconds: out.trainSeconds,
              seconds_per_epoch: out.secondsPerEpoch,
              eval_seconds: Math.max(0, evalSeconds),
              peak_rss_mb: 0,
            },
            counts: { queries: out.test.result.queries_scored, gallery: new Set(d.test.gallery).size, train: out.counts?.train, val: out.counts?.val, missing: out.test.missing },
            artefacts: Object.fromEntries(Object.keys(files).map((f) => [f.replace(/\.[^.]+$/, '').replace(/[^a-z]/g, '_'), f])),
            finished: '',
          };
          // Every search trial is a tracked run of its own (validation metrics only).
          for (const t of out.trials ?? []) {
            const tid = `${plan.id}__trial-${String(t.index).padStart(2, '0')}`;
            const tr: RunRecord = {
              ...record,
              id: tid,
              mode: { name: `${plan.mode.name} trial ${t.index}`, kind: 'trial' },
              params: { ...p.params, ...Object.fromEntries(Object.entries(t.values).map(([k, x]) => [`tune.${k}`, x as string | number | boolean])) },
              metrics: Object.fromEntries(Object.entries(t.val ?? {}).map(([k, x]) => [`val_${k}`, x])),
              extra: { best_epoch: t.bestEpoch, parent: plan.id },
              epochs: t.fit.result.epochs.map((e) => ({ epoch: e.epoch, loss: e.loss, lr: e.lr, seconds: e.seconds, val: e.val as unknown as Record<string, number> | undefined })),
              timings: { total_seconds: t.seconds, seconds_per_epoch: t.fit.result.secondsPerEpoch, train_seconds: t.seconds, peak_rss_mb: peakRssMb() },
              artefacts: {},
              finished: new Date().toISOString(),
            };
            writeRun(path.join(dir, tid), tr);
            await o.onRecord?.(tr, path.join(dir, tid));
          }
        } catch (e) {
          const msg = (e as Error).message;
          const na = e instanceof NotApplicable;
          const skip = !na && /no labels to tune on|nothing to tune on|needs at least 2 classes/.test(msg);
          record = {
            ...base,
            status: na ? 'not-applicable' : skip ? 'skipped' : 'failed',
            reason: msg,
            metrics: {},
            timings: { total_seconds: 0, peak_rss_mb: 0 },
            counts: { queries: 0, gallery: 0 },
            artefacts: {},
            finished: '',
          };
          if (!skip && !na && process.env.LOOKALIKE_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
        }
        record.timings.total_seconds = Math.round(((performance.now() - r0) / 1000) * 1000) / 1000;
        record.timings.peak_rss_mb = peakRssMb();
        record.finished = new Date().toISOString();
        writeRun(runDir, record, files);
        await o.onRecord?.(record, runDir);
        result.records.push(record);
        result.ran++;
        bar.tick();
        const shown = c.metrics.filter((m) => record.metrics[m] !== undefined).map((m) => `${m} ${record.metrics[m].toFixed(4)}`).join('  ');
        const eta = bar.enabled ? '' : `, ETA ${formatSeconds((((performance.now() - t0) / 1000) / index) * (todo.length - index))}`;
        log(`run ${index} of ${todo.length} ${plan.id}: ${record.status}${record.reason ? ` (${record.reason})` : ''} ${shown} (${formatSeconds(record.timings.total_seconds)}${eta})`);
        crashPoint(`experiment:run:${index}`);
      }
    } finally {
      await backbone.dispose();
      if (text) await (await text.catch(() => undefined))?.dispose();
      if (pre) await (await pre.catch(() => undefined))?.backbone.dispose();
      for (const t of teachers.values()) await (await t.catch(() => undefined))?.backbone.dispose();
    }
  }
  bar.end();
  writeSummaryCsv(dir, readRuns(dir).filter((r) => r.mode.kind !== 'trial'), c.metrics);
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}
