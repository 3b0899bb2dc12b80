/** Oxford-protocol evaluation of embedding rows: each truth query's image ranks every gallery row (exact cosine), scored by scoreOxford. */
import { rankRows } from '../index/rerank/rerank-search.ts';
import type { RerankStep } from '../index/rerank/base.ts';
import { gatherRows } from '../util/matrix.ts';
import type { VectorStore } from '../store/types.ts';
import { oxfordName, scoreOxford, type OxfordTruth } from '../metrics/oxford-truth.ts';
import { readOxfordTruth } from '../metrics/oxford-truth.ts';
import { withStore } from '../store/open-store.ts';
import { searchStore, type SearchMode } from '../index/search.ts';
import fs from 'node:fs';
import path from 'node:path';
import { openModelForIndex, closeModel } from '../models/open-model.ts';
import type { Runtime } from '../models/runtime.ts';
import { embedWithBackbone } from '../embed/pipeline.ts';
import { sharpLib } from '../util/lazy-import.ts';

/** Result of an Oxford evaluation: mAP, per-query AP, and counts. */
export interface OxfordEvalResult {
  mean: { oxford_map: number };
  per_query: Record<string, { ap: number }>;
  queries_scored: number;
  gallery_size: number;
}

/** Evaluate L2-normalised rows (ids = gallery paths) under the Oxford protocol, re-ranked by `rerank` when given; a query image missing from the ids is an error. */
export async function evaluateOxford(ids: readonly string[], vectors: Float32Array, dim: number, truth: readonly OxfordTruth[], source = 'ground truth', rerank: readonly RerankStep[] = []): Promise<OxfordEvalResult> {
  const rows = queryIds(ids, truth, source).map((id) => ids.indexOf(id));
  const top = await rankRows(vectors, gatherRows(vectors, dim, rows), dim, ids.length, rerank);
  const rankings = new Map<string, string[]>();
  truth.forEach((t, q) => {
    const list: string[] = [];
    for (let j = 0; j < ids.length; j++) {
      const g = top.indices[q * ids.length + j];
      if (g >= 0) list.push(ids[g]);
    }
    rankings.set(t.id, list);
  });
  return result(truth, rankings, ids.length);
}

/**
 * Evaluate an index under the Oxford protocol through its store: the query images' vectors are
 * read by id and each ranks the whole index with the store's exact search (chunked: the index is
 * never loaded whole). Same rankings as evaluateOxford over the same rows.
 */
export async function evaluateOxfordStore(store: VectorStore, truth: readonly OxfordTruth[], source = 'ground truth', search: SearchMode = {}, queries?: Float32Array): Promise<OxfordEvalResult> {
  const ids = await store.ids();
  const qids = queryIds(ids, truth, source);
  // Exact and complete: Oxford mAP needs every item ranked.
  const hits = await searchStore(store, queries ?? (await store.getVectors(qids)), Math.max(1, ids.length), undefined, { ...search, ann: 'off' });
  const rankings = new Map(truth.map((t, q) => [t.id, (hits[q] ?? []).map((h) => h.id)]));
  return result(truth, rankings, ids.length);
}

/** The index id of each truth query's image (the last id with that Oxford name); a missing one is an error. */
function queryIds(ids: readonly string[], truth: readonly OxfordTruth[], source: string): string[] {
  const byName = new Map<string, string>();
  for (const id of ids) byName.set(oxfordName(id), id);
  return truth.map((t) => {
    const id = byName.get(t.image);
    if (id === undefined) throw new Error(`${source}: query ${t.id}: image ${t.image} is not among the ${ids.length} embedded images`);
    return id;
  });
}

function result(truth: readonly OxfordTruth[], rankings: Map<string, string[]>, n: number): OxfordEvalResult {
  const s = scoreOxford(truth, rankings);
  return { mean: { oxford_map: s.oxford_map }, per_query: Object.fromEntries(Object.entries(s.ap).map(([q, ap]) => [q, { ap }])), queries_scored: truth.length, gallery_size: n };
}

/** Options of an Oxford evaluation: the search mode (its `rerank`; the search is always exact and complete) and the query protocol. */
export interface OxfordEvalOptions {
  search?: SearchMode;
  /**
   * Embed each query from its box in NAME_query.txt (x0 y0 x1 y1, pixels of the image file), the
   * standard protocol, with the index's model and head, from the index's image folder; default:
   * the query image's whole-image vector from the index.
   */
  queryBoxes?: boolean;
  /** Threads and device for embedding the query boxes. */
  runtime?: Runtime;
}

/** The box of each query file in an Oxford truth folder (`oxc1_NAME x0 y0 x1 y1`); a query file without one is an error. */
export function readOxfordBoxes(dir: string, truth: readonly OxfordTruth[]): Map<string, [number, number, number, number]> {
  return new Map(
    truth.map((t) => {
      const file = path.join(dir, `${t.id}_query.txt`);
      const parts = fs.readFileSync(file, 'utf8').trim().split(/\s+/).slice(1, 5).map(Number);
      if (parts.length !== 4 || parts.some((v) => !Number.isFinite(v)) || parts[2] <= parts[0] || parts[3] <= parts[1]) {
        throw new Error(`${file}: expected "oxc1_NAME x0 y0 x1 y1" with x0 < x1 and y0 < y1 for query boxes; or evaluate whole images (without query boxes)`);
      }
      return [t.id, parts as [number, number, number, number]];
    }),
  );
}

/** Embed each query's box of its image file (under the indexed folder) with the index's model: one row per truth query. */
export async function embedQueryBoxes(store: VectorStore, truth: readonly OxfordTruth[], truthDir: string, runtime: Runtime | undefined): Promise<Float32Array> {
  const meta = await store.meta();
  if (!meta.root) throw new Error(`${store.location}: the index does not record its image folder, so query boxes cannot be cropped; evaluate whole images`);
  const boxes = readOxfordBoxes(truthDir, truth);
  const qids = queryIds(await store.ids(), truth, truthDir);
  const items = await Promise.all(
    truth.map(async (t, i) => {
      const file = path.join(meta.root!, qids[i]);
      const [x0, y0, x1, y1] = boxes.get(t.id)!;
      const img = sharpLib()(file);
      const { width = 0, height = 0 } = await img.metadata();
      // The box in whole pixels, inside the image.
      const left = Math.max(0, Math.floor(x0));
      const top = Math.max(0, Math.floor(y0));
      const w = Math.min(width, Math.ceil(x1)) - left;
      const h = Math.min(height, Math.ceil(y1)) - top;
      if (w < 1 || h < 1) throw new Error(`${truthDir}: query ${t.id}: box ${x0} ${y0} ${x1} ${y1} is outside its ${width}x${height} image ${file}`);
      return { id: t.id, source: await img.extract({ left, top, width: w, height: h }).png().toBuffer() };
    }),
  );
  const model = await openModelForIndex(meta, { runtime }, store.location);
  try {
    const r = await embedWithBackbone(model.backbone, items, { head: model.head, batchSize: runtime?.batchSize });
    if (r.skipped.length) throw new Error(`${truthDir}: query ${r.skipped[0].id}: ${r.skipped[0].reason}`);
    return r.vectors;
  } finally {
    await closeModel(model);
  }
}

/** Oxford mAP of the index at `location` against the ground-truth folder `truthDir` (good+ok positive, junk removed). */
export async function evaluateOxfordIndex(location: string, truthDir: string, opts: OxfordEvalOptions = {}): Promise<OxfordEvalResult> {
  const truth = readOxfordTruth(truthDir);
  return withStore(location, {}, async (store) => evaluateOxfordStore(store, truth, truthDir, opts.search, opts.queryBoxes ? await embedQueryBoxes(store, truth, truthDir, opts.runtime) : undefined));
}
