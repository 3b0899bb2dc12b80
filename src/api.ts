/**
 * lookalike as a library: one function per job, typed options and results. The CLI
 * (src/cli/*) and the server (src/serve/*) are shells over this file and src/schema.ts: they
 * parse, call these functions and print (tests/fast/layers.test.ts checks that they import nothing
 * else of src/).
 *
 *   import { indexFolder, openIndex } from 'lookalike-retrieval';
 *   await indexFolder('./gallery', 'gallery.lkx', { model: 'model.onnx' });
 *   const index = await openIndex('gallery.lkx');
 *   const { hits } = await index.search({ image: './query.jpg' }, { k: 5 });
 *   await index.close();
 *
 * Options have the same names and limits everywhere (k, ef, minScore are checked once, in
 * src/util/options.ts); invalid ones throw an OptionError naming the option. Runtime options
 * (threads, device, batch size) are passed per call; unset fields fall back to the process-wide
 * `config` (environment variables).
 */
import fs from 'node:fs';
import type { EmbedItem, EmbedResult, Skipped } from './embed/pipeline.ts';
import type { CaptionEvalOptions, CaptionEvalRun } from './embed/text-queries.ts';
import type { BuildOptions, BuildReport } from './index/build.ts';
import type { CompeteFolderOptions, CompeteResult } from './index/compete.ts';
export type { CompeteFolderOptions };
import { checkIndexOut } from './index/guard.ts';
import { expandQueries, idInIndex, toSubmission } from './index/query.ts';
import { checkSearchOptions, prepareAnn, resolveFilter, searchStore, toResults, type QueryResult, type SearchMode } from './index/search.ts';
import { combineExamples, excludingIds, UNLIKE_WEIGHT } from './index/like.ts';
import { browseItems, facetCounts, parseAssignments, setItemFields, type BrowseOptions, type Facet, type FieldUpdate } from './index/fields.ts';
import { readFieldsFile } from './data/fields/sidecar.ts';
import type { FieldSchema, FieldType, FieldValue, Fields, FilterNode } from './data/field-types.ts';

import { searchExact } from './store/exact.ts';
import { openStore, withStore } from './store/open-store.ts';
import type { FileRecord, Hit, ItemRecord, StoreItem, StoreMeta, VectorStore, WarmOptions } from './store/types.ts';
import type { TextEncoder } from './models/text-encoder.ts';
import { writeSubmission } from './metrics/competition.ts';
import type { EvalRun, RunEvalOptions } from './eval/run-eval.ts';
import { embeddingKey, sameEmbedding, type EmbeddingKey, type EmbeddingSource } from './models/compat.ts';
import type { ModelChoice, OpenedModel } from './models/open-model.ts';
import { modelChoice, type ModelSettings } from './models/settings.ts';
import type { Runtime } from './models/runtime.ts';
import type { SpecOverrides } from './models/load.ts';
import type { Feature } from './models/hf.ts';
import { guardOutput, OUTPUT_KINDS } from './util/outputs.ts';
import { OptionError } from './util/options.ts';
import { hashFile, hashParts } from './util/hash.ts';

export { config } from './util/config.ts';
export { OptionError, isOptionError, MAX_K, MAX_EF, checkK, checkEf, checkMinScore, toInteger, toNumber } from './util/options.ts';
export { Progress, formatSeconds } from './util/progress.ts';
export { didYouMean } from './util/text.ts';
export { optionalImport } from './util/optional.ts';
/** sharp, loaded on first use (the server decodes uploads with it; a CLI command that decodes nothing never loads it). */
export { sharpLib } from './util/lazy-import.ts';
import { lazyFunction } from './util/lazy-import.ts';
export type { Runtime, Hit, Skipped, EmbedResult, BuildReport, CompeteResult, EvalRun, RunEvalOptions, CaptionEvalOptions, CaptionEvalRun, SpecOverrides, Feature, ModelSettings, QueryResult, EmbeddingSource, EmbeddingKey };
export type { EvalResult } from './metrics/evaluate.ts';
export type { AnnMode, AnnDtype } from './store/ann-mode.ts';
export type { VectorStore, StoreMeta, StoreChange, StoreItem, FileRecord, ItemRecord, WarmOptions } from './store/types.ts';
export type { FieldSchema, FieldType, FieldValue, Fields, FilterNode, BrowseOptions, Facet, FieldUpdate };
export { UNLIKE_WEIGHT };
export { parseFilter, FilterError } from './data/filter/parse.ts';
export { FieldError } from './data/fields/sidecar.ts';
export { modelChoice, specOverrides, runtimeOf } from './models/settings.ts';
export { sameEmbedding, embeddingKey } from './models/compat.ts';

// Jobs that are whole commands: each is one core use case, re-exported under its library name.
// Each loads its modules on its first call (util/lazy-import.ts#lazyFunction): importing the
// library then loads about what a search needs, not every workflow's tree.
/** Train a head on labelled embeddings and write it as .onnx (`lookalike tune`): tune/run.ts. */
export const tuneHead: typeof import('./tune/run.ts').tuneHead = lazyFunction(() => import('./tune/run.ts'), 'tuneHead');
export type { TuneHeadOptions, TuneHeadResult } from './tune/run.ts';
/** Learn a whitening from an index or a folder and write it as a head (`lookalike whiten`): tune/whiten-index.ts. */
export const whiten: typeof import('./tune/whiten-index.ts').whitenIndex = lazyFunction(() => import('./tune/whiten-index.ts'), 'whitenIndex');
export type { WhitenIndexOptions, WhitenReport } from './tune/whiten-index.ts';
/** Near-duplicate groups of an index, written to `out` when given (`lookalike dedup`): index/dedup.ts. */
export const dedup: typeof import('./index/dedup.ts').dedupIndex = lazyFunction(() => import('./index/dedup.ts'), 'dedupIndex');
export type { DedupIndexOptions, DedupResult } from './index/dedup.ts';
import type { DedupOptions, DedupResult } from './index/dedup.ts';
import { galleryMap, type GalleryMap, type MapOptions } from './index/map.ts';
import { colourMap, type MapColours } from './index/map-picture.ts';
export { MAP_UMAP_MAX, type GalleryMap, type MapMethod, type MapOptions } from './index/map.ts';
export { writeMap, mapColours, type MapColours, type WriteMapOptions } from './index/map-picture.ts';
/** Rewrite an index folder as one segment without removed rows (`lookalike compact`): index/maintain.ts. */
export const compactIndex: typeof import('./index/maintain.ts').compactIndex = lazyFunction(() => import('./index/maintain.ts'), 'compactIndex');
/** Check every file of an index folder against its manifest (`lookalike verify`): index/maintain.ts. */
export const verifyIndex: typeof import('./index/maintain.ts').verifyIndex = lazyFunction(() => import('./index/maintain.ts'), 'verifyIndex');
export type { CompactReport } from './index/maintain.ts';
export type { VerifyReport } from './store/folder/verify.ts';
/** Oxford/Paris mAP of an index against a ground-truth folder (`lookalike eval --oxford`): eval/oxford-index.ts. */
export const evaluateOxford: typeof import('./eval/oxford-index.ts').evaluateOxfordIndex = lazyFunction(() => import('./eval/oxford-index.ts'), 'evaluateOxfordIndex');
export type { OxfordEvalResult } from './eval/oxford-index.ts';
export { DEFAULT_DEPTH, FULL_DEPTH_LIMIT } from './eval/depth.ts';
export { parseRerank, formatRerank, type RerankOption, type RerankStep } from './index/rerank/options.ts';
/** Search tune options on the validation split, retrain the best and write it as the head (`lookalike tune --search`): experiments/tune-search.ts. */
export const searchHead: typeof import('./experiments/tune-search.ts').searchHead = lazyFunction(() => import('./experiments/tune-search.ts'), 'searchHead');
export { readSpace } from './tune/search-space.ts';
export type { SearchHeadOptions, SearchHeadResult } from './experiments/tune-search.ts';
/** Train a head mapping a student's embeddings into a teacher's space on unlabelled images (`lookalike tune --teacher`): tune/distill-head.ts. */
export const distillHead: typeof import('./tune/distill-head.ts').distillHead = lazyFunction(() => import('./tune/distill-head.ts'), 'distillHead');
export type { DistillHeadOptions, DistillHeadResult } from './tune/distill-head.ts';
export type { TuneMetrics } from './tune/validation.ts';
/** Queue a folder's new and changed images as jobs of a Postgres store (`lookalike index --enqueue`): jobs/enqueue.ts. */
export const enqueueFolder: typeof import('./jobs/enqueue.ts').enqueueFolder = lazyFunction(() => import('./jobs/enqueue.ts'), 'enqueueFolder');
export type { EnqueueFolderOptions, EnqueueFolderReport } from './jobs/enqueue.ts';
/** Claim embedding jobs from a store's queue and write their vectors (`lookalike worker`): jobs/work.ts. */
export const work: typeof import('./jobs/work.ts').work = lazyFunction(() => import('./jobs/work.ts'), 'work');
/** The queue of a Postgres store: jobs by state, recent failures, throughput (`lookalike status`): jobs/work.ts. */
export const workStatus: typeof import('./jobs/work.ts').workStatus = lazyFunction(() => import('./jobs/work.ts'), 'workStatus');
export type { WorkOptions, WorkReport } from './jobs/work.ts';
export type { QueueStatus } from './jobs/job-queue.ts';
/** Run the demo: index, leave-one-out search and metrics, the competition when its data is present (`lookalike demo`): jobs/demo.ts. */
export const runDemo: typeof import('./jobs/demo.ts').runDemo = lazyFunction(() => import('./jobs/demo.ts'), 'runDemo');
export type { DemoOptions, DemoResult } from './jobs/demo.ts';
export { readExperimentConfig, type ExperimentConfig } from './experiments/experiment-config.ts';
/** Run an experiment, or list its runs with dryRun (`lookalike experiment`): experiments/runner.ts. */
export const runExperiment: typeof import('./experiments/runner.ts').runExperiment = lazyFunction(() => import('./experiments/runner.ts'), 'runExperiment');
export { notApplicable } from './experiments/applicable.ts';
export type { RunOptions as ExperimentOptions, ExperimentResult } from './experiments/runner.ts';
export { mlflowFromEnv } from './experiments/mlflow.ts';
/** Build the report of a run store, experiment or run folder and write its files (`lookalike report`): experiments/report.ts. */
export const reportRuns: typeof import('./experiments/report.ts').reportRuns = lazyFunction(() => import('./experiments/report.ts'), 'reportRuns');
export type { ReportRunsOptions } from './experiments/report.ts';
/** Measure backbones x modes on a labelled sample and rank them (`lookalike advise`): experiments/advise.ts. */
export const advise: typeof import('./experiments/advise.ts').advise = lazyFunction(() => import('./experiments/advise.ts'), 'advise');
export { formatAdvice } from './experiments/advice-text.ts';
export type { AdviseOptions, Advice } from './experiments/advise.ts';
export { presetRows as listModels, type PresetRow } from './models/catalog.ts';
/** Describe a model file, folder, preset or Hub id (`lookalike models info`): models/info.ts. */
export const modelInfo: typeof import('./models/info.ts').modelInfo = lazyFunction(() => import('./models/info.ts'), 'modelInfo');
export { formatInfo } from './models/info-text.ts';
export type { ModelInfo } from './models/info.ts';
// models/hub.ts loads with the model catalog (listModels) anyway.
export { fetchHubModel as fetchModel } from './models/hub.ts';
export { readRegularFile, regularStat, FileReadError } from './util/regular-file.ts';

/** Options of loadModel. */
export interface LoadModelOptions {
  /** Tuned head file (.onnx from `lookalike tune`) applied after pooling. */
  head?: string;
  /** Spec fields that win over the model's own (resize, crop, mean, std, output, pooling...). */
  overrides?: SpecOverrides;
  /** Weight variant in a model folder: fp32, fp16, quantized, int8, uint8, q4. */
  dtype?: string;
  /** Projected embedding (default) or the pre-projection feature. */
  feature?: Feature;
  runtime?: Runtime;
}

/** A loaded image model (backbone + optional head). Call `close()` when done. */
export class Model {
  /** @internal */
  constructor(readonly opened: OpenedModel, readonly runtime: Runtime = {}) {}
  /** Display name (path or preset). */
  get name(): string {
    return this.opened.backbone.name;
  }
  /** Backbone fingerprint: equal fingerprints give comparable embeddings. */
  get fingerprint(): string {
    return this.opened.backbone.fingerprint;
  }
  /** Head fingerprint, when a head is applied. */
  get headFingerprint(): string | undefined {
    return this.opened.head?.fingerprint;
  }
  /** What decides comparability (backbone and head fingerprints). */
  get key(): EmbeddingKey {
    return { model: this.fingerprint, head: this.headFingerprint ?? null };
  }
  /** True when this model's embeddings can be compared with those of `source` (an index's metadata). */
  matches(source: EmbeddingSource): boolean {
    return sameEmbedding(this.key, embeddingKey(source));
  }
  /** Release native resources. */
  close(): Promise<void> {
    return import('./models/open-model.ts').then(({ closeModel }) => closeModel(this.opened));
  }
}

/** A model given to a library call: loaded, a name/path, or settings as a user types them (model, resize, mean, head, threads...). */
export type ModelInput = Model | string | ModelSettings;

function choiceOf(m: string | ModelSettings, load: LoadModelOptions = {}): ModelChoice {
  if (typeof m === 'string') return { model: m, head: load.head, overrides: load.overrides, dtype: load.dtype, feature: load.feature, runtime: load.runtime };
  const c = modelChoice(m);
  return { ...c, head: load.head ?? c.head, overrides: { ...c.overrides, ...load.overrides }, dtype: load.dtype ?? c.dtype, feature: load.feature ?? c.feature, runtime: { ...c.runtime, ...load.runtime } };
}

/**
 * Load an image model: an .onnx file, a Hugging Face folder, a TF.js model.json, a preset or a
 * Hub id (downloads only when not offline), or model settings.
 * @example const model = await loadModel('clip-vit-b32', { runtime: { threads: 4 } });
 */
export async function loadModel(model: string | ModelSettings, opts: LoadModelOptions = {}): Promise<Model> {
  const { openModel } = await import('./models/open-model.ts');
  const choice = choiceOf(model, opts);
  if (!choice.model) throw new OptionError('{{model}} is required');
  return new Model(await openModel(choice), choice.runtime);
}

/** Run fn with a loaded model: the given one (left open) or one loaded for this call (closed after). */
async function withModel<T>(m: ModelInput, load: LoadModelOptions | undefined, fn: (model: Model) => Promise<T>): Promise<T> {
  const model = m instanceof Model ? m : await loadModel(m, load);
  try {
    return await fn(model);
  } finally {
    if (!(m instanceof Model)) await model.close();
  }
}

/** An image to embed: a file path, bytes, or an explicit id with a path or bytes. */
export type ImageInput = string | Buffer | { id: string; source: string | Buffer; fields?: Fields };

/** Options of embedImages. */
export interface EmbedImagesOptions {
  batchSize?: number;
  /** Items processed so far (embedded or skipped), after each batch. */
  onProgress?: (done: number, total: number) => void;
  onSkip?: (s: Skipped) => void;
  signal?: AbortSignal;
}

function embedItems(images: ImageInput[]): EmbedItem[] {
  return images.map((x, i) => (typeof x === 'string' ? { id: x, source: x } : Buffer.isBuffer(x) ? { id: `#${i}`, source: x } : x));
}

/**
 * Embed images (L2-normalised rows); undecodable inputs are skipped and reported, not thrown.
 * @example const { ids, vectors, dim } = await embedImages(model, ['a.jpg', 'b.jpg']);
 */
export async function embedImages(model: Model, images: ImageInput[], opts: EmbedImagesOptions = {}): Promise<EmbedResult> {
  const { embedWithBackbone } = await import('./embed/pipeline.ts');
  const items = embedItems(images);
  let done = 0;
  return embedWithBackbone(model.opened.backbone, items, {
    head: model.opened.head,
    batchSize: opts.batchSize ?? model.runtime.batchSize,
    onSkip: opts.onSkip,
    onProgress: (n) => opts.onProgress?.((done += n), items.length),
    signal: opts.signal,
  });
}

/** Options of indexFolder. */
export interface IndexFolderOptions extends Pick<BuildOptions, 'rebuild' | 'allowEmpty' | 'allowShrink' | 'rootChange' | 'followLinks' | 'strict' | 'onPlan' | 'onSkip' | 'signal' | 'fields'> {
  /** The model: a loaded Model, a model name/path, or model settings (loaded and closed for this call). */
  model: ModelInput;
  /** With a model name: head, spec overrides, dtype, feature, runtime. */
  load?: LoadModelOptions;
  /** The ANN graph at index time: mode auto (from ANN_AUTO_MIN items), on or off, and its dtype. */
  ann?: { mode?: 'auto' | 'on' | 'off'; dtype?: 'f32' | 'f16' | 'i8' };
  /** Told when the ANN graph is built or updated. */
  onNote?: (msg: string) => void;
  /** (embedded so far, to embed) while embedding new and changed files. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Index every image under `folder` into `out` (a folder or a store URL), incrementally: only new
 * or changed files are embedded, deleted ones dropped, and each change is committed atomically.
 * A wrong `out` (a file, the gallery, a foreign folder) is refused before the model loads.
 * @example const report = await indexFolder('./gallery', 'gallery.lkx', { model: 'model.onnx', onProgress: (d, t) => console.log(d, t) });
 */
export async function indexFolder(folder: string, out: string, opts: IndexFolderOptions): Promise<BuildReport> {
  const { buildIndex } = await import('./index/build.ts');
  checkIndexOut(out, folder);
  return withModel(opts.model, opts.load, (model) =>
    buildIndex({
      ...opts,
      folder,
      out,
      backbone: model.opened.backbone,
      head: model.opened.head,
      batchSize: model.runtime.batchSize,
      ann: { mode: opts.ann?.mode, dtype: opts.ann?.dtype, onNote: opts.onNote },
    }),
  );
}

/** One example: a vector (dim floats), an image (path or bytes), an indexed id, or a text (text-image models). */
export type Example = { vector: Float32Array } | { image: string | Buffer } | { id: string } | { text: string };

/** One query: an example, or several positive (`like`) and negative (`unlike`) examples combined (index/like.ts). */
export type Query = Example | { like: Example[]; unlike?: Example[] };

/** Options of Index.search (the same names and limits as every other search: util/options.ts). */
export interface IndexSearchOptions extends SearchMode {
  /** Results (default 10, 1..MAX_K; clamped to the index size). */
  k?: number;
  /** Leave each query's own item out (queries by id, or image paths under the indexed folder). */
  excludeSelf?: boolean;
  /** Weight of the negatives' mean in like/unlike queries (default UNLIKE_WEIGHT = 0.5). */
  unlikeWeight?: number;
  /** Images embedded per batch. */
  batchSize?: number;
  /** An image query that cannot be decoded (in a batch; a single query throws instead). */
  onSkip?: (s: Skipped) => void;
  /** `--crop face`: called with each image query (file name, or "image") in which no face was found (embedded from the whole image). */
  onNoFace?: (query: string) => void;
  /** Image queries embedded so far. */
  onProgress?: (done: number, total: number) => void;
  /** Stop before embedding or searching (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Results of one query; `skipped` says why an image query of a batch could not be embedded. */
export interface SearchResult {
  hits: Hit[];
  skipped?: string;
}

/** Options of openIndex. */
export interface OpenIndexOptions {
  /** Model for image and text queries: a loaded Model (must match the index), a name/path, or settings; default the index's own model. */
  model?: ModelInput;
  /** With `model` as a name: spec overrides, dtype, head, runtime. */
  load?: LoadModelOptions;
  /** Runtime for models loaded on the first image or text query. */
  runtime?: Runtime;
  /** Hold the writer lock, for add and remove (one writer at a time; a second fails naming the holder). */
  write?: boolean;
}

/** An index: search by vector, image, id or text (one query or a batch); add and remove items when opened for writing. */
export class Index {
  private model?: Promise<Model>;
  private readonly maps = new Map<string, Promise<GalleryMap>>();
  private text?: Promise<TextEncoder>;
  /** @internal */
  constructor(
    readonly store: VectorStore,
    readonly meta: StoreMeta,
    private readonly opts: OpenIndexOptions,
  ) {}
  /** Where the index lives (folder path or URL). */
  get location(): string {
    return this.store.location;
  }
  /** Embedding size. */
  get dim(): number {
    return this.meta.dim;
  }
  /** Number of items. */
  count(): Promise<number> {
    return this.store.count();
  }
  /** The ids, sorted. */
  ids(): Promise<string[]> {
    return this.store.ids();
  }
  /** Whether an item with this id is in the index (a lookup; nothing per item is built). */
  async has(id: string): Promise<boolean> {
    return (await this.store.has([id]))[0];
  }
  /** The vectors of indexed items, row after row (an unknown id is an error naming it). */
  vectors(ids: string[]): Promise<Float32Array> {
    return this.store.getVectors(ids);
  }
  /** The vector of one indexed item. */
  vector(id: string): Promise<Float32Array> {
    return this.store.getVectors([id]);
  }

  private settings(): { model?: string; choice: Omit<ModelChoice, 'model'> & { model?: string }; runtime?: Runtime } {
    const m = this.opts.model;
    if (m instanceof Model) return { model: m.name, choice: {}, runtime: m.runtime };
    const c = choiceOf(m ?? {}, this.opts.load);
    const runtime = { ...this.opts.runtime, ...c.runtime };
    return { model: c.model, choice: { ...c, runtime }, runtime };
  }

  /** The image model for this index (loaded once; checked against the index's fingerprints). */
  imageModel(): Promise<Model> {
    this.model ??= (async () => {
      const m = this.opts.model;
      if (m instanceof Model) {
        if (!m.matches(this.meta)) throw new Error(`${this.location}: model ${m.name} is not the one the index was built with (${this.meta.model.name})`);
        return m;
      }
      const { openModelForIndex } = await import('./models/open-model.ts');
      const s = this.settings();
      return new Model(await openModelForIndex(this.meta, s.choice, this.location), s.runtime);
    })();
    this.model.catch(() => (this.model = undefined));
    return this.model;
  }

  /** True when the index's model has a text tower that fits its vectors (loads it on first call). */
  async hasText(): Promise<boolean> {
    try {
      await this.textEncoder();
      return true;
    } catch {
      return false;
    }
  }

  private textEncoder(): Promise<TextEncoder> {
    const s = this.settings();
    // A text tower named only by the index's metadata is never downloaded; one the caller names follows config.offline.
    const runtime = { ...s.runtime, offline: s.runtime?.offline ?? (s.model === undefined ? true : undefined) };
    this.text ??= import('./embed/text-queries.ts').then(({ textEncoderFor }) => textEncoderFor(this.textTarget(), { model: s.model, dtype: s.choice.dtype, runtime }));
    this.text.catch(() => (this.text = undefined));
    return this.text;
  }

  private textTarget() {
    return { name: this.location, dim: this.dim, source: this.meta };
  }

  /** The id an image file would have in this index (for excludeSelf), or undefined for bytes. */
  private selfOf(image: string | Buffer): string | undefined {
    return typeof image === 'string' && this.meta.root ? idInIndex(this.meta.root, image) : undefined;
  }

  /** Embed queries to rows: per query its row (or why it could not be embedded) and the id excludeSelf leaves out. */
  private async embedQueries(queries: Query[], o: IndexSearchOptions, single: boolean): Promise<{ rows: (Float32Array | undefined)[]; self: (string | undefined)[]; skipped: (string | undefined)[] }> {
    const n = queries.length;
    const rows: (Float32Array | undefined)[] = new Array(n);
    const self: (string | undefined)[] = new Array(n);
    const skipped: (string | undefined)[] = new Array(n);
    const of = <K extends string>(key: K) => queries.flatMap((q, i) => (key in q ? [i] : []));
    for (const i of of('vector')) {
      const v = (queries[i] as { vector: Float32Array }).vector;
      if (v.length !== this.dim) throw new Error(`query vector has ${v.length} values, the index is ${this.dim}-d`);
      rows[i] = v;
    }
    const byId = of('id');
    if (byId.length) {
      const ids = byId.map((i) => (queries[i] as { id: string }).id);
      const m = await this.store.getVectors(ids);
      byId.forEach((i, j) => ((rows[i] = m.subarray(j * this.dim, (j + 1) * this.dim)), (self[i] = ids[j])));
    }
    const byText = of('text');
    if (byText.length) {
      const { embedTextsFor } = await import('./embed/text-queries.ts');
      const texts = byText.map((i) => (queries[i] as { text: string }).text);
      const e = await embedTextsFor(this.textTarget(), await this.textEncoder(), texts, o.batchSize);
      byText.forEach((i, j) => (rows[i] = e.vectors.subarray(j * e.dim, (j + 1) * e.dim)));
    }
    const byImage = of('image');
    if (byImage.length) {
      o.signal?.throwIfAborted();
      const model = await this.imageModel();
      const items = byImage.map((i) => {
        const image = (queries[i] as { image: string | Buffer }).image;
        self[i] = this.selfOf(image);
        return { id: `#${i}`, source: image };
      });
      const shown = (id: string) => {
        const image = (queries[Number(id.slice(1))] as { image: string | Buffer }).image;
        return typeof image === 'string' ? image : 'image';
      };
      const e = await embedImages(model, items, { batchSize: o.batchSize, onProgress: o.onProgress, signal: o.signal, onSkip: (s) => (single ? undefined : o.onSkip?.({ ...s, id: shown(s.id) })) });
      const at = new Map(e.ids.map((id, j) => [id, j]));
      for (const id of e.noFace ?? []) o.onNoFace?.(shown(id));
      for (const s of e.skipped) skipped[Number(s.id.slice(1))] = s.reason;
      for (const i of byImage) {
        const j = at.get(`#${i}`);
        if (j !== undefined) rows[i] = e.vectors.subarray(j * e.dim, (j + 1) * e.dim);
        else if (single) throw new Error(`${shown(`#${i}`)}: ${skipped[i] ?? 'cannot be decoded'}`);
      }
    }
    return { rows, self, skipped };
  }

  /** Embed one query to a vector; `self` is the id to leave out with excludeSelf. */
  async embedQuery(query: Query): Promise<{ vector: Float32Array; self?: string }> {
    const r = await this.embedQueries([query], {}, true);
    return { vector: r.rows[0]!, self: r.self[0] };
  }

  /**
   * Top-k items for one query, or for each of a batch of queries (embedded together, ranked in
   * one pass). Every search of lookalike ranks through the same path (index/search.ts).
   * @example const { hits } = await index.search({ id: 'shoes/0001.jpg' }, { k: 5, excludeSelf: true });
   * @example const results = await index.search([{ image: 'a.jpg' }, { text: 'a red dress' }], { k: 10, ann: 'on', ef: 128 });
   */
  search(query: Query, opts?: IndexSearchOptions): Promise<SearchResult>;
  search(queries: Query[], opts?: IndexSearchOptions): Promise<SearchResult[]>;
  async search(q: Query | Query[], opts: IndexSearchOptions = {}): Promise<SearchResult | SearchResult[]> {
    const single = !Array.isArray(q);
    const queries = single ? [q] : q;
    const k = opts.k ?? 10;
    checkSearchOptions(k, opts);
    opts.signal?.throwIfAborted();
    // like/unlike queries: their examples are embedded with the plain queries, in one batch.
    const flat: Example[] = [];
    // Per query, where its rows start in `flat`; like/unlike queries also say how many of each.
    const spans = queries.map((query): { start: number; like?: number; unlike?: number } => {
      const start = flat.length;
      if (!('like' in query)) return flat.push(query), { start };
      const ex = [...(query.like ?? []), ...(query.unlike ?? [])];
      if (ex.some((x) => 'like' in x)) throw new OptionError('{{like}}: examples are ids, images, vectors or texts, not like/unlike queries');
      flat.push(...ex);
      return { start, like: query.like?.length ?? 0, unlike: query.unlike?.length ?? 0 };
    });
    const e = await this.embedQueries(flat, opts, single);
    opts.signal?.throwIfAborted();
    const out: SearchResult[] = [];
    const rows: { i: number; row: Float32Array; self?: string }[] = [];
    const combined: { i: number; row: Float32Array; examples: string[] }[] = [];
    queries.forEach((_, i) => {
      const sp = spans[i];
      if (sp.like === undefined || sp.unlike === undefined) {
        const j = sp.start;
        out[i] = e.skipped[j] !== undefined ? { hits: [], skipped: e.skipped[j] } : { hits: [] };
        if (e.rows[j]) rows.push({ i, row: e.rows[j]!, self: e.self[j] });
        return;
      }
      const idx = Array.from({ length: sp.like + sp.unlike }, (_, n) => sp.start + n);
      const bad = idx.find((j) => e.skipped[j] !== undefined);
      out[i] = bad !== undefined ? { hits: [], skipped: e.skipped[bad] } : { hits: [] };
      if (bad !== undefined) return;
      const vec = (j: number) => e.rows[j]!;
      const row = combineExamples(idx.slice(0, sp.like).map(vec), idx.slice(sp.like).map(vec), this.dim, opts.unlikeWeight);
      combined.push({ i, row, examples: idx.flatMap((j) => (e.self[j] !== undefined ? [e.self[j]!] : [])) });
    });
    if (rows.length) {
      const matrix = new Float32Array(rows.length * this.dim);
      rows.forEach((r, j) => matrix.set(r.row, j * this.dim));
      const hits = await searchStore(this.store, matrix, k, opts.excludeSelf ? rows.map((r) => r.self) : undefined, opts);
      rows.forEach((r, j) => (out[r.i].hits = hits[j] ?? []));
    }
    if (combined.length) {
      const filter = await resolveFilter(this.store, opts.filter);
      for (const c of combined) [out[c.i].hits] = await searchStore(this.store, c.row, k, undefined, { ...opts, filter: excludingIds(filter, c.examples) });
    }
    return single ? out[0] : out;
  }

  /** Field name -> type of the index's fields. */
  fieldSchema(): Promise<FieldSchema> {
    return this.store.fieldSchema();
  }

  /** Records (file, label, fields) of indexed items (an unknown id is an error naming it). */
  items(ids: string[]): Promise<ItemRecord[]> {
    return this.store.items(ids);
  }

  /**
   * Change items' fields without re-embedding (merged into the present ones; a null value removes
   * a field; `replace` drops the others). One atomic write. Needs `write: true`.
   * @example await index.setFields([{ id: 'shoes/1.jpg', fields: { price: 49.5, tags: ['red'] } }]);
   */
  setFields(updates: FieldUpdate[], opts: { replace?: boolean } = {}): Promise<number> {
    this.maps.clear();
    return setItemFields(this.store, updates, opts.replace);
  }

  /**
   * A page of the items a filter matches, sorted by id or a field, with the total.
   * @example const { total, items } = await index.browse({ filter: 'label = "Shoes"', offset: 60, limit: 60 });
   */
  browse(opts: BrowseOptions = {}): Promise<{ total: number; items: ItemRecord[] }> {
    return browseItems(this.store, opts);
  }

  /**
   * The 2-D map of the index (UMAP, or PCA above MAP_UMAP_MAX items), cached per index state.
   * @example const { ids, x, y } = await index.map();
   */
  map(opts: MapOptions = {}): Promise<GalleryMap> {
    // Kept while this Index writes nothing, so concurrent callers (the server's page) share one computation.
    const key = `${opts.method ?? 'auto'}:${opts.cache ?? true}`;
    let m = this.maps.get(key);
    if (!m) {
      this.maps.set(key, (m = galleryMap(this.store, opts)));
      m.catch(() => this.maps.delete(key));
    }
    return m;
  }

  /** The map with each point's colour by a field (default `label`), the legend and each point's value. */
  async colouredMap(opts: Pick<MapOptions, 'method' | 'onNote'> & { color?: string } = {}): Promise<{ map: GalleryMap; colours: MapColours; values: (FieldValue | undefined)[] }> {
    const map = await this.map(opts);
    return { map, ...(await colourMap(this.store, map, opts.color)) };
  }

  /**
   * Groups of near-duplicates (cosine above `threshold`, or 'auto'), optionally among the items a filter matches (docs/dedup.md).
   * @example const { groups } = await index.duplicates({ threshold: 0.97 });
   */
  duplicates(opts: DedupOptions): Promise<DedupResult> {
    return import('./index/dedup.ts').then(({ findDuplicates }) => findDuplicates(this.store, opts));
  }

  /** Per field: the most common values with counts, or the range, among the items a filter matches. */
  facets(opts: { filter?: string; top?: number } = {}): Promise<Facet[]> {
    return facetCounts(this.store, opts);
  }

  /**
   * Search with image files and folders of images: results keyed by file name (relative to the
   * folder given); files that cannot be listed or decoded go to onSkip and have no result.
   */
  async searchFiles(paths: string[], opts: IndexSearchOptions = {}): Promise<QueryResult[]> {
    const { files, skipped } = expandQueries(paths);
    for (const s of skipped) opts.onSkip?.(s);
    const r = await this.search(
      files.map((f) => ({ image: f.file })),
      opts,
    );
    return files.flatMap((f, i) => (r[i].skipped === undefined ? [{ query: f.key, hits: r[i].hits }] : []));
  }

  /**
   * Top-k for query rows you embedded (n x dim, row-major), leaving out exclude[i] for row i:
   * the same path as search, for callers that batch queries themselves (the server).
   */
  async searchVectors(rows: Float32Array, opts: SearchMode & { k: number; exclude?: (string | undefined)[] }): Promise<Hit[][]> {
    if (rows.length % this.dim) throw new Error(`query rows have ${rows.length} values, not a multiple of the index's ${this.dim} dimensions`);
    return searchStore(this.store, rows, opts.k, opts.exclude, opts);
  }

  /** Load (or build and save) the ANN graph now when searches in `ann` mode would use it, so the first query does not pay for it. */
  prepareAnn(opts: Pick<SearchMode, 'ann' | 'annDtype' | 'onNote'> = {}): Promise<void> {
    return prepareAnn(this.store, opts);
  }

  /** Keep what searches read in memory from now on (a long-lived process), within config.cacheMb; `exact: false` skips the rows of exact searches (an ANN server). Resolves when ready. Results do not change. */
  async warm(opts: WarmOptions = {}): Promise<void> {
    await this.store.warm?.(opts);
  }

  /** Add (or replace) items with vectors you computed (dim floats each; the same model as the index). Needs `write: true`. */
  async addVectors(items: StoreItem[]): Promise<void> {
    for (const it of items) if (it.vector.length !== this.dim) throw new Error(`${it.id}: ${it.vector.length} values, the index is ${this.dim}-d`);
    this.maps.clear();
    // Marked as added through the API: a re-index of the folder keeps them (index/shrink.ts).
    await this.store.write({ upsert: items.map((it) => (it.file ? { ...it, file: { ...it.file, origin: 'api' as const } } : it)) });
  }

  /**
   * Embed images with the index's model and add them (ids: the path, or the id given); returns
   * the ids added and those skipped. Needs `write: true`.
   * @example await index.add([{ id: 'new/shoe.jpg', source: './shoe.jpg' }]);
   */
  async add(images: ImageInput[], opts: EmbedImagesOptions = {}): Promise<{ added: string[]; skipped: Skipped[] }> {
    const { autoFields } = await import('./data/fields/auto.ts');
    const items = embedItems(images);
    const model = await this.imageModel();
    const e = await embedImages(model, items, opts);
    const byId = new Map(items.map((it) => [it.id, it.source]));
    const given = new Map(images.flatMap((x) => (typeof x === 'object' && !Buffer.isBuffer(x) && x.fields ? [[x.id, x.fields] as const] : [])));
    // The same content record and automatic fields as an index build's (util/hash.ts, data/fields/auto.ts), the record marked as added through the API so a re-index of the folder keeps it.
    const record = async (src: string | Buffer): Promise<FileRecord> => ({ ...(typeof src === 'string' ? { sha256: await hashFile(src), size: fs.statSync(src).size } : { sha256: hashParts(src), size: src.length }), origin: 'api' });
    const fieldsOf = async (id: string, src: string | Buffer) => ({ ...(typeof src === 'string' ? await autoFields(src, id) : {}), ...given.get(id) });
    const upsert: StoreItem[] = await Promise.all(
      e.ids.map(async (id, j) => ({ id, vector: e.vectors.slice(j * e.dim, (j + 1) * e.dim), file: await record(byId.get(id)!), fields: await fieldsOf(id, byId.get(id)!) })),
    );
    this.maps.clear();
    if (upsert.length) await this.store.write({ upsert });
    return { added: e.ids, skipped: e.skipped };
  }

  /** Remove items by id (ids not in the index are ignored). Needs `write: true`. */
  async remove(ids: string[]): Promise<void> {
    this.maps.clear();
    if (ids.length) await this.store.write({ remove: ids });
  }

  /** Close the store (releasing the writer lock) and the models this index loaded (a Model passed in stays open). */
  async close(): Promise<void> {
    const m = this.model;
    const t = this.text;
    this.model = undefined;
    this.text = undefined;
    if (m && !(this.opts.model instanceof Model)) await (await m.catch(() => undefined))?.close();
    await (await t?.catch(() => undefined))?.dispose();
    await this.store.close();
  }
}

/**
 * Load the model an index was built with (from its metadata), or the one `model` names, which
 * must then give the same embeddings (fingerprint and head); `what` names the index in errors.
 */
export async function loadModelForIndex(source: EmbeddingSource, model: string | ModelSettings | undefined, load: LoadModelOptions = {}, what = 'index'): Promise<Model> {
  const { openModelForIndex } = await import('./models/open-model.ts');
  const c = choiceOf(model ?? {}, load);
  return new Model(await openModelForIndex(source, c, what), c.runtime);
}

/**
 * Open an index (a folder written by `lookalike index` / indexFolder, or a store URL).
 * @example const index = await openIndex('gallery.lkx'); const { hits } = await index.search({ id: 'a.jpg' }, { k: 3 });
 */
export async function openIndex(location: string, opts: OpenIndexOptions = {}): Promise<Index> {
  const store = await openStore(location, { write: opts.write });
  try {
    return new Index(store, await store.meta(), opts);
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** What to search with in one `search` call: image files or folders, indexed ids, texts. */
export interface SearchInputs {
  files?: string[];
  ids?: string[];
  texts?: string[];
  /** One combined query from these examples (an indexed id, else an image file). */
  like?: string[];
  /** Negative examples of the `like` query. */
  unlike?: string[];
}

/** Options of search: Index.search's, the model for the queries, a submission file, strictness. */
export interface SearchIndexOptions extends IndexSearchOptions {
  /** Model for image/text queries (default the index's own; a given one must match it). */
  model?: ModelInput;
  /** Also write {"query": [gallery ids]} here (checked before any work: docs/reliability.md). */
  submission?: string;
  /** Fail before anything is written when a query file was skipped. */
  strict?: boolean;
}

/**
 * Search an index with files, ids and texts in one call (the `lookalike search` command):
 * results in that order, keyed by file name, id or text.
 * @example const { results } = await search('gallery.lkx', { files: ['./queries/'] }, { k: 10, submission: 'sub.json' });
 */
export async function search(location: string, inputs: SearchInputs, opts: SearchIndexOptions = {}): Promise<{ results: QueryResult[]; skipped: Skipped[] }> {
  const files = inputs.files ?? [];
  const ids = inputs.ids ?? [];
  const texts = inputs.texts ?? [];
  const like = inputs.like ?? [];
  const unlike = inputs.unlike ?? [];
  if (unlike.length && !like.length) throw new OptionError('{{unlike}} needs {{like}}: give at least one positive example');
  if (!files.length && !ids.length && !texts.length && !like.length) throw new OptionError('give query images or folders, {{ids}}, {{texts}} or {{like}}');
  checkSearchOptions(opts.k ?? 10, opts);
  const modelFile = opts.model && !(opts.model instanceof Model) ? (typeof opts.model === 'string' ? undefined : opts.model.head) : undefined;
  if (opts.submission) guardOutput(opts.submission, { option: 'submission', kind: OUTPUT_KINDS.submission, inputs: [location, ...files, modelFile] });
  const skipped: Skipped[] = [];
  const o: IndexSearchOptions = { ...opts, onSkip: (s) => (skipped.push(s), opts.onSkip?.(s)) };
  const index = await openIndex(location, { model: opts.model });
  const results: QueryResult[] = [];
  try {
    if (ids.length) (await index.search(ids.map((id) => ({ id })), o)).forEach((r, i) => results.push({ query: ids[i], hits: r.hits }));
    if (files.length) results.push(...(await index.searchFiles(files, o)));
    if (texts.length) (await index.search(texts.map((text) => ({ text })), { ...o, excludeSelf: false })).forEach((r, i) => results.push({ query: texts[i], hits: r.hits }));
    if (like.length) {
      const known = new Set(await index.ids());
      const example = (x: string): Example => (known.has(x) ? { id: x } : { image: x });
      const r = await index.search({ like: like.map(example), unlike: unlike.map(example) }, o);
      if (r.skipped) throw new Error(`like/unlike query: ${r.skipped}`);
      results.push({ query: `like ${like.join(', ')}${unlike.length ? `; unlike ${unlike.join(', ')}` : ''}`, hits: r.hits });
    }
  } finally {
    await index.close();
  }
  // strict decides before anything is written.
  if (opts.strict && skipped.length) throw new OptionError(`{{strict}}: ${skipped.length} query file(s) skipped${opts.submission ? `; ${opts.submission} was not written` : ''}`);
  if (opts.submission) writeSubmission(opts.submission, toSubmission(results));
  return { results, skipped };
}

/** What `updateFields` changes: `name=value` assignments on some ids, and/or the rows of a sidecar file (items.csv|jsonl). */
export interface FieldsChange {
  ids?: string[];
  /** `name=value` (typed by the index's field types; `name=` removes the field). */
  set?: string[];
  /** A sidecar joined on `path` (docs/filters.md); rows naming no item are counted, not applied. */
  file?: string;
  /** Replace each item's fields instead of merging. */
  replace?: boolean;
}

/**
 * Change item fields without re-embedding, in one atomic write (`lookalike fields set`).
 * @example await updateFields('shop.lkx', { ids: ['shoes/1.jpg'], set: ['price=49.5', 'tags=red|sale'] });
 */
export async function updateFields(location: string, change: FieldsChange): Promise<{ updated: number; unmatched: number }> {
  const ids = change.ids ?? [];
  if (!change.file && !(ids.length && change.set?.length)) throw new OptionError('give {{ids}} with name=value assignments, or {{file}}');
  const sidecar = change.file ? readFieldsFile(change.file).byPath : undefined;
  const index = await openIndex(location, { write: true });
  try {
    const updates: FieldUpdate[] = [];
    let unmatched = 0;
    if (sidecar) {
      const known = new Set(await index.ids());
      for (const [id, fields] of sidecar) known.has(id) ? updates.push({ id, fields }) : unmatched++;
    }
    if (ids.length && change.set?.length) {
      const values = parseAssignments(change.set, await index.fieldSchema());
      for (const id of ids) updates.push({ id, fields: values });
    }
    return { updated: await index.setFields(updates, { replace: change.replace }), unmatched };
  } finally {
    await index.close();
  }
}

/** Options of compete: competeFolder's, with the model as a Model, a name/path or settings. */
export interface CompeteApiOptions extends Omit<CompeteFolderOptions, 'model' | 'opened'> {
  /** The model (optional with `store`: default the store's own, and a given one must match it). */
  model?: ModelInput;
  load?: LoadModelOptions;
}

/**
 * Rank DIR/gallery for every image in DIR/query (or a store's index of DIR/gallery): a
 * competition submission {query: [gallery ids]}, written to `out` when given.
 * @example const { submission } = await compete('./comp', { model: 'face-mobileface', k: 10, out: 'sub.json' });
 */
export function compete(dir: string, opts: CompeteApiOptions): Promise<CompeteResult> {
  const m = opts.model;
  // Model settings are checked (and throw) before the compete modules load.
  const model = m instanceof Model || (m === undefined && !opts.load) ? undefined : choiceOf(m ?? {}, opts.load);
  const o: CompeteFolderOptions = m instanceof Model ? { ...opts, model: undefined, opened: m.opened, batchSize: opts.batchSize ?? m.runtime.batchSize } : { ...opts, model, batchSize: opts.batchSize ?? model?.runtime?.batchSize };
  return import('./index/compete.ts').then(({ competeFolder }) => competeFolder(dir, o));
}

/**
 * Score rankings: an index (location or Index) plus labels, a submission plus truth, or a rankings file (give one).
 * @example const run = await evaluate({ submission: 'sub.json', truth: 'truth.json' }); console.log(run.result.mean['hit@1']);
 */
export function evaluate(opts: Omit<RunEvalOptions, 'index'> & { index?: string | Index | VectorStore }): Promise<EvalRun> {
  const index = opts.index instanceof Index ? opts.index.store : opts.index;
  return import('./eval/run-eval.ts').then(({ runEval }) => runEval({ ...opts, index }));
}

/**
 * Image<->text R@K on a captions CSV (path,caption): from an index's vectors, or images embedded now with `model`.
 * @example const r = await evaluateCaptions({ captions: 'captions.csv', model: 'clip-vit-b32', ks: [1, 5] });
 */
export async function evaluateCaptions(opts: CaptionEvalOptions & { index?: string | Index }): Promise<CaptionEvalRun> {
  const { runCaptionEval } = await import('./embed/text-queries.ts');
  const index = opts.index;
  if (index === undefined) return runCaptionEval(undefined, opts);
  // Only the captioned items' vectors are read, through the store.
  return typeof index === 'string' ? withStore(index, {}, (store) => runCaptionEval(store, opts)) : runCaptionEval(index.store, opts);
}

/** Search many query vectors at once against raw arrays (no index folder): top-k per row. */
export async function searchVectors(gallery: { ids: string[]; vectors: Float32Array; dim: number }, queries: Float32Array, k: number): Promise<Hit[][]> {
  checkSearchOptions(k);
  const top = await searchExact(gallery.vectors, queries, gallery.dim, k);
  return toResults(Array.from({ length: queries.length / gallery.dim }, (_, i) => String(i)), top, gallery.ids).map((r) => r.hits);
}
