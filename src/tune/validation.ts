/**
 * Validation retrieval metrics for tuning: every validation item queries all the other
 * validation items (leave-one-out; with crossDomain, only those of other domains), ranked by exact cosine search (src/store/exact.ts) and scored
 * by src/metrics (precision@1, mmp@5 with UnED domain means, mAP over the full ranking).
 */
import { searchExact } from '../store/exact.ts';
import { evaluateJudgements, type Judgement } from '../metrics/evaluate.ts';
import { normalizeRows } from './losses/base.ts';

/** Rows to evaluate: vectors (any scale; normalised here), and per row a label and optional domain. */
export interface EvalSet {
  vectors: Float32Array;
  dim: number;
  labels: ArrayLike<string | number>;
  domains?: (string | undefined)[];
  ids?: string[];
  /** Cross-domain protocol (photo -> sketch): a query ranks only items of other domains. */
  crossDomain?: boolean;
}

/** The validation metrics tuning reports and monitors. */
export interface TuneMetrics {
  'precision@1': number;
  'mmp@5': number;
  map: number;
  queries: number;
}

/** Largest set ranked in full (mAP over the whole list); larger sets rank the top `maxRank`. */
const FULL_RANK_LIMIT = 5000;

/** Leave-one-out retrieval metrics of a labelled set. */
export async function retrievalMetrics(set: EvalSet, maxRank = 1000): Promise<TuneMetrics> {
  const n = set.labels.length;
  if (n < 2) throw new Error(`validation: need at least 2 items, got ${n}`);
  const { unit } = normalizeRows(set.vectors, n, set.dim);
  const k = n - 1 <= FULL_RANK_LIMIT ? n - 1 : Math.min(maxRank, n - 1);
  const exclude = Int32Array.from({ length: n }, (_, i) => i);
  const top = await searchExact(unit, unit, set.dim, k, { exclude });
  const cross = Boolean(set.crossDomain && set.domains);
  if (set.crossDomain && !set.domains?.some((d) => d !== undefined)) throw new Error('validation: the cross-domain protocol needs a domain column');
  const other = (q: number, g: number) => !cross || set.domains![g] !== set.domains![q];
  const judgements: Judgement[] = [];
  for (let q = 0; q < n; q++) {
    const rel: boolean[] = [];
    for (let j = 0; j < top.k; j++) {
      const g = top.indices[q * top.k + j];
      if (g < 0) break;
      if (other(q, g)) rel.push(set.labels[g] === set.labels[q]);
    }
    let R = 0;
    for (let g = 0; g < n; g++) if (g !== q && other(q, g) && set.labels[g] === set.labels[q]) R++;
    judgements.push({ id: set.ids?.[q] ?? String(q), domain: set.domains?.[q], rel, R });
  }
  const r = evaluateJudgements(judgements, { ks: [1, 5] });
  return { 'precision@1': r.mean['precision@1'], 'mmp@5': r.mean['mmp@5'], map: r.mean.ap, queries: r.queries_scored };
}
