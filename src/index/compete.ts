/**
 * Competition ranking: embed DIR/gallery and DIR/query with one model and write, for every
 * query file name, the k most similar gallery file names (the submission format of
 * docs/metrics.md). Undecodable files are reported as query/... or gallery/... and skipped.
 */
import path from 'node:path';
import { listFolder, listingSkips } from '../data/images.ts';
import { embedWithBackbone, type Skipped } from '../embed/pipeline.ts';
import { writeSubmission, type Submission } from '../metrics/competition.ts';
import { closeModel, openModel, openModelForIndex, type ModelChoice, type OpenedModel } from '../models/open-model.ts';
import { openStore } from '../store/open-store.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { OptionError } from '../util/options.ts';
import { searchExact } from '../store/exact.ts';
import { toSubmission } from './query.ts';
import { checkSearchOptions, searchStore, toResults, type SearchMode } from './search.ts';
import { annSearchMatrix } from '../store/ann-search.ts';
import { chooseAnn } from '../store/ann-mode.ts';
import { ANN_DEFAULTS } from '../store/ann.ts';
import type { VectorStore } from '../store/types.ts';
import type { ModelSpec } from '../models/spec.ts';
import { assertSameEmbedding } from '../models/compat.ts';

/** Options for competeSubmission. */
export interface CompeteOptions {
  batchSize?: number;
  onSkip?: (s: Skipped) => void;
  /** Called when a part starts ('gallery' then 'query') with its size, then per batch with items done. */
  onPart?: (part: 'gallery' | 'query', total: number) => void;
  onProgress?: (part: 'gallery' | 'query', n: number) => void;
  /** Exact (default) or approximate search (--ann, --ef, --ann-dtype). */
  search?: SearchMode;
}

/** A submission and what went into it. */
export interface CompeteResult {
  submission: Submission;
  queries: number;
  gallery: number;
  /** `--crop face`: images embedded here with no face found (query/... and gallery/...), embedded from the whole image. */
  noFace?: string[];
}

/** Check that a store holds an index of `gDir` (its recorded root), else a one-line error saying how to make one. */
export async function checkStoreGallery(store: VectorStore, gDir: string): Promise<void> {
  const root = (await store.meta()).root;
  const want = path.resolve(gDir);
  if (root === undefined || path.resolve(root) !== want) {
    throw new Error(`${store.location}: ${root === undefined ? 'was not built from a folder' : `indexes ${root}`}, not ${want}; index the gallery first: lookalike index ${gDir} --store ${store.location}`);
  }
}

/**
 * Rank a store's gallery (an index of DIR/gallery, built with `model`) for every image in
 * DIR/query: only the queries are embedded; ranking is `store.search` (exact, or HNSW with
 * `search.ann`/`search.ef`). Same submission as competeSubmission with the same model.
 */
export async function competeWithStore(dir: string, store: VectorStore, model: OpenedModel, k: number, opts: CompeteOptions = {}): Promise<CompeteResult> {
  const qDir = path.join(dir, 'query');
  await checkStoreGallery(store, path.join(dir, 'gallery'));
  const meta = await store.meta();
  const { backbone, head } = model;
  assertSameEmbedding(meta, { model: { name: backbone.name, fingerprint: backbone.fingerprint, spec: backbone.spec }, ...(head ? { head: { file: head.file, fingerprint: head.fingerprint } } : {}) }, store.location);
  const gallery = await store.count();
  if (!gallery) throw new Error(`${store.location}: no gallery images in this index`);
  const q = listFolder(qDir);
  if (!q.images.length) throw new Error(`${qDir}: no query images`);
  for (const s of listingSkips(q, 'query/')) opts.onSkip?.(s);
  opts.onPart?.('query', q.images.length);
  const queries = await embedWithBackbone(backbone, q.images.map((id) => ({ id, source: path.join(qDir, id) })), {
    head,
    batchSize: opts.batchSize,
    onSkip: (s) => opts.onSkip?.({ ...s, id: `query/${s.id}` }),
    onProgress: (n) => opts.onProgress?.('query', n),
  });
  if (queries.ids.length && queries.dim !== meta.dim) throw new Error(`${store.location}: index has ${meta.dim}-d embeddings, queries have ${queries.dim}-d`);
  const hits = queries.ids.length ? await searchStore(store, queries.vectors, k, undefined, opts.search) : [];
  const results = queries.ids.map((query, i) => ({ query, hits: hits[i] }));
  return { submission: toSubmission(results), queries: queries.ids.length, gallery, ...noFaceOf(backbone.spec, [['query', queries]]) };
}

/** Rank DIR/gallery for every image in DIR/query with `model`; k results per query. */
export async function competeSubmission(dir: string, model: OpenedModel, k: number, opts: CompeteOptions = {}): Promise<CompeteResult> {
  checkSearchOptions(k, opts.search);
  if (opts.search?.filter !== undefined || opts.search?.groupBy !== undefined) throw new OptionError('{{filter}} and {{groupBy}} need item fields: index DIR/gallery and rank it with {{store}}');
  const qDir = path.join(dir, 'query');
  const gDir = path.join(dir, 'gallery');
  const q = listFolder(qDir);
  const g = listFolder(gDir);
  if (!g.images.length) throw new Error(`${gDir}: no gallery images`);
  if (!q.images.length) throw new Error(`${qDir}: no query images`);
  for (const s of [...listingSkips(q, 'query/'), ...listingSkips(g, 'gallery/')]) opts.onSkip?.(s);
  const embed = async (folder: string, ids: string[], part: 'gallery' | 'query') => {
    opts.onPart?.(part, ids.length);
    return embedWithBackbone(model.backbone, ids.map((id) => ({ id, source: path.join(folder, id) })), {
      head: model.head,
      batchSize: opts.batchSize,
      onSkip: (s) => opts.onSkip?.({ ...s, id: `${part}/${s.id}` }),
      onProgress: (n) => opts.onProgress?.(part, n),
    });
  };
  const gallery = await embed(gDir, g.images, 'gallery');
  const queries = await embed(qDir, q.images, 'query');
  const mode = opts.search ?? {};
  // auto weighs building a graph in memory for this one call against exact search (chooseAnn).
  const results = chooseAnn(mode.ann, { count: gallery.ids.length, queries: queries.ids.length, dim: gallery.dim, graph: 'none' })
    ? (await annSearchMatrix(gallery.ids, gallery.vectors, gallery.dim, queries.vectors, { k, ef: mode.ef, params: mode.annDtype ? { ...ANN_DEFAULTS, dtype: mode.annDtype } : undefined })).map((hits, i) => ({ query: queries.ids[i], hits }))
    : toResults(queries.ids, await searchExact(gallery.vectors, queries.vectors, gallery.dim, k), gallery.ids);
  return { submission: toSubmission(results), queries: queries.ids.length, gallery: gallery.ids.length, ...noFaceOf(model.backbone.spec, [['gallery', gallery], ['query', queries]]) };
}

/** The no-face list of a face-cropping spec, ids prefixed with their part; nothing without a face crop. */
function noFaceOf(spec: ModelSpec, parts: [string, { noFace?: string[] }][]): { noFace?: string[] } {
  return spec.face ? { noFace: parts.flatMap(([part, r]) => (r.noFace ?? []).map((id) => `${part}/${id}`)) } : {};
}

/** Options of competeFolder: the model (or a store holding the gallery), k, the submission file. */
export interface CompeteFolderOptions extends CompeteOptions {
  /** The model; with `store` optional (default the store's own) and checked against it. */
  model?: ModelChoice;
  /** A model already loaded (the caller closes it); wins over `model`. */
  opened?: OpenedModel;
  /** Take the gallery from an index of DIR/gallery at this location: only DIR/query is embedded. */
  store?: string;
  /** Gallery items per query (default 10). */
  k?: number;
  /** Write the submission JSON here (checked before any work: docs/reliability.md). */
  out?: string;
  /** Fail before writing when any file was skipped. */
  strict?: boolean;
}

/** Rank DIR/gallery (or a store's index of it) for every image in DIR/query; write `out` when given. */
export async function competeFolder(dir: string, o: CompeteFolderOptions): Promise<CompeteResult> {
  const k = o.k ?? 10;
  checkSearchOptions(k, o.search);
  if (!o.opened && !o.model?.model && !o.store) throw new OptionError('give {{model}}, or {{store}} (an index of DIR/gallery)');
  if (o.out) guardOutput(o.out, { option: 'out', kind: OUTPUT_KINDS.submission, inputs: [dir, o.model?.head, o.store] });
  let skipped = 0;
  const opts: CompeteOptions = { ...o, onSkip: (s) => (skipped++, o.onSkip?.(s)) };
  let r: CompeteResult;
  if (o.store) {
    const store = await openStore(o.store);
    try {
      await checkStoreGallery(store, path.join(dir, 'gallery'));
      const model = o.opened ?? (await openModelForIndex(await store.meta(), o.model ?? {}, o.store));
      r = await competeWithStore(dir, store, model, k, opts).finally(() => (o.opened ? undefined : closeModel(model)));
    } finally {
      await store.close();
    }
  } else {
    const model = o.opened ?? (await openModel(o.model!));
    r = await competeSubmission(dir, model, k, opts).finally(() => (o.opened ? undefined : closeModel(model)));
  }
  // strict decides before anything is written.
  if (o.strict && skipped) throw new OptionError(`{{strict}}: ${skipped} file(s) skipped${o.out ? `; ${o.out} was not written` : ''}`);
  if (o.out) writeSubmission(o.out, r.submission);
  return r;
}
