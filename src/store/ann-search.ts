/**
 * Approximate top-k through the HNSW graph, re-scored exactly: the graph is searched at depth
 * max(4k, ef) and proposes that many candidates per query; their float vectors are read from the
 * store and scored (float64 dot products, rounded to float32), and the best k are returned, ties
 * by id order. Reported scores are therefore exact cosines, whatever the graph's dtype. An f32
 * graph already ranks by the exact cosine, so only its best 2k candidates are re-scored; an f16
 * or i8 graph has all of them re-scored.
 */
import fs from 'node:fs';
import { config } from '../util/config.ts';
import { ANN_AUTO_MIN, ANN_DEFAULT_EF, type AnnMode } from './ann-mode.ts';
import { AnnGraph, ANN_DEFAULTS, readAnnManifest, refreshAnn, type AnnParams, type AnnSource } from './ann.ts';
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
  /** Keep only candidates for which this is true (the graph's items still current in the store). */
  accept?: (id: string) => boolean;
}

/** Reads float vectors of ids, in the order given (a store's getVectors). */
export type VectorsOf = (ids: string[]) => Promise<Float32Array> | Float32Array;

/** Float vectors held in memory: the matrix and the row of each id (no copies while re-scoring). */
export interface VectorMatrix {
  matrix: Float32Array;
  rowOf: (id: string) => number;
}

/**
 * A filtered search uses the graph only when the filter keeps at least this share of the items
 * (and ANN_AUTO_MIN of them): below it the graph's candidates must be over-fetched by more than
 * 1/share, and an exact pass over the matching rows alone is cheaper. Chosen from
 * `npm run bench:filters` at 100,000 x 512 (docs/benchmarks.md): at 10% the exact pass over the
 * matches was about 1.9x faster than the over-fetched graph, at 50% the graph about 1.6x faster.
 */
export const ANN_FILTER_MIN_SHARE = 0.25;

/** Candidates per query for k results at depth ef. */
export function candidateCount(k: number, ef = ANN_DEFAULT_EF): number {
  return Math.max(4 * k, ef);
}

/**
 * Top-k of each query row through the graph, re-scored exactly from the float vectors
 * (`vectors`: a reader such as a store's getVectors, or an in-memory matrix).
 */
export async function annSearch(graph: AnnGraph, queries: Float32Array, vectors: VectorsOf | VectorMatrix, opts: AnnSearchOptions): Promise<Hit[][]> {
  const dim = graph.dim;
  const nq = dim ? queries.length / dim : 0;
  if (!Number.isInteger(nq)) throw new Error(`annSearch: queries are not a multiple of dim ${dim}`);
  const { k } = opts;
  const wanted = candidateCount(k, opts.ef) + (opts.exclude ? 1 : 0);
  // An f32 graph ranks candidates by the exact cosine already: re-scoring its best 2k is enough
  // for exact scores and id-order ties. An f16/i8 graph ranks approximately: all are re-scored.
  const rescore = graph.params.dtype === 'f32' ? Math.min(wanted, 2 * k + (opts.exclude ? 1 : 0)) : wanted;
  const out: Hit[][] = [];
  const chunk = 1024;
  for (let q0 = 0; q0 < nq; q0 += chunk) {
    const q1 = Math.min(nq, q0 + chunk);
    let cands = graph.candidates(queries.subarray(q0 * dim, q1 * dim), wanted);
    const accept = opts.accept;
    if (accept) cands = cands.map((l) => l.filter(accept));
    let mat: Float32Array;
    let rowOf: (id: string) => number;
    if (typeof vectors === 'function') {
      const unique = [...new Set(cands.flatMap((l) => l.slice(0, rescore)))];
      mat = await vectors(unique);
      const row = new Map(unique.map((id, i) => [id, i]));
      rowOf = (id) => row.get(id)!;
    } else {
      mat = vectors.matrix;
      rowOf = vectors.rowOf;
    }
    for (let qi = q0; qi < q1; qi++) {
      const skip = opts.exclude?.[qi];
      const scored: { id: string; score: number }[] = [];
      const qo = qi * dim;
      const list = cands[qi - q0];
      const n = Math.min(list.length, rescore);
      for (let j = 0; j < n; j++) {
        const id = list[j];
        if (id === skip) continue;
        const score = Math.fround(dot(queries, qo, mat, rowOf(id) * dim, dim));
        if (opts.minScore !== undefined && score < opts.minScore) continue;
        scored.push({ id, score });
      }
      scored.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      out.push(scored.slice(0, k).map((h, j) => ({ rank: j + 1, id: h.id, score: h.score })));
    }
  }
  return out;
}

/** Dot product of two dim-wide rows, accumulated in float64 (4 lanes). */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let d = 0;
  for (; d + 3 < n; d += 4) {
    s0 += a[ao + d] * b[bo + d];
    s1 += a[ao + d + 1] * b[bo + d + 1];
    s2 += a[ao + d + 2] * b[bo + d + 2];
    s3 += a[ao + d + 3] * b[bo + d + 3];
  }
  for (; d < n; d++) s0 += a[ao + d] * b[bo + d];
  return s0 + s1 + s2 + s3;
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
  // A graph read in place cannot be changed: one that must be brought up to date is loaded instead.
  if (g?.readOnly && g.covers !== covers) g = undefined;
  if (!g) {
    try {
      // Mapped when it covers this state (searched as it is), loaded when it will be changed.
      g = AnnGraph.open(dir, readAnnManifest(dir)?.covers === covers ? { view: true, verify: 'size' } : {});
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
      dirty.delete(dir);
    }
  }
  keep(dir, g);
  return g;
}

/** Hold `g` as the graph of `dir`, closing the files of the one it replaces. */
function keep(dir: string, g: AnnGraph): void {
  const old = cache.get(dir);
  if (old && old !== g) old.close();
  cache.set(dir, g);
}

/** Forget cached graphs (tests; a process that replaced a store folder). */
export function clearAnnCache(): void {
  for (const g of cache.values()) g.close();
  cache.clear();
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
  graph.add(ids, vectors);
  const row = new Map(ids.map((id, i) => [id, i]));
  return annSearch(graph, queries, { matrix: vectors, rowOf: (id) => row.get(id)! }, opts);
}

/**
 * VectorStore.search through the graph of the store kept in folder `dir` (for a store's
 * search() when useAnn says so): the graph is loaded, built or refreshed as needed, and saved
 * when `persist` (the store holds the writer lock, or no writer is running).
 */
export async function annStoreSearch(store: VectorStore, dir: string, queries: Float32Array, opts: SearchOptions & Pick<AnnSearchOptions, 'accept'>, persist: boolean, covers: string): Promise<Hit[][]> {
  const meta = await store.meta();
  const graph = await annStoreGraph(store, dir, persist, {}, covers);
  const k = Math.min(opts.k, await store.count());
  const nq = meta.dim ? queries.length / meta.dim : 0;
  if (k < 1) return Array.from({ length: nq }, () => []);
  return annSearch(graph, queries, (ids) => store.getVectors(ids), { k, ef: opts.ef, exclude: opts.exclude, minScore: opts.minScore, accept: opts.accept });
}

/**
 * The up-to-date graph of the store kept in folder `dir` (getAnn over the store's scan and
 * its state stamp `covers`, e.g. FolderStore.annCovers): built, loaded or refreshed as needed, saved when `persist`; `params` asks for
 * a dtype (a cached or saved graph with other parameters is rebuilt).
 */
export async function annStoreGraph(store: VectorStore, dir: string, persist: boolean, opts: Pick<GetAnnOptions, 'params' | 'onNote'>, covers: string): Promise<AnnGraph> {
  const meta = await store.meta();
  return getAnn(dir, { dim: meta.dim, scan: (n) => store.scan(n) }, covers, { persist, ...opts });
}

/** Items changed by annApply in a graph held in memory and not saved yet, per folder. */
const dirty = new Map<string, number>();

/**
 * How many items a saved graph may lag behind its store before it is brought up to date and
 * saved again: max(config.annLag = 10,000, 5% of the live items). Below that, searches rank the graph's items
 * through the graph and the newer rows exactly (src/store/folder/store.ts), so a small update
 * of a large index never rewrites its graph (2 GiB per million 512-d vectors).
 */
export function annDeltaLimit(live: number): number {
  return Math.max(config.annLag, Math.floor(live * ANN_DELTA_SHARE));
}
/** Lag allowed as a share of the live items (annDeltaLimit). */
export const ANN_DELTA_SHARE = 0.05;

/** The graph of `dir` this process holds in memory, if any (nothing is read). */
export function heldAnn(dir: string): AnnGraph | undefined {
  return cache.get(dir);
}

/**
 * The graph of `dir` this process holds, else the saved one, read in place (AnnGraph.open view:
 * only the nodes a search visits are read; its size is checked, its sha256 by `lookalike
 * verify`), not refreshed; else undefined. `view` false loads it instead (a writer that will
 * change it, or a long-lived reader).
 */
export function peekAnn(dir: string, view = true): AnnGraph | undefined {
  let g = cache.get(dir);
  // A writer that will apply its changes to the graph (annApply) needs it loaded, not mapped.
  if (g && (view || !g.readOnly)) return g;
  try {
    g = AnnGraph.open(dir, view ? { view: true, verify: 'size' } : {});
  } catch {
    return undefined; // damaged: the full path (getAnn) reports it and rebuilds
  }
  if (g) keep(dir, g);
  return g;
}

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
    g.close();
    cache.delete(dir);
    return;
  }
  g.remove(removed);
  if (upsert.length) {
    const m = new Float32Array(upsert.length * g.dim);
    upsert.forEach((it, i) => m.set(it.vector, i * g.dim));
    g.add(upsert.map((it) => it.id), m);
  }
  g.covers = after;
  dirty.set(dir, (dirty.get(dir) ?? 0) + upsert.length + removed.length);
}

/**
 * A writer's close: save the graph annApply changed for `dir` when its changes since the last
 * save exceed annDeltaLimit; a smaller lag is left to searches (the saved graph plus an exact
 * pass over the newer rows), so closing after a small update writes no graph.
 */
export function annFlush(dir: string): void {
  const g = cache.get(dir);
  const n = dirty.get(dir) ?? 0;
  if (g && n > 0 && n > annDeltaLimit(g.size) && canWrite(dir)) g.save(dir, g.covers);
  dirty.delete(dir);
}
