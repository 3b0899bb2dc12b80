/** Presenting an evaluation: a readable table, the `--json` object, and the per-query CSV. */
import { writeFileAtomic } from '../util/atomic.ts';
import { TOPK_MAX } from './competition.ts';
import type { EvalResult } from './evaluate.ts';

/** The `--json` object: means, counts and the skipped queries, plus any mode-specific fields. */
export function jsonReport(r: EvalResult, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...extra,
    mean: r.mean,
    queries_scored: r.queries_scored,
    queries_skipped_no_relevant: r.queries_skipped_no_relevant,
  };
  if (r.queries_zero_no_relevant.length) out.queries_zero_no_relevant = r.queries_zero_no_relevant;
  return out;
}

function fmt(v: number | undefined, digits = 4): string {
  return v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(digits);
}

/** A plain-text table of the means: one row per cut-off, then the list-level metrics. */
export function formatTable(r: EvalResult, title?: string): string {
  const lines: string[] = [];
  if (title) lines.push(title);
  const skipped = r.queries_skipped_no_relevant;
  const shown = skipped.slice(0, 5).join(', ') + (skipped.length > 5 ? `, ... (${skipped.length - 5} more)` : '');
  lines.push(
    `${r.queries_scored} queries scored` +
      (skipped.length ? `; ${skipped.length} skipped, no relevant gallery item: ${shown}` : '') +
      (r.queries_zero_no_relevant.length ? `; ${r.queries_zero_no_relevant.length} without a relevant item scored 0` : ''),
  );
  lines.push('');
  const cols = ['precision', 'recall', 'hit', 'mp', 'ndcg', 'ap'];
  lines.push(['k'.padStart(5), ...cols.map((c) => c.padStart(10))].join(''));
  for (const k of r.ks) lines.push([`@${k}`.padStart(5), ...cols.map((c) => fmt(r.mean[`${c}@${k}`]).padStart(10))].join(''));
  lines.push('');
  const rows: [string, string, string][] = [
    ['mAP (ap)', fmt(r.mean.ap), 'AP over the whole ranking, divisor R'],
    ['map@r', fmt(r.mean['map@r']), 'MAP@R (Musgrave et al.)'],
    ['r_precision', fmt(r.mean.r_precision), 'hits in the top R / R'],
    ['rr (MRR)', fmt(r.mean.rr), 'mean reciprocal rank of the first hit'],
    ['ns@4', fmt(r.mean['ns@4'], 3), 'UKBench N-S score: hits in the top 4 (max 4)'],
    ['mmp@5', fmt(r.mean['mmp@5']), 'UnED: mp@5 averaged per query domain, then over domains'],
    ['mr@1', fmt(r.mean['mr@1']), 'UnED: hit@1 averaged per query domain, then over domains'],
    ['weighted_topk', fmt(r.mean.weighted_topk, 2), `600 hit@1 + 300 hit@5 + 100 hit@10 (max ${TOPK_MAX})`],
  ];
  for (const [name, v, note] of rows) lines.push(`${name.padEnd(15)}${v.padStart(9)}   ${note}`);
  return lines.join('\n') + '\n';
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One CSV row per query (skipped ones too, with empty metric cells): query,label,domain,R,skipped,metrics... */
export function perQueryCsv(r: EvalResult): string {
  const header = ['query', 'label', 'domain', 'R', 'skipped', ...r.metrics];
  const lines = [header.join(',')];
  for (const q of r.queries) {
    const cells = [q.id, q.label ?? '', q.domain ?? '', String(q.R), q.skipped ? '1' : '0'];
    for (const m of r.metrics) cells.push(q.skipped ? '' : String(q.metrics[m]));
    lines.push(cells.map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}

/** Write the per-query CSV atomically. */
export function writePerQueryCsv(file: string, r: EvalResult): void {
  writeFileAtomic(file, perQueryCsv(r));
}
