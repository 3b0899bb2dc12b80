/**
 * Per-query retrieval metrics. Every function takes a relevance vector `rel` (rel[i] is true when
 * the item ranked i+1 is relevant, best first) and, where needed, R = the number of relevant
 * gallery items (which may exceed the number of true entries when the list is truncated).
 * Definitions follow ../shared/metrics-golden/README.md; see docs/metrics.md.
 * A query with R = 0 scores 0 everywhere (callers normally skip such queries).
 */

/** A relevance vector in rank order. */
export type Relevance = ArrayLike<boolean>;

/** Throw unless k is a positive integer. */
export function assertCutoff(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
}

/** hits(k): relevant items among the first k (a shorter list contributes only what it has). */
export function hitsAt(rel: Relevance, k: number): number {
  assertCutoff(k);
  const n = Math.min(k, rel.length);
  let h = 0;
  for (let i = 0; i < n; i++) if (rel[i]) h++;
  return h;
}

/** precision@k = hits(k) / k; the divisor stays k even when the list is shorter than k. */
export function precisionAt(rel: Relevance, k: number): number {
  return hitsAt(rel, k) / k;
}

/** recall@k = hits(k) / R (0 when R = 0). */
export function recallAt(rel: Relevance, R: number, k: number): number {
  return R > 0 ? hitsAt(rel, k) / R : 0;
}

/** hit@k = 1 when any of the first k is relevant, else 0 (also called top-k accuracy / success@k). */
export function hitAt(rel: Relevance, k: number): number {
  return hitsAt(rel, k) > 0 ? 1 : 0;
}

/** UnED mp@k = hits(min(k, R)) / min(k, R) (0 when R = 0). */
export function mpAt(rel: Relevance, R: number, k: number): number {
  assertCutoff(k);
  const m = Math.min(k, R);
  return m > 0 ? hitsAt(rel, m) / m : 0;
}

/** ndcg@k with binary gains: sum_{i<=k} rel_i / log2(i+1) over the ideal sum for min(k, R) ones (0 when R = 0). */
export function ndcgAt(rel: Relevance, R: number, k: number): number {
  assertCutoff(k);
  const n = Math.min(k, rel.length);
  let dcg = 0;
  for (let i = 0; i < n; i++) if (rel[i]) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  const m = Math.min(k, R);
  for (let i = 0; i < m; i++) ideal += 1 / Math.log2(i + 2);
  return ideal > 0 ? dcg / ideal : 0;
}

/** Sum of precision@i over relevant positions i <= limit (limit clipped to the list). */
function sumPrecisionAtHits(rel: Relevance, limit: number): number {
  const n = Math.min(limit, rel.length);
  let h = 0;
  let s = 0;
  for (let i = 0; i < n; i++) {
    if (rel[i]) {
      h++;
      s += h / (i + 1);
    }
  }
  return s;
}

/** ap@k = sum_{i<=k, rel_i} precision@i / min(k, R) (0 when R = 0). */
export function apAt(rel: Relevance, R: number, k: number): number {
  assertCutoff(k);
  const m = Math.min(k, R);
  return m > 0 ? sumPrecisionAtHits(rel, k) / m : 0;
}

/** ap over the whole list = sum_{rel_i} precision@i / R (0 when R = 0); relevant items not listed count as misses. */
export function averagePrecision(rel: Relevance, R: number): number {
  return R > 0 ? sumPrecisionAtHits(rel, rel.length) / R : 0;
}

/** map@r (Musgrave et al., "A metric learning reality check") = sum_{i<=R, rel_i} precision@i / R. */
export function mapAtR(rel: Relevance, R: number): number {
  return R > 0 ? sumPrecisionAtHits(rel, R) / R : 0;
}

/** r_precision = hits(R) / R (0 when R = 0). */
export function rPrecision(rel: Relevance, R: number): number {
  return R > 0 ? hitsAt(rel, R) / R : 0;
}

/** rr = 1 / rank of the first relevant item, 0 when none is listed. */
export function reciprocalRank(rel: Relevance): number {
  for (let i = 0; i < rel.length; i++) if (rel[i]) return 1 / (i + 1);
  return 0;
}

/** UKBench N-S score of one query: hits(4), in 0..4. */
export function nsScore(rel: Relevance): number {
  return hitsAt(rel, 4);
}

/** Count the true entries of a relevance vector. */
export function countRelevant(rel: Relevance): number {
  let n = 0;
  for (let i = 0; i < rel.length; i++) if (rel[i]) n++;
  return n;
}
