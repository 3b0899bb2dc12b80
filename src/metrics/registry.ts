/**
 * The metric registry: every metric lookalike reports is declared here once (name, whether it
 * takes a cut-off k, the per-query function, how it is aggregated, a one-line description).
 * Metric names, the eval table, `--help` texts, experiment tables and reports all read this list,
 * so a new metric is one entry here plus its function file.
 */
import { OptionError } from '../util/options.ts';
import { didYouMean } from '../util/text.ts';
import { weightedTopK, TOPK_MAX } from './competition.ts';
import {
  apAt,
  averagePrecision,
  hitAt,
  mapAtR,
  mpAt,
  ndcgAt,
  nsScore,
  precisionAt,
  recallAt,
  reciprocalRank,
  rPrecision,
  type Relevance,
} from './retrieval.ts';

/** How a metric's per-query values become one number. */
export type Aggregation = 'mean' | 'domain-mean' | 'per-protocol';

/** Which evaluation produces a metric. */
export type MetricFamily = 'retrieval' | 'uned' | 'oxford' | 'classification' | 'crossmodal';

/** One metric declaration. */
export interface MetricDef {
  /** Name without the cut-off (`precision` for precision@k); the full name for others. */
  name: string;
  /** True when the metric is reported once per cut-off k, as `name@k`. */
  perK: boolean;
  family: MetricFamily;
  aggregation: Aggregation;
  /** Short display label for tables (defaults to the name). */
  label?: string;
  /** One-line definition (docs/metrics.md has the long form). */
  description: string;
  /** Decimal places in tables. */
  digits: number;
  /** Higher is better (every metric here). */
  higherIsBetter: true;
  /** Per-query value from a relevance vector, R and k (retrieval metrics only). */
  fn?: (rel: Relevance, R: number, k: number) => number;
  /** For domain means: the per-query metric averaged. */
  from?: string;
}

const r = (name: string, description: string, fn: MetricDef['fn'], perK: boolean, digits = 4, label?: string): MetricDef => ({
  name,
  perK,
  family: 'retrieval',
  aggregation: 'mean',
  description,
  digits,
  higherIsBetter: true,
  fn,
  label,
});

/** Every metric, in output order: the @k metrics, then the list metrics, then the others. */
export const METRICS: readonly MetricDef[] = [
  r('precision', 'hits in the top k / k (divisor k even when the list is shorter)', (rel, _R, k) => precisionAt(rel, k), true),
  r('recall', 'hits in the top k / R', (rel, R, k) => recallAt(rel, R, k), true),
  r('hit', '1 when any of the top k is relevant (top-k accuracy)', (rel, _R, k) => hitAt(rel, k), true),
  r('mp', 'UnED mp@k: hits in the top min(k,R) / min(k,R)', (rel, R, k) => mpAt(rel, R, k), true),
  r('ndcg', 'nDCG@k with binary gains', (rel, R, k) => ndcgAt(rel, R, k), true),
  r('ap', 'AP@k: sum of precision@i at hits i<=k / min(k,R)', (rel, R, k) => apAt(rel, R, k), true),
  r('ap', 'AP over the whole ranking, divisor R; its mean is mAP', (rel, R) => averagePrecision(rel, R), false, 4, 'mAP (ap)'),
  r('map@r', 'MAP@R (Musgrave et al.)', (rel, R) => mapAtR(rel, R), false),
  r('r_precision', 'hits in the top R / R', (rel, R) => rPrecision(rel, R), false),
  r('rr', 'reciprocal rank of the first hit; its mean is MRR', (rel) => reciprocalRank(rel), false, 4, 'rr (MRR)'),
  r('weighted_topk', `competition score 600 hit@1 + 300 hit@5 + 100 hit@10 (max ${TOPK_MAX})`, (rel) => weightedTopK(rel), false, 2),
  r('ns@4', 'UKBench N-S score: hits in the top 4 (max 4)', (rel) => nsScore(rel), false, 3),
  { name: 'mmp@5', perK: false, family: 'uned', aggregation: 'domain-mean', from: 'mp@5', description: 'UnED: mp@5 averaged per query domain, then over domains', digits: 4, higherIsBetter: true },
  { name: 'mr@1', perK: false, family: 'uned', aggregation: 'domain-mean', from: 'hit@1', description: 'UnED: hit@1 averaged per query domain, then over domains', digits: 4, higherIsBetter: true },
  { name: 'oxford_map', perK: false, family: 'oxford', aggregation: 'mean', description: 'Oxford/Paris mAP: good+ok positive, junk removed, trapezoid AP', digits: 4, higherIsBetter: true },
  { name: 'i2t_r', perK: true, family: 'crossmodal', aggregation: 'per-protocol', label: 'image->text R@k', description: 'captions: share of images with one of their captions in the top k captions (src/metrics/crossmodal.ts)', digits: 4, higherIsBetter: true },
  { name: 't2i_r', perK: true, family: 'crossmodal', aggregation: 'per-protocol', label: 'text->image R@k', description: 'captions: share of captions whose image is in the top k images (src/metrics/crossmodal.ts)', digits: 4, higherIsBetter: true },
  { name: 'accuracy', perK: false, family: 'classification', aggregation: 'per-protocol', description: 'tuned head classifier: share of correct predictions', digits: 4, higherIsBetter: true },
  { name: 'macro_precision', perK: false, family: 'classification', aggregation: 'per-protocol', description: 'tuned head classifier: mean of per-class precision', digits: 4, higherIsBetter: true },
  { name: 'macro_recall', perK: false, family: 'classification', aggregation: 'per-protocol', description: 'tuned head classifier: mean of per-class recall', digits: 4, higherIsBetter: true },
  { name: 'macro_f1', perK: false, family: 'classification', aggregation: 'per-protocol', description: 'tuned head classifier: mean of per-class F1', digits: 4, higherIsBetter: true },
];

/** The retrieval metrics taking a cut-off, in column order. */
export const PER_K_METRICS: readonly MetricDef[] = METRICS.filter((m) => m.perK && m.family === 'retrieval');
/** The retrieval metrics over the whole list, in output order. */
export const LIST_METRICS: readonly MetricDef[] = METRICS.filter((m) => !m.perK && m.family === 'retrieval');
/** The UnED domain means. */
export const DOMAIN_METRICS: readonly MetricDef[] = METRICS.filter((m) => m.aggregation === 'domain-mean');

/** Per-query retrieval metric names for the cut-offs, in output order. */
export function retrievalNames(ks: readonly number[]): string[] {
  const names: string[] = [];
  for (const k of ks) for (const m of PER_K_METRICS) names.push(`${m.name}@${k}`);
  for (const m of LIST_METRICS) names.push(m.name);
  return names;
}

/** The declaration of a full metric name such as `mp@5`, `ap`, `mmp@5` or `macro_f1`; undefined when unknown. */
export function findMetric(fullName: string): { def: MetricDef; k?: number } | undefined {
  const exact = METRICS.find((m) => !m.perK && m.name === fullName);
  if (exact) return { def: exact };
  const m = /^(.+)@(\d+)$/.exec(fullName);
  if (m) {
    const def = METRICS.find((d) => d.perK && d.name === m[1]);
    if (def) return { def, k: Number(m[2]) };
  }
  return undefined;
}

/** Check a list of full metric names (e.g. from a config file); an unknown one is an error listing the known ones. */
export function checkMetricNames(names: readonly string[], where: string): void {
  for (const n of names) {
    if (!findMetric(n)) {
      const known = METRICS.map((m) => (m.perK ? `${m.name}@k` : m.name));
      throw new OptionError(`${where}: unknown metric "${n}"${didYouMean(n.replace(/@\d+$/, '@k'), known)} (known: ${known.join(', ')})`);
    }
  }
}

/** Display digits of a full metric name (4 when unknown). */
export function metricDigits(fullName: string): number {
  return findMetric(fullName)?.def.digits ?? 4;
}

/** One-line description of a full metric name. */
export function describeMetric(fullName: string): string {
  const f = findMetric(fullName);
  if (!f) return '';
  return f.k === undefined ? f.def.description : f.def.description.replace(/\bk\b/g, String(f.k));
}

/** The metrics list for `--help` texts: "precision@k recall@k ... mmp@5 mr@1 weighted_topk". */
export function metricsHelp(families: readonly MetricFamily[] = ['retrieval', 'uned']): string {
  const parts = METRICS.filter((m) => families.includes(m.family)).map((m) => (m.perK ? `${m.name}@k` : m.name));
  const lines: string[] = [];
  let line = '';
  for (const p of [...new Set(parts)]) {
    if (line.length + p.length + 1 > 96) (lines.push(line), (line = ''));
    line += (line ? ' ' : '') + p;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
