/** α-query expansion (Radenović et al. 2018): each query is replaced by the normalised, similarity-weighted sum of itself and its top-n neighbours. */
import { neighbourWeight, type RerankDef } from './base.ts';

/** The `aqe` method: parameters and cost. */
export const AQE: RerankDef = {
  name: 'aqe',
  stage: 1,
  help: 'α-query expansion: search again with q + Σ sim^α · neighbour over the top-n',
  cost: 'one extra search per query and n vector reads; no gallery size limit (works through the store, ANN included, when used alone)',
  params: {
    n: { default: 3, min: 1, max: 100, integer: true, help: 'neighbours added to the query' },
    alpha: { default: 3, min: 0, max: 100, help: 'similarity exponent of each neighbour\'s weight' },
  },
};

/**
 * Expanded queries: row i = normalise(q_i + Σ_j max(s_ij, 0)^α · v_ij) over its n neighbours
 * (`vectors` is nq x n x dim, `scores` nq x n; a missing neighbour has score -Infinity and adds nothing).
 */
export function alphaQueryExpansion(queries: Float32Array, dim: number, vectors: Float32Array, scores: Float32Array, n: number, alpha: number): Float32Array {
  const nq = queries.length / dim;
  const out = Float32Array.from(queries);
  for (let i = 0; i < nq; i++) {
    const o = i * dim;
    for (let j = 0; j < n; j++) {
      const w = neighbourWeight(scores[i * n + j], alpha);
      if (w === 0) continue;
      const v = (i * n + j) * dim;
      for (let d = 0; d < dim; d++) out[o + d] += w * vectors[v + d];
    }
    normaliseRow(out, o, dim);
  }
  return out;
}

/** L2-normalise one row in place (a zero row stays zero). */
export function normaliseRow(a: Float32Array, o: number, dim: number): void {
  let s = 0;
  for (let d = 0; d < dim; d++) s += a[o + d] * a[o + d];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let d = 0; d < dim; d++) a[o + d] *= inv;
}
