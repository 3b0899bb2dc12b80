/**
 * Resolve, then load. `resolveModel` turns a MODEL argument into where its files are and what
 * kind they are (an npm TF.js preset, a TF.js model.json, a folder on the model search path,
 * a preset or Hub id in the cache or downloaded on request, a Hugging Face folder, a bare .onnx
 * file); `loadResolved` loads that, always with the caller's runtime (threads, device, TF.js
 * engine). `loadBackbone` is the two in a row.
 */
import fs from 'node:fs';
import type { Backbone } from './backbone.ts';
import { OrtBackbone, createSession, describeSession } from './ort.ts';
import { imageInput, specFromInput } from './input-shape.ts';
import { canonicalSpec, defaultSpec, type ModelSpec } from './spec.ts';
import { hashFile, hashParts } from '../util/hash.ts';
import { loadHfFolder, type Feature } from './hf.ts';
import { explicitHubTarget, hubCacheDir, hubTarget, missingFiles, resolveHubModel } from './hub.ts';
import { findPreset, PRESETS } from './presets.ts';
import { didYouMean } from '../util/text.ts';
import { resolveNpmPreset } from './npm.ts';
import { isTfjsPath } from './tfjs.ts';
import { loadTfjsModel } from './tfjs-onnx/tfjs-load.ts';
import { findOnSearchPath, modelSearchPath, notOnSearchPathMessage } from './search-path.ts';
import type { Runtime } from './runtime.ts';
import { resolveFaceCrop } from './face-spec.ts';

/** Spec fields set explicitly (CLI flags); they win over files and defaults. `faceCrop` (`--crop face`) asks for the model's face framing (src/models/face-spec.ts). */
export type SpecOverrides = Partial<ModelSpec> & { faceCrop?: boolean };

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
  /** Threads, device, offline, TF.js engine (default: config). */
  runtime?: Runtime;
}

/** Where a model's files are and how to load them; `name` is what the user called it. */
export type ResolvedModel =
  | { kind: 'tfjs'; path: string; name: string; presetSpec?: Partial<ModelSpec> }
  | { kind: 'hf-folder'; dir: string; name?: string; presetSpec?: Partial<ModelSpec> }
  | { kind: 'onnx-file'; file: string };

/**
 * Find a model's files without loading them: a TF.js preset or model.json, a folder on the
 * model search path, a preset or `hf:` id (cache, or download when allowed and online), a
 * fetched owner/name in the cache, a Hugging Face folder, or a bare .onnx file.
 */
export async function resolveModel(model: string, opts: Pick<LoadOptions, 'dtype' | 'download' | 'runtime'> = {}): Promise<ResolvedModel> {
  const exists = fs.existsSync(model);
  const preset = exists ? undefined : findPreset(model);
  if (preset?.source.kind === 'npm') return { kind: 'tfjs', path: resolveNpmPreset(preset), name: model, presetSpec: preset.spec };
  if (isTfjsPath(model)) return { kind: 'tfjs', path: model, name: model };
  if (exists) return fs.statSync(model).isDirectory() ? { kind: 'hf-folder', dir: model } : { kind: 'onnx-file', file: model };
  // A folder of that name on the model search path (LOOKALIKE_MODELS, then <cache>/models), for any name.
  const found = findOnSearchPath(model);
  if (found) return { kind: 'hf-folder', dir: found, name: model, presetSpec: preset?.spec };
  if (preset?.source.kind === 'local') throw new Error(notOnSearchPathMessage(preset));
  // Only a preset name or `hf:owner/name` reaches the Hub; a missing local path is just missing.
  const hub = explicitHubTarget(model);
  if (hub) {
    const { dir } = await resolveHubModel(model, { dtype: opts.dtype, download: opts.download, offline: opts.runtime?.offline });
    return { kind: 'hf-folder', dir, name: model, presetSpec: hub.preset?.spec };
  }
  // A bare owner/name already fetched (`lookalike models fetch owner/name`) loads from the cache, never the network.
  const cached = hubTarget(model);
  if (cached && missingFiles(hubCacheDir(cached.repo), { dtype: opts.dtype }).length === 0) return { kind: 'hf-folder', dir: hubCacheDir(cached.repo), name: model };
  throw new Error(`${model}: no such file or folder${didYouMean(model, knownModelNames())} (give an .onnx file, a model folder, a TF.js model.json, a preset from "lookalike models list", or a Hub id as hf:owner/name)`);
}

/** Names a MODEL argument may take without a path: the presets and the folders on the model search path. */
function knownModelNames(): string[] {
  const onPath = modelSearchPath().flatMap((dir) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  });
  return [...PRESETS.map((p) => p.name), ...onPath];
}

/** Load a resolved model with the caller's spec overrides, weight variant, feature and runtime. */
export async function loadResolved(resolved: ResolvedModel, opts: LoadOptions = {}): Promise<Backbone> {
  const face = resolveFaceCrop(resolved.kind === 'onnx-file' ? undefined : resolved.presetSpec, opts.overrides ?? {});
  const overrides = face.overrides;
  const r: ResolvedModel = resolved.kind === 'onnx-file' ? resolved : { ...resolved, presetSpec: face.presetSpec };
  switch (r.kind) {
    case 'tfjs':
      return loadTfjsModel(r.path, { name: r.name, base: r.presetSpec, overrides, runtime: opts.runtime });
    case 'hf-folder':
      return loadHfFolder(r.dir, { dtype: opts.dtype, feature: opts.feature, overrides, presetSpec: r.presetSpec, name: r.name, runtime: opts.runtime });
    case 'onnx-file': {
      // A bare .onnx file: ImageNet defaults, then what the graph's input shape fixes (size,
      // layout, channels), then the flags.
      const session = await createSession(r.file, r.file, opts.runtime);
      const { inputs } = describeSession(session);
      const spec: ModelSpec = { ...defaultSpec(), ...specFromInput(imageInput(inputs, overrides.inputName), overrides), ...overrides };
      const fingerprint = hashParts(await hashFile(r.file), canonicalSpec(spec));
      try {
        return Object.assign(new OrtBackbone(r.file, spec, fingerprint, session), { file: r.file });
      } catch (e) {
        await session.release();
        throw e;
      }
    }
  }
}

/** Resolve a MODEL argument and load it (see resolveModel and loadResolved). */
export async function loadBackbone(model: string, opts: LoadOptions = {}): Promise<Backbone> {
  return loadResolved(await resolveModel(model, opts), opts);
}
