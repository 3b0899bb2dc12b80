/**
 * Evaluate an index against a labels CSV: every labelled, indexed item is a query (leave-one-out,
 * all-vs-all, self excluded by id), or queries and gallery come from the `split` column
 * (`query`/`gallery` rows, or any two named splits such as val vs train). Relevance = same label.
 * Rankings come from the one exact search (searchExact; ties by gallery order).
 */
import { gatherRows } from '../util/matrix.ts';
import type { LabelRow } from '../data/labels.ts';
import { searchExact } from '../index/exact.ts';
import type { IndexData } from '../index/store.ts';
import { searchIndexAnn, type SearchMode } from '../index/search.ts';
import { useAnn } from '../store/ann-search.ts';
import { judgeQuery, normaliseKs, summarize, type EvalOptions, type EvalResult, type QueryResult } from './evaluate.ts';

/** Galleries up to this size are ranked in full by default. */
export const FULL_DEPTH_LIMIT = 50000;
/** Default ranking depth for larger galleries (at least the largest cut-off). */
export const DEFAULT_DEPTH = 1000;

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
  if ((qs === undefined) !== (gs === undefined)) throw new Error('give both --query-split and --gallery-split');
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


/** Search every query against the gallery and score the rankings by label. */
export async function evaluateIndex(index: IndexData, labels: readonly LabelRow[], opts: IndexEvalOptions = {}): Promise<IndexEvalResult> {
  const ks = normaliseKs(opts.ks);
  const { protocol, queries, gallery, rowLabel, notIndexed, unlabelled } = chooseSplits(index.ids, labels, opts);
  const { dim } = index;
  const ng = gallery.length;
  const depth = Math.min(opts.depth ?? (ng <= FULL_DEPTH_LIMIT ? ng : Math.max(DEFAULT_DEPTH, ...ks)), ng);
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`--depth ${opts.depth}: expected a positive integer`);
  const full = ng === index.ids.length && gallery.every((r, i) => r === i);
  const gVectors = full ? index.vectors : gatherRows(index.vectors, dim, gallery);
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
  const gPos = new Map(gallery.map((r, i) => [index.ids[r], i]));
  const results: QueryResult[] = [];
  // Bound memory: about 4M ranked entries per search call.
  const step = Math.max(1, Math.floor((1 << 22) / depth));
  for (let q0 = 0; q0 < queries.length; q0 += step) {
    const chunk = queries.slice(q0, q0 + step);
    const exclude = Int32Array.from(chunk, (r) => gPos.get(index.ids[r]) ?? -1);
    const qVectors = gatherRows(index.vectors, dim, chunk);
    const top = full && useAnn(opts.search?.ann, ng)
      ? await annTopK(index, chunk, qVectors, depth, opts.search!)
      : await searchExact(gVectors, qVectors, dim, depth, { exclude });
    chunk.forEach((r, qi) => {
      const row = rowLabel.get(r)!;
      const qc = codeOf(row.label);
      const rel: boolean[] = [];
      for (let j = 0; j < top.k; j++) {
        const gi = top.indices[qi * top.k + j];
        if (gi < 0) break;
        rel.push(gLabel[gi] === qc);
      }
      const self = exclude[qi];
      const R = (perLabel.get(qc) ?? 0) - (self >= 0 && gLabel[self] === qc ? 1 : 0);
      results.push(judgeQuery({ id: row.path, domain: row.domain, label: row.label, rel, R }, ks, opts.empty));
    });
    opts.onProgress?.(Math.min(queries.length, q0 + step), queries.length);
  }
  return { ...summarize(results, ks), protocol, gallery_size: ng, depth, labels_not_indexed: notIndexed, indexed_unlabelled: unlabelled };
}

/** Rank index rows (leave-one-out, whole index as gallery) through the ANN graph, as a TopK of gallery rows. */
async function annTopK(index: IndexData, rows: number[], queries: Float32Array, depth: number, mode: SearchMode): Promise<{ k: number; indices: Int32Array; scores: Float32Array }> {
  const qids = rows.map((r) => index.ids[r]);
  const res = await searchIndexAnn(index, qids, queries, depth, qids, mode);
  const rowOf = new Map(index.ids.map((id, i) => [id, i]));
  const indices = new Int32Array(rows.length * depth).fill(-1);
  const scores = new Float32Array(rows.length * depth).fill(-Infinity);
  res.forEach((r, qi) => r.hits.forEach((h, j) => {
    indices[qi * depth + j] = rowOf.get(h.id)!;
    scores[qi * depth + j] = h.score;
  }));
  return { k: depth, indices, scores };
}
