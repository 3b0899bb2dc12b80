/** Querying an index: by image files, by ids already in the index, with self-exclusion. */
import { gatherRows } from '../util/matrix.ts';
import type { EmbedResult } from '../embed/pipeline.ts';
import { searchExact, type TopK } from './exact.ts';
import type { IndexData } from './store.ts';

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

/** Search with ids that are in the index (`--id`); excludeSelf drops each query's own row. */
export async function searchByIds(index: IndexData, queryIds: string[], k: number, excludeSelf = false): Promise<QueryResult[]> {
  const row = new Map(index.ids.map((id, i) => [id, i]));
  const { dim } = index;
  const rows = queryIds.map((id) => {
    const r = row.get(id);
    if (r === undefined) throw new Error(`${index.dir}: no id "${id}" in the index`);
    return r;
  });
  const q = gatherRows(index.vectors, dim, rows);
  const exclude = Int32Array.from(rows);
  const top = await searchExact(index.vectors, q, dim, k, excludeSelf ? { exclude } : {});
  return toResults(queryIds, top, index.ids);
}

/**
 * Search with freshly embedded queries. With excludeSelf, a gallery item whose id equals
 * the query's id (same relative path) is left out.
 */
export async function searchByEmbeddings(index: IndexData, queries: EmbedResult, k: number, excludeSelf = false): Promise<QueryResult[]> {
  if (queries.ids.length && queries.dim !== index.dim) throw new Error(`${index.dir}: index has ${index.dim}-d embeddings, queries have ${queries.dim}-d`);
  const row = new Map(index.ids.map((id, i) => [id, i]));
  const exclude = Int32Array.from(queries.ids, (id) => row.get(id) ?? -1);
  const top = await searchExact(index.vectors, queries.vectors, index.dim, k, excludeSelf ? { exclude } : {});
  return toResults(queries.ids, top, index.ids);
}
