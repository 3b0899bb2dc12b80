/**
 * k-reciprocal re-ranking (Zhong et al., CVPR 2017), following the authors' reference code: the
 * final distance mixes the Jaccard distance of k-reciprocal neighbour sets (expanded, weighted by
 * exp(-d), smoothed over k2 neighbours) with the original distance. It needs every pairwise
 * distance among queries and gallery together: memory and time grow with (queries + gallery)^2.
 */
import type { RerankDef } from './base.ts';

/** The `kr` method: parameters and cost. */
export const KRECIPROCAL: RerankDef = {
  name: 'kr',
  stage: 2,
  help: 'k-reciprocal re-ranking (Zhong et al. 2017): Jaccard distance of k-reciprocal neighbour sets mixed with the original distance',
  cost: 'per query, all pairwise distances among the query and the gallery: three (gallery + 1)^2 float matrices and one sort per row; galleries of at most 3,999 items (about 200 MB, seconds per query at that size)',
  params: {
    k1: { default: 20, min: 1, max: 200, integer: true, help: 'k of the k-reciprocal neighbour sets' },
    k2: { default: 6, min: 1, max: 200, integer: true, help: 'neighbours the sets are averaged over (local query expansion); 1 = none' },
    lambda: { default: 0.3, min: 0, max: 1, help: 'weight of the original distance in the final one' },
  },
};

/** Largest number of rows (one query + the gallery) k-reciprocal re-ranking accepts: its matrices are that size squared. */
export const KR_MAX_ITEMS = 4_000;

/** numpy's around(): round half to even, as the reference code's int(np.around(k1 / 2)). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Final distances (nq x ng, row-major) of queries to gallery items. `sims` is the all x all cosine
 * matrix of the rows [queries; gallery] (all = nq + ng), L2-normalised vectors.
 */
export function kReciprocalDistances(sims: Float32Array, nq: number, ng: number, p: { k1: number; k2: number; lambda: number }): Float32Array {
  const all = nq + ng;
  const k1 = Math.min(p.k1, all - 1);
  const k2 = Math.min(p.k2, all);
  // Squared Euclidean distance of unit vectors, each row divided by its maximum (the reference's
  // column normalisation of a symmetric matrix, transposed).
  const dist = new Float32Array(all * all);
  for (let i = 0; i < all; i++) {
    let max = 0;
    for (let j = 0; j < all; j++) {
      const d = Math.max(0, 2 - 2 * sims[i * all + j]);
      dist[i * all + j] = d;
      if (d > max) max = d;
    }
    if (max > 0) for (let j = 0; j < all; j++) dist[i * all + j] /= max;
  }
  // Initial ranks: only the first k1 + 1 of each row are ever read.
  const depth = Math.min(all, k1 + 1);
  const rank = new Int32Array(all * depth);
  const order = Array.from({ length: all }, (_, j) => j);
  for (let i = 0; i < all; i++) {
    const row = dist.subarray(i * all, (i + 1) * all);
    order.sort((a, b) => row[a] - row[b] || a - b);
    for (let j = 0; j < depth; j++) rank[i * depth + j] = order[j];
  }
  const reciprocal = (i: number, k: number): number[] => {
    const out: number[] = [];
    for (let a = 0; a <= k; a++) {
      const f = rank[i * depth + a];
      for (let b = 0; b <= k; b++) {
        if (rank[f * depth + b] === i) {
          out.push(f);
          break;
        }
      }
    }
    return out;
  };
  const half = Math.min(roundHalfEven(k1 / 2), depth - 1);
  const v = new Float32Array(all * all);
  for (let i = 0; i < all; i++) {
    const base = reciprocal(i, k1);
    const set = new Set(base);
    const expanded = new Set(base);
    for (const c of base) {
      const cand = reciprocal(c, half);
      let common = 0;
      for (const x of cand) if (set.has(x)) common++;
      if (common > (2 / 3) * cand.length) for (const x of cand) expanded.add(x);
    }
    let sum = 0;
    for (const j of expanded) sum += Math.exp(-dist[i * all + j]);
    for (const j of expanded) v[i * all + j] = Math.exp(-dist[i * all + j]) / sum;
  }
  // Local query expansion: each row becomes the mean of its k2 nearest rows.
  let vq = v;
  if (k2 > 1) {
    vq = new Float32Array(all * all);
    const order2 = Array.from({ length: all }, (_, j) => j);
    for (let i = 0; i < all; i++) {
      const row = dist.subarray(i * all, (i + 1) * all);
      const near = k2 <= depth ? Array.from(rank.subarray(i * depth, i * depth + k2)) : order2.sort((a, b) => row[a] - row[b] || a - b).slice(0, k2);
      for (const r of near) for (let j = 0; j < all; j++) vq[i * all + j] += v[r * all + j] / k2;
    }
  }
  // Jaccard distance through the inverted index of non-zero columns, for the query rows only.
  const nonZero: number[][] = Array.from({ length: all }, () => []);
  for (let r = 0; r < all; r++) for (let j = 0; j < all; j++) if (vq[r * all + j] !== 0) nonZero[j].push(r);
  const out = new Float32Array(nq * ng);
  const minSum = new Float64Array(all);
  for (let i = 0; i < nq; i++) {
    minSum.fill(0);
    for (let j = 0; j < all; j++) {
      const vij = vq[i * all + j];
      if (vij === 0) continue;
      for (const r of nonZero[j]) minSum[r] += Math.min(vij, vq[r * all + j]);
    }
    for (let g = 0; g < ng; g++) {
      const jac = 1 - minSum[nq + g] / (2 - minSum[nq + g]);
      out[i * ng + g] = jac * (1 - p.lambda) + dist[i * all + nq + g] * p.lambda;
    }
  }
  return out;
}
