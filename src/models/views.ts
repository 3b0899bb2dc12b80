/**
 * The `views` option, declared once: several views of each image at embed time (scales of the
 * model's input size, each also mirrored left-right with `flip`), pooled per image as the mean of
 * their L2-normalised descriptors (docs/ranking.md). Light: no sharp or runtime code, so the
 * library's schema can export it to the shells. The pipeline (src/embed/pipeline.ts) embeds them.
 */
import { OptionError } from '../util/options.ts';
import { didYouMean } from '../util/text.ts';
import { hashParts } from '../util/hash.ts';
import type { Backbone } from './backbone.ts';
import type { ModelSpec, ViewSet } from './spec.ts';

export type { ViewSet } from './spec.ts';

/** Smallest and largest scale accepted (a typo beyond these would make a tiny or huge tensor). */
export const VIEW_SCALE_MIN = 0.25;
/** Largest scale accepted. */
export const VIEW_SCALE_MAX = 4;

/** One line for help texts. */
export const VIEWS_HELP = 'embed several views of each image and average them: flip (mirrored too), scales=S,... (multiples of the input size, e.g. 0.707,1,1.414; needs a graph of any input size), or both: flip,scales=0.707,1,1.414; none = one view';

const WORDS = ['flip', 'scales', 'none'];

/**
 * Parse `flip`, `scales=S[,S...]`, `flip,scales=S,...` (in any order) or `none`; a ViewSet is
 * checked and sorted. One view (`none`, `scales=1`) is undefined: exactly the single-view embedding.
 */
export function parseViews(v: string | ViewSet | undefined, option = 'views'): ViewSet | undefined {
  if (v === undefined) return undefined;
  let flip = false;
  let scales: number[] | undefined;
  if (typeof v === 'string') {
    const text = v.trim();
    if (text === '' || text === 'none') return undefined;
    let inScales = false;
    for (const raw of text.split(',')) {
      const tok = raw.trim();
      const kv = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(tok);
      if (kv) {
        if (kv[1] !== 'scales') throw new OptionError(`{{${option}}} ${v}: unknown setting "${kv[1]}"${didYouMean(kv[1], WORDS)} (expected flip and/or scales=S,S,...)`);
        if (scales) throw new OptionError(`{{${option}}} ${v}: scales is given twice`);
        scales = [scaleOf(kv[2], v, option)];
        inScales = true;
      } else if (tok === 'flip') {
        if (flip) throw new OptionError(`{{${option}}} ${v}: flip is given twice`);
        flip = true;
        inScales = false;
      } else if (inScales && tok !== '') {
        scales!.push(scaleOf(tok, v, option));
      } else {
        throw new OptionError(`{{${option}}} ${v}: unknown view "${tok}"${didYouMean(tok, WORDS)} (expected flip, scales=S,S,... or both, e.g. flip,scales=0.707,1,1.414)`);
      }
    }
  } else {
    flip = v.flip === true;
    scales = (v.scales ?? []).map((s) => scaleOf(String(s), JSON.stringify(v), option));
  }
  const sorted = [...new Set(scales ?? [1])].sort((a, b) => a - b);
  if (scales && sorted.length !== scales.length) throw new OptionError(`{{${option}}} ${typeof v === 'string' ? v : JSON.stringify(v)}: a scale is given twice`);
  if (!flip && sorted.length === 1 && sorted[0] === 1) return undefined;
  return { scales: sorted, flip };
}

function scaleOf(s: string, whole: string, option: string): number {
  const x = /^\s*(\d+\.?\d*|\.\d+)\s*$/.test(s) ? Number(s) : NaN;
  if (!(x >= VIEW_SCALE_MIN && x <= VIEW_SCALE_MAX)) throw new OptionError(`{{${option}}} ${whole}: scale "${s}" should be a number from ${VIEW_SCALE_MIN} to ${VIEW_SCALE_MAX} (a multiple of the model's input size)`);
  return x;
}

/** The canonical text of a view set (`none`, `flip`, `scales=0.707,1`, `flip,scales=...`), for records and reproduction. */
export function formatViews(v: ViewSet | undefined): string {
  if (!v) return 'none';
  const s = v.scales.length === 1 && v.scales[0] === 1 ? '' : `scales=${v.scales.join(',')}`;
  return [v.flip ? 'flip' : '', s].filter(Boolean).join(',');
}

/** Number of views per image. */
export function viewCount(v: ViewSet): number {
  return v.scales.length * (v.flip ? 2 : 1);
}

const scaled = (n: number, s: number) => Math.max(1, Math.round(n * s));

/**
 * The single-view spec of one scale: the resize and crop sizes multiplied by `s` (rounded), so
 * the view sees the same field of the image at s times the resolution; scale 1 is the spec itself.
 */
export function scaleSpec(spec: ModelSpec, s: number): ModelSpec {
  const { views: _views, ...one } = spec;
  if (s === 1) return one;
  const resize = spec.resize.mode === 'fixed' ? { mode: 'fixed' as const, height: scaled(spec.resize.height, s), width: scaled(spec.resize.width, s) } : { mode: 'shortest-edge' as const, shortestEdge: scaled(spec.resize.shortestEdge, s) };
  const crop = spec.crop && { height: scaled(spec.crop.height, s), width: scaled(spec.crop.width, s) };
  return { ...one, resize, crop };
}

/**
 * Mirror `n` images of `size` left-right, from `src` into a new tensor in the spec's layout
 * (NCHW or NHWC, any channel count): the flipped view of each model input.
 */
export function flipImages(src: Float32Array, n: number, size: { height: number; width: number }, channels: number, layout: 'nchw' | 'nhwc'): Float32Array {
  const { height: h, width: w } = size;
  const out = new Float32Array(n * channels * h * w);
  if (layout === 'nchw') {
    for (let row = 0; row < n * channels * h; row++) {
      const o = row * w;
      for (let x = 0; x < w; x++) out[o + x] = src[o + w - 1 - x];
    }
  } else {
    for (let row = 0; row < n * h; row++) {
      const o = row * w * channels;
      for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) out[o + x * channels + c] = src[o + (w - 1 - x) * channels + c];
    }
  }
  return out;
}

/** The same opened backbone (one session) embedding with these views; its fingerprint gains them, as a spec with views does. */
export function withViews(backbone: Backbone, views: ViewSet): Backbone {
  return Object.create(backbone, {
    spec: { value: { ...backbone.spec, views } },
    fingerprint: { value: hashParts(backbone.fingerprint, `views=${formatViews(views)}`) },
  }) as Backbone;
}
