/**
 * Resolve a MODEL argument to a backbone: an `.onnx` file, a folder in the Hugging Face
 * layout, a TF.js model.json, a folder named on the model search path (LOOKALIKE_MODELS), or a
 * preset / Hub id (src/models/presets.ts).
 */
import fs from 'node:fs';
import type { Backbone } from './backbone.ts';
import { OrtBackbone, createSession, describeSession } from './ort.ts';
import { imageInput, specFromInput } from './input-shape.ts';
import { canonicalSpec, defaultSpec, type ModelSpec } from './spec.ts';
import { hashFile, hashParts } from '../util/hash.ts';
import { loadHfFolder, type Feature } from './hf.ts';
import { explicitHubTarget, hubCacheDir, hubTarget, missingFiles, resolveHubModel } from './hub.ts';
import { findPreset } from './presets.ts';
import { resolveNpmPreset } from './npm.ts';
import { isTfjsPath } from './tfjs.ts';
import { loadTfjsModel } from './tfjs-onnx/load.ts';
import { findOnSearchPath, notOnSearchPathMessage } from './search-path.ts';
import type { Runtime } from './runtime.ts';

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
  /** false: a preset/Hub model missing from the cache is an error, never a download (models named by an index manifest). */
  download?: boolean;
  /** Threads, device, offline (default: config). */
  runtime?: Runtime;
}

/**
 * Load a backbone: an npm TF.js preset, a TF.js model.json, a folder named on the model search
 * path, a preset or Hub id (cache, or download when online), a Hugging Face folder, or a bare .onnx file.
 */
export async function loadBackbone(model: string, opts: LoadOptions = {}): Promise<Backbone> {
  const overrides = opts.overrides ?? {};
  const exists = fs.existsSync(model);
  // TensorFlow.js: presets shipped in npm packages, a model.json path, or a folder holding one.
  const preset = exists ? undefined : findPreset(model);
  if (preset?.source.kind === 'npm') return loadTfjsModel(resolveNpmPreset(preset), { name: model, base: preset.spec, overrides });
  if (isTfjsPath(model)) return loadTfjsModel(model, { overrides });
  if (!exists) {
    // A folder of that name on the model search path (LOOKALIKE_MODELS, then <cache>/models), for any name.
    const found = findOnSearchPath(model);
    if (found) return loadHfFolder(found, { dtype: opts.dtype, feature: opts.feature, overrides, presetSpec: preset?.spec, name: model, runtime: opts.runtime });
    if (preset?.source.kind === 'local') throw new Error(notOnSearchPathMessage(preset));
    // Presets and Hub ids: src/models/presets.ts lists them; each source kind loads in its own module.
    // Only a preset name or `hf:owner/name` reaches the Hub; a missing local path is just missing.
    const hub = explicitHubTarget(model);
    if (hub) {
      const { dir } = await resolveHubModel(model, { dtype: opts.dtype, download: opts.download, offline: opts.runtime?.offline });
      return loadHfFolder(dir, { dtype: opts.dtype, feature: opts.feature, overrides, presetSpec: hub.preset?.spec, name: model, runtime: opts.runtime });
    }
    // A bare owner/name already fetched (`lookalike models fetch owner/name`) loads from the cache, never the network.
    const cached = hubTarget(model);
    if (cached && missingFiles(hubCacheDir(cached.repo), { dtype: opts.dtype }).length === 0) {
      return loadHfFolder(hubCacheDir(cached.repo), { dtype: opts.dtype, feature: opts.feature, overrides, name: model });
    }
    throw new Error(`${model}: no such file or folder (give an .onnx file, a model folder, a TF.js model.json, a preset from "lookalike models list", or a Hub id as hf:owner/name)`);
  }
  if (fs.statSync(model).isDirectory()) return loadHfFolder(model, { dtype: opts.dtype, feature: opts.feature, overrides, runtime: opts.runtime });
  // A bare .onnx file: ImageNet defaults, then what the graph's input shape fixes (size, layout,
  // channels), then the flags.
  const session = await createSession(model, model, opts.runtime);
  const { inputs } = describeSession(session);
  const spec: ModelSpec = { ...defaultSpec(), ...specFromInput(imageInput(inputs, overrides.inputName), overrides), ...overrides };
  const fingerprint = hashParts(await hashFile(model), canonicalSpec(spec));
  try {
    return Object.assign(new OrtBackbone(model, spec, fingerprint, session), { file: model });
  } catch (e) {
    await session.release();
    throw e;
  }
}
