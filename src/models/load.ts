/**
 * Resolve a MODEL argument to a backbone: an `.onnx` file, or a folder in the
 * Hugging Face layout (config.json, preprocessor_config.json, onnx/*.onnx).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Backbone } from './backbone.ts';
import { OrtBackbone, createSession } from './ort.ts';
import { applyPreprocessorConfig, canonicalSpec, defaultSpec, type ModelSpec } from './spec.ts';
import { hashFile, hashParts } from '../util/hash.ts';
import { loadHfFolder, type Feature } from './hf.ts';
import { hubTarget, resolveHubModel } from './hub.ts';
import { findPreset } from './presets.ts';
import { resolveNpmPreset } from './npm.ts';
import { isTfjsPath, loadTfjsBackbone } from './tfjs.ts';

/** Spec fields set explicitly (CLI flags); they win over files and defaults. */
export type SpecOverrides = Partial<ModelSpec>;

/** Options for loading a model. */
export interface LoadOptions {
  /** Explicit spec fields (from flags). */
  overrides?: SpecOverrides;
  /** Weight variant inside an HF folder: fp32 (default), fp16, quantized, int8, uint8, q4. */
  dtype?: string;
  /** Projected embedding (image_embeds, default) or the pre-projection feature, where the graph has both. */
  feature?: Feature;
}

const DTYPE_SUFFIX: Record<string, string> = { fp32: '', fp16: '_fp16', quantized: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4' };

/** The ONNX file of an HF folder's image tower for a dtype, or an error naming what to place. */
export function hfVisionFile(dir: string, dtype = 'fp32'): string {
  const suffix = DTYPE_SUFFIX[dtype];
  if (suffix === undefined) throw new Error(`--dtype ${dtype}: expected one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const candidates = ['vision_model', 'model'].flatMap((b) => [path.join(dir, 'onnx', `${b}${suffix}.onnx`), path.join(dir, `${b}${suffix}.onnx`)]);
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found) throw new Error(`${dir}: no image model; place one of ${candidates.map((c) => path.relative(dir, c)).join(', ')}`);
  return found;
}

/** Read a JSON file with an error naming it. */
export function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

/** Build the spec of a model folder: defaults, then preprocessor_config.json, then overrides. */
export function folderSpec(dir: string, overrides: SpecOverrides = {}): ModelSpec {
  let spec = defaultSpec();
  const ppFile = path.join(dir, 'preprocessor_config.json');
  if (fs.existsSync(ppFile)) spec = applyPreprocessorConfig(spec, readJson(ppFile), ppFile);
  return { ...spec, ...overrides };
}

/** Load an ONNX backbone from a file or a Hugging Face folder. */
export async function loadBackbone(model: string, opts: LoadOptions = {}): Promise<Backbone> {
  const overrides = opts.overrides ?? {};
  // TensorFlow.js: presets shipped in npm packages, a model.json path, or a folder holding one.
  const npmPreset = fs.existsSync(model) ? undefined : findPreset(model);
  if (npmPreset?.source.kind === 'npm') return loadTfjsBackbone(resolveNpmPreset(npmPreset), { name: model, base: npmPreset.spec, overrides });
  if (isTfjsPath(model)) return loadTfjsBackbone(model, { overrides });
  if (!fs.existsSync(model)) {
    // Presets and Hub ids: src/models/presets.ts lists them; each source kind loads in its own module.
    const hub = hubTarget(model);
    if (hub) {
      const { dir } = await resolveHubModel(model, { dtype: opts.dtype });
      return loadHfFolder(dir, { dtype: opts.dtype, feature: opts.feature, overrides, presetSpec: hub.preset?.spec, name: model });
    }
    throw new Error(`model not found: ${model} (give an .onnx file or a folder with config.json, preprocessor_config.json and onnx/model.onnx)`);
  }
  const stat = fs.statSync(model);
  let file: string;
  let spec: ModelSpec;
  if (stat.isDirectory()) {
    return loadHfFolder(model, { dtype: opts.dtype, feature: opts.feature, overrides });
  } else {
    file = model;
    spec = { ...defaultSpec(), ...overrides };
  }
  const fingerprint = hashParts(await hashFile(file), canonicalSpec(spec));
  const session = await createSession(file, file);
  return new OrtBackbone(model, spec, fingerprint, session);
}
