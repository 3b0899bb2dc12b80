/**
 * `lookalike models info`: what a model is — graph inputs and outputs with shapes, the
 * preprocessing and output/pooling lookalike will use, the embedding size, the fingerprint,
 * and the text tower when there is one.
 */
import fs from 'node:fs';
import type { TensorInfo } from './backbone.ts';
import { loadBackbone, type LoadOptions } from './load.ts';
import type { ModelSpec } from './spec.ts';
import { resolvePooling } from './pool.ts';
import { familyOf, readConfig, hfOnnxCandidates } from './hf.ts';
import { hubCacheDir, hubTarget, missingFiles } from './hub.ts';
import { loadTextEncoder } from './text-encoder.ts';
import { findPreset, type Preset } from './presets.ts';
import { resolveNpmPreset } from './npm.ts';
import { TfjsBackbone } from './tfjs.ts';
import { findOnSearchPath, modelSearchPath } from './search-path.ts';
import { presetFetch } from './catalog.ts';
import path from 'node:path';

/** Description of a model for `models info`. */
export interface ModelInfo {
  model: string;
  kind: 'onnx-file' | 'hf-folder' | 'preset' | 'hub';
  /** Local folder or file actually read (cache folder for presets). */
  location: string;
  preset?: Preset;
  family?: string;
  modelType?: string;
  /** False when a preset/Hub model is not in the cache (or on the model search path) yet. */
  available: boolean;
  missing?: string[];
  /** Presets: how to get the files (`models fetch`, npm install), or that no public export exists. */
  fetch?: string;
  inputs?: TensorInfo[];
  outputs?: TensorInfo[];
  spec?: ModelSpec;
  /** The pooling the chosen output resolves to. */
  pooling?: string;
  /** Embedding size when the output shape says it. */
  dim?: number | string;
  fingerprint?: string;
  /** TF.js graphs: pooled-feature nodes worth reading with --output, with their shapes. */
  candidates?: TensorInfo[];
  /** How the model runs (e.g. converted from TF.js to ONNX Runtime, or TF.js and why). */
  engine?: string;
  text?: { inputs: TensorInfo[]; outputs: TensorInfo[]; output: string; maxLength: number; padding: string; padId: number; fingerprint: string };
}

/** The embedding size an output shape gives under a pooling, or the symbolic name. */
export function pooledDim(shape: (number | string)[], pooling: string, layout: ModelSpec['layout']): number | string | undefined {
  if (pooling === 'none') return shape[1];
  if (pooling === 'cls' || pooling === 'mean') return shape[2];
  if (pooling === 'gap' || pooling === 'gem') return layout === 'nhwc' ? shape[3] : shape[1];
  return undefined;
}

/** Describe a model file, folder, preset or Hub id (loading the graph; nothing is downloaded). */
export async function modelInfo(model: string, opts: LoadOptions = {}): Promise<ModelInfo> {
  let location = model;
  let kind: ModelInfo['kind'];
  let preset: Preset | undefined;
  const exists = fs.existsSync(model);
  const npmPreset = exists ? undefined : findPreset(model);
  const found = exists ? undefined : findOnSearchPath(model);
  if (exists) kind = fs.statSync(model).isDirectory() ? 'hf-folder' : 'onnx-file';
  else if (found && npmPreset?.source.kind !== 'npm') {
    // A folder on the model search path (a preset's or any other name).
    preset = npmPreset;
    kind = preset ? 'preset' : 'hf-folder';
    location = found;
  } else if (npmPreset?.source.kind === 'local') {
    const looked = modelSearchPath().map((d) => path.join(d, model));
    return { model, kind: 'preset', location: looked.join(', '), preset: npmPreset, family: npmPreset.family, available: false, missing: ['config.json', 'preprocessor_config.json', 'onnx/model.onnx'], fetch: presetFetch(npmPreset) };
  } else if (npmPreset?.source.kind === 'npm') {
    preset = npmPreset;
    kind = 'preset';
    location = resolveNpmPreset(npmPreset);
  } else {
    const t = hubTarget(model);
    if (!t) throw new Error(`model not found: ${model} (give an .onnx file, a model folder, a preset from "lookalike models list", or a Hub id)`);
    preset = t.preset;
    kind = preset ? 'preset' : 'hub';
    location = hubCacheDir(t.repo);
    const missing = missingFiles(location, { dtype: opts.dtype });
    if (missing.length) return { model, kind, location, preset, family: preset?.family, available: false, missing, ...(preset ? { fetch: presetFetch(preset) } : {}) };
  }
  const info: ModelInfo = { model, kind, location, preset, available: true, ...(preset ? { fetch: presetFetch(preset) } : {}) };
  if (preset?.source.kind === 'npm') info.family = preset.family;
  else if (kind !== 'onnx-file') {
    const cfg = readConfig(location);
    info.family = preset?.family ?? familyOf(cfg);
    if (typeof cfg?.model_type === 'string') info.modelType = cfg.model_type;
  }
  // info never downloads
  const runtime = { ...opts.runtime, offline: true };
  {
    const b = await loadBackbone(model, { ...opts, runtime });
    try {
      info.inputs = b.inputs;
      info.outputs = b.outputs;
      info.spec = b.spec;
      info.fingerprint = b.fingerprint;
      info.engine = b.engine;
      if (b instanceof TfjsBackbone) info.candidates = await b.probeCandidates();
      else if (b.spec.format === 'tfjs') info.candidates = await tfjsCandidates(model, opts);
      if (preset?.source.kind === 'npm') info.dim = preset.dim;
      const out = b.outputs.find((o) => o.name === (b.spec.output ?? b.outputs[0]?.name));
      if (out) {
        try {
          info.pooling = resolvePooling(b.spec.pooling, out.shape.length);
          info.dim = pooledDim(out.shape, info.pooling, b.spec.layout);
        } catch (e) {
          info.pooling = `${b.spec.pooling} (${(e as Error).message})`;
        }
      }
    } finally {
      await b.dispose();
    }
    if (kind !== 'onnx-file' && preset?.source.kind !== 'npm' && hfOnnxCandidates(location, 'text', opts.dtype).some((f) => fs.existsSync(f))) {
      const t = await loadTextEncoder(location, { dtype: opts.dtype, runtime });
      info.text = { inputs: t.inputs, outputs: t.outputs, output: t.output, maxLength: t.rules.maxLength, padding: t.rules.padding, padId: t.rules.padId, fingerprint: t.fingerprint };
      await t.dispose();
    }
  }
  return info;
}

/** Pooled-feature nodes of a TF.js model with their shapes, probed on TF.js itself (the converted ONNX graph only has the chosen output). */
async function tfjsCandidates(model: string, opts: LoadOptions): Promise<TensorInfo[]> {
  // The engine is a per-call runtime option: no global is flipped across the awaits.
  const t = await loadBackbone(model, { ...opts, runtime: { ...opts.runtime, tfjsEngine: 'tfjs' } });
  try {
    return t instanceof TfjsBackbone ? await t.probeCandidates() : [];
  } finally {
    await t.dispose();
  }
}
