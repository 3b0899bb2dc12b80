/**
 * Oxford5k / Paris6k protocol (Philbin et al. 2007; also the revisited ROxford/RParis code of
 * Radenovic et al. 2018): good and ok images are positives, junk images are removed from the
 * ranking before scoring, and AP is the trapezoid-rule area of the official `compute_ap`.
 */

/**
 * AP by the trapezoid rule of the official compute_ap, on a ranking with junk already removed:
 * for each rank j, area += (recall_j - recall_{j-1}) x (precision_{j-1} + precision_j) / 2,
 * starting from recall 0, precision 1. R = number of positives (0 -> 0).
 */
export function trapezoidAp(rel: ArrayLike<boolean>, R: number): number {
  if (R <= 0) return 0;
  let ap = 0;
  let hits = 0;
  let oldRecall = 0;
  let oldPrecision = 1;
  for (let j = 0; j < rel.length; j++) {
    if (rel[j]) hits++;
    const recall = hits / R;
    const precision = hits / (j + 1);
    ap += (recall - oldRecall) * ((oldPrecision + precision) / 2);
    oldRecall = recall;
    oldPrecision = precision;
  }
  return ap;
}

/** One Oxford-style query: its ranking of gallery ids and its ground truth lists. */
export interface OxfordQuery {
  id: string;
  ranking: readonly string[];
  good: readonly string[];
  ok: readonly string[];
  junk: readonly string[];
}

/** AP of one query: drop junk from the ranking, positives = good + ok, then trapezoidAp. */
export function oxfordAp(q: OxfordQuery): number {
  const pos = new Set([...q.good, ...q.ok]);
  const junk = new Set(q.junk);
  for (const id of junk) if (pos.has(id)) throw new Error(`query ${q.id}: ${id} is both junk and a positive`);
  const rel: boolean[] = [];
  for (const id of q.ranking) if (!junk.has(id)) rel.push(pos.has(id));
  return trapezoidAp(rel, pos.size);
}

/** mAP over Oxford-style queries, with each query's AP (queries without positives are an error, as in the protocol). */
export function oxfordMap(queries: readonly OxfordQuery[]): { map: number; ap: Record<string, number> } {
  const ap: Record<string, number> = {};
  let sum = 0;
  for (const q of queries) {
    if (q.good.length + q.ok.length === 0) throw new Error(`query ${q.id}: no good or ok images`);
    if (q.id in ap) throw new Error(`query ${q.id} appears more than once`);
    ap[q.id] = oxfordAp(q);
    sum += ap[q.id];
  }
  return { map: queries.length ? sum / queries.length : NaN, ap };
}
