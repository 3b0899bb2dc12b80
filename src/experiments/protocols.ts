/**
 * Score embeddings of a dataset's test part under its protocol: leave-one-out or query/gallery by
 * label (optionally other domains only), a competition submission against its truth, or the Oxford
 * protocol. Rankings come from the one exact search (src/store/exact.ts); metrics from src/metrics.
 */
import { rankRows } from '../index/rerank/rerank-search.ts';
import type { RerankStep } from '../index/rerank/base.ts';
import { evaluateSubmission, judgeQuery, normaliseKs, summarize, type EvalResult, type QueryEval } from '../metrics/evaluate.ts';
import { evaluateOxford } from '../eval/oxford-index.ts';
import { gatherRows } from '../util/matrix.ts';
import { captionRecall } from '../embed/text-queries.ts';
import type { TextEncoder } from '../models/text-encoder.ts';
import type { DatasetData } from './datasets.ts';

/** Rows of embeddings: `row[i]` is item i's row in `vectors`, or -1 when it could not be embedded. */
export interface ItemVectors {
  vectors: Float32Array;
  dim: number;
  row: Int32Array;
}

/** A scored test part: the evaluation, the top-10 of each query (ids), and items left out. */
export interface ProtocolResult {
  result: EvalResult;
  /** Query id -> top-10 gallery ids with a relevant flag. */
  rankings: { query: string; label?: string; top: { id: string; score: number; relevant: boolean }[] }[];
  /** Test items that could not be embedded (left out). */
  missing: number;
  /** competition: the submission (query file -> ranked gallery files, top max(10, K)). */
  submission?: Record<string, string[]>;
  /** captions: images and captions scored, and captions left out because their image could not be embedded. */
  captions?: { images: number; captions: number; captions_without_image: number };
}

/** Top entries kept per query for reports. */
export const KEEP_TOP = 10;

/** Evaluate the test part of a dataset on the given rows, re-ranked by `rerank` when given; queries come from `qv` when given (e.g. a distilled student against its teacher's gallery). */
export async function evaluateTest(d: DatasetData, v: ItemVectors, ks: readonly number[], qv: ItemVectors = v, rerank: readonly RerankStep[] = []): Promise<ProtocolResult> {
  const t = d.test;
  if (qv.dim !== v.dim) throw new Error(`dataset ${d.entry.name}: query rows are ${qv.dim}-d but gallery rows are ${v.dim}-d`);
  const ok = (i: number) => v.row[i] >= 0;
  const qok = (i: number) => qv.row[i] >= 0 && (t.queries !== t.gallery || ok(i));
  const missing = new Set([...t.queries.filter((i) => !qok(i)), ...t.gallery.filter((i) => !ok(i))]).size;
  if (t.protocol === 'oxford') {
    const g = t.gallery.filter(ok);
    const ox = await evaluateOxford(g.map((i) => d.items[i].id), gatherRows(v.vectors, v.dim, g.map((i) => v.row[i])), v.dim, t.oxford!, d.entry.oxford, rerank);
    const results: QueryEval[] = Object.entries(ox.per_query).map(([id, m]) => ({ id, R: 1, skipped: false, metrics: { oxford_map: m.ap } }));
    const result: EvalResult = { ks: [...ks], metrics: ['oxford_map'], mean: { oxford_map: ox.mean.oxford_map }, queries_scored: results.length, queries_skipped_no_relevant: [], queries_zero_no_relevant: [], per_query: Object.fromEntries(results.map((r) => [r.id, r.metrics])), queries: results };
    return { result, rankings: [], missing };
  }
  const queries = t.queries.filter(qok);
  const gallery = t.gallery.filter(ok);
  const same = t.queries === t.gallery;
  const gPos = new Map(gallery.map((i, j) => [i, j]));
  const depth = gallery.length;
  const top = await rankRows(
    gatherRows(v.vectors, v.dim, gallery.map((i) => v.row[i])),
    gatherRows(qv.vectors, qv.dim, queries.map((i) => qv.row[i])),
    v.dim,
    depth,
    rerank,
    same ? Int32Array.from(queries, (i) => gPos.get(i) ?? -1) : undefined,
  );
  const rankings: ProtocolResult['rankings'] = [];
  if (t.protocol === 'competition') {
    const sid = t.submissionId!;
    const sub: Record<string, string[]> = {};
    queries.forEach((qi, q) => {
      const list: string[] = [];
      for (let j = 0; j < depth; j++) {
        const g = top.indices[q * depth + j];
        if (g >= 0) list.push(sid(d.items[gallery[g]]));
      }
      sub[sid(d.items[qi])] = list;
    });
    for (const q of Object.keys(t.truth!)) if (!(q in sub)) sub[q] = [];
    const result = evaluateSubmission(sub, t.truth!, { ks: normaliseKs(ks), subFile: `${d.entry.name} rankings`, truthFile: 'truth' });
    // The run's artefact: a submission file as the competition takes it (top max(10, K) per query).
    const keep = Math.max(10, ...ks);
    const submission = Object.fromEntries(Object.entries(sub).map(([q, l]) => [q, l.slice(0, keep)]));
    queries.forEach((qi, q) => {
      const rel = new Set(t.truth![sid(d.items[qi])] ?? []);
      rankings.push({ query: d.items[qi].id, top: Array.from({ length: Math.min(KEEP_TOP, depth) }, (_, j) => {
        const g = gallery[top.indices[q * depth + j]];
        return { id: d.items[g].id, score: top.scores[q * depth + j], relevant: rel.has(sid(d.items[g])) };
      }) });
    });
    return { result, rankings, missing, submission };
  }
  // By label: per-label gallery counts (per domain when cross-domain).
  const results: QueryEval[] = [];
  queries.forEach((qi, q) => {
    const qItem = d.items[qi];
    const counts = (g: number) => g !== qi && d.items[g].label === qItem.label && (!t.crossDomain || d.items[g].domain !== qItem.domain);
    let R = 0;
    for (const g of gallery) if (counts(g)) R++;
    const rel: boolean[] = [];
    const kept: ProtocolResult['rankings'][number]['top'] = [];
    for (let j = 0; j < depth; j++) {
      const gj = top.indices[q * depth + j];
      if (gj < 0) break;
      const g = gallery[gj];
      if (t.crossDomain && d.items[g].domain === qItem.domain) continue;
      const r = d.items[g].label === qItem.label;
      rel.push(r);
      if (kept.length < KEEP_TOP) kept.push({ id: d.items[g].id, score: top.scores[q * depth + j], relevant: r });
    }
    rankings.push({ query: qItem.id, label: qItem.label, top: kept });
    results.push(judgeQuery({ id: qItem.id, domain: qItem.domain, label: qItem.label, rel, R }, normaliseKs(ks)));
  });
  return { result: summarize(results, normaliseKs(ks)), rankings, missing };
}

/**
 * Score a captions dataset: image->text and text->image R@K (metrics i2t_r@k, t2i_r@k) through
 * src/embed/text-queries.ts captionRecall, the function `eval --captions` uses, on the cached image rows.
 */
export async function evaluateCaptionsTest(d: DatasetData, v: ItemVectors, text: TextEncoder, ks: readonly number[]): Promise<ProtocolResult> {
  const t = d.test;
  const kept = t.gallery.filter((i) => v.row[i] >= 0);
  const images = { ids: kept.map((i) => d.items[i].id), vectors: gatherRows(v.vectors, v.dim, kept.map((i) => v.row[i])), dim: v.dim };
  const ks2 = normaliseKs(ks);
  const r = await captionRecall(text, images, t.captions!, ks2, { where: `dataset ${d.entry.name}`, captionsFile: d.entry.captions ?? 'captions.csv' });
  const mean: Record<string, number> = {};
  for (const k of ks2) mean[`i2t_r@${k}`] = r.imageToText[k];
  for (const k of ks2) mean[`t2i_r@${k}`] = r.textToImage[k];
  const result: EvalResult = { ks: ks2, metrics: Object.keys(mean), mean, queries_scored: r.captions, queries_skipped_no_relevant: [], queries_zero_no_relevant: [], per_query: {}, queries: [] };
  return { result, rankings: [], missing: t.gallery.length - kept.length, captions: { images: r.images, captions: r.captions, captions_without_image: r.missing } };
}
