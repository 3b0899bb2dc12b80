/** Oxford-protocol evaluation of embedding rows: each truth query's image ranks every gallery row (exact cosine), scored by scoreOxford. */
import { searchExact } from '../store/exact.ts';
import { gatherRows } from '../util/matrix.ts';
import type { VectorStore } from '../store/types.ts';
import { oxfordName, scoreOxford, type OxfordTruth } from '../metrics/oxford-truth.ts';
import { readOxfordTruth } from '../metrics/oxford-truth.ts';
import { withStore } from '../store/open-store.ts';
import { searchStore, type SearchMode } from '../index/search.ts';

/** Result of an Oxford evaluation: mAP, per-query AP, and counts. */
export interface OxfordEvalResult {
  mean: { oxford_map: number };
  per_query: Record<string, { ap: number }>;
  queries_scored: number;
  gallery_size: number;
}

/** Evaluate L2-normalised rows (ids = gallery paths) under the Oxford protocol; a query image missing from the ids is an error. */
export async function evaluateOxford(ids: readonly string[], vectors: Float32Array, dim: number, truth: readonly OxfordTruth[], source = 'ground truth'): Promise<OxfordEvalResult> {
  const rows = queryIds(ids, truth, source).map((id) => ids.indexOf(id));
  const top = await searchExact(vectors, gatherRows(vectors, dim, rows), dim, ids.length);
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
export async function evaluateOxfordStore(store: VectorStore, truth: readonly OxfordTruth[], source = 'ground truth', search: SearchMode = {}): Promise<OxfordEvalResult> {
  const ids = await store.ids();
  const qids = queryIds(ids, truth, source);
  // Exact and complete: Oxford mAP needs every item ranked.
  const hits = await searchStore(store, await store.getVectors(qids), Math.max(1, ids.length), undefined, { ...search, ann: 'off' });
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

/** Options of an Oxford evaluation: the search mode (its `rerank`; the search is always exact and complete). */
export interface OxfordEvalOptions {
  search?: SearchMode;
}

/** Oxford mAP of the index at `location` against the ground-truth folder `truthDir` (good+ok positive, junk removed). */
export async function evaluateOxfordIndex(location: string, truthDir: string, opts: OxfordEvalOptions = {}): Promise<OxfordEvalResult> {
  const truth = readOxfordTruth(truthDir);
  return withStore(location, {}, (store) => evaluateOxfordStore(store, truth, truthDir, opts.search));
}
