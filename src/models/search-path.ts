/**
 * The model search path: model folders found by name, like programs on PATH. Folders listed in
 * LOOKALIKE_MODELS (config.modelsPath) come first, then `<cacheDir>/models`
 * (default ~/.cache/lookalike/models). `--model NAME` loads `<folder>/NAME` from the first folder
 * that has it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { config } from '../util/config.ts';
import { isHfFolder } from './hf.ts';
import type { Preset } from './presets.ts';

/** The folders searched for models, in order. */
export function modelSearchPath(): string[] {
  return [...config.modelsPath, path.join(config.cacheDir, 'models')];
}

/** True for a MODEL argument that can name a folder on the search path: one plain name, no separators. */
export function isModelName(model: string): boolean {
  return model !== '' && !model.includes('/') && !model.includes('\\') && model !== '.' && model !== '..' && !model.endsWith('.onnx') && !model.endsWith('.json');
}

/** The first `<folder>/<name>` on the search path (then in `extra`) that is a model folder (HF layout), or undefined. */
export function findOnSearchPath(name: string, extra: readonly string[] = []): string | undefined {
  if (!isModelName(name)) return undefined;
  for (const dir of [...modelSearchPath(), ...extra]) {
    const candidate = path.join(dir, name);
    try {
      if (fs.statSync(candidate).isDirectory() && isHfFolder(candidate)) return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** How to get a search-path preset's folder. */
function howToGet(preset: Preset): string {
  if (preset.source.kind === 'local' && preset.source.fetch) return `run "lookalike models fetch ${preset.name}" online`;
  return `no public ONNX export of these weights can be downloaded: copy the folder (config.json, preprocessor_config.json, onnx/model.onnx) from a machine that has it, or convert the original (${preset.weights})`;
}

/** The error for a preset that must be found on the search path and is not: the folders looked in, and how to get the files. */
export function notOnSearchPathMessage(preset: Preset): string {
  const looked = modelSearchPath().map((d) => path.join(d, preset.name));
  return (
    `model ${preset.name}: not found on the model search path; looked in ${looked.join(', ')}. ` +
    `Put the folder in one of them, or add the folder that holds it to LOOKALIKE_MODELS (e.g. LOOKALIKE_MODELS=../shared/models); ${howToGet(preset)}. See docs/models.md.`
  );
}

/** The error `models fetch` gives for a search-path preset with no public export. */
export function noFetchMessage(preset: Preset): string {
  return `${preset.name}: nothing to fetch; ${howToGet(preset)}, then put it in ${modelSearchPath().join(' or ')} (or a folder on LOOKALIKE_MODELS). See docs/models.md.`;
}
