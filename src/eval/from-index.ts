/**
 * Evaluate an index against a labels CSV: every labelled, indexed item is a query (leave-one-out,
 * all-vs-all, self excluded by id), or queries and gallery come from the `split` column
 * (`query`/`gallery` rows, or any two named splits such as val vs train). Relevance = same label.
 * Rankings come from the store's search (whole-index gallery) or the exact kernel over the gallery
 * rows (a subset); ties by id order either way.
 */
import type { LabelRow } from '../data/labels.ts';
import { searchExact } from '../store/exact.ts';
import { onStore, resolveFilter, searchStore, type Searchable, type SearchMode } from '../index/search.ts';
import type { VectorStore } from '../store/types.ts';
import { judgeQuery, normaliseKs, summarize, type EvalOptions, type EvalResult, type QueryEval } from '../metrics/evaluate.ts';
import { DEFAULT_DEPTH, FULL_DEPTH_LIMIT } from './depth.ts';
import { OptionError } from '../util/options.ts';


/** Options for evaluating an index. */
export interface IndexEvalOptions extends EvalOptions {
  /** Labels file name, for messages. */
  labelsFile?: string;
  /** Split holding the queries (with gallerySplit); default: `query` when the split column has it. */
  querySplit?: string;
  /** Split holding the gallery (with querySplit); default: `gallery` when the split column has it. */
  gallerySplit?: string;
  /** Ranked gallery items per query (default: the whole gallery up to FULL_DEPTH_LIMIT items, so ap and map@r are exact; else DEFAULT_DEPTH). */
  depth?: number;
  /** Called after each chunk of queries with (done, total). */
  onProgress?: (done: number, total: number) => void;
  /** Exact or approximate ranking (`--ann`); the graph is used only when the gallery is the whole index. */
  search?: SearchMode;
}

/** An index evaluation: the metrics plus how the queries and gallery were chosen. */
export interface IndexEvalResult extends EvalResult {
  protocol: string;
  gallery_size: number;
  depth: number;
  /** Labels rows whose path is not in the index. */
  labels_not_indexed: number;
  /** Index ids with no row in the labels file (left out). */
  indexed_unlabelled: number;
}

/** Choose query and gallery rows (index row numbers) from the labels. */
export function chooseSplits(
  ids: readonly string[],
  labels: readonly LabelRow[],
  opts: Pick<IndexEvalOptions, 'querySplit' | 'gallerySplit' | 'labelsFile'> = {},
): { protocol: string; queries: number[]; gallery: number[]; rowLabel: Map<number, LabelRow>; notIndexed: number; unlabelled: number } {
  const file = opts.labelsFile ?? 'labels';
  const byPath = new Map(labels.map((r) => [r.path, r]));
  const rowLabel = new Map<number, LabelRow>();
  ids.forEach((id, i) => {
    const r = byPath.get(id);
    if (r) rowLabel.set(i, r);
  });
  if (rowLabel.size === 0) {
    throw new Error(`${file}: no path matches an index id (index ids look like "${ids[0] ?? ''}", label paths like "${labels[0]?.path ?? ''}"); paths must be relative to the indexed folder`);
  }
  const notIndexed = labels.length - rowLabel.size;
  const unlabelled = ids.length - rowLabel.size;
  let qs = opts.querySplit;
  let gs = opts.gallerySplit;
  if ((qs === undefined) !== (gs === undefined)) throw new OptionError('give both {{querySplit}} and {{gallerySplit}}');
  if (qs === undefined) {
    const splits = new Set(labels.map((r) => r.split));
    if (splits.has('query') || splits.has('gallery')) {
      if (!splits.has('query') || !splits.has('gallery')) throw new Error(`${file}: the split column has ${splits.has('query') ? 'query' : 'gallery'} rows but no ${splits.has('query') ? 'gallery' : 'query'} rows`);
      qs = 'query';
      gs = 'gallery';
    }
  }
  const rows = [...rowLabel.keys()].sort((a, b) => a - b);
  if (qs === undefined || gs === undefined) return { protocol: 'leave-one-out', queries: rows, gallery: rows, rowLabel, notIndexed, unlabelled };
  const queries = rows.filter((i) => rowLabel.get(i)!.split === qs);
  const gallery = qs === gs ? queries : rows.filter((i) => rowLabel.get(i)!.split === gs);
  if (queries.length === 0) throw new Error(`${file}: no indexed row has split "${qs}"`);
  if (gallery.length === 0) throw new Error(`${file}: no indexed row has split "${gs}"`);
  return { protocol: `split ${qs} vs ${gs}`, queries, gallery, rowLabel, notIndexed, unlabelled };
}


/** Queries per store.search call in leave-one-out: about 2^20 ranked candidates per block. */
const LOO_CANDIDATES = 1 << 20;

/**
 * Search every query against the gallery and score the rankings by label. The index is an
 * opened store (or a loaded index, searched through its location). When the gallery is the
 * whole index (leave-one-out over a fully labelled index), query blocks are streamed with
 * store.scan and ranked by store.search with each query's own id excluded (exact chunked search
 * or the ANN graph per `search`): memory does not grow with the gallery's vectors. A gallery
 * that is a subset of the index (a split, or unlabelled items) is read by id (getVectors) and
 * ranked by the exact kernel.
 */
export async function evaluateIndex(index: Searchable, labels: readonly LabelRow[], opts: IndexEvalOptions = {}): Promise<IndexEvalResult> {
  return onStore(index, (store) => evaluateStore(store, labels, opts));
}

async function evaluateStore(store: VectorStore, labels: readonly LabelRow[], opts: IndexEvalOptions): Promise<IndexEvalResult> {
  const ks = normaliseKs(opts.ks);
  // Within a filter (e.g. one domain), the matching items are the whole collection evaluated.
  const filter = await resolveFilter(store, opts.search?.filter);
  const ids = await store.select(filter);
  const { protocol, queries, gallery, rowLabel, notIndexed, unlabelled } = chooseSplits(ids, labels, opts);
  const { dim } = await store.meta();
  const ng = gallery.length;
  const depth = Math.min(opts.depth ?? (ng <= FULL_DEPTH_LIMIT ? ng : Math.max(DEFAULT_DEPTH, ...ks)), ng);
  if (!Number.isInteger(depth) || depth < 1) throw new OptionError(`{{depth}} ${opts.depth}: expected a positive integer`);
  // gallery rows are sorted and distinct: it is the whole index exactly when the sizes agree.
  const full = ng === ids.length;
  // Integer label codes and per-label gallery counts.
  const code = new Map<string, number>();
  const codeOf = (l: string) => {
    let c = code.get(l);
    if (c === undefined) code.set(l, (c = code.size));
    return c;
  };
  const gLabel = Int32Array.from(gallery, (r) => codeOf(rowLabel.get(r)!.label));
  const perLabel = new Map<number, number>();
  for (const c of gLabel) perLabel.set(c, (perLabel.get(c) ?? 0) + 1);
  const gPos = new Map(gallery.map((r, i) => [ids[r], i]));
  const gVectors = full ? undefined : await store.getVectors(gallery.map((r) => ids[r]));
  const results: QueryEval[] = [];
  // Bound memory: about 4M ranked entries per exact-kernel call, 1M candidates per store.search call.
  const step = Math.max(1, Math.floor((full ? LOO_CANDIDATES : 1 << 22) / depth));
  for await (const block of queryBlocks(store, ids, queries, step, !filter)) {
    const { rows } = block;
    const exclude = Int32Array.from(rows, (r) => gPos.get(ids[r]) ?? -1);
    // Ranked gallery positions per query (row-major, `depth` wide, -1 = fewer).
    let ranked: Int32Array;
    if (gVectors) ranked = (await searchExact(gVectors, block.vectors, dim, depth, { exclude })).indices;
    else {
      const qids = rows.map((r) => ids[r]);
      const hits = await searchStore(store, block.vectors, depth, qids, { ...opts.search, filter });
      ranked = new Int32Array(rows.length * depth).fill(-1);
      hits.forEach((list, qi) => list.forEach((h, j) => (ranked[qi * depth + j] = gPos.get(h.id) ?? -1)));
    }
    rows.forEach((r, qi) => {
      const row = rowLabel.get(r)!;
      const qc = codeOf(row.label);
      const rel: boolean[] = [];
      for (let j = 0; j < depth; j++) {
        const gi = ranked[qi * depth + j];
        if (gi < 0) break;
        rel.push(gLabel[gi] === qc);
      }
      const self = exclude[qi];
      const R = (perLabel.get(qc) ?? 0) - (self >= 0 && gLabel[self] === qc ? 1 : 0);
      results.push(judgeQuery({ id: row.path, domain: row.domain, label: row.label, rel, R }, ks, opts.empty));
    });
    opts.onProgress?.(results.length, queries.length);
  }
  return { ...summarize(results, ks), protocol, gallery_size: ng, depth, labels_not_indexed: notIndexed, indexed_unlabelled: unlabelled };
}

/**
 * The query rows with their vectors, `step` at a time: streamed in id order by store.scan when
 * every item is a query, else read by id.
 */
async function* queryBlocks(store: VectorStore, ids: readonly string[], queries: number[], step: number, whole: boolean): AsyncIterable<{ rows: number[]; vectors: Float32Array }> {
  if (whole && queries.length === ids.length) {
    let r0 = 0;
    for await (const b of store.scan(step)) {
      const rows = b.ids.map((id, i) => {
        if (ids[r0 + i] !== id) throw new Error(`${store.location}: the index changed while it was evaluated (row ${r0 + i} is "${id}", expected "${ids[r0 + i]}"); run eval again`);
        return r0 + i;
      });
      r0 += rows.length;
      yield { rows, vectors: b.vectors };
    }
    if (r0 !== ids.length) throw new Error(`${store.location}: the index changed while it was evaluated (${r0} items scanned, ${ids.length} expected); run eval again`);
    return;
  }
  for (let q0 = 0; q0 < queries.length; q0 += step) {
    const rows = queries.slice(q0, q0 + step);
    yield { rows, vectors: await store.getVectors(rows.map((r) => ids[r])) };
  }
}
