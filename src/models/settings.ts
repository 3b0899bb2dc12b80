/**
 * Model settings as plain values (CLI flags, experiment configs, server options, library
 * callers all use these names): which model, its spec overrides written as text
 * (`resize: '256'`, `mean: '.5,.5,.5'`), the head and the runtime. Parsed here, once.
 */
import { OptionError, toInteger, toNumber } from '../util/options.ts';
import type { Feature } from './hf.ts';
import type { SpecOverrides } from './load.ts';
import type { ModelChoice } from './open-model.ts';
import type { Runtime } from './runtime.ts';
import type { Pooling } from './spec.ts';
import { parseViews, type ViewSet } from './views.ts';

/** Model, spec, head and runtime settings, as given by a user (strings where a user types them). */
export interface ModelSettings {
  model?: string;
  dtype?: string;
  feature?: Feature;
  inputName?: string;
  output?: string;
  pooling?: Pooling;
  gemP?: string | number;
  resize?: string | number;
  crop?: string | number;
  mean?: string;
  std?: string;
  rescale?: string | number;
  bgr?: boolean;
  layout?: 'nchw' | 'nhwc';
  prefixTokens?: string | number;
  /** Views per image (`flip`, `scales=0.707,1,1.414`, both, or `none`): see src/models/views.ts. */
  views?: string | ViewSet;
  head?: string;
  threads?: string | number;
  device?: 'cpu' | 'cuda';
  batch?: string | number;
}

function hw(v: string | number, option: string): { height: number; width: number } {
  const m = /^(\d+)(?:x(\d+))?$/.exec(String(v));
  if (!m) throw new OptionError(`{{${option}}} ${v}: expected N or HxW${option === 'crop' ? ', none or face' : ''}`);
  return { height: Number(m[1]), width: Number(m[2] ?? m[1]) };
}

function rgb(v: string, option: string): [number, number, number] {
  const p = v.split(',').map((x) => toNumber(x, option));
  if (p.length === 1) return [p[0], p[0], p[0]];
  if (p.length !== 3) throw new OptionError(`{{${option}}} ${v}: expected r,g,b`);
  return [p[0], p[1], p[2]];
}

/** Spec overrides from settings (only those given). */
export function specOverrides(o: ModelSettings): SpecOverrides {
  const s: SpecOverrides = {};
  if (o.inputName) s.inputName = o.inputName;
  if (o.output) s.output = o.output;
  if (o.pooling) s.pooling = o.pooling;
  if (o.gemP !== undefined) s.gemP = toNumber(o.gemP, 'gemP');
  if (o.resize !== undefined) {
    s.resize = /x/.test(String(o.resize)) ? { mode: 'fixed', ...hw(o.resize, 'resize') } : { mode: 'shortest-edge', shortestEdge: toNumber(o.resize, 'resize') };
  }
  if (o.crop === 'face') s.faceCrop = true;
  else if (o.crop !== undefined) s.crop = o.crop === 'none' ? null : hw(o.crop, 'crop');
  if (o.mean) s.mean = rgb(o.mean, 'mean');
  if (o.std) s.std = rgb(o.std, 'std');
  if (o.rescale !== undefined) {
    const r = String(o.rescale);
    s.rescale = r.includes('/') ? toNumber(r.split('/')[0], 'rescale') / toNumber(r.split('/')[1], 'rescale') : toNumber(r, 'rescale');
  }
  if (o.bgr) s.channelOrder = 'bgr';
  if (o.layout) s.layout = o.layout;
  if (o.prefixTokens !== undefined) s.prefixTokens = toNumber(o.prefixTokens, 'prefixTokens');
  const views = parseViews(o.views);
  if (views) s.views = views;
  return s;
}

/** Runtime options from settings (threads, device, batch); passed down per call, never written into config. */
export function runtimeOf(o: ModelSettings): Runtime {
  const r: Runtime = {};
  if (o.threads !== undefined) r.threads = toInteger(o.threads, 'threads', 1);
  if (o.device) r.device = o.device;
  if (o.batch !== undefined) r.batchSize = toInteger(o.batch, 'batch', 1);
  return r;
}

/** The model choice that settings make (model, spec overrides, dtype, feature, head, runtime). */
export function modelChoice(o: ModelSettings): ModelChoice {
  return { model: o.model, overrides: specOverrides(o), dtype: o.dtype, feature: o.feature, head: o.head, runtime: runtimeOf(o) };
}
