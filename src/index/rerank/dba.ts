/**
 * Database-side augmentation (αDBA, Arandjelović & Zisserman 2012, Radenović et al. 2018): each
 * gallery vector is replaced by the normalised, similarity-weighted sum of its top-n neighbours in
 * the gallery (itself included, weight 1). Applied at search time to the index's current vectors,
 * never written to the index: see docs/ranking.md.
 */
import { neighbourWeight, type RerankDef } from './base.ts';
import { normaliseRow } from './aqe.ts';

/** The `dba` method: parameters and cost. */
export const DBA: RerankDef = {
  name: 'dba',
  stage: 0,
  help: 'database-side augmentation: each gallery vector becomes Σ sim^α · neighbour over its top-n (itself included)',
  cost: 'loads the gallery and ranks it against itself once per index state (gallery x gallery x dim multiply-adds), at most 20,000 items',
  params: {
    n: { default: 3, min: 1, max: 100, integer: true, help: 'gallery neighbours averaged, the item itself included' },
    alpha: { default: 3, min: 0, max: 100, help: 'similarity exponent of each neighbour\'s weight' },
  },
};

/** Largest gallery DBA runs on (the gallery is loaded and ranked against itself). */
export const DBA_MAX_GALLERY = 20_000;

/**
 * Augmented gallery: row i = normalise(Σ_j max(s_ij, 0)^α · g_{idx_ij}) over the n entries of
 * its top list (`indices`/`scores` are ng x n from ranking the gallery against itself; -1 = none).
 */
export function augmentDatabase(gallery: Float32Array, dim: number, indices: Int32Array, scores: Float32Array, n: number, alpha: number): Float32Array {
  const ng = gallery.length / dim;
  const out = new Float32Array(gallery.length);
  for (let i = 0; i < ng; i++) {
    const o = i * dim;
    for (let j = 0; j < n; j++) {
      const g = indices[i * n + j];
      if (g < 0) continue;
      const w = neighbourWeight(scores[i * n + j], alpha);
      for (let d = 0; d < dim; d++) out[o + d] += w * gallery[g * dim + d];
    }
    normaliseRow(out, o, dim);
  }
  return out;
}
