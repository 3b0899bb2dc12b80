/** The approximate-search settings every search front door shares (no graph code here, so help text and schemas can read them cheaply). */

/** When to use the graph: 'auto' (the cheaper path for the request, from ANN_AUTO_MIN items: chooseAnn), 'on', 'off'. */
export type AnnMode = 'auto' | 'on' | 'off';
/** How the graph stores vectors (the float vectors in the store are unaffected). */
export type AnnDtype = 'f32' | 'f16' | 'i8';

/** 'auto' turns the graph (folder store) or the HNSW index (pgvector) on from this many live items (chosen from `npm run bench:ann`; docs/index-format.md). */
export const ANN_AUTO_MIN = 50_000;
/** Default search depth (HNSW ef): recall@10 >= 0.95 on the bench's data sets. */
export const ANN_DEFAULT_EF = 64;

/** What `--ann auto` weighs for one search call. */
export interface AnnRequest {
  /** Items the search ranks (the live items, or a filter's matches). */
  count: number;
  /** Query rows in this call. */
  queries: number;
  dim: number;
  /** 'ready': a graph held in memory, or saved and current (or lagging within the limit); 'none': it would have to be built or brought up to date first. */
  graph: 'ready' | 'none';
  /** Rows a ready graph lacks (searched exactly beside it). */
  lag?: number;
  /** Search depth. */
  ef?: number;
}

/**
 * Rates behind annCosts, measured on the 2-core machine (bench:ann, bench:open): rows streamed
 * from the page cache into the exact kernel (bytes/s), the exact kernel's Gemm (flop/s), one
 * query through a mapped 1M-item f32 graph at ef 128 (s), building (512-d items/s).
 */
export const ANN_COST = { readBytesPerS: 2e9, gemmFlopsPerS: 1e11, annQueryS: 1e-3, buildItemsPerS: 2000 };

/**
 * Rough seconds of each path for one request. Exact: stream every row once (count x dim x 4
 * bytes) and score every query against it (2 x count x dim flop per query). ANN: per query a
 * graph walk that grows with ef and log(count), the key table read once, the rows the graph
 * lacks scored exactly, and, without a ready graph, building it first.
 */
export function annCosts(r: AnnRequest): { exact: number; ann: number } {
  const c = ANN_COST;
  const exactRows = (n: number) => (n * r.dim * 4) / c.readBytesPerS + (2 * n * r.dim * r.queries) / c.gemmFlopsPerS;
  const depth = Math.max(ANN_DEFAULT_EF, r.ef ?? ANN_DEFAULT_EF) / 128;
  const walk = c.annQueryS * depth * (Math.log2(Math.max(2, r.count)) / 20) * (r.dim / 512);
  const keys = (r.count * 40) / c.readBytesPerS;
  const build = r.graph === 'ready' ? 0 : (r.count * (r.dim / 512)) / c.buildItemsPerS;
  return { exact: exactRows(r.count), ann: build + keys + r.queries * walk + (r.lag ? exactRows(r.lag) : 0) };
}

/**
 * Whether a search uses the graph: 'on' and 'off' as said; 'auto' from ANN_AUTO_MIN items, and
 * then only when annCosts says the graph path (including building it when none is ready) costs
 * less than exact search for this request. So a one-shot search never builds a graph it would
 * use once, and a call with very many queries (leave-one-out eval) may.
 */
export function chooseAnn(mode: AnnMode | undefined, r: AnnRequest): boolean {
  if (mode === 'on') return true;
  if (mode === 'off' || r.count < ANN_AUTO_MIN) return false;
  const c = annCosts(r);
  return c.ann < c.exact;
}
