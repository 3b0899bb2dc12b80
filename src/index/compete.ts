/**
 * Competition ranking: embed DIR/gallery and DIR/query with one model and write, for every
 * query file name, the k most similar gallery file names (the submission format of
 * docs/metrics.md). Undecodable files are reported as query/... or gallery/... and skipped.
 */
import path from 'node:path';
import { listFolder, listingSkips } from '../data/images.ts';
import { embedImages, type Skipped } from '../embed/pipeline.ts';
import type { Submission } from '../metrics/competition.ts';
import type { OpenedModel } from '../models/open.ts';
import { searchExact } from '../store/exact.ts';
import { toSubmission } from './query.ts';
import { toResults, type SearchMode } from './search.ts';
import { annSearchMatrix, useAnn } from '../store/ann-search.ts';
import { ANN_DEFAULTS } from '../store/ann.ts';
import type { VectorStore } from '../store/types.ts';
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
  const queries = await embedImages(backbone, q.images.map((id) => ({ id, source: path.join(qDir, id) })), {
    head,
    batchSize: opts.batchSize,
    onSkip: (s) => opts.onSkip?.({ ...s, id: `query/${s.id}` }),
    onProgress: (n) => opts.onProgress?.('query', n),
  });
  if (queries.ids.length && queries.dim !== meta.dim) throw new Error(`${store.location}: index has ${meta.dim}-d embeddings, queries have ${queries.dim}-d`);
  const mode = opts.search ?? {};
  const hits = queries.ids.length ? await store.search(queries.vectors, { k, ann: mode.ann, ef: mode.ef }) : [];
  const results = queries.ids.map((query, i) => ({ query, hits: hits[i] }));
  return { submission: toSubmission(results), queries: queries.ids.length, gallery };
}

/** Rank DIR/gallery for every image in DIR/query with `model`; k results per query. */
export async function competeSubmission(dir: string, model: OpenedModel, k: number, opts: CompeteOptions = {}): Promise<CompeteResult> {
  const qDir = path.join(dir, 'query');
  const gDir = path.join(dir, 'gallery');
  const q = listFolder(qDir);
  const g = listFolder(gDir);
  if (!g.images.length) throw new Error(`${gDir}: no gallery images`);
  if (!q.images.length) throw new Error(`${qDir}: no query images`);
  for (const s of [...listingSkips(q, 'query/'), ...listingSkips(g, 'gallery/')]) opts.onSkip?.(s);
  const embed = async (folder: string, ids: string[], part: 'gallery' | 'query') => {
    opts.onPart?.(part, ids.length);
    return embedImages(model.backbone, ids.map((id) => ({ id, source: path.join(folder, id) })), {
      head: model.head,
      batchSize: opts.batchSize,
      onSkip: (s) => opts.onSkip?.({ ...s, id: `${part}/${s.id}` }),
      onProgress: (n) => opts.onProgress?.(part, n),
    });
  };
  const gallery = await embed(gDir, g.images, 'gallery');
  const queries = await embed(qDir, q.images, 'query');
  const mode = opts.search ?? {};
  const results = useAnn(mode.ann, gallery.ids.length)
    ? (await annSearchMatrix(gallery.ids, gallery.vectors, gallery.dim, queries.vectors, { k, ef: mode.ef, params: mode.annDtype ? { ...ANN_DEFAULTS, dtype: mode.annDtype } : undefined })).map((hits, i) => ({ query: queries.ids[i], hits }))
    : toResults(queries.ids, await searchExact(gallery.vectors, queries.vectors, gallery.dim, k), gallery.ids);
  return { submission: toSubmission(results), queries: queries.ids.length, gallery: gallery.ids.length };
}
