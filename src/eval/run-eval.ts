/**
 * One evaluation entry point over the three inputs `lookalike eval` accepts: an index plus a
 * labels CSV (leave-one-out or query/gallery splits), a competition submission plus truth, or a
 * rankings file (cases.json format). Picks the mode from which inputs are given.
 */
import { readLabels } from '../data/labels.ts';
import { isStore, onStore, type Searchable, type SearchMode } from '../index/search.ts';
import { withStore } from '../store/open-store.ts';
import type { VectorStore } from '../store/types.ts';
import { readSubmission, readTruth } from '../metrics/competition.ts';
import { evaluateLabelled, evaluateSubmission, readCases, type EmptyPolicy, type EvalResult } from '../metrics/evaluate.ts';
import { evaluateIndex } from './from-index.ts';
import { formatTable, jsonReport, writePerQueryCsv } from '../metrics/eval-report.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { OptionError } from '../util/options.ts';

/** Inputs and options of an evaluation; give exactly one input: rankings, submission + truth, or index + labels. */
export interface RunEvalOptions {
  /** Index location (folder or store URL), an opened store, or a loaded index; with `labels`. */
  index?: string | Searchable;
  /** Labels CSV path,label[,domain][,split]; paths are index ids. */
  labels?: string;
  /** Rankings JSON (cases.json format). */
  rankings?: string;
  /** Competition submission JSON, with `truth`. */
  submission?: string;
  truth?: string;
  /** Index mode: queries are the rows with this split (with gallerySplit). */
  querySplit?: string;
  gallerySplit?: string;
  /** Cut-offs for the @k metrics (default 1, 5, 10). */
  ks?: number[];
  empty?: EmptyPolicy;
  /** Rankings/submission: drop the gallery item whose id equals the query id. */
  excludeSelf?: boolean;
  /** Index mode: ranked items per query ('all' or Infinity = every item). */
  depth?: number | 'all';
  /** Write one CSV row per query here (checked before any work: docs/reliability.md). */
  perQuery?: string;
  /** Index mode: exact (default) or approximate search. */
  search?: SearchMode;
  /** Index mode: (queries searched, total) while ranking. */
  onProgress?: (done: number, total: number) => void;
}

/** What an evaluation produced: the result, the `--json` object, the table text and warnings. */
export interface EvalRun {
  mode: 'rankings' | 'submission' | 'index';
  result: EvalResult;
  json: Record<string, unknown>;
  table: string;
  /** Notes about inputs left out (labels not indexed, depth shorter than R). */
  warnings: string[];
}

/** Evaluate rankings, a submission or an index; throws a one-line error naming the bad input. */
export async function runEval(o: RunEvalOptions): Promise<EvalRun> {
  const ks = o.ks ?? [1, 5, 10];
  const empty = o.empty ?? 'skip';
  const modes = [o.rankings !== undefined, o.submission !== undefined || o.truth !== undefined, o.index !== undefined || o.labels !== undefined].filter(Boolean).length;
  if (modes !== 1) throw new OptionError('give exactly one input: {{rankings}} FILE, {{submission}} FILE {{truth}} FILE, or {{index}} INDEX {{labels}} FILE');
  if (o.perQuery) guardOutput(o.perQuery, { option: 'perQuery', kind: OUTPUT_KINDS.perQueryCsv, inputs: [typeof o.index === 'string' ? o.index : undefined, o.labels, o.rankings, o.submission, o.truth] });
  const warnings: string[] = [];
  let result: EvalResult;
  let extra: Record<string, unknown>;
  let title: string;
  let mode: EvalRun['mode'];
  if (o.rankings !== undefined) {
    mode = 'rankings';
    const cases = readCases(o.rankings);
    result = evaluateLabelled(cases.gallery, cases.queries, { ks, empty, excludeSelf: o.excludeSelf, source: o.rankings });
    extra = { mode, rankings: o.rankings };
    title = `rankings ${o.rankings}: ${cases.queries.length} queries, gallery of ${cases.gallery.length}`;
  } else if (o.submission !== undefined || o.truth !== undefined) {
    mode = 'submission';
    if (!o.submission || !o.truth) throw new OptionError('{{submission}} and {{truth}} go together');
    const r = evaluateSubmission(readSubmission(o.submission), readTruth(o.truth), { ks, empty, excludeSelf: o.excludeSelf, subFile: o.submission, truthFile: o.truth });
    result = r;
    extra = { mode, submission: o.submission, truth: o.truth, weighted_topk: r.weighted_topk, queries_without_truth: r.queries_without_truth };
    title = `submission ${o.submission} vs ${o.truth}: weighted top-k ${r.weighted_topk.toFixed(2)} / 1000 (${r.queries_without_truth} queries without truth)`;
  } else {
    mode = 'index';
    if (!o.index) throw new OptionError('{{labels}} needs {{index}}');
    const index = o.index;
    const name = typeof index === 'string' ? index : isStore(index) ? index.location : index.dir;
    if (!o.labels) throw new OptionError(`${name}: give {{labels}} labels.csv (path,label[,domain][,split])`);
    const depth = o.depth === 'all' ? Infinity : o.depth;
    if (depth !== undefined && depth !== Infinity && (!Number.isInteger(depth) || depth < 1)) throw new OptionError(`{{depth}} ${o.depth}: expected a positive integer or all`);
    const labels = readLabels(o.labels);
    const labelsFile = o.labels;
    // The index is searched through its store: nothing loads its whole matrix.
    const onIndex = <T>(fn: (s: VectorStore) => Promise<T>) => (typeof index === 'string' ? withStore(index, {}, fn) : onStore(index, fn));
    const { r, model, count } = await onIndex(async (store) => ({
      r: await evaluateIndex(store, labels, { ks, empty, labelsFile, querySplit: o.querySplit, gallerySplit: o.gallerySplit, depth, search: o.search, onProgress: o.onProgress }),
      model: (await store.meta()).model.name,
      count: await store.count(),
    }));
    if (r.labels_not_indexed) warnings.push(`warning: ${r.labels_not_indexed} rows of ${o.labels} are not in ${name}; evaluating the ${count - r.indexed_unlabelled} that are`);
    const maxR = r.queries.reduce((m, q) => Math.max(m, q.R), 0);
    if (r.depth < maxR) warnings.push(`note: ranked to depth ${r.depth} but a query has R = ${maxR}; map@r, r_precision and ap count relevant items past the depth as misses (depth all for exact values)`);
    if (r.indexed_unlabelled) warnings.push(`warning: ${r.indexed_unlabelled} items of ${name} have no label in ${o.labels}; left out`);
    result = r;
    extra = { mode, index: name, labels: o.labels, model, protocol: r.protocol, queries: r.queries.length, gallery_size: r.gallery_size, depth: r.depth };
    title = `index ${name} (model ${model}), labels ${o.labels}: ${r.protocol}, ${r.queries.length} queries, gallery of ${r.gallery_size}` + (r.depth < r.gallery_size ? `, ranked to depth ${r.depth}` : '');
  }
  if (o.perQuery) writePerQueryCsv(o.perQuery, result);
  return { mode, result, json: jsonReport(result, extra), table: formatTable(result, title), warnings };
}
