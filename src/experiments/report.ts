/**
 * `lookalike report RUNS`: one self-contained HTML file (inline SVG charts, thumbnails as data
 * URIs, no scripts, no network) and a Markdown summary, from the run records of a run store.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeMetric, metricDigits } from '../metrics/registry.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { sharpLib } from '../util/lazy-import.ts';
import { barSpec, costSpec, curveSpec, epochSpec, renderSvg } from './charts.ts';
import { axes, cellRuns, costs, datasetTable, deltas, verdicts, type DatasetTable, type Verdict } from './report-data.ts';
import type { RunRecord } from './run-records.ts';
import type { Cell } from './report-data.ts';
import { checkMetricNames } from '../metrics/registry.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { OptionError, toInteger } from '../util/options.ts';
import { readRuns } from './run-records.ts';

/** Options of buildReport. */
export interface ReportOptions {
  /** Metrics with a table (first = the headline metric); default mmp@5, mr@1, precision@1, map@r, weighted_topk. */
  metrics?: string[];
  /** Sample queries shown per dataset (default 4), each with its top `topK` (default 5). */
  samples?: number;
  topK?: number;
  /** Failure cases shown per dataset (default 8): queries whose top-1 is wrong in the winning run. */
  failures?: number;
  /** Where run folders live: the run store path given to the report (to find rankings.json). */
  store: string;
  title?: string;
}

/** The report: HTML text, Markdown text, and the named SVG charts. */
export interface Report {
  html: string;
  markdown: string;
  svgs: Record<string, string>;
}

const DEFAULT_METRICS = ['mmp@5', 'mr@1', 'precision@1', 'map@r', 'weighted_topk'];

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function fmt(v: number | undefined, metric: string): string {
  return v === undefined ? '–' : v.toFixed(metricDigits(metric));
}

/** What a cell that did not finish shows: n/a (not applicable by design), skipped or failed. */
function statusLabel(r: RunRecord): string {
  return r.status === 'not-applicable' ? 'n/a' : r.status;
}

/** The caption tables (image->text, text->image R@K at the smallest K) when runs scored captions and the list has none. */
export function withCaptionMetrics(metrics: string[], runs: readonly RunRecord[]): string[] {
  if (metrics.some((m) => /^(i2t|t2i)_r@/.test(m))) return metrics;
  const ks = [...new Set(runs.flatMap((r) => Object.keys(r.metrics).flatMap((m) => /^i2t_r@(\d+)$/.exec(m)?.[1] ?? [])).map(Number))].sort((a, b) => a - b);
  return ks.length ? [...metrics, `i2t_r@${ks[0]}`, `t2i_r@${ks[0]}`] : metrics;
}

/** ` ± sd` of a cell whose run has replicates (seeds: N), else ''. */
function sdText(c: Cell, metric: string): string {
  const sd = c.run?.metrics_sd?.[metric];
  return sd === undefined || c.value === undefined ? '' : ` ± ${fmt(sd, metric)}`;
}

function cellHtml(c: Cell, metric: string): string {
  return c.run && c.run.status !== 'finished' ? `<td class="na" title="${esc(c.run.reason ?? c.run.status)}">${esc(statusLabel(c.run))}</td>` : `<td class="${c.best ? 'best' : ''}">${fmt(c.value, metric)}${sdText(c, metric)}${c.best ? ' ★' : ''}</td>`;
}

function tableHtml(t: DatasetTable): string {
  const head = `<tr><th>model</th><th>mode</th>${t.metrics.map((m) => `<th title="${esc(describeMetric(m))}">${esc(m)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr><td>${esc(r.model)}</td><td>${esc(r.mode)}</td>${r.cells.map((c, j) => cellHtml(c, t.metrics[j])).join('')}</tr>`).join('\n');
  return `<h3>${esc(t.dataset)} <small>(★ best in the column; hover a metric for its definition)</small></h3>\n<div class="wide"><table>${head}\n${body}</table></div>`;
}

function tableMd(t: DatasetTable): string {
  const lines = [`| model | mode | ${t.metrics.join(' | ')} |`, `|---|---|${t.metrics.map(() => '---:').join('|')}|`];
  for (const r of t.rows) lines.push(`| ${r.model} | ${r.mode} | ${r.cells.map((c, j) => (c.run && c.run.status !== 'finished' ? statusLabel(c.run) : (c.best ? `**${fmt(c.value, t.metrics[j])}**` : fmt(c.value, t.metrics[j])) + sdText(c, t.metrics[j]))).join(' | ')} |`);
  return lines.join('\n');
}

/** The one-line verdict: per dataset the best model x mode and its gain over the same model frozen. */
function verdictText(vs: Verdict[], metric: string): string {
  const one = (v: Verdict) => `${v.dataset}: ${v.run.model.name} × ${v.run.mode.name}, ${metric} ${fmt(v.value, metric)}${v.gain === undefined ? '' : v.run.mode.kind === 'frozen' ? ' (frozen is best)' : ` (${v.gain >= 0 ? '+' : ''}${(v.gain * 100).toFixed(1)} points over frozen ${fmt(v.frozen, metric)})`}`;
  return vs.length ? `Best per dataset by ${metric}: ${vs.map(one).join('; ')}.` : `No finished run reports ${metric}.`;
}

async function thumb(file: string, size = 64): Promise<string | undefined> {
  const sharp = sharpLib();
  try {
    const buf = await sharp(file).resize(size, size, { fit: 'cover' }).jpeg({ quality: 60 }).toBuffer();
    return `data:image/jpeg;base64,${buf.toString('base64')}`;
  } catch {
    return undefined;
  }
}

interface Ranking {
  query: string;
  label?: string;
  top: { id: string; score: number; relevant: boolean }[];
}

/** Sample queries with their top-k thumbnails for the headline run of each dataset (best tuned and frozen of the best model). */
async function samplesHtml(runs: RunRecord[], store: string, metric: string, samples: number, topK: number): Promise<string> {
  const parts: string[] = [];
  for (const dataset of axes(runs).datasets) {
    const rs = cellRuns(runs).filter((r) => r.dataset.name === dataset && r.status === 'finished' && Number.isFinite(r.metrics[metric]));
    if (!rs.length) continue;
    const best = rs.reduce((a, b) => (b.metrics[metric] > a.metrics[metric] ? b : a));
    const dir = findRunDir(store, best);
    const file = dir && path.join(dir, 'rankings.json');
    if (!file || !fs.existsSync(file)) continue;
    const rankings = JSON.parse(fs.readFileSync(file, 'utf8')) as Ranking[];
    if (!rankings.length) continue;
    // Evenly spaced queries: a fixed, reproducible sample.
    const step = Math.max(1, Math.floor(rankings.length / samples));
    const picked = rankings.filter((_, i) => i % step === 0).slice(0, samples);
    const rows: string[] = [];
    for (const q of picked) {
      const img = async (id: string, cls: string, title: string) => {
        const src = await thumb(path.join(best.dataset.path, id));
        return src ? `<img class="${cls}" src="${src}" title="${esc(title)}" alt="${esc(id)}">` : `<span class="${cls} missing" title="${esc(id)}">?</span>`;
      };
      const cells = [await img(q.query, 'query', `query ${q.query}${q.label ? ` (${q.label})` : ''}`)];
      for (const t of q.top.slice(0, topK)) cells.push(await img(t.id, t.relevant ? 'hit' : 'miss', `${t.id} ${t.score.toFixed(3)} ${t.relevant ? 'relevant' : 'not relevant'}`));
      rows.push(`<div class="strip">${cells.join('')}</div>`);
    }
    parts.push(`<h3>${esc(dataset)}: ${esc(best.model.name)} / ${esc(best.mode.name)} (${metric} ${fmt(best.metrics[metric], metric)})</h3>\n${rows.join('\n')}`);
  }
  return parts.join('\n');
}

/** Queries of the winning run per dataset whose top-1 is not relevant, with their results, as thumbnails (at most `max` per dataset). */
async function failuresHtml(vs: Verdict[], store: string, max: number, topK: number): Promise<{ html: string; count: number }> {
  const parts: string[] = [];
  let count = 0;
  for (const v of vs) {
    const dir = findRunDir(store, v.run);
    const file = dir && path.join(dir, 'rankings.json');
    if (!file || !fs.existsSync(file)) continue;
    const rankings = JSON.parse(fs.readFileSync(file, 'utf8')) as Ranking[];
    const wrong = rankings.filter((q) => q.top.length && !q.top[0].relevant);
    if (!wrong.length) {
      parts.push(`<h3>${esc(v.dataset)}: no failures (every query's first result is relevant)</h3>`);
      continue;
    }
    const rows: string[] = [];
    for (const q of wrong.slice(0, max)) {
      const img = async (id: string, cls: string, title: string) => {
        const src = await thumb(path.join(v.run.dataset.path, id), 96);
        return src ? `<img class="${cls}" src="${src}" title="${esc(title)}" alt="${esc(title)}">` : `<span class="${cls} missing" title="${esc(id)}">?</span>`;
      };
      const cells = [await img(q.query, 'query', `query ${q.query}${q.label ? ` (${q.label})` : ''}`)];
      for (const t of q.top.slice(0, topK)) cells.push(await img(t.id, t.relevant ? 'hit' : 'miss', `${t.id} ${t.score.toFixed(3)} ${t.relevant ? 'relevant' : 'not relevant'}`));
      rows.push(`<div class="strip failure"><span class="qlabel">${esc(q.label ?? path.dirname(q.query))}</span>${cells.join('')}</div>`);
      count++;
    }
    parts.push(`<h3>${esc(v.dataset)}: ${wrong.length} of ${rankings.length} queries wrong at rank 1 (${esc(v.run.model.name)} × ${esc(v.run.mode.name)}${wrong.length > max ? `; the first ${max} shown` : ''})</h3>\n${rows.join('\n')}`);
  }
  return { html: parts.join('\n'), count };
}

/** The folder of a run under the store path (the store, an experiment folder, or the run folder itself). */
export function findRunDir(store: string, r: RunRecord): string | undefined {
  for (const d of [path.join(store, r.experiment, r.id), path.join(store, r.id), store]) {
    const f = path.join(d, 'run.json');
    if (fs.existsSync(f)) {
      try {
        if ((JSON.parse(fs.readFileSync(f, 'utf8')) as RunRecord).id === r.id) return d;
      } catch {
        /* not this one */
      }
    }
  }
  return undefined;
}

/** Build the report of a set of runs. */
export async function buildReport(runs: RunRecord[], o: ReportOptions): Promise<Report> {
  const cells = cellRuns(runs);
  const metrics = withCaptionMetrics(o.metrics ?? DEFAULT_METRICS, cells);
  const head = metrics[0];
  if (!cells.length) throw new Error(`${o.store}: no runs to report`);
  const finished = cells.filter((r) => r.status === 'finished');
  const svgs: Record<string, string> = {};
  for (const m of ['mmp@5', 'mr@1', 'weighted_topk'].filter((m) => finished.some((r) => Number.isFinite(r.metrics[m])))) {
    svgs[`bars-${m.replace(/[^a-z0-9]+/gi, '_')}`] = await renderSvg(barSpec(finished.filter((r) => Number.isFinite(r.metrics[m])).map((r) => ({ model: r.model.name, dataset: r.dataset.name, mode: r.mode.name, value: r.metrics[m] })), m));
  }
  for (const [name, prefix, title] of [['precision-at-k', 'precision', 'P@K'], ['recall-at-k', 'recall', 'R@K']] as const) {
    const rows = finished.flatMap((r) => (r.params.ks ? String(r.params.ks).split(',').map(Number) : []).filter((k) => Number.isFinite(r.metrics[`${prefix}@${k}`])).map((k) => ({ dataset: r.dataset.name, series: `${r.model.name} / ${r.mode.name}`, k, value: r.metrics[`${prefix}@${k}`] })));
    if (rows.length) svgs[name] = await renderSvg(curveSpec(rows, title));
  }
  const epochRows = finished.flatMap((r) => (r.epochs ?? []).filter((e) => e.val && Number.isFinite(e.val['mmp@5'])).map((e) => ({ dataset: r.dataset.name, series: `${r.model.name} / ${r.mode.name}`, epoch: e.epoch, value: e.val!['mmp@5'] })));
  if (epochRows.length) svgs['validation-epochs'] = await renderSvg(epochSpec(epochRows, 'mmp@5'));
  const cost = costs(runs);
  const ips = cost.filter((c) => c.images_per_s !== undefined).map((c) => ({ model: c.model, value: c.images_per_s! }));
  if (ips.length) svgs['throughput'] = await renderSvg(costSpec(ips, 'embedding images/s'));

  const tables = axes(runs).datasets.map((d) => datasetTable(runs, d, metrics));
  const vs = verdicts(runs, head);
  const verdict = verdictText(vs, head);
  const failures = await failuresHtml(vs, o.store, o.failures ?? 8, o.topK ?? 5);
  const ds = deltas(runs, head);
  const title = o.title ?? `lookalike report: ${[...new Set(cells.map((r) => r.experiment))].join(', ')}`;
  const env = cells[0].environment;
  const costRows = cost.map((c) => `<tr><td>${esc(c.model)}</td><td>${c.images_per_s?.toFixed(1) ?? '–'}</td><td>${c.dim ?? '–'}</td><td>${c.peak_rss_mb?.toFixed(0) ?? '–'}</td><td>${c.seconds_per_epoch?.toFixed(3) ?? '–'}</td></tr>`).join('\n');
  const deltaRows = ds.map((d) => `<tr><td>${esc(d.model)}</td><td>${esc(d.dataset)}</td><td>${esc(d.mode)}</td><td>${fmt(d.frozen, head)}</td><td>${fmt(d.tuned, head)}</td><td class="${d.delta > 0 ? 'up' : d.delta < 0 ? 'down' : ''}">${d.delta >= 0 ? '+' : ''}${(d.delta * 100).toFixed(1)}</td></tr>`).join('\n');
  const distilled = finished.flatMap((r) => {
    const x = r.extra?.distill as { teacher: string; agreement?: { top10_agreement: number; r_at_1: number; mean_cosine: number } } | undefined;
    return x?.agreement ? [{ r, teacher: x.teacher, a: x.agreement }] : [];
  });
  const distillHead = ['student', 'dataset', 'mode', 'teacher', 'top-10 agreement', 'R@1 vs teacher', 'mean cosine', head];
  const distillRows = distilled.map(({ r, teacher, a }) => [r.model.name, r.dataset.name, r.mode.name, teacher, a.top10_agreement.toFixed(4), a.r_at_1.toFixed(4), a.mean_cosine.toFixed(4), fmt(r.metrics[head], head)]);
  const notRun = cells.filter((r) => r.status !== 'finished');
  const na = notRun.filter((r) => r.status === 'not-applicable').length;
  const notRunText = notRun.length ? `${na ? `, ${na} not applicable (n/a)` : ''}${notRun.length > na ? `, ${notRun.length - na} skipped or failed` : ''}` : '';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="generator" content="lookalike report">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:12px 0 24px}caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px}td{text-align:right}td:first-child,td:nth-child(2){text-align:left}
td.best{background:#e4f5e4;font-weight:700}td.na{color:#999;text-align:center}td.up{color:#137a13}td.down{color:#b3261e}
.chart{margin:8px 0 24px;overflow-x:auto}.strip{display:flex;gap:4px;margin:4px 0;align-items:center}
.strip img,.strip span{width:64px;height:64px;border:3px solid #ddd;box-sizing:border-box}.strip .query{border-color:#3367d6}
.strip .hit{border-color:#2e9e44}.strip .miss{border-color:#d93025}.missing{display:inline-block;text-align:center;line-height:58px}
small{color:#666}.verdict{font-size:17px;font-weight:600;background:#eef6ee;border-left:4px solid #2e9e44;padding:8px 12px}
.wide{overflow-x:auto}.wide td{white-space:nowrap}.strip .qlabel{width:90px;height:auto;border:0;font-size:12px;color:#555;overflow:hidden;text-overflow:ellipsis}.strip.failure img,.strip.failure span.missing{width:96px;height:96px}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="verdict">${esc(verdict)}</p>
<p><small>${cells.length} runs (${finished.length} finished${notRunText}); lookalike ${esc(env.lookalike.version)}${env.lookalike.commit ? ` (${esc(env.lookalike.commit.slice(0, 10))})` : ''}, Node ${esc(env.node)}, ${env.cpus} CPUs (${esc(env.cpu_model)}). Higher is better for every metric.</small></p>
<h2>Results per dataset</h2>
${tables.map(tableHtml).join('\n')}
<h2>Failures (queries whose first result is wrong, winning run per dataset; blue = query, green = relevant, red = not)</h2>
${failures.html}
<h2>Frozen vs tuned (${esc(head)}, points)</h2>
<table><tr><th>model</th><th>dataset</th><th>mode</th><th>frozen</th><th>tuned</th><th>delta (points)</th></tr>
${deltaRows}</table>
${distillRows.length ? `<h2>Distillation: how close each student gets to its teacher (test images; ${esc(head)}: student queries vs the teacher's gallery)</h2>
<table><tr>${distillHead.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>
${distillRows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n')}</table>` : ''}
<h2>Charts</h2>
${Object.entries(svgs).map(([n, s]) => `<div class="chart" id="${n}">${s}</div>`).join('\n')}
<h2>Throughput and cost per model</h2>
<table><tr><th>model</th><th>embedding images/s</th><th>dim</th><th>peak RSS MiB</th><th>s per epoch (tuning)</th></tr>
${costRows}</table>
<h2>Sample queries (best run per dataset; blue = query, green = relevant, red = not)</h2>
${await samplesHtml(runs, o.store, head, o.samples ?? 4, o.topK ?? 5)}
${notRun.length ? `<h2>Runs not finished</h2><ul>${notRun.map((r) => `<li>${esc(r.id)}: ${esc(statusLabel(r))}: ${esc(r.reason ?? '')}</li>`).join('')}</ul>` : ''}
</body></html>
`;
  const md = [
    `# ${title}`,
    '',
    `${cells.length} runs (${finished.length} finished${notRunText}); lookalike ${env.lookalike.version}${env.lookalike.commit ? ` (${env.lookalike.commit.slice(0, 10)})` : ''}, Node ${env.node}, ${env.cpus} CPUs. Bold = best in the column.`,
    '',
    `**${verdict}**`,
    '',
    ...tables.flatMap((t) => [`## ${t.dataset}`, '', tableMd(t), '']),
    `## Frozen vs tuned (${head}, points)`,
    '',
    '| model | dataset | mode | frozen | tuned | delta |',
    '|---|---|---|---:|---:|---:|',
    ...ds.map((d) => `| ${d.model} | ${d.dataset} | ${d.mode} | ${fmt(d.frozen, head)} | ${fmt(d.tuned, head)} | ${d.delta >= 0 ? '+' : ''}${(d.delta * 100).toFixed(1)} |`),
    '',
    ...(distillRows.length ? [`## Distillation (test images; ${head}: student queries vs the teacher's gallery)`, '', `| ${distillHead.join(' | ')} |`, `|---|---|---|---|${distillHead.slice(4).map(() => '---:').join('|')}|`, ...distillRows.map((row) => `| ${row.join(' | ')} |`), ''] : []),
    '## Throughput and cost per model',
    '',
    '| model | embedding images/s | dim | peak RSS MiB | s per epoch |',
    '|---|---:|---:|---:|---:|',
    ...cost.map((c) => `| ${c.model} | ${c.images_per_s?.toFixed(1) ?? '–'} | ${c.dim ?? '–'} | ${c.peak_rss_mb?.toFixed(0) ?? '–'} | ${c.seconds_per_epoch?.toFixed(3) ?? '–'} |`),
    '',
    ...(notRun.length ? ['## Runs not finished', '', ...notRun.map((r) => `- ${r.id}: ${statusLabel(r)}: ${r.reason ?? ''}`), ''] : []),
  ].join('\n');
  return { html, markdown: md, svgs };
}

/** Write the report: HTML (atomic), optional Markdown and SVG files (Markdown then links the SVGs). */
export function writeReport(r: Report, out: string, markdown?: string, svgDir?: string): void {
  writeFileAtomic(out, r.html);
  let md = r.markdown;
  if (svgDir) {
    for (const [name, svg] of Object.entries(r.svgs)) writeFileAtomic(path.join(svgDir, `${name}.svg`), svg);
    if (markdown) {
      const rel = path.relative(path.dirname(path.resolve(markdown)), path.resolve(svgDir));
      md += `\n## Charts\n\n${Object.keys(r.svgs).map((n) => `![${n}](${rel ? `${rel}/` : ''}${n}.svg)`).join('\n\n')}\n`;
    }
  }
  if (markdown) writeFileAtomic(markdown, md);
}

/** Options of reportRuns: the files to write and buildReport's options. */
export interface ReportRunsOptions extends Omit<ReportOptions, 'store'> {
  /** HTML file to write. */
  out: string;
  /** Also a Markdown summary here. */
  markdown?: string;
  /** Also each chart as SVG in this folder. */
  svgDir?: string;
}

/** Build the report of a run store (or an experiment or run folder) and write its files; every output is checked before anything is written. */
export async function reportRuns(runs: string, o: ReportRunsOptions): Promise<{ runs: number; charts: number; report: Report }> {
  if (o.metrics) checkMetricNames(o.metrics, '{{metrics}}');
  guardOutput(o.out, { option: 'out', kind: OUTPUT_KINDS.reportHtml, inputs: [runs] });
  if (o.markdown) guardOutput(o.markdown, { option: 'markdown', kind: OUTPUT_KINDS.reportMarkdown, inputs: [runs, o.out] });
  if (o.svgDir && fs.existsSync(o.svgDir) && !fs.statSync(o.svgDir).isDirectory()) throw new OptionError(`{{svgDir}} ${o.svgDir}: is not a folder`);
  if (o.samples !== undefined) toInteger(o.samples, 'samples', 0);
  const records = readRuns(runs);
  const r = await buildReport(records, { ...o, store: runs });
  // Chart names are known once the report is built: check each before anything is written.
  if (o.svgDir) for (const name of Object.keys(r.svgs)) guardOutput(path.join(o.svgDir, `${name}.svg`), { option: 'svgDir', kind: OUTPUT_KINDS.svgChart, inputs: [runs] });
  writeReport(r, o.out, o.markdown, o.svgDir);
  return { runs: records.length, charts: Object.keys(r.svgs).length, report: r };
}
