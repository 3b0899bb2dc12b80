/** Querying an index: by image files, by ids already in the index, with self-exclusion. */
import { gatherRows } from '../util/matrix.ts';
import type { EmbedResult } from '../embed/pipeline.ts';
import { searchExact, type TopK } from './exact.ts';
import type { IndexData } from './store.ts';
import type { AnnDtype, AnnMode, AnnSource } from '../store/ann.ts';
import { ANN_DEFAULTS } from '../store/ann.ts';
import { annSearch, getAnn, useAnn, type VectorMatrix } from '../store/ann-search.ts';

/** One ranked result. */
export interface Hit {
  rank: number;
  id: string;
  score: number;
}

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

/** Exact or approximate search (`--ann`, `--ef`, `--ann-dtype`); default: exact below ANN_AUTO_MIN items. */
export interface SearchMode {
  ann?: AnnMode;
  ef?: number;
  /** Graph dtype when the graph is built (a saved graph of another dtype is rebuilt). */
  annDtype?: AnnDtype;
  /** Told when a graph is built or updated (a stderr line in the CLI). */
  onNote?: (msg: string) => void;
}

/** An index folder as the ANN graph's source: its state stamp, a scan, and vectors by id. */
export function indexAnnSource(index: IndexData): AnnSource & { covers: string; vectors: VectorMatrix } {
  const row = new Map(index.ids.map((id, i) => [id, i]));
  return {
    dim: index.dim,
    covers: `${index.manifest.updated}#${index.ids.length}`,
    async *scan() {
      yield { ids: index.ids, vectors: index.vectors, dim: index.dim };
    },
    vectors: { matrix: index.vectors, rowOf: (id) => row.get(id)! },
  };
}

/**
 * Approximate search of an index through its ANN graph (built, updated and saved beside the
 * index as needed), re-scored exactly; results have the same shape as the exact ones.
 */
export async function searchIndexAnn(index: IndexData, queryIds: string[], queries: Float32Array, k: number, exclude: (string | undefined)[] | undefined, mode: SearchMode): Promise<QueryResult[]> {
  const src = indexAnnSource(index);
  const params = mode.annDtype ? { ...ANN_DEFAULTS, dtype: mode.annDtype } : undefined;
  const graph = await getAnn(index.dir, src, src.covers, { persist: true, params, onNote: mode.onNote });
  const hits = await annSearch(graph, queries, src.vectors, { k, ef: mode.ef, exclude });
  return queryIds.map((q, i) => ({ query: q, hits: hits[i] }));
}

/** Search with ids that are in the index (`--id`); excludeSelf drops each query's own row. */
export async function searchByIds(index: IndexData, queryIds: string[], k: number, excludeSelf = false, mode: SearchMode = {}): Promise<QueryResult[]> {
  const row = new Map(index.ids.map((id, i) => [id, i]));
  const { dim } = index;
  const rows = queryIds.map((id) => {
    const r = row.get(id);
    if (r === undefined) throw new Error(`${index.dir}: no id "${id}" in the index`);
    return r;
  });
  const q = gatherRows(index.vectors, dim, rows);
  if (useAnn(mode.ann, index.ids.length)) return searchIndexAnn(index, queryIds, q, k, excludeSelf ? queryIds : undefined, mode);
  const exclude = Int32Array.from(rows);
  const top = await searchExact(index.vectors, q, dim, k, excludeSelf ? { exclude } : {});
  return toResults(queryIds, top, index.ids);
}

/**
 * Search with freshly embedded queries. With excludeSelf, a gallery item whose id equals
 * the query's id (same relative path) is left out.
 */
export async function searchByEmbeddings(index: IndexData, queries: EmbedResult, k: number, excludeSelf = false, mode: SearchMode = {}): Promise<QueryResult[]> {
  if (queries.ids.length && queries.dim !== index.dim) throw new Error(`${index.dir}: index has ${index.dim}-d embeddings, queries have ${queries.dim}-d`);
  if (useAnn(mode.ann, index.ids.length)) return searchIndexAnn(index, queries.ids, queries.vectors, k, excludeSelf ? queries.ids : undefined, mode);
  const row = new Map(index.ids.map((id, i) => [id, i]));
  const exclude = Int32Array.from(queries.ids, (id) => row.get(id) ?? -1);
  const top = await searchExact(index.vectors, queries.vectors, index.dim, k, excludeSelf ? { exclude } : {});
  return toResults(queries.ids, top, index.ids);
}
