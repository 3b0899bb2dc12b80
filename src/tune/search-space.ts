/**
 * The search space of `lookalike tune --search` and of an experiment's search mode: its shape,
 * the default, the checks and reading one from a file or flag. Apart from the search
 * (tune/hyper-search.ts) so that reading a space loads no training code.
 */
import fs from 'node:fs';
import { yamlLib } from '../util/lazy-import.ts';
import { OptionError } from '../util/options.ts';
import { TUNE_OPTION_NAMES } from './tune-options.ts';

/** One dimension of a search space: a list of choices, or a numeric range (log scale for learning rates). */
export type SpaceDim = (string | number | boolean)[] | { min: number; max: number; log?: boolean; integer?: boolean };

/** A search space: option name -> dimension. */
export type SearchSpace = Record<string, SpaceDim>;

/** The default space: head type (linear projection or MLP), lr 1e-4..1e-2 (log), hidden widths and dropout (MLP), loss. */
export const DEFAULT_SPACE: SearchSpace = {
  headType: ['linear', 'mlp'],
  lr: { min: 1e-4, max: 1e-2, log: true },
  hidden: ['256', '512', '512,256'],
  dropout: [0, 0.1, 0.3],
  loss: ['hybrid', 'supcon', 'cross-entropy'],
};

/** Check a space read from a file or flag; errors name `where` and the option. */
export function checkSpace(space: unknown, where: string): SearchSpace {
  if (!space || typeof space !== 'object' || Array.isArray(space)) throw new Error(`${where}: a search space is a mapping option -> [choices] or {min, max, log}`);
  const out: SearchSpace = {};
  for (const [k, d] of Object.entries(space as Record<string, unknown>)) {
    if (!TUNE_OPTION_NAMES.includes(k)) throw new Error(`${where}: ${k}: not a tune option (known: ${TUNE_OPTION_NAMES.join(', ')})`);
    if (Array.isArray(d)) {
      if (!d.length) throw new Error(`${where}: ${k}: empty list of choices`);
      out[k] = d as (string | number | boolean)[];
    } else if (d && typeof d === 'object' && Number.isFinite((d as { min: number }).min) && Number.isFinite((d as { max: number }).max)) {
      const r = d as { min: number; max: number; log?: boolean; integer?: boolean };
      if (!(r.max >= r.min)) throw new Error(`${where}: ${k}: max ${r.max} < min ${r.min}`);
      if (r.log && r.min <= 0) throw new Error(`${where}: ${k}: a log-scale range needs min > 0`);
      out[k] = { min: r.min, max: r.max, log: Boolean(r.log), integer: Boolean(r.integer) };
    } else throw new Error(`${where}: ${k}: expected [choices] or {min, max[, log]}`);
  }
  return out;
}

/** Read a search space: "default", a YAML/JSON file, or inline JSON. */
export function readSpace(arg: string): SearchSpace {
  if (arg === 'default') return DEFAULT_SPACE;
  let data: unknown;
  if (fs.existsSync(arg)) {
    const { parse: parseYaml } = yamlLib();
    try {
      data = parseYaml(fs.readFileSync(arg, 'utf8'));
    } catch (e) {
      throw new Error(`${arg}: not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    return checkSpace(data, arg);
  }
  try {
    data = JSON.parse(arg);
  } catch {
    throw new OptionError(`{{search}} ${arg}: no such file, and not inline JSON (give a YAML/JSON space file, inline JSON, or "default")`);
  }
  return checkSpace(data, 'search');
}
