/** Presenting an evaluation: a readable table, the `--json` object, and the per-query CSV. */
import { writeFileAtomic } from '../util/atomic.ts';
import { DOMAIN_METRICS, LIST_METRICS, PER_K_METRICS } from './registry.ts';
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
  const cols = PER_K_METRICS.map((m) => m.name);
  lines.push(['k'.padStart(5), ...cols.map((c) => c.padStart(10))].join(''));
  for (const k of r.ks) lines.push([`@${k}`.padStart(5), ...cols.map((c) => fmt(r.mean[`${c}@${k}`]).padStart(10))].join(''));
  lines.push('');
  // List metrics, then the UnED means, and weighted_topk last (as before); labels and notes from the registry.
  const order = [...LIST_METRICS.filter((m) => m.name !== 'weighted_topk'), ...DOMAIN_METRICS, ...LIST_METRICS.filter((m) => m.name === 'weighted_topk')];
  for (const m of order) lines.push(`${(m.label ?? m.name).padEnd(15)}${fmt(r.mean[m.name], m.digits).padStart(9)}   ${m.description}`);
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
