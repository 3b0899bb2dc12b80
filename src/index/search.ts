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
import type { Hit, SearchOptions, VectorStore } from '../store/types.ts';
import { didYouMean } from '../util/text.ts';
import { withStore } from '../store/open-store.ts';
import { checkEf, checkK, checkMinScore, MAX_K, OptionError } from '../util/options.ts';
import type { FilterNode } from '../data/field-types.ts';
import { parseFilter } from '../data/filter/parse.ts';
import { parseRerank, type RerankOption } from './rerank/options.ts';
import { rerankSearch } from './rerank/rerank-search.ts';

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

/** Exact or approximate search (ann, ef, annDtype), a filter, a score floor, paging and grouping; default: exact below ANN_AUTO_MIN items. */
export interface SearchMode {
  ann?: AnnMode;
  ef?: number;
  /** Drop hits scoring below this cosine (-1..1). */
  minScore?: number;
  /** Rank only the items this filter matches: an expression (docs/filters.md) or a parsed tree. */
  filter?: string | FilterNode;
  /** Skip this many results first (paging: page p of size k is offset p*k). */
  offset?: number;
  /** At most `perGroup` results per value of this field (items without it form one group). */
  groupBy?: string;
  /** Results kept per group with groupBy (default 1). */
  perGroup?: number;
  /** Attach each hit's fields. */
  withFields?: boolean;
  /** Graph dtype when the graph is built (a saved graph of another dtype is rebuilt). */
  annDtype?: AnnDtype;
  /** Told when a graph is built or updated (a stderr line in the CLI). */
  onNote?: (msg: string) => void;
  /** Re-ranking (index/rerank): `aqe`, `dba`, `kr`, joined with +, with parameters (`dba:n=5+aqe:alpha=3`); none by default. */
  rerank?: RerankOption;
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
  if (mode.offset !== undefined && (!Number.isInteger(mode.offset) || mode.offset < 0)) throw new OptionError(`{{offset}} ${mode.offset}: expected a whole number >= 0`);
  if (mode.offset !== undefined && k + mode.offset > MAX_K) throw new OptionError(`{{offset}} ${mode.offset}: k + offset must be at most ${MAX_K}`);
  if (mode.perGroup !== undefined && (!Number.isInteger(mode.perGroup) || mode.perGroup < 1)) throw new OptionError(`{{perGroup}} ${mode.perGroup}: expected a whole number >= 1`);
  if (mode.perGroup !== undefined && mode.groupBy === undefined) throw new OptionError(`{{perGroup}} needs {{groupBy}}`);
  if (mode.groupBy !== undefined && (typeof mode.groupBy !== 'string' || !mode.groupBy)) throw new OptionError(`{{groupBy}}: expected a field name`);
  if (mode.ef !== undefined) checkEf(mode.ef);
  if (mode.minScore !== undefined) checkMinScore(mode.minScore);
  if (mode.ann !== undefined && !['auto', 'on', 'off'].includes(mode.ann)) throw new OptionError(`{{ann}} ${mode.ann}: expected auto, on or off`);
  if (parseRerank(mode.rerank).length && mode.groupBy !== undefined) throw new OptionError('{{rerank}} and {{groupBy}} do not combine: group a re-ranked list yourself, or search without one of them');
}

/** Load, build or bring up to date the store's ANN graph now when a search in this mode would use it (a no-op with ann 'off'). */
export async function prepareAnn(store: VectorStore, mode: Pick<SearchMode, 'ann' | 'annDtype' | 'onNote'>, queries?: number): Promise<void> {
  if (mode.ann !== 'off') await store.prepareAnn?.({ ann: mode.ann, dtype: mode.annDtype, onNote: mode.onNote, queries });
}

/**
 * The one search path: rank the store for query rows (n x dim). Options are checked, the ANN
 * graph is prepared first when the mode uses it (so its build note and annDtype apply), then
 * VectorStore.search. The library's Index.search, the CLI, compete, eval, the server and
 * experiments all rank through here.
 */
export async function searchStore(store: VectorStore, queries: Float32Array, k: number, exclude: (string | undefined)[] | undefined, mode: SearchMode = {}): Promise<Hit[][]> {
  checkSearchOptions(k, mode);
  const filter = await resolveFilter(store, mode.filter);
  if (mode.groupBy !== undefined) await checkField(store, mode.groupBy, 'groupBy');
  const dim = (await store.meta()).dim;
  await prepareAnn(store, mode, dim ? queries.length / dim : 0);
  const offset = mode.offset ?? 0;
  const opts = { exclude, ann: mode.ann, ef: mode.ef, minScore: mode.minScore, filter };
  const rerank = parseRerank(mode.rerank);
  let hits = rerank.length ? await rerankSearch(store, queries, k + offset, exclude, rerank, opts) : mode.groupBy === undefined ? await store.search(queries, { ...opts, k: k + offset }) : await searchGrouped(store, queries, k + offset, mode.groupBy, mode.perGroup ?? 1, opts);
  if (offset) hits = hits.map((list) => list.slice(offset).map((h, i) => ({ ...h, rank: offset + i + 1 })));
  if (mode.withFields) await attachFields(store, hits);
  return hits;
}

/** The parsed filter of a search: an expression is parsed against the store's field types (errors name the position). */
export async function resolveFilter(store: VectorStore, filter: string | FilterNode | undefined): Promise<FilterNode | undefined> {
  if (filter === undefined || (typeof filter === 'string' && !filter.trim())) return undefined;
  return typeof filter === 'string' ? parseFilter(filter, await store.fieldSchema()) : filter;
}

/** A field name the store knows (or `id`); otherwise an OptionError with a did-you-mean. */
async function checkField(store: VectorStore, name: string, option: string): Promise<void> {
  const known = ['id', ...Object.keys(await store.fieldSchema())];
  if (!known.includes(name)) throw new OptionError(`{{${option}}} ${name}: no such field in ${store.location}${suggest(name, known)}`);
}

function suggest(name: string, known: string[]): string {
  return didYouMean(name, known) || ` (fields: ${known.join(', ')})`;
}

/**
 * Top `want` hits per query with at most `perGroup` per value of `field`: ranked hits are
 * walked in order and a hit whose group is full is passed over; the search depth doubles until
 * `want` hits are kept or the matches run out, so the result equals grouping the full ranking.
 */
async function searchGrouped(store: VectorStore, queries: Float32Array, want: number, field: string, perGroup: number, opts: Omit<SearchOptions, 'k'>): Promise<Hit[][]> {
  const total = opts.filter ? (await store.select(opts.filter)).length : await store.count();
  const dim = (await store.meta()).dim;
  const nq = dim ? queries.length / dim : 0;
  const out: Hit[][] = [];
  for (let q = 0; q < nq; q++) {
    const row = queries.subarray(q * dim, (q + 1) * dim);
    for (let depth = Math.min(MAX_K, Math.max(want * perGroup * 4, 64)); ; depth = Math.min(MAX_K, depth * 2)) {
      const [ranked] = await store.search(row, { ...opts, exclude: opts.exclude && [opts.exclude[q]], k: depth });
      const recs = ranked.length ? await store.items(ranked.map((h) => h.id)) : [];
      const used = new Map<string, number>();
      const kept: Hit[] = [];
      for (let i = 0; i < ranked.length && kept.length < want; i++) {
        const v = field === 'id' ? ranked[i].id : recs[i].fields[field];
        const key = v === undefined ? '\u0000none' : JSON.stringify(v);
        const n = used.get(key) ?? 0;
        if (n >= perGroup) continue;
        used.set(key, n + 1);
        kept.push({ ...ranked[i], rank: kept.length + 1 });
      }
      if (kept.length >= want || ranked.length < depth || depth >= total || depth >= MAX_K) {
        out.push(kept);
        break;
      }
    }
  }
  return out;
}

/** Put each hit's fields on it (one items() call for all queries). */
async function attachFields(store: VectorStore, hits: Hit[][]): Promise<void> {
  const ids = [...new Set(hits.flatMap((l) => l.map((h) => h.id)))];
  if (!ids.length) return;
  const recs = await store.items(ids);
  const by = new Map(recs.map((r) => [r.id, r.fields]));
  for (const l of hits) for (const h of l) h.fields = by.get(h.id) ?? {};
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
