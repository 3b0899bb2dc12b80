/**
 * lookalike as a library: one function per job, typed options and results. The CLI
 * (src/cli/*) and the server (src/serve/*) are thin layers over these functions.
 *
 *   import { indexFolder, openIndex } from 'lookalike-retrieval';
 *   await indexFolder('./gallery', 'gallery.lkx', { model: 'model.onnx' });
 *   const index = await openIndex('gallery.lkx');
 *   const { hits } = await index.search({ image: './query.jpg' }, { k: 5 });
 *   await index.close();
 *
 * Runtime options (threads, device, offline, TF.js backend, batch size) are passed per call as
 * `runtime`; unset fields fall back to the process-wide `config` (environment variables).
 */
import path from 'node:path';
import { embedImages as embedPipeline, type EmbedItem, type EmbedResult, type Skipped } from './embed/pipeline.ts';
import { embedTextsFor, runCaptionEval, textEncoderFor, type CaptionEvalOptions, type CaptionEvalRun } from './embed/captions.ts';
import { buildIndex, type BuildReport } from './index/build.ts';
import { competeSubmission, type CompeteResult } from './index/compete.ts';
import { searchExact } from './index/exact.ts';
import { toResults, type Hit } from './index/search.ts';
import type { Manifest } from './index/store.ts';
import { openStore, withStore } from './store/open.ts';
import type { StoreMeta, VectorStore } from './store/types.ts';
import type { TextEncoder } from './models/text.ts';
import { writeSubmission } from './metrics/competition.ts';
import { runEval, type EvalRun, type RunEvalOptions } from './metrics/run.ts';
import { closeModel, openModel, openModelForIndex, type ModelChoice, type OpenedModel } from './models/open.ts';
import type { Runtime } from './models/runtime.ts';
import type { SpecOverrides } from './models/load.ts';
import type { Feature } from './models/hf.ts';
import { tuneHead as runTune, type TuneHeadOptions, type TuneHeadResult } from './tune/run.ts';

export { config } from './config.ts';
export type { Runtime, Hit, Skipped, EmbedResult, BuildReport, CompeteResult, EvalRun, RunEvalOptions, CaptionEvalOptions, CaptionEvalRun, TuneHeadOptions, TuneHeadResult, Manifest, SpecOverrides, Feature };
export type { EvalResult } from './metrics/evaluate.ts';
export type { VectorStore, StoreMeta, StoreChange, StoreItem } from './store/types.ts';

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
  /** Release native resources. */
  close(): Promise<void> {
    return closeModel(this.opened);
  }
}

/**
 * Load an image model: an .onnx file, a Hugging Face folder, a TF.js model.json, a preset or a
 * Hub id (downloads only when not offline).
 * @example const model = await loadModel('clip-vit-b32', { runtime: { threads: 4 } });
 */
export async function loadModel(model: string, opts: LoadModelOptions = {}): Promise<Model> {
  const choice: ModelChoice = { model, head: opts.head, overrides: opts.overrides, dtype: opts.dtype, feature: opts.feature, runtime: opts.runtime };
  return new Model(await openModel(choice), opts.runtime);
}

/** An image to embed: a file path, bytes, or an explicit id with a path or bytes. */
export type ImageInput = string | Buffer | { id: string; source: string | Buffer };

/** Options of embedImages. */
export interface EmbedImagesOptions {
  batchSize?: number;
  /** Items processed so far (embedded or skipped), after each batch. */
  onProgress?: (done: number, total: number) => void;
  onSkip?: (s: Skipped) => void;
  signal?: AbortSignal;
}

/**
 * Embed images (L2-normalised rows); undecodable inputs are skipped and reported, not thrown.
 * @example const { ids, vectors, dim } = await embedImages(model, ['a.jpg', 'b.jpg']);
 */
export async function embedImages(model: Model, images: ImageInput[], opts: EmbedImagesOptions = {}): Promise<EmbedResult> {
  const items: EmbedItem[] = images.map((x, i) => (typeof x === 'string' ? { id: x, source: x } : Buffer.isBuffer(x) ? { id: `#${i}`, source: x } : x));
  let done = 0;
  return embedPipeline(model.opened.backbone, items, {
    head: model.opened.head,
    batchSize: opts.batchSize ?? model.runtime.batchSize,
    onSkip: opts.onSkip,
    onProgress: (n) => opts.onProgress?.((done += n), items.length),
    signal: opts.signal,
  });
}

/** Options of indexFolder. */
export interface IndexFolderOptions {
  /** The model: a loaded Model, or a model name/path (loaded and closed for this call). */
  model: Model | string;
  /** With a model name: head, spec overrides, dtype, feature, runtime. */
  load?: LoadModelOptions;
  /** Ignore an existing index and embed everything again. */
  rebuild?: boolean;
  /** (embedded so far, to embed) while embedding new and changed files. */
  onProgress?: (done: number, total: number) => void;
  onSkip?: (s: Skipped) => void;
  /** Abort before the index is written; the previous index stays as it was. */
  signal?: AbortSignal;
}

/**
 * Index every image under `folder` into `out`, incrementally: only new or changed files are
 * embedded, deleted ones dropped, and the index is written atomically.
 * @example const report = await indexFolder('./gallery', 'gallery.lkx', { model: 'model.onnx', onProgress: (d, t) => console.log(d, t) });
 */
export async function indexFolder(folder: string, out: string, opts: IndexFolderOptions): Promise<BuildReport> {
  const model = typeof opts.model === 'string' ? await loadModel(opts.model, opts.load) : opts.model;
  try {
    return await buildIndex({
      folder,
      out,
      backbone: model.opened.backbone,
      head: model.opened.head,
      rebuild: opts.rebuild,
      batchSize: model.runtime.batchSize,
      onProgress: opts.onProgress,
      onSkip: opts.onSkip,
      signal: opts.signal,
    });
  } finally {
    if (typeof opts.model === 'string') await model.close();
  }
}

/** One query: a vector (dim floats, L2-normalised), an image (path or bytes), an indexed id, or a text (text-image models). */
export type Query = { vector: Float32Array } | { image: string | Buffer } | { id: string } | { text: string };

/** Options of Index.search. */
export interface IndexSearchOptions {
  /** Results (default 10; clamped to the index size). */
  k?: number;
  /** Drop hits scoring below this cosine. */
  minScore?: number;
  /** Leave the query's own item out (queries by id, or image paths under the indexed folder). */
  excludeSelf?: boolean;
  /** Stop before embedding or searching (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Results of one query. */
export interface SearchResult {
  hits: Hit[];
}

/** Options of openIndex. */
export interface OpenIndexOptions {
  /** Model for image queries: a loaded Model (must match the index), or a name/path; default the index's own model. */
  model?: Model | string;
  /** With `model` as a name: spec overrides, dtype, head, runtime. */
  load?: LoadModelOptions;
  /** Runtime for models loaded on the first image or text query. */
  runtime?: Runtime;
}

/** An opened index: search by vector, image, id or text. Models load on the first query that needs them. */
export class Index {
  private model?: Promise<Model>;
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
  /** The vector of an indexed item (an unknown id is an error naming it). */
  async vector(id: string): Promise<Float32Array> {
    return this.store.getVectors([id]);
  }

  /** The image model for this index (loaded once; checked against the index's fingerprints). */
  imageModel(): Promise<Model> {
    this.model ??= (async () => {
      const m = this.opts.model;
      if (m instanceof Model) {
        if (m.fingerprint !== this.meta.model.fingerprint || (m.headFingerprint ?? null) !== (this.meta.head?.fingerprint ?? null)) {
          throw new Error(`${this.location}: model ${m.name} is not the one the index was built with (${this.meta.model.name})`);
        }
        return m;
      }
      const l = this.opts.load ?? {};
      const runtime = l.runtime ?? this.opts.runtime;
      const opened = await openModelForIndex(this.meta, { model: m, overrides: l.overrides, dtype: l.dtype, feature: l.feature, head: l.head, runtime }, this.location);
      return new Model(opened, runtime);
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
    // Never downloads: the text tower must be where the index's model is (or runtime.offline false and asked for).
    const runtime = { ...this.opts.runtime, offline: this.opts.runtime?.offline ?? true };
    this.text ??= textEncoderFor(this.textTarget(), { model: typeof this.opts.model === 'string' ? this.opts.model : undefined, dtype: this.opts.load?.dtype, runtime });
    this.text.catch(() => (this.text = undefined));
    return this.text;
  }

  private textTarget() {
    return { name: this.location, dim: this.dim, source: this.meta };
  }

  /** Embed one query to a vector; `self` is the id to leave out with excludeSelf. */
  async embedQuery(query: Query): Promise<{ vector: Float32Array; self?: string }> {
    if ('vector' in query) {
      if (query.vector.length !== this.dim) throw new Error(`query vector has ${query.vector.length} values, the index is ${this.dim}-d`);
      return { vector: query.vector };
    }
    if ('id' in query) return { vector: await this.vector(query.id), self: query.id };
    if ('text' in query) return { vector: (await embedTextsFor(this.textTarget(), await this.textEncoder(), [query.text])).vectors };
    const model = await this.imageModel();
    const root = this.meta.root;
    const self = typeof query.image === 'string' && root ? path.relative(root, path.resolve(query.image)).split(path.sep).join('/') : undefined;
    const e = await embedImages(model, [{ id: self ?? 'query', source: query.image }]);
    if (!e.ids.length) throw new Error(`${typeof query.image === 'string' ? query.image : 'image'}: ${e.skipped[0]?.reason ?? 'cannot be decoded'}`);
    return { vector: e.vectors, self };
  }

  /**
   * Top-k items for one query.
   * @example const { hits } = await index.search({ id: 'shoes/0001.jpg' }, { k: 5, excludeSelf: true });
   */
  async search(query: Query, opts: IndexSearchOptions = {}): Promise<SearchResult> {
    const k = opts.k ?? 10;
    if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
    opts.signal?.throwIfAborted();
    const q = await this.embedQuery(query);
    opts.signal?.throwIfAborted();
    const [hits] = await this.store.search(q.vector, { k, minScore: opts.minScore, exclude: opts.excludeSelf ? [q.self] : undefined });
    return { hits: hits ?? [] };
  }

  /** Close the store and release the models this index loaded (a Model passed in stays open). */
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
 * Open an index (a folder written by `lookalike index` / indexFolder, or a store URL).
 * @example const index = await openIndex('gallery.lkx'); const { hits } = await index.search({ id: 'a.jpg' }, { k: 3 });
 */
export async function openIndex(location: string, opts: OpenIndexOptions = {}): Promise<Index> {
  const store = await openStore(location);
  try {
    return new Index(store, await store.meta(), opts);
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** Options of compete. */
export interface CompeteApiOptions {
  model: Model | string;
  load?: LoadModelOptions;
  /** Gallery items per query (default 10). */
  k?: number;
  /** Also write the submission JSON here. */
  out?: string;
  onSkip?: (s: Skipped) => void;
  onProgress?: (part: 'gallery' | 'query', n: number) => void;
}

/**
 * Rank DIR/gallery for every image in DIR/query: a competition submission {query: [gallery ids]}.
 * @example const { submission } = await compete('./comp', { model: 'face-mobileface', k: 10, out: 'sub.json' });
 */
export async function compete(dir: string, opts: CompeteApiOptions): Promise<CompeteResult> {
  const model = typeof opts.model === 'string' ? await loadModel(opts.model, opts.load) : opts.model;
  try {
    const r = await competeSubmission(dir, model.opened, opts.k ?? 10, { batchSize: model.runtime.batchSize, onSkip: opts.onSkip, onProgress: opts.onProgress });
    if (opts.out) writeSubmission(opts.out, r.submission);
    return r;
  } finally {
    if (typeof opts.model === 'string') await model.close();
  }
}

/**
 * Score rankings: an index plus labels, a submission plus truth, or a rankings file (give one).
 * @example const run = await evaluate({ submission: 'sub.json', truth: 'truth.json' }); console.log(run.result.mean['hit@1']);
 */
export function evaluate(opts: RunEvalOptions): Promise<EvalRun> {
  return runEval(opts);
}

/**
 * Image<->text R@K on a captions CSV (path,caption): from an index's vectors, or images embedded now with `model`.
 * @example const r = await evaluateCaptions({ captions: 'captions.csv', model: 'clip-vit-b32', ks: [1, 5] });
 */
export async function evaluateCaptions(opts: CaptionEvalOptions & { index?: string | Index }): Promise<CaptionEvalRun> {
  const index = opts.index;
  if (index === undefined) return runCaptionEval(undefined, opts);
  // Only the captioned items' vectors are read, through the store.
  return typeof index === 'string' ? withStore(index, {}, (store) => runCaptionEval(store, opts)) : runCaptionEval(index.store, opts);
}

/**
 * Train a head (linear or MLP) on frozen embeddings and write it as ONNX for `--head`.
 * @example await tuneHead({ index: 'g.lkx', labels: 'labels.csv', out: 'head.onnx', head: { kind: 'linear', hidden: [], dropout: 0, batchNorm: false }, training: { loss: 'hybrid', sampler: 'm-per-class', m: 4, batchSize: 64, epochs: 10, lr: 1e-3, optimizer: 'adamw', weightDecay: 1e-4, accumulate: 1, monitor: 'mmp@5', patience: 5, seed: 0 } });
 */
export function tuneHead(opts: TuneHeadOptions): Promise<TuneHeadResult> {
  return runTune(opts);
}

/** Search many query vectors at once against raw arrays (no index folder): top-k per row. */
export async function searchVectors(gallery: { ids: string[]; vectors: Float32Array; dim: number }, queries: Float32Array, k: number): Promise<Hit[][]> {
  const top = await searchExact(gallery.vectors, queries, gallery.dim, k);
  return toResults(Array.from({ length: queries.length / gallery.dim }, (_, i) => String(i)), top, gallery.ids).map((r) => r.hits);
}
