/**
 * Hugging Face layout folders: config.json (model_type -> family defaults),
 * preprocessor_config.json (preprocessing), onnx/{vision_model,model,text_model}[_dtype].onnx.
 */
import { readJsonObject } from '../util/json.ts';
import fs from 'node:fs';
import path from 'node:path';
import type { Backbone, TensorInfo } from './backbone.ts';
import { OrtBackbone, createSession, describeSession } from './ort.ts';
import type { Runtime } from './runtime.ts';
import { applyPreprocessorConfig, canonicalSpec, defaultSpec, type ModelSpec } from './spec.ts';
import { hashFile, hashParts } from '../util/hash.ts';
import { imageInput, specFromInput } from './input-shape.ts';
import { OptionError } from '../util/options.ts';

/** Weight variants of an HF ONNX export and their file suffixes (`--dtype`). */
export const DTYPE_SUFFIX: Record<string, string> = { fp32: '', fp16: '_fp16', quantized: '_quantized', q8: '_quantized', int8: '_int8', uint8: '_uint8', q4: '_q4', q4f16: '_q4f16', bnb4: '_bnb4' };

/** Which embedding an image tower gives: the projected one (image_embeds) or the feature before the projection. */
export type Feature = 'projected' | 'pre-projection';

/** A model family: the defaults lookalike uses for graphs of that kind. */
export type Family = 'clip' | 'siglip' | 'dinov2' | 'vit' | 'swin' | 'cnn' | 'unknown';

/** The family of a config.json `model_type` (and architectures). */
export function familyOf(cfg: Record<string, unknown> | null): Family {
  const type = String(cfg?.model_type ?? '').toLowerCase();
  const arch = JSON.stringify(cfg?.architectures ?? '').toLowerCase();
  if (/^(clip|clip_vision_model|chinese_clip|mobileclip|altclip|owlvit)/.test(type) || /mobileclip|clip/.test(arch)) return 'clip';
  if (/^siglip/.test(type)) return 'siglip';
  if (/^dinov2/.test(type) || /^dinov3/.test(type)) return 'dinov2';
  if (/^(vit|deit|beit|vit_msn|vit_mae|data2vec-vision|dino)$/.test(type)) return 'vit';
  if (/^(swin|swinv2|maskformer-swin)/.test(type)) return 'swin';
  if (/^(resnet|convnext|convnextv2|efficientnet|regnet|mobilenet_v1|mobilenet_v2|mobilevit|levit|bit|van|poolformer|googlenet)/.test(type)) return 'cnn';
  return 'unknown';
}

/** The ONNX file of one tower of an HF folder for a dtype, or an error naming the files to place. */
export function hfOnnxFile(dir: string, tower: 'vision' | 'text', dtype = 'fp32'): string {
  const found = hfOnnxCandidates(dir, tower, dtype).find((f) => fs.existsSync(f));
  if (!found) {
    const list = hfOnnxCandidates(dir, tower, dtype).map((c) => path.relative(dir, c)).join(', ');
    throw new OptionError(`${dir}: no ${tower === 'text' ? 'text' : 'image'} model for {{dtype}} ${dtype}; place one of ${list}`);
  }
  return found;
}

/** Candidate paths (in preference order) of a tower's ONNX file. */
export function hfOnnxCandidates(dir: string, tower: 'vision' | 'text', dtype = 'fp32'): string[] {
  const suffix = DTYPE_SUFFIX[dtype];
  if (suffix === undefined) throw new OptionError(`{{dtype}} ${dtype}: expected one of ${Object.keys(DTYPE_SUFFIX).join(', ')}`);
  const bases = tower === 'text' ? ['text_model'] : ['vision_model', 'model'];
  return bases.flatMap((b) => [path.join(dir, 'onnx', `${b}${suffix}.onnx`), path.join(dir, `${b}${suffix}.onnx`)]);
}

/** config.json of a folder, or null when absent. */
export function readConfig(dir: string): Record<string, unknown> | null {
  const f = path.join(dir, 'config.json');
  return fs.existsSync(f) ? readJsonObject(f) : null;
}

/** True when a folder looks like an HF export (config.json, preprocessor_config.json or onnx/). */
export function isHfFolder(dir: string): boolean {
  return ['config.json', 'preprocessor_config.json', 'onnx'].some((f) => fs.existsSync(path.join(dir, f)));
}

/** Register/CLS tokens before the patch tokens (DINOv2 with registers has 1 + num_register_tokens). */
function prefixTokensOf(family: Family, cfg: Record<string, unknown> | null): number {
  if (family === 'siglip' || family === 'swin') return 0;
  const vc = (cfg?.vision_config as Record<string, unknown> | undefined) ?? cfg;
  const regs = Number(vc?.num_register_tokens ?? 0);
  return 1 + (Number.isFinite(regs) ? regs : 0);
}

/**
 * The output and pooling a family uses given the graph's outputs: CLIP image_embeds (projected)
 * or pooler_output (pre-projection); SigLIP pooler_output; DINOv2/ViT CLS of last_hidden_state;
 * Swin pooler_output or token mean; CNNs pooler_output, else GAP of last_hidden_state, else logits.
 */
export function familyOutput(family: Family, outputs: string[], feature: Feature = 'projected', cfg: Record<string, unknown> | null = null): Partial<ModelSpec> {
  const has = (n: string) => outputs.includes(n);
  const prefixTokens = prefixTokensOf(family, cfg);
  const pick = (...choices: [string, ModelSpec['pooling']][]): Partial<ModelSpec> => {
    for (const [name, pooling] of choices) if (has(name)) return { output: name, pooling, prefixTokens };
    return { output: outputs[0], pooling: 'auto', prefixTokens };
  };
  switch (family) {
    case 'clip':
      return feature === 'projected'
        ? pick(['image_embeds', 'none'], ['pooler_output', 'auto'], ['last_hidden_state', 'cls'])
        : pick(['pooler_output', 'auto'], ['last_hidden_state', 'cls'], ['image_embeds', 'none']);
    case 'siglip':
      return pick(['image_embeds', 'none'], ['pooler_output', 'none'], ['last_hidden_state', 'mean']);
    case 'dinov2':
    case 'vit':
      return pick(['last_hidden_state', 'cls'], ['pooler_output', 'auto'], ['logits', 'none']);
    case 'swin':
      return pick(['pooler_output', 'auto'], ['last_hidden_state', 'mean'], ['logits', 'none']);
    case 'cnn':
      return pick(['pooler_output', 'auto'], ['last_hidden_state', 'gap'], ['logits', 'none']);
    default:
      return pick(['image_embeds', 'none'], ['pooler_output', 'auto'], ['last_hidden_state', 'auto']);
  }
}

/** Options for loading an HF folder. */
export interface HfLoadOptions {
  dtype?: string;
  feature?: Feature;
  /** Spec fields between family defaults and overrides (preset defaults). */
  presetSpec?: Partial<ModelSpec>;
  /** Explicit spec fields (flags): they win. */
  overrides?: Partial<ModelSpec>;
  /** Display name (preset or Hub id); default the folder. */
  name?: string;
  /** Threads and device for the session (default: config). */
  runtime?: Runtime;
}

/** Everything about an HF folder's image tower short of a session: file, family, spec. */
export interface HfVisionPlan {
  dir: string;
  file: string;
  config: Record<string, unknown> | null;
  family: Family;
  spec: ModelSpec;
  inputs: TensorInfo[];
  outputs: TensorInfo[];
}

/** Spec before the graph is known: defaults, preprocessor_config.json, preset spec. */
export function hfBaseSpec(dir: string, presetSpec: Partial<ModelSpec> = {}): ModelSpec {
  let spec = { ...defaultSpec(), ...presetSpec };
  const ppFile = path.join(dir, 'preprocessor_config.json');
  if (fs.existsSync(ppFile)) spec = applyPreprocessorConfig(spec, readJsonObject(ppFile), ppFile);
  return spec;
}

/** Resolve a folder's image-tower spec once the graph's inputs and outputs are known. */
export function hfResolveSpec(dir: string, io: { inputs: TensorInfo[]; outputs: TensorInfo[] }, opts: HfLoadOptions = {}): { spec: ModelSpec; family: Family; config: Record<string, unknown> | null } {
  const config = readConfig(dir);
  const family = familyOf(config);
  const base = hfBaseSpec(dir, opts.presetSpec);
  const fam = familyOutput(family, io.outputs.map((o) => o.name), opts.feature, config);
  const pixel = io.inputs.find((i) => i.name === 'pixel_values');
  const ps = opts.presetSpec ?? {};
  // A preset may fix the output and pooling; its preprocessing fields are only fallbacks (in base).
  const presetOut = stripUndefined({ output: ps.output, pooling: ps.pooling, prefixTokens: ps.prefixTokens });
  // No preprocessor_config.json: the graph's input shape says the size, layout and channels.
  const shaped = fs.existsSync(path.join(dir, 'preprocessor_config.json')) ? {} : specFromInput(imageInput(io.inputs, opts.overrides?.inputName ?? (pixel ? 'pixel_values' : undefined)), { ...ps, ...stripUndefined(opts.overrides ?? {}) });
  const spec: ModelSpec = { ...base, ...shaped, ...fam, ...(pixel ? { inputName: 'pixel_values' } : {}), ...presetOut, ...stripUndefined(opts.overrides ?? {}) };
  // An explicit --output without --pooling lets the output's rank decide.
  if (opts.overrides?.output && opts.overrides.output !== fam.output && opts.overrides.pooling === undefined && opts.presetSpec?.pooling === undefined) spec.pooling = 'auto';
  return { spec, family, config };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Load the image tower of an HF-layout folder as a backbone. */
export async function loadHfFolder(dir: string, opts: HfLoadOptions = {}): Promise<Backbone> {
  const file = hfOnnxFile(dir, 'vision', opts.dtype);
  const session = await createSession(file, file, opts.runtime);
  const io = describeSession(session);
  const { spec } = hfResolveSpec(dir, io, opts);
  const fingerprint = hashParts(await hashFile(file), canonicalSpec(spec));
  try {
    return Object.assign(new OrtBackbone(opts.name ?? dir, spec, fingerprint, session), { file });
  } catch (e) {
    await session.release();
    throw e;
  }
}
