/**
 * Pictures of a gallery map: the colour of each point from a field (categories: a fixed
 * 10-colour palette for the most common values, grey for the rest; numbers and dates: a
 * gradient), an SVG built here, the same SVG in an HTML page (a title per point), and PNG
 * through sharp. Built by hand rather than with vega-lite: no optional package, thousands of
 * points stay small, and the server's page draws the same colours from the same function.
 */
import path from 'node:path';
import type { FieldValue } from '../data/field-types.ts';
import type { VectorStore } from '../store/types.ts';
import { withStore } from '../store/open-store.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { OptionError } from '../util/options.ts';
import { guardOutput, OUTPUT_KINDS } from '../util/outputs.ts';
import { didYouMean } from '../util/text.ts';
import { sharpLib } from '../util/lazy-import.ts';
import { galleryMap, type GalleryMap, type MapMethod } from './map.ts';

/** Categorical palette (Tableau 10): the most common values get these, in order. */
export const MAP_PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#17becf'];
/** Points whose value is missing or not among the palette's values. */
export const MAP_OTHER = '#b8bec6';
/** The marker in every picture `lookalike map` writes (how a later run recognises its own file). */
export const MAP_GENERATOR = 'lookalike map';

/** Colour per point and the legend. */
export interface MapColours {
  field?: string;
  kind: 'category' | 'number' | 'none';
  colours: string[];
  legend: { label: string; colour: string; count?: number }[];
}

/** Colour points by the values of a field (undefined: the item has none). */
export function mapColours(values: (FieldValue | undefined)[] | undefined, field?: string): MapColours {
  const n = values?.length ?? 0;
  if (!values || values.every((v) => v === undefined)) return { field, kind: 'none', colours: new Array(n).fill(MAP_PALETTE[0]), legend: [] };
  const nums = values.filter((v) => v !== undefined).map((v) => (typeof v === 'number' ? v : typeof v === 'string' && /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN));
  if (nums.every((x) => Number.isFinite(x))) {
    let lo = Infinity, hi = -Infinity;
    for (const x of nums) (lo = Math.min(lo, x)), (hi = Math.max(hi, x));
    const asNum = (v: FieldValue) => (typeof v === 'number' ? v : Date.parse(String(v)));
    const colours = values.map((v) => (v === undefined ? MAP_OTHER : gradient(hi > lo ? (asNum(v) - lo) / (hi - lo) : 0.5)));
    const show = (x: number) => (typeof values.find((v) => v !== undefined) === 'number' ? String(+x.toPrecision(4)) : new Date(x).toISOString().slice(0, 10));
    return { field, kind: 'number', colours, legend: [{ label: show(lo), colour: gradient(0) }, { label: show(hi), colour: gradient(1) }] };
  }
  const key = (v: FieldValue | undefined) => (v === undefined ? undefined : Array.isArray(v) ? String(v[0] ?? '') : String(v));
  const counts = new Map<string, number>();
  for (const v of values) {
    const k = key(v);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const top = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, MAP_PALETTE.length);
  const colourOf = new Map(top.map(([k], i) => [k, MAP_PALETTE[i]]));
  const colours = values.map((v) => colourOf.get(key(v) ?? '\0') ?? MAP_OTHER);
  const legend = top.map(([label, count], i) => ({ label, colour: MAP_PALETTE[i], count }));
  const rest = n - top.reduce((s, [, c]) => s + c, 0);
  if (rest) legend.push({ label: 'other', colour: MAP_OTHER, count: rest });
  return { field, kind: 'category', colours, legend };
}

/** A blue-to-yellow ramp (viridis ends) for numbers and dates. */
function gradient(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, j) => Math.round(a + (stops[i + 1][j] - a) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The map as an SVG document (`titles`: a hover title per point, for the HTML page). */
export function mapSvg(map: GalleryMap, colours: MapColours, o: { size?: number; title?: string; titles?: boolean } = {}): string {
  const size = o.size ?? 800;
  const pad = 16;
  const legendW = colours.legend.length ? 180 : 0;
  const w = size + legendW;
  const head = o.title ? 28 : 0;
  const h = size + head;
  const r = map.ids.length > 5000 ? 1.6 : map.ids.length > 1000 ? 2.6 : 4;
  const px = (v: number) => (pad + v * (size - 2 * pad)).toFixed(1);
  const py = (v: number) => (head + pad + (1 - v) * (size - 2 * pad)).toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" data-generator="${MAP_GENERATOR}" font-family="system-ui, sans-serif">`,
    `<rect width="${w}" height="${h}" fill="#ffffff"/>`,
  ];
  if (o.title) out.push(`<text x="${pad}" y="20" font-size="15" fill="#1b1f24">${esc(o.title)}</text>`);
  out.push(`<g fill-opacity="0.8">`);
  map.ids.forEach((id, i) => {
    const c = `<circle cx="${px(map.x[i])}" cy="${py(map.y[i])}" r="${r}" fill="${colours.colours[i]}"`;
    out.push(o.titles ? `${c}><title>${esc(id)}</title></circle>` : `${c}/>`);
  });
  out.push('</g>');
  colours.legend.forEach((l, i) => {
    const y = head + pad + 8 + i * 22;
    out.push(`<circle cx="${size + 10}" cy="${y}" r="6" fill="${l.colour}"/><text x="${size + 22}" y="${y + 4}" font-size="13" fill="#1b1f24">${esc(l.label.length > 18 ? l.label.slice(0, 17) + '…' : l.label)}${l.count !== undefined ? ` (${l.count})` : ''}</text>`);
  });
  if (colours.field) out.push(`<text x="${size + 4}" y="${h - pad}" font-size="12" fill="#66707a">colour: ${esc(colours.field)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** The map as a standalone HTML page (the SVG inline, hover titles on points). */
export function mapHtml(map: GalleryMap, colours: MapColours, title: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="${MAP_GENERATOR}"><title>${esc(title)}</title>
<style>body{margin:24px;font-family:system-ui,sans-serif;color:#1b1f24}p{color:#66707a}svg{max-width:100%;height:auto}</style></head>
<body><h1>${esc(title)}</h1>
<p>${map.ids.length} items laid out with ${map.method === 'umap' ? 'UMAP' : 'PCA'}: nearby points have similar embeddings. Hover a point for its id.</p>
${mapSvg(map, colours, { titles: true })}</body></html>
`;
}

/** The map as PNG bytes (the SVG rasterised by sharp, the generator marker in its EXIF). */
export async function mapPng(map: GalleryMap, colours: MapColours, title: string): Promise<Buffer> {
  return sharpLib()(Buffer.from(mapSvg(map, colours, { title })))
    .withExif({ IFD0: { Software: MAP_GENERATOR } })
    .png()
    .toBuffer();
}

/** The field a map is coloured by: the one asked for (checked against the index), else `label` when the index has it. */
export async function mapColourField(store: VectorStore, field: string | undefined): Promise<string | undefined> {
  const known = ['id', ...Object.keys(await store.fieldSchema())];
  if (field === undefined || field === '') return known.includes('label') ? 'label' : undefined;
  if (!known.includes(field)) throw new OptionError(`{{color}} ${field}: no such field in ${store.location}${didYouMean(field, known) || ` (fields: ${known.join(', ')})`}`);
  return field;
}

/** Colours of a store's map by `field` (default label), with each point's value. */
export async function colourMap(store: VectorStore, map: GalleryMap, color?: string): Promise<{ colours: MapColours; values: (FieldValue | undefined)[] }> {
  const field = await mapColourField(store, color);
  const values = field === undefined ? map.ids.map(() => undefined) : field === 'id' ? map.ids : (await store.items(map.ids)).map((r) => r.fields[field]);
  return { colours: mapColours(field === undefined ? undefined : values, field), values };
}

/** Options of writeMap. */
export interface WriteMapOptions {
  /** Field the points are coloured by (default label, when the index has it). */
  color?: string;
  method?: MapMethod;
  onNote?: (msg: string) => void;
}

/** Write the map of an index to `out`: .html (hover titles), .svg or .png, chosen by the extension. */
export async function writeMap(location: string, out: string, o: WriteMapOptions = {}): Promise<{ out: string; method: string; items: number; cached: boolean; legend: MapColours['legend'] }> {
  const ext = path.extname(out).toLowerCase();
  if (!['.html', '.htm', '.svg', '.png'].includes(ext)) throw new OptionError(`{{out}} ${out}: expected a .html, .svg or .png file`);
  guardOutput(out, { option: 'out', kind: OUTPUT_KINDS.mapPicture, inputs: [location] });
  return withStore(location, {}, async (store) => {
    await mapColourField(store, o.color);
    const map = await galleryMap(store, { method: o.method, onNote: o.onNote });
    const { colours } = await colourMap(store, map, o.color);
    const title = `${path.basename(location.replace(/[\\/]+$/, ''))}: ${map.ids.length} items`;
    const bytes = ext === '.png' ? await mapPng(map, colours, title) : ext === '.svg' ? mapSvg(map, colours, { title }) : mapHtml(map, colours, title);
    writeFileAtomic(out, bytes);
    return { out, method: map.method, items: map.ids.length, cached: Boolean(map.cached), legend: colours.legend };
  });
}
