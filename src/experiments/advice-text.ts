/**
 * The advice of `lookalike advise` (experiments/advise.ts) as a ranked text table, apart from
 * the runs that measure it: the library exports it without loading the experiment runner.
 */
import type { Advice, AdviseRow } from './advise.ts';

/** The ranked table as text. */
export function formatAdvice(a: Advice): string {
  const head = ['rank', 'model', 'mode', 'mmp@5', 'mr@1', 'sd', 'vs frozen', 'images/s', 'dim', 'peak MiB'];
  const vs = (r: AdviseRow) => (r.margin === undefined ? '-' : `${r.margin >= 0 ? '+' : ''}${r.margin.toFixed(4)} ± ${Number.isFinite(r.noise!) ? r.noise!.toFixed(4) : '?'}${r.eligible ? '' : ' (not above noise)'}`);
  const rows = a.rows.map((r) => [String(r.rank), r.model, r.mode, r['mmp@5'].toFixed(4), r['mr@1'].toFixed(4), r['mmp@5_sd'].toFixed(4), vs(r), r.images_per_s?.toFixed(1) ?? '-', String(r.dim ?? '-'), r.peak_rss_mb?.toFixed(0) ?? '-']);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((x) => x[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 3 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  const r = a.recommended;
  return [
    `${a.dataset}: ${a.design}; ${a.seeds} split(s), ${a.splits.map((x) => `seed ${x.seed}: ${x.train} to tune on, ${x.held} held out`).join('; ')}`,
    '',
    line(head),
    ...rows.map(line),
    ...(a.skipped.length ? ['', ...a.skipped.map((s) => `not measured: ${s.model} / ${s.mode}: ${s.reason}`)] : []),
    '',
    `recommended: ${r.model} (${r.mode}): mmp@5 ${r['mmp@5'].toFixed(4)} ± ${r['mmp@5_sd'].toFixed(4)} on held-out images over ${a.seeds} split(s)${r.images_per_s ? `, ${r.images_per_s.toFixed(1)} images/s` : ''}${r.dim ? `, ${r.dim}-d` : ''}`,
    r.margin !== undefined
      ? `  it beats ${r.model} frozen by ${r.margin.toFixed(4)} mmp@5 (mean over the splits), more than the spread of that difference (sd ${r.noise!.toFixed(4)})`
      : `  tuned modes are recommended only when they beat the same backbone frozen by more than the spread over the splits${a.seeds < 2 ? ' (one split: no spread, so never)' : ''}`,
    ...best(a),
    `reproduce split 1 (seed ${a.splits[0].seed}: mmp@5 ${r.splits[0].toFixed(4)}) with:`,
    ...a.commands.map((c) => `  ${c}`),
  ].join('\n') + '\n';
}

/** The margin of the best tuned row when the pick is frozen (so the user sees how close it came). */
function best(a: Advice): string[] {
  if (a.recommended.mode !== 'frozen') return [];
  const tuned = a.rows.filter((x) => x.model === a.recommended.model && x.margin !== undefined);
  return tuned.map((x) => `  ${x.mode} vs frozen: ${x.margin! >= 0 ? '+' : ''}${x.margin!.toFixed(4)} mmp@5, spread ${Number.isFinite(x.noise!) ? x.noise!.toFixed(4) : 'unknown (one split)'}: ${x.eligible ? 'above' : 'not above'} the noise`);
}
