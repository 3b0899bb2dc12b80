/** Oxford-protocol evaluation of embedding rows: each truth query's image ranks every gallery row (exact cosine), scored by scoreOxford. */
import { searchExact } from '../index/exact.ts';
import { gatherRows } from '../util/matrix.ts';
import { oxfordName, scoreOxford, type OxfordTruth } from './oxford-truth.ts';

/** Result of an Oxford evaluation: mAP, per-query AP, and counts. */
export interface OxfordEvalResult {
  mean: { oxford_map: number };
  per_query: Record<string, { ap: number }>;
  queries_scored: number;
  gallery_size: number;
}

/** Evaluate L2-normalised rows (ids = gallery paths) under the Oxford protocol; a query image missing from the ids is an error. */
export async function evaluateOxford(ids: readonly string[], vectors: Float32Array, dim: number, truth: readonly OxfordTruth[], source = 'ground truth'): Promise<OxfordEvalResult> {
  const byName = new Map<string, number>();
  ids.forEach((id, i) => byName.set(oxfordName(id), i));
  const rows = truth.map((t) => {
    const r = byName.get(t.image);
    if (r === undefined) throw new Error(`${source}: query ${t.id}: image ${t.image} is not among the ${ids.length} embedded images`);
    return r;
  });
  const top = await searchExact(vectors, gatherRows(vectors, dim, rows), dim, ids.length);
  const rankings = new Map<string, string[]>();
  truth.forEach((t, q) => {
    const list: string[] = [];
    for (let j = 0; j < ids.length; j++) {
      const g = top.indices[q * ids.length + j];
      if (g >= 0) list.push(ids[g]);
    }
    rankings.set(t.id, list);
  });
  const s = scoreOxford(truth, rankings);
  return { mean: { oxford_map: s.oxford_map }, per_query: Object.fromEntries(Object.entries(s.ap).map(([q, ap]) => [q, { ap }])), queries_scored: truth.length, gallery_size: ids.length };
}
