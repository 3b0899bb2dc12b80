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
 * query through a 1M-item f32 graph at ef 64 in usearch (s), one query walked in place through
 * the file of a 1M-item graph at ef 64 (s; src/store/ann-file.ts), mapping a graph with usearch's
 * view(), per item (s), building (512-d items/s).
 */
export const ANN_COST = { readBytesPerS: 2e9, gemmFlopsPerS: 1e11, annQueryS: 5e-4, inPlaceQueryS: 6e-3, viewItemS: 3.5e-7, buildItemsPerS: 2000 };

/** Seconds to find one query's candidates in a graph of `count` items at depth ef, from the per-query cost at 1M items and ef 64. */
function walkS(perQueryAt1M: number, count: number, ef = ANN_DEFAULT_EF): number {
  return perQueryAt1M * (Math.max(ANN_DEFAULT_EF, ef) / 64) * (Math.log2(Math.max(2, count)) / 20);
}

/** Seconds of `queries` searches of a saved graph: walked in place, or mapped by usearch first. */
function graphS(queries: number, count: number, dim: number, ef?: number): { inPlace: number; mapped: number } {
  const c = ANN_COST;
  // The walk in place is bound by its reads (one per vector scored), usearch's by its arithmetic.
  return { inPlace: queries * walkS(c.inPlaceQueryS, count, ef), mapped: count * c.viewItemS + queries * walkS(c.annQueryS, count, ef) * (dim / 512) };
}

/**
 * Whether `queries` searches of a saved graph of `count` items are cheaper walked in place
 * (no setup, slower per query) than through usearch's view() (one pass over every node first):
 * at 1M items of 512-d up to about 60 queries, at 16,000 items one.
 */
export function readInPlace(queries: number, count: number, dim: number, ef?: number): boolean {
  const g = graphS(queries, count, dim, ef);
  return g.inPlace < g.mapped;
}

/**
 * Rough seconds of each path for one request. Exact: stream every row once (count x dim x 4
 * bytes) and score every query against it (2 x count x dim flop per query). ANN: per query a
 * graph walk that grows with ef and log(count) (in place, or after mapping the graph, whichever
 * readInPlace picks), the rows the graph lacks scored exactly, and, without a ready graph,
 * building it first.
 */
export function annCosts(r: AnnRequest): { exact: number; ann: number } {
  const c = ANN_COST;
  const exactRows = (n: number) => (n * r.dim * 4) / c.readBytesPerS + (2 * n * r.dim * r.queries) / c.gemmFlopsPerS;
  const g = graphS(r.queries, r.count, r.dim, r.ef);
  const build = r.graph === 'ready' ? 0 : (r.count * (r.dim / 512)) / c.buildItemsPerS;
  return { exact: exactRows(r.count), ann: build + Math.min(g.inPlace, g.mapped) + (r.lag ? exactRows(r.lag) : 0) };
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
