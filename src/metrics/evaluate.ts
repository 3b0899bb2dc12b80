/**
 * Rankings + relevance -> per-query metrics -> means. Three ways in: labelled rankings (the
 * cases.json format, or an index search), a competition submission plus truth, or ready-made
 * judgements (relevance vector + R). Queries with no relevant gallery item are skipped and listed
 * (`empty: 'skip'`, the default) or scored 0 (`empty: 'zero'`).
 */
import { readJson } from '../util/json.ts';
import { MAX_K, OptionError } from '../util/options.ts';
import { aggregate, type QueryScore } from './aggregate.ts';
import type { Submission } from './competition.ts';
import { countRelevant, hitAt, mpAt, type Relevance } from './retrieval.ts';
import { LIST_METRICS, PER_K_METRICS, retrievalNames } from './registry.ts';

/** What to do with a query that has no relevant gallery item. */
export type EmptyPolicy = 'skip' | 'zero';

/** Options shared by every evaluation entry point. */
export interface EvalOptions {
  /** Cut-offs for the @k metrics (default 1,5,10). */
  ks?: readonly number[];
  /** Queries without a relevant gallery item: 'skip' (default; listed in the output) or 'zero'. */
  empty?: EmptyPolicy;
}

/** The default cut-offs. */
export const DEFAULT_KS: readonly number[] = [1, 5, 10];

/** One query ready to score: relevance in rank order and R, the number of relevant gallery items. */
export interface Judgement {
  id: string;
  domain?: string;
  /** Ground-truth label, kept for reports only. */
  label?: string;
  rel: Relevance;
  R: number;
}

/** One query's outcome. `metrics` is empty for a skipped query. */
export interface QueryEval {
  id: string;
  domain?: string;
  label?: string;
  R: number;
  skipped: boolean;
  metrics: Record<string, number>;
  /** mp@5 and hit@1, which the UnED means (mmp@5, mr@1) average whatever the cut-offs. */
  uned?: Record<string, number>;
}

/** An evaluation: means over scored queries, counts, and the per-query values. */
export interface EvalResult {
  ks: number[];
  /** Metric names in display order (the @k metrics for each k, then the list metrics). */
  metrics: string[];
  mean: Record<string, number>;
  queries_scored: number;
  queries_skipped_no_relevant: string[];
  /** Queries without a relevant item that were scored 0 (empty: 'zero'). */
  queries_zero_no_relevant: string[];
  per_query: Record<string, Record<string, number>>;
  queries: QueryEval[];
}

/** Check, de-duplicate-check and return the cut-offs (default 1,5,10). */
export function normaliseKs(ks: readonly number[] = DEFAULT_KS): number[] {
  if (ks.length === 0) throw new OptionError('no cut-offs given ({{ks}})');
  for (const k of ks) if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new OptionError(`{{ks}} ${ks.join(',')}: cut-offs must be positive integers up to ${MAX_K}`);
  if (new Set(ks).size !== ks.length) throw new OptionError(`{{ks}} ${ks.join(',')}: cut-offs listed twice`);
  return [...ks];
}

/** Parse "1,5,10" into cut-offs. */
export function parseKs(text: string): number[] {
  const ks = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  for (const k of ks) if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new OptionError(`{{ks}} ${text}: cut-offs must be positive integers up to ${MAX_K}`);
  return normaliseKs(ks);
}

/** Metric names for the cut-offs, in output order (the names used in metrics-golden/expected.json; from the registry). */
export function metricNames(ks: readonly number[] = DEFAULT_KS): string[] {
  return retrievalNames(ks);
}

/** Every per-query metric for one relevance vector, keyed by metricNames(ks) (functions from the registry). */
export function scoreQuery(rel: Relevance, R: number, ks: readonly number[] = DEFAULT_KS): Record<string, number> {
  const m: Record<string, number> = {};
  for (const k of ks) for (const d of PER_K_METRICS) m[`${d.name}@${k}`] = d.fn!(rel, R, k);
  for (const d of LIST_METRICS) m[d.name] = d.fn!(rel, R, 0);
  return m;
}

/** Score one judgement under the empty-query policy; R smaller than the listed relevant items is an error. */
export function judgeQuery(j: Judgement, ks: readonly number[], empty: EmptyPolicy = 'skip'): QueryEval {
  if (!Number.isInteger(j.R) || j.R < 0) throw new Error(`query ${j.id}: R must be a non-negative integer, got ${j.R}`);
  const listed = countRelevant(j.rel);
  if (listed > j.R) throw new Error(`query ${j.id}: ${listed} relevant items ranked but R = ${j.R}`);
  const base = { id: j.id, domain: j.domain, label: j.label, R: j.R };
  if (j.R === 0) {
    if (empty === 'skip') return { ...base, skipped: true, metrics: {} };
    return { ...base, skipped: false, metrics: Object.fromEntries(metricNames(ks).map((n) => [n, 0])), uned: { 'mp@5': 0, 'hit@1': 0 } };
  }
  return { ...base, skipped: false, metrics: scoreQuery(j.rel, j.R, ks), uned: { 'mp@5': mpAt(j.rel, j.R, 5), 'hit@1': hitAt(j.rel, 1) } };
}

/** Means and counts over already-scored queries (from judgeQuery); a repeated query id is an error. */
export function summarize(results: readonly QueryEval[], ks: readonly number[]): EvalResult {
  const names = metricNames(ks);
  const seen = new Set<string>();
  for (const r of results) {
    if (seen.has(r.id)) throw new Error(`query id ${r.id} appears more than once`);
    seen.add(r.id);
  }
  const scored = results.filter((r) => !r.skipped);
  const scores: QueryScore[] = scored.map((r) => ({ id: r.id, domain: r.domain, metrics: { ...r.uned, ...r.metrics } }));
  return {
    ks: [...ks],
    metrics: names,
    mean: aggregate(scores, names),
    queries_scored: scored.length,
    queries_skipped_no_relevant: results.filter((r) => r.skipped).map((r) => r.id),
    queries_zero_no_relevant: scored.filter((r) => r.R === 0).map((r) => r.id),
    per_query: Object.fromEntries(scored.map((r) => [r.id, r.metrics])),
    queries: [...results],
  };
}

/** Score every judgement and aggregate. */
export function evaluateJudgements(judgements: Iterable<Judgement>, opts: EvalOptions = {}): EvalResult {
  const ks = normaliseKs(opts.ks);
  const results: QueryEval[] = [];
  for (const j of judgements) results.push(judgeQuery(j, ks, opts.empty));
  return summarize(results, ks);
}

/** A gallery item with a class label (and optional UnED domain). */
export interface LabelledItem {
  id: string;
  label: string;
  domain?: string;
}

/** A labelled query and its ranking of gallery ids, best first. */
export interface LabelledQuery extends LabelledItem {
  ranking: readonly string[];
}

/** Options for label-based relevance. */
export interface LabelOptions extends EvalOptions {
  /** Drop the gallery item whose id equals the query id, from the ranking and from R. */
  excludeSelf?: boolean;
  /** Name used in error messages (e.g. the cases file). */
  source?: string;
}

/** Index gallery ids; a duplicated id is an error. */
export function indexIds(ids: Iterable<string>, what: string, source: string): Map<string, number> {
  const map = new Map<string, number>();
  let i = 0;
  for (const id of ids) {
    if (map.has(id)) throw new Error(`${source}: ${what} id ${id} appears more than once`);
    map.set(id, i++);
  }
  return map;
}

/** Relevance by label: item i is relevant to q when gallery[i].label === q.label. Yields one judgement per query. */
export function* judgeByLabel(gallery: readonly LabelledItem[], queries: readonly LabelledQuery[], opts: LabelOptions = {}): Generator<Judgement> {
  const source = opts.source ?? '<rankings>';
  const pos = indexIds(gallery.map((g) => g.id), 'gallery', source);
  indexIds(queries.map((q) => q.id), 'query', source);
  const perLabel = new Map<string, number>();
  for (const g of gallery) perLabel.set(g.label, (perLabel.get(g.label) ?? 0) + 1);
  for (const q of queries) {
    const rel: boolean[] = [];
    const seen = new Set<string>();
    for (const id of q.ranking) {
      const i = pos.get(id);
      if (i === undefined) throw new Error(`${source}: query ${q.id}: ranking has unknown gallery id ${id}`);
      if (seen.has(id)) throw new Error(`${source}: query ${q.id}: gallery id ${id} is ranked twice`);
      seen.add(id);
      if (opts.excludeSelf && id === q.id) continue;
      rel.push(gallery[i].label === q.label);
    }
    let R = perLabel.get(q.label) ?? 0;
    if (opts.excludeSelf) {
      const self = pos.get(q.id);
      if (self !== undefined && gallery[self].label === q.label) R--;
    }
    yield { id: q.id, domain: q.domain, label: q.label, rel, R };
  }
}

/** Evaluate labelled rankings (the cases.json format). */
export function evaluateLabelled(gallery: readonly LabelledItem[], queries: readonly LabelledQuery[], opts: LabelOptions = {}): EvalResult {
  return evaluateJudgements(judgeByLabel(gallery, queries, opts), opts);
}

/** The rankings file format of metrics-golden/cases.json. */
export interface Cases {
  gallery: LabelledItem[];
  queries: LabelledQuery[];
}

function isItem(x: unknown): x is LabelledItem {
  const o = x as Record<string, unknown>;
  return (
    o !== null &&
    typeof o === 'object' &&
    typeof o.id === 'string' &&
    o.id !== '' &&
    (typeof o.label === 'string' || typeof o.label === 'number') &&
    (o.domain === undefined || o.domain === null || typeof o.domain === 'string')
  );
}

/** Read and check a rankings file `{gallery: [{id,label,domain}], queries: [{id,label,domain,ranking}]}`. */
export function readCases(file: string): Cases {
  const data = readJson(file);
  const d = data as { gallery?: unknown; queries?: unknown };
  if (!d || typeof d !== 'object' || !Array.isArray(d.gallery) || !Array.isArray(d.queries)) {
    throw new Error(`${file}: expected {"gallery": [...], "queries": [...]}`);
  }
  const item = (x: unknown, where: string): LabelledItem => {
    if (!isItem(x)) throw new Error(`${file}: ${where}: expected {id, label[, domain]}, got ${JSON.stringify(x)?.slice(0, 80)}`);
    const o = x as unknown as Record<string, unknown>;
    return { id: o.id as string, label: String(o.label), domain: typeof o.domain === 'string' ? o.domain : undefined };
  };
  const gallery = d.gallery.map((g, i) => item(g, `gallery[${i}]`));
  const queries = d.queries.map((q, i) => {
    const base = item(q, `queries[${i}]`);
    const ranking = (q as { ranking?: unknown }).ranking;
    if (!Array.isArray(ranking) || ranking.some((r) => typeof r !== 'string')) {
      throw new Error(`${file}: queries[${i}] (${base.id}): ranking must be an array of gallery ids`);
    }
    return { ...base, ranking: ranking as string[] };
  });
  return { gallery, queries };
}

/** A submission scored against its truth: the evaluation plus the competition's summary fields. */
export interface SubmissionResult extends EvalResult {
  weighted_topk: number;
  queries_without_truth: number;
}

/** Options for scoring a submission. */
export interface SubmissionOptions extends EvalOptions {
  subFile?: string;
  truthFile?: string;
  /** Known gallery ids; when given, any other id in the submission is an error. */
  gallery?: ReadonlySet<string>;
  /** Ignore the query's own id in its ranking. */
  excludeSelf?: boolean;
}

/**
 * Score a submission against truth. Every submitted query must be in the truth and every truth
 * query must be submitted (clear errors otherwise); R = the truth list's length; unlisted relevant
 * items count as misses; a truth query with an empty list is a query without truth (skipped).
 */
export function evaluateSubmission(sub: Submission, truth: Submission, opts: SubmissionOptions = {}): SubmissionResult {
  const subFile = opts.subFile ?? '<submission>';
  const truthFile = opts.truthFile ?? '<truth>';
  for (const q of Object.keys(sub)) {
    if (!(q in truth)) throw new Error(`${subFile}: query ${q} is not in ${truthFile} (unknown query id)`);
  }
  const missing = Object.keys(truth).filter((q) => !(q in sub));
  if (missing.length) {
    throw new Error(`${subFile}: ${missing.length} quer${missing.length === 1 ? 'y' : 'ies'} of ${truthFile} ha${missing.length === 1 ? 's' : 've'} no ranking (first: ${missing[0]})`);
  }
  if (opts.gallery) {
    for (const [q, list] of Object.entries(sub)) {
      for (const id of list) if (!opts.gallery.has(id)) throw new Error(`${subFile}: query ${q}: unknown gallery id ${id}`);
    }
  }
  const judgements = Object.entries(truth).map(([q, relevant]): Judgement => {
    const rs = new Set(relevant);
    const ranking = opts.excludeSelf ? sub[q].filter((id) => id !== q) : sub[q];
    const R = opts.excludeSelf && rs.has(q) ? rs.size - 1 : rs.size;
    return { id: q, rel: ranking.map((id) => rs.has(id) && !(opts.excludeSelf && id === q)), R };
  });
  const result = evaluateJudgements(judgements, opts);
  return {
    ...result,
    weighted_topk: result.mean.weighted_topk,
    queries_without_truth: judgements.filter((j) => j.R === 0).length,
  };
}

/** Indices that sort scores descending, ties broken by position (lower index first), NaN last. */
export function rankByScores(scores: ArrayLike<number>): Int32Array {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  const v = (i: number) => (Number.isNaN(scores[i]) ? -Infinity : scores[i]);
  idx.sort((a, b) => {
    const va = v(a);
    const vb = v(b);
    return vb > va ? 1 : vb < va ? -1 : a - b;
  });
  return Int32Array.from(idx);
}
