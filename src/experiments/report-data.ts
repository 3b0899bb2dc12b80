/** Report data from run records: the model x dataset x mode tables, best cells, frozen-vs-tuned deltas. */
import type { RunRecord } from './run-records.ts';

/** One cell of a results table. */
export interface Cell {
  value?: number;
  best: boolean;
  run?: RunRecord;
}

/** A table for one metric: rows (model, mode), columns (datasets). */
export interface MetricTable {
  metric: string;
  datasets: string[];
  rows: { model: string; mode: string; cells: Cell[] }[];
}

/** Finished (non-trial) runs in first-seen order of model, dataset and mode. */
export function cellRuns(runs: readonly RunRecord[]): RunRecord[] {
  return runs.filter((r) => r.mode.kind !== 'trial');
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Models, datasets and modes in first-seen order. */
export function axes(runs: readonly RunRecord[]): { models: string[]; datasets: string[]; modes: string[] } {
  const rs = cellRuns(runs);
  return { models: uniq(rs.map((r) => r.model.name)), datasets: uniq(rs.map((r) => r.dataset.name)), modes: uniq(rs.map((r) => r.mode.name)) };
}

/** The table of one metric, with the best value in each dataset column marked. */
export function metricTable(runs: readonly RunRecord[], metric: string): MetricTable {
  const { models, datasets, modes } = axes(runs);
  const find = (m: string, d: string, mode: string) => cellRuns(runs).find((r) => r.model.name === m && r.dataset.name === d && r.mode.name === mode);
  const rows = models.flatMap((model) =>
    modes.map((mode) => ({
      model,
      mode,
      cells: datasets.map((d) => cellOf(find(model, d, mode), metric)),
    })),
  ).filter((r) => r.cells.some((c) => c.run));
  markBest(rows, datasets.length);
  return { metric, datasets, rows };
}

/** Tuned minus frozen for one metric: one entry per (model, dataset, non-frozen mode) with both runs finished. */
export interface Delta {
  model: string;
  dataset: string;
  mode: string;
  frozen: number;
  tuned: number;
  delta: number;
}

/** Frozen-vs-tuned deltas of a metric. */
export function deltas(runs: readonly RunRecord[], metric: string): Delta[] {
  const rs = cellRuns(runs).filter((r) => r.status === 'finished' && Number.isFinite(r.metrics[metric]));
  const out: Delta[] = [];
  for (const r of rs) {
    if (r.mode.kind === 'frozen') continue;
    const f = rs.find((x) => x.mode.kind === 'frozen' && x.model.name === r.model.name && x.dataset.name === r.dataset.name);
    if (!f) continue;
    out.push({ model: r.model.name, dataset: r.dataset.name, mode: r.mode.name, frozen: f.metrics[metric], tuned: r.metrics[metric], delta: r.metrics[metric] - f.metrics[metric] });
  }
  return out;
}

/** Throughput and cost per model: embedding images/s, dimension, peak memory, seconds per training epoch (medians over runs). */
export function costs(runs: readonly RunRecord[]): { model: string; images_per_s?: number; dim?: number; peak_rss_mb?: number; seconds_per_epoch?: number }[] {
  const median = (xs: number[]) => {
    const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : undefined;
  };
  return axes(runs).models.map((model) => {
    const rs = cellRuns(runs).filter((r) => r.model.name === model && r.status === 'finished');
    return {
      model,
      images_per_s: median(rs.map((r) => r.timings.embed_images_per_s ?? NaN)),
      dim: rs.find((r) => r.model.dim)?.model.dim,
      peak_rss_mb: median(rs.map((r) => r.timings.peak_rss_mb)),
      seconds_per_epoch: median(rs.map((r) => r.timings.seconds_per_epoch ?? NaN)),
    };
  });
}

/** A table for one dataset: rows (model, mode), one column per metric, the best value in each column marked. */
export interface DatasetTable {
  dataset: string;
  metrics: string[];
  rows: { model: string; mode: string; cells: Cell[] }[];
}

/** Every metric the dataset's finished runs report: the chosen ones first (in their order), then the rest by name. */
export function datasetMetrics(runs: readonly RunRecord[], dataset: string, first: readonly string[]): string[] {
  const seen = new Set(cellRuns(runs).filter((r) => r.dataset.name === dataset && r.status === 'finished').flatMap((r) => Object.keys(r.metrics).filter((m) => Number.isFinite(r.metrics[m]))));
  return [...first.filter((m) => seen.has(m)), ...[...seen].filter((m) => !first.includes(m)).sort()];
}

/** The table of one dataset with every metric as a column. */
export function datasetTable(runs: readonly RunRecord[], dataset: string, first: readonly string[]): DatasetTable {
  const metrics = datasetMetrics(runs, dataset, first);
  const rs = cellRuns(runs).filter((r) => r.dataset.name === dataset);
  const { models, modes } = axes(runs);
  const rows = models.flatMap((model) =>
    modes.flatMap((mode) => {
      const run = rs.find((r) => r.model.name === model && r.mode.name === mode);
      if (!run) return [];
      return [{ model, mode, cells: metrics.map((m) => cellOf(run, m)) }];
    }),
  );
  markBest(rows, metrics.length);
  return { dataset, metrics, rows };
}

/** The winner of one dataset: the best finished run by a metric, and its gain over the same model frozen (undefined when there is no frozen run). */
export interface Verdict {
  dataset: string;
  run: RunRecord;
  value: number;
  frozen?: number;
  gain?: number;
}

/** Per dataset, the best model x mode by `metric` and its gain over the frozen run of the same model. */
export function verdicts(runs: readonly RunRecord[], metric: string): Verdict[] {
  const rs = cellRuns(runs).filter((r) => r.status === 'finished' && Number.isFinite(r.metrics[metric]));
  return axes(runs).datasets.flatMap((dataset) => {
    const here = rs.filter((r) => r.dataset.name === dataset);
    if (!here.length) return [];
    const best = here.reduce((a, b) => (b.metrics[metric] > a.metrics[metric] ? b : a));
    const frozen = here.find((r) => r.mode.kind === 'frozen' && r.model.name === best.model.name);
    const value = best.metrics[metric];
    return [{ dataset, run: best, value, ...(frozen ? { frozen: frozen.metrics[metric], gain: value - frozen.metrics[metric] } : {}) }];
  });
}

/** A table cell: the run's metric when it finished with a finite value. */
function cellOf(run: RunRecord | undefined, metric: string): Cell {
  const v = run?.status === 'finished' ? run.metrics[metric] : undefined;
  return { value: v !== undefined && Number.isFinite(v) ? v : undefined, best: false, run };
}

/** Mark the highest value of each of the `columns` columns as best (every row that reaches it). */
function markBest(rows: { cells: Cell[] }[], columns: number): void {
  for (let j = 0; j < columns; j++) {
    let best = -Infinity;
    for (const r of rows) if (r.cells[j].value !== undefined && r.cells[j].value! > best) best = r.cells[j].value!;
    for (const r of rows) if (r.cells[j].value === best) r.cells[j].best = true;
  }
}
