/**
 * Report charts as SVG strings, rendered without a browser: Vega-Lite specs compiled by
 * `vega-lite` and rendered by `vega` (View with renderer 'none', toSVG()). Chosen because it is a
 * well-kept declarative grammar whose server-side SVG output needs no canvas or DOM.
 */
import type * as vl from 'vega-lite';
import { optionalImport } from '../util/optional.ts';

/** Render a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const vega = await optionalImport<typeof import('vega')>('vega', 'charts');
  const { compile } = await optionalImport<typeof import('vega-lite')>('vega-lite', 'charts');
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const FONT = { config: { font: 'sans-serif', axis: { labelFontSize: 13, titleFontSize: 14 }, legend: { labelFontSize: 13, titleFontSize: 14 }, header: { labelFontSize: 14 }, title: { fontSize: 16 } } };

/** Grouped bars: value of `metric` per model, one bar per mode, one panel per dataset. */
export function barSpec(rows: { model: string; dataset: string; mode: string; value: number }[], metric: string): vl.TopLevelSpec {
  return {
    ...FONT,
    title: metric,
    data: { values: rows },
    mark: 'bar',
    width: { step: 18 },
    height: 280,
    encoding: {
      column: { field: 'dataset', type: 'nominal', title: null },
      x: { field: 'model', type: 'nominal', title: null, axis: { labelAngle: -35, labelLimit: 140 } },
      xOffset: { field: 'mode', type: 'nominal' },
      y: { field: 'value', type: 'quantitative', title: metric },
      color: { field: 'mode', type: 'nominal', title: 'mode' },
      tooltip: [{ field: 'model' }, { field: 'mode' }, { field: 'value', format: '.4f' }],
    },
  } as vl.TopLevelSpec;
}

/** Lines of a metric over k (P@K or R@K curves), one line per model/mode, one panel per dataset. */
export function curveSpec(rows: { dataset: string; series: string; k: number; value: number }[], title: string): vl.TopLevelSpec {
  return {
    ...FONT,
    title,
    data: { values: rows },
    mark: { type: 'line', point: true },
    width: 320,
    height: 240,
    encoding: {
      column: { field: 'dataset', type: 'nominal', title: null },
      x: { field: 'k', type: 'quantitative', title: 'k', scale: { type: 'log' } },
      y: { field: 'value', type: 'quantitative', title },
      color: { field: 'series', type: 'nominal', title: 'model / mode', legend: { labelLimit: 260 } },
    },
  } as vl.TopLevelSpec;
}

/** Validation metric per epoch, one line per model/mode, one panel per dataset. */
export function epochSpec(rows: { dataset: string; series: string; epoch: number; value: number }[], metric: string): vl.TopLevelSpec {
  return {
    ...FONT,
    title: `validation ${metric} per epoch`,
    data: { values: rows },
    mark: { type: 'line' },
    width: 320,
    height: 240,
    encoding: {
      column: { field: 'dataset', type: 'nominal', title: null },
      x: { field: 'epoch', type: 'quantitative' },
      y: { field: 'value', type: 'quantitative', title: `val ${metric}`, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: 'model / mode', legend: { labelLimit: 260 } },
    },
  } as vl.TopLevelSpec;
}

/** Horizontal bars of one cost figure per model. */
export function costSpec(rows: { model: string; value: number }[], title: string): vl.TopLevelSpec {
  return {
    ...FONT,
    title,
    data: { values: rows },
    mark: 'bar',
    width: 420,
    height: { step: 24 },
    encoding: {
      y: { field: 'model', type: 'nominal', title: null, sort: '-x', axis: { labelLimit: 200 } },
      x: { field: 'value', type: 'quantitative', title },
    },
  } as vl.TopLevelSpec;
}
