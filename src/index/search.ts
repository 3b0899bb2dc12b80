/**
 * Querying an index through its store (src/store): by ids already in the index, by freshly
 * embedded queries, with self-exclusion. Every ranking comes from VectorStore.search (the folder
 * store's bounded-memory chunked exact search or its ANN graph; pgvector for pg stores), so no
 * whole matrix is ever loaded here.
 */
import type { EmbedResult } from '../embed/pipeline.ts';
import type { TopK } from '../store/exact.ts';
import type { IndexData } from './whole-index.ts';
import type { AnnDtype, AnnMode } from '../store/ann-mode.ts';
import type { Hit, VectorStore } from '../store/types.ts';
import { withStore } from '../store/open-store.ts';
import { checkEf, checkK, checkMinScore, OptionError } from '../util/options.ts';

export type { Hit } from '../store/types.ts';

/** Results for one query. */
export interface QueryResult {
  query: string;
  hits: Hit[];
}

/** Turn a TopK block into per-query hit lists with gallery ids. */
export function toResults(queries: string[], top: TopK, ids: string[]): QueryResult[] {
  return queries.map((q, qi) => {
    const hits: Hit[] = [];
    for (let j = 0; j < top.k; j++) {
      const gi = top.indices[qi * top.k + j];
      if (gi < 0) break;
      hits.push({ rank: j + 1, id: ids[gi], score: top.scores[qi * top.k + j] });
    }
    return { query: q, hits };
  });
}

/** Exact or approximate search (ann, ef, annDtype) and a score floor; default: exact below ANN_AUTO_MIN items. */
export interface SearchMode {
  ann?: AnnMode;
  ef?: number;
  /** Drop hits scoring below this cosine (-1..1). */
  minScore?: number;
  /** Graph dtype when the graph is built (a saved graph of another dtype is rebuilt). */
  annDtype?: AnnDtype;
  /** Told when a graph is built or updated (a stderr line in the CLI). */
  onNote?: (msg: string) => void;
}

/** An opened store, or an index loaded by loadIndex (searched through its store location, not its in-memory copy). */
export type Searchable = VectorStore | IndexData;

/** True for an opened VectorStore (as opposed to a loaded IndexData). */
export function isStore(s: Searchable): s is VectorStore {
  return typeof (s as VectorStore).search === 'function';
}

/** Run `fn` on the store behind `s` (an IndexData's location is opened read-only for the call). */
export async function onStore<T>(s: Searchable, fn: (store: VectorStore) => Promise<T>): Promise<T> {
  return isStore(s) ? fn(s) : withStore(s.dir, {}, fn);
}

/** Check the shared search options (k, ef, minScore) with the limits every front door uses (util/options.ts). */
export function checkSearchOptions(k: number, mode: SearchMode = {}): void {
  checkK(k);
  if (mode.ef !== undefined) checkEf(mode.ef);
  if (mode.minScore !== undefined) checkMinScore(mode.minScore);
  if (mode.ann !== undefined && !['auto', 'on', 'off'].includes(mode.ann)) throw new OptionError(`{{ann}} ${mode.ann}: expected auto, on or off`);
}

/** Load, build or bring up to date the store's ANN graph now when a search in this mode would use it (a no-op with ann 'off'). */
export async function prepareAnn(store: VectorStore, mode: Pick<SearchMode, 'ann' | 'annDtype' | 'onNote'>): Promise<void> {
  if (mode.ann !== 'off') await store.prepareAnn?.({ ann: mode.ann, dtype: mode.annDtype, onNote: mode.onNote });
}

/**
 * The one search path: rank the store for query rows (n x dim). Options are checked, the ANN
 * graph is prepared first when the mode uses it (so its build note and annDtype apply), then
 * VectorStore.search. The library's Index.search, the CLI, compete, eval, the server and
 * experiments all rank through here.
 */
export async function searchStore(store: VectorStore, queries: Float32Array, k: number, exclude: (string | undefined)[] | undefined, mode: SearchMode = {}): Promise<Hit[][]> {
  checkSearchOptions(k, mode);
  await prepareAnn(store, mode);
  return store.search(queries, { k, exclude, ann: mode.ann, ef: mode.ef, minScore: mode.minScore });
}

/** Search with ids that are in the index (`--id`); excludeSelf drops each query's own item. */
export async function searchByIds(index: Searchable, queryIds: string[], k: number, excludeSelf = false, mode: SearchMode = {}): Promise<QueryResult[]> {
  return onStore(index, async (store) => {
    const q = await store.getVectors(queryIds);
    const hits = await searchStore(store, q, k, excludeSelf ? queryIds : undefined, mode);
    return queryIds.map((query, i) => ({ query, hits: hits[i] ?? [] }));
  });
}

/**
 * Search with freshly embedded queries. With excludeSelf, a gallery item whose id equals
 * the query's id (same relative path) is left out.
 */
export async function searchByEmbeddings(index: Searchable, queries: EmbedResult, k: number, excludeSelf = false, mode: SearchMode = {}): Promise<QueryResult[]> {
  return onStore(index, async (store) => {
    const { dim } = await store.meta();
    if (queries.ids.length && queries.dim !== dim) throw new Error(`${store.location}: index has ${dim}-d embeddings, queries have ${queries.dim}-d`);
    if (!queries.ids.length) return [];
    const hits = await searchStore(store, queries.vectors, k, excludeSelf ? queries.ids : undefined, mode);
    return queries.ids.map((query, i) => ({ query, hits: hits[i] ?? [] }));
  });
}
