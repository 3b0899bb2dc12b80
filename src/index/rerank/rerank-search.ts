/**
 * Re-ranked search for the one search path (index/search.ts#searchStore): αQE through the store,
 * DBA and k-reciprocal over the loaded gallery. The index itself is never changed.
 */
import type { Hit, VectorStore } from '../../store/types.ts';
import { scoreMatrix, searchExact, type TopK } from '../../store/exact.ts';
import { OptionError } from '../../util/options.ts';
import type { AnnMode } from '../../store/ann-mode.ts';
import type { FilterNode } from '../../data/field-types.ts';
import type { RerankStep } from './base.ts';
import { alphaQueryExpansion } from './aqe.ts';
import { DBA_MAX_GALLERY, augmentDatabase } from './dba.ts';
import { KR_MAX_ITEMS, kReciprocalDistances } from './k-reciprocal.ts';
import { formatRerank } from './options.ts';

/** The store search a re-ranking builds on (exact or ANN, as the caller's mode says). */
export interface BaseSearch {
  ann?: AnnMode;
  ef?: number;
  minScore?: number;
  /** Rank (and expand queries with) only the items it matches; DBA and k-reciprocal neighbourhoods still span the whole gallery. */
  filter?: FilterNode;
}

interface Gallery {
  ids: string[];
  vectors: Float32Array;
  dim: number;
}

// One loaded (and augmented) gallery per store and index state: a batch of searches, or a
// leave-one-out evaluation in query blocks, pays for loading and DBA once.
const galleries = new WeakMap<VectorStore, { key: string; gallery: Gallery }>();

async function loadGallery(store: VectorStore, dba: RerankStep | undefined, limit: number, what: string): Promise<Gallery> {
  const meta = await store.meta();
  const count = await store.count();
  if (count > limit) throw new OptionError(`{{rerank}} ${what}: the gallery has ${count} items, more than the ${limit.toLocaleString('en-US')} it accepts (it loads the gallery and compares it with itself); use aqe alone on large galleries`);
  const key = `${store.location}|${meta.updated}|${count}|${dba ? formatRerank([dba]) : ''}`;
  const hit = galleries.get(store);
  if (hit?.key === key) return hit.gallery;
  const ids: string[] = [];
  const vectors = new Float32Array(count * meta.dim);
  let o = 0;
  for await (const b of store.scan()) {
    ids.push(...b.ids);
    vectors.set(b.vectors, o);
    o += b.vectors.length;
  }
  const g = await augmented({ ids, vectors: vectors.subarray(0, o), dim: meta.dim }, dba);
  galleries.set(store, { key, gallery: g });
  return g;
}

/** The gallery with DBA applied (a new array), or as it is without a dba step. */
async function augmented(g: Gallery, dba: RerankStep | undefined): Promise<Gallery> {
  if (!dba) return g;
  const n = Math.min(dba.params.n, g.ids.length);
  const top = await searchExact(g.vectors, g.vectors, g.dim, n);
  return { ...g, vectors: augmentDatabase(g.vectors, g.dim, top.indices, top.scores, top.k, dba.params.alpha) };
}

/**
 * Exact top-k of query rows against gallery rows (both L2-normalised), re-ranked by `steps` as
 * rerankSearch ranks a loaded gallery (same limits); no steps: searchExact itself. The answer has
 * searchExact's shape; `exclude` is a gallery row per query (or -1). Experiments score with it.
 */
export async function rankRows(gallery: Float32Array, queries: Float32Array, dim: number, k: number, steps: readonly RerankStep[], exclude?: Int32Array): Promise<TopK> {
  if (!steps.length) return searchExact(gallery, queries, dim, k, { exclude });
  const kr = steps.some((s) => s.method === 'kr');
  const ng = gallery.length / dim;
  const limit = kr ? KR_MAX_ITEMS - 1 : DBA_MAX_GALLERY;
  if (ng > limit && (kr || steps.some((s) => s.method === 'dba'))) throw new OptionError(`{{rerank}} ${kr ? 'kr' : 'dba'}: the gallery has ${ng} items, more than the ${limit.toLocaleString('en-US')} it accepts; use aqe alone on large galleries`);
  const ids = Array.from({ length: ng }, (_, i) => String(i));
  const g = await augmented({ ids, vectors: gallery, dim }, steps.find((s) => s.method === 'dba'));
  const lists = await rankGallery(g, queries, k, exclude && Array.from(exclude, (x) => (x >= 0 ? String(x) : undefined)), steps, undefined);
  const kk = Math.min(k, ng);
  const nq = queries.length / dim;
  const indices = new Int32Array(nq * kk).fill(-1);
  const scores = new Float32Array(nq * kk).fill(-Infinity);
  lists.forEach((t, i) => t.idx.forEach((gi, j) => {
    indices[i * kk + j] = gi;
    scores[i * kk + j] = t.score[j];
  }));
  return { k: kk, indices, scores };
}

/** Top lists (indices into the gallery, scores) of each query, without its excluded id and only `allowed` rows (all when absent), at most `n` long. */
async function exactTop(g: Gallery, queries: Float32Array, n: number, exclude: (string | undefined)[] | undefined, allowed: Set<number> | undefined): Promise<{ idx: number[]; score: number[] }[]> {
  const nq = queries.length / g.dim;
  const top = await searchExact(g.vectors, queries, g.dim, allowed ? g.ids.length : n + (exclude ? 1 : 0));
  return Array.from({ length: nq }, (_, i) => {
    const idx: number[] = [];
    const score: number[] = [];
    for (let j = 0; j < top.k && idx.length < n; j++) {
      const gi = top.indices[i * top.k + j];
      if (gi < 0 || (exclude?.[i] !== undefined && g.ids[gi] === exclude[i]) || (allowed && !allowed.has(gi))) continue;
      idx.push(gi);
      score.push(top.scores[i * top.k + j]);
    }
    return { idx, score };
  });
}

function expand(g: Gallery, queries: Float32Array, tops: { idx: number[]; score: number[] }[], aqe: RerankStep): Float32Array {
  const n = aqe.params.n;
  const vectors = new Float32Array(tops.length * n * g.dim);
  const scores = new Float32Array(tops.length * n).fill(-Infinity);
  tops.forEach((t, i) => t.idx.forEach((gi, j) => {
    vectors.set(g.vectors.subarray(gi * g.dim, (gi + 1) * g.dim), (i * n + j) * g.dim);
    scores[i * n + j] = t.score[j];
  }));
  return alphaQueryExpansion(queries, g.dim, vectors, scores, n, aqe.params.alpha);
}

/**
 * Rank the store for query rows with the given re-ranking steps (non-empty). αQE alone runs
 * through the store (two searches, ANN allowed); DBA and k-reciprocal load the gallery (with
 * their limits) and rank it exactly. Hit scores are the cosine of the (expanded) query with the
 * (augmented) gallery vector, or 1 - the k-reciprocal distance; minScore applies to them.
 */
export async function rerankSearch(store: VectorStore, queries: Float32Array, k: number, exclude: (string | undefined)[] | undefined, steps: readonly RerankStep[], mode: BaseSearch): Promise<Hit[][]> {
  const step = (m: RerankStep['method']) => steps.find((s) => s.method === m);
  const dba = step('dba');
  const aqe = step('aqe');
  const kr = step('kr');
  if (!dba && !kr) {
    const n = aqe!.params.n;
    const first = await store.search(queries, { k: n, exclude, ann: mode.ann, ef: mode.ef, filter: mode.filter });
    const wanted = [...new Set(first.flat().map((h) => h.id))];
    const rows = await store.getVectors(wanted);
    const { dim } = await store.meta();
    const g: Gallery = { ids: wanted, vectors: rows, dim };
    const at = new Map(wanted.map((id, i) => [id, i]));
    const tops = first.map((hits) => ({ idx: hits.map((h) => at.get(h.id)!), score: hits.map((h) => h.score) }));
    return store.search(expand(g, queries, tops, aqe!), { k, exclude, ann: mode.ann, ef: mode.ef, minScore: mode.minScore, filter: mode.filter });
  }
  const g = await loadGallery(store, dba, kr ? KR_MAX_ITEMS - 1 : DBA_MAX_GALLERY, kr ? 'kr' : 'dba');
  if (queries.length % g.dim !== 0) throw new Error(`${store.location}: queries are not ${g.dim}-d`);
  let allowed: Set<number> | undefined;
  if (mode.filter) {
    const keep = new Set(await store.select(mode.filter));
    allowed = new Set(g.ids.flatMap((id, i) => (keep.has(id) ? [i] : [])));
  }
  const lists = await rankGallery(g, queries, k, exclude, steps, allowed);
  return lists.map((t) => {
    const hits: Hit[] = [];
    t.idx.forEach((gi, j) => {
      if (mode.minScore !== undefined && t.score[j] < mode.minScore) return;
      hits.push({ rank: hits.length + 1, id: g.ids[gi], score: t.score[j] });
    });
    return hits;
  });
}

/** αQE and k-reciprocal over a loaded (DBA-augmented) gallery: each query's top `k` gallery rows and scores. */
async function rankGallery(g: Gallery, queries: Float32Array, k: number, exclude: (string | undefined)[] | undefined, steps: readonly RerankStep[], allowed: Set<number> | undefined): Promise<{ idx: number[]; score: number[] }[]> {
  const aqe = steps.find((s) => s.method === 'aqe');
  const kr = steps.find((s) => s.method === 'kr');
  const nq = queries.length / g.dim;
  const q = aqe ? expand(g, queries, await exactTop(g, queries, Math.min(aqe.params.n, g.ids.length), exclude, allowed), aqe) : queries;
  let lists: { idx: number[]; score: number[] }[];
  if (kr) {
    // Each query is re-ranked with the gallery alone, never with the other queries of its batch,
    // so its results do not depend on what it was searched with (the server batches requests).
    const ng = g.ids.length;
    const all = ng + 1;
    const gg = await scoreMatrix(g.vectors, g.vectors, g.dim);
    const qg = await scoreMatrix(q, g.vectors, g.dim);
    const sims = new Float32Array(all * all);
    for (let a = 0; a < ng; a++) sims.set(gg.subarray(a * ng, (a + 1) * ng), (a + 1) * all + 1);
    lists = Array.from({ length: nq }, (_, i) => {
      sims[0] = 1;
      for (let j = 0; j < ng; j++) sims[j + 1] = sims[(j + 1) * all] = qg[i * ng + j];
      const dist = kReciprocalDistances(sims, 1, ng, kr.params as { k1: number; k2: number; lambda: number });
      const order = Array.from({ length: ng }, (_, j) => j).filter((j) => (exclude?.[i] === undefined || g.ids[j] !== exclude[i]) && (!allowed || allowed.has(j)));
      order.sort((a, b) => dist[a] - dist[b] || a - b);
      const idx = order.slice(0, k);
      return { idx, score: idx.map((j) => 1 - dist[j]) };
    });
  } else {
    lists = await exactTop(g, q, Math.min(k, g.ids.length), exclude, allowed);
  }
  return lists;
}
