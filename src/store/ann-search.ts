/**
 * Approximate top-k through the HNSW graph, re-scored exactly: the graph proposes
 * max(4k, ef) candidates per query, their float vectors are read from the store and scored
 * (float64 dot products, rounded to float32), and the best k are returned, ties by id order.
 * Reported scores are therefore exact cosines, whatever the graph's dtype.
 */
import fs from 'node:fs';
import { config } from '../config.ts';
import { AnnGraph, ANN_AUTO_MIN, ANN_DEFAULT_EF, ANN_DEFAULTS, readAnnManifest, refreshAnn, type AnnMode, type AnnParams, type AnnSource } from './ann.ts';
import type { Hit, SearchOptions, StoreItem, VectorStore } from './types.ts';

/** Options for annSearch. */
export interface AnnSearchOptions {
  k: number;
  /** Search depth (HNSW ef); candidates per query = max(4k, ef). Default ANN_DEFAULT_EF. */
  ef?: number;
  /** Per query, an id to leave out (the query itself). */
  exclude?: (string | undefined)[];
  /** Drop hits scoring below this cosine. */
  minScore?: number;
  /** usearch threads (0 = all cores). */
  threads?: number;
}

/** Reads float vectors of ids, in the order given (a store's getVectors). */
export type VectorsOf = (ids: string[]) => Promise<Float32Array> | Float32Array;

/** Candidates per query for k results at depth ef. */
export function candidateCount(k: number, ef = ANN_DEFAULT_EF): number {
  return Math.max(4 * k, ef);
}

/** Top-k of each query row through the graph, re-scored exactly from vectorsOf. */
export async function annSearch(graph: AnnGraph, queries: Float32Array, vectorsOf: VectorsOf, opts: AnnSearchOptions): Promise<Hit[][]> {
  const dim = graph.dim;
  const nq = dim ? queries.length / dim : 0;
  if (!Number.isInteger(nq)) throw new Error(`annSearch: queries are not a multiple of dim ${dim}`);
  const { k } = opts;
  const wanted = candidateCount(k, opts.ef) + (opts.exclude ? 1 : 0);
  const threads = opts.threads ?? config.threads;
  const out: Hit[][] = [];
  const chunk = 1024;
  for (let q0 = 0; q0 < nq; q0 += chunk) {
    const q1 = Math.min(nq, q0 + chunk);
    const cands = graph.candidates(queries.subarray(q0 * dim, q1 * dim), wanted, threads);
    const unique = [...new Set(cands.flat())];
    const vecs = await vectorsOf(unique);
    const row = new Map(unique.map((id, i) => [id, i]));
    for (let qi = q0; qi < q1; qi++) {
      const skip = opts.exclude?.[qi];
      const scored: { id: string; score: number }[] = [];
      const qo = qi * dim;
      for (const id of cands[qi - q0]) {
        if (id === skip) continue;
        const go = row.get(id)! * dim;
        let s = 0;
        for (let d = 0; d < dim; d++) s += queries[qo + d] * vecs[go + d];
        const score = Math.fround(s);
        if (opts.minScore !== undefined && score < opts.minScore) continue;
        scored.push({ id, score });
      }
      scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      out.push(scored.slice(0, k).map((h, j) => ({ rank: j + 1, id: h.id, score: h.score })));
    }
  }
  return out;
}

/** Whether a search uses the graph: 'on', or 'auto' with at least ANN_AUTO_MIN live items. */
export function useAnn(mode: AnnMode | undefined, count: number): boolean {
  if (mode === 'on') return true;
  if (mode === 'off') return false;
  return count >= ANN_AUTO_MIN;
}

/** A store's graph as kept by getAnn, per folder, for the life of the process. */
const cache = new Map<string, AnnGraph>();

/** Options for getAnn. */
export interface GetAnnOptions {
  /** Save a built or refreshed graph into the folder (writers; readers of a folder they may write). */
  persist?: boolean;
  params?: AnnParams;
  /** Told once when a graph is being built or brought up to date (for a stderr line). */
  onNote?: (msg: string) => void;
}

/**
 * The up-to-date graph of the store in `dir` whose current state is `covers`: from this
 * process's cache, else from ann.json (loaded), else built by scanning `source`. A graph that
 * covers another state is refreshed (refreshAnn) before use, and saved when `persist`.
 */
export async function getAnn(dir: string, source: AnnSource, covers: string, opts: GetAnnOptions = {}): Promise<AnnGraph> {
  let g = cache.get(dir);
  if (!g) {
    try {
      g = AnnGraph.open(dir);
    } catch (e) {
      opts.onNote?.(`ANN graph ignored: ${(e as Error).message}`);
      g = undefined;
    }
  }
  if (g && opts.params && (g.params.dtype !== opts.params.dtype || g.params.connectivity !== opts.params.connectivity)) g = undefined;
  if (!g || g.covers !== covers) {
    opts.onNote?.(g ? `updating the ANN graph of ${dir}` : `building the ANN graph of ${dir} (once; later searches reuse it)`);
    const r = await refreshAnn(g, source, covers, { params: opts.params ?? g?.params ?? ANN_DEFAULTS });
    g = r.graph;
    if (opts.persist && canWrite(dir)) {
      if (r.modified) g.save(dir, covers);
      else if (r.changed) g.retag(dir, covers);
    }
  }
  cache.set(dir, g);
  return g;
}

/** Forget cached graphs (tests; a process that replaced a store folder). */
export function clearAnnCache(): void {
  cache.clear();
}

/** True when a graph is saved in dir (whatever state it covers). */
export function hasAnn(dir: string): boolean {
  return readAnnManifest(dir) !== undefined;
}

function canWrite(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Top-k through a graph built in memory for this call only (a gallery not kept in an index, as in compete). */
export async function annSearchMatrix(ids: string[], vectors: Float32Array, dim: number, queries: Float32Array, opts: AnnSearchOptions & { params?: AnnParams }): Promise<Hit[][]> {
  const graph = AnnGraph.create(dim, opts.params ?? ANN_DEFAULTS);
  graph.add(ids, vectors, opts.threads ?? config.threads);
  const row = new Map(ids.map((id, i) => [id, i]));
  const vectorsOf = (want: string[]) => {
    const out = new Float32Array(want.length * dim);
    want.forEach((id, i) => out.set(vectors.subarray(row.get(id)! * dim, (row.get(id)! + 1) * dim), i * dim));
    return out;
  };
  return annSearch(graph, queries, vectorsOf, opts);
}

/** The state stamp a graph must cover to be trusted for a store: its last update time and count. */
export async function storeCovers(store: VectorStore): Promise<string> {
  return `${(await store.meta()).updated}#${await store.count()}`;
}

/**
 * VectorStore.search through the graph of the store kept in folder `dir` (for a store's
 * search() when useAnn says so): the graph is loaded, built or refreshed as needed, and saved
 * when `persist` (the store holds the writer lock, or no writer is running).
 */
export async function annStoreSearch(store: VectorStore, dir: string, queries: Float32Array, opts: SearchOptions, persist: boolean): Promise<Hit[][]> {
  const meta = await store.meta();
  const covers = await storeCovers(store);
  const graph = await getAnn(dir, { dim: meta.dim, scan: (n) => store.scan(n) }, covers, { persist });
  const k = Math.min(opts.k, await store.count());
  const nq = meta.dim ? queries.length / meta.dim : 0;
  if (k < 1) return Array.from({ length: nq }, () => []);
  return annSearch(graph, queries, (ids) => store.getVectors(ids), { k, ef: opts.ef, exclude: opts.exclude, minScore: opts.minScore });
}

/** Graphs changed in memory by annApply and not saved yet, per folder. */
const dirty = new Set<string>();

/**
 * Apply a store change to the graph this process holds for `dir` (if any, and if it covered the
 * state before the change): removals and upserts in O(changed); the graph then covers `after`.
 * Saved by annFlush (a writer's close). A graph not held in memory is left stale on disk and
 * refreshed by its next search.
 */
export function annApply(dir: string, before: string, after: string, upsert: StoreItem[], removed: string[]): void {
  const g = cache.get(dir);
  if (!g) return;
  if (g.covers !== before || g.readOnly) {
    cache.delete(dir);
    return;
  }
  g.remove(removed);
  if (upsert.length) {
    const m = new Float32Array(upsert.length * g.dim);
    upsert.forEach((it, i) => m.set(it.vector, i * g.dim));
    g.add(upsert.map((it) => it.id), m, config.threads);
  }
  g.covers = after;
  dirty.add(dir);
}

/** Save the graph annApply changed for `dir`, if any (a writer's close). */
export function annFlush(dir: string): void {
  const g = cache.get(dir);
  if (g && dirty.has(dir) && canWrite(dir)) g.save(dir, g.covers);
  dirty.delete(dir);
}
