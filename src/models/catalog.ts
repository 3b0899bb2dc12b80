/**
 * The preset table as `lookalike models list` shows it: every preset of every kind (Hugging Face
 * Hub, npm TF.js, folders on the model search path) with where its files would be read from on
 * this machine and whether they are there now.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PRESETS, type Preset } from './presets.ts';
import { hubCacheDir, missingFiles } from './hub.ts';
import { findPackageDir } from './npm.ts';
import { findOnSearchPath } from './search-path.ts';

/** One row of `models list`. */
export interface PresetRow {
  name: string;
  family: string;
  /** Input in words (size, range). */
  input: string;
  dim: number;
  pooling: string;
  text: boolean;
  licence: string;
  /** Where the weights come from (publisher, original file). */
  weights: string;
  /** How lookalike gets the files: hf:REPO, npm:PACKAGE/FILE, or path:NAME (model search path). */
  source: string;
  /** True when the files are on this machine now. */
  available: boolean;
  /** The folder or file that would be read (undefined when nothing is found). */
  location?: string;
  /** How to get the files: a `models fetch` command, an npm install, or that no public export exists. */
  fetch: string;
  note?: string;
}

/** The source of a preset in one word: hf:REPO, npm:PACKAGE/FILE or path:NAME. */
export function presetSource(p: Preset): string {
  if (p.source.kind === 'hf') return `hf:${p.source.repo}`;
  if (p.source.kind === 'npm') return `npm:${p.source.package}/${p.source.file}`;
  return `path:${p.source.folder}`;
}

/** How a user gets a preset's files. */
export function presetFetch(p: Preset): string {
  if (p.source.kind === 'hf') return `lookalike models fetch ${p.name}`;
  if (p.source.kind === 'npm') return `npm install ${p.source.package}`;
  if (p.source.fetch) return `lookalike models fetch ${p.name}`;
  return 'none: no public ONNX export of these weights; place the folder on LOOKALIKE_MODELS (docs/models.md)';
}

/** Where a preset's files are on this machine now, or undefined. */
export function presetLocation(p: Preset): string | undefined {
  const found = findOnSearchPath(p.name);
  if (p.source.kind === 'local') return found;
  if (p.source.kind === 'hf') {
    if (found) return found;
    const dir = hubCacheDir(p.source.repo);
    return missingFiles(dir, { text: p.text }).length === 0 ? dir : undefined;
  }
  const pkg = findPackageDir(p.source.package);
  const file = pkg && path.join(pkg, p.source.file);
  return file && fs.existsSync(file) ? file : undefined;
}

/** Every preset with its availability on this machine, in table order. */
export function presetRows(): PresetRow[] {
  return PRESETS.map((p) => {
    const location = presetLocation(p);
    return {
      name: p.name,
      family: p.family,
      input: p.input,
      dim: p.dim,
      pooling: p.pooling,
      text: p.text,
      licence: p.licence,
      weights: p.weights,
      source: presetSource(p),
      available: location !== undefined,
      ...(location ? { location } : {}),
      fetch: presetFetch(p),
      ...(p.note ? { note: p.note } : {}),
    };
  });
}
