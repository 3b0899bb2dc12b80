/**
 * Opening the model a job needs: a backbone (+ optional tuned head) by name, or the model an
 * index was built with. The compatibility rule lives here: a model used with an index must have
 * the index's fingerprint, and the head the index's head fingerprint (or none for both).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Backbone } from './backbone.ts';
import { loadBackbone, type SpecOverrides } from './load.ts';
import type { Feature } from './hf.ts';
import type { ModelSpec } from './spec.ts';
import type { Runtime } from './runtime.ts';
import { loadHead, type Head } from './head.ts';
import { sameEmbedding, type EmbeddingSource } from './compat.ts';
import { OptionError } from '../util/options.ts';

/** Which model to open and how. */
export interface ModelChoice {
  /** ONNX file, Hugging Face folder, TF.js model.json, preset name or Hub id. */
  model?: string;
  /** Spec fields that win over the model's own (preprocessing, output, pooling). */
  overrides?: SpecOverrides;
  /** Weight variant inside a model folder: fp32, fp16, quantized, int8, uint8, q4. */
  dtype?: string;
  /** Projected embedding or the pre-projection feature. */
  feature?: Feature;
  /** Tuned head file (.onnx from `lookalike tune`). */
  head?: string;
  /** Threads, device, offline, TF.js backend. */
  runtime?: Runtime;
}

/** A loaded backbone and optional head. */
export interface OpenedModel {
  backbone: Backbone;
  head?: Head;
}

/** A model argument as stored in a manifest: absolute when it is a path. */
export function modelRef(model: string): string {
  return fs.existsSync(model) ? path.resolve(model) : model;
}

/** Release a backbone and head. */
export async function closeModel(m: OpenedModel): Promise<void> {
  await m.backbone.dispose();
  await m.head?.dispose();
}

/** Load the backbone and optional head a choice names. */
export async function openModel(c: ModelChoice): Promise<OpenedModel> {
  if (!c.model) throw new OptionError('{{model}} is required');
  const backbone = await loadBackbone(modelRef(c.model), { overrides: c.overrides ?? {}, dtype: c.dtype, feature: c.feature, runtime: c.runtime });
  const head = c.head ? await loadHead(c.head, c.runtime) : undefined;
  return { backbone, head };
}

/**
 * Load the model an index was built with (from its metadata), or the one `c.model` names,
 * which must then have the same fingerprint; the head must match the index's head too.
 * `what` names the index in errors.
 */
export async function openModelForIndex(source: EmbeddingSource, c: Omit<ModelChoice, 'model'> & { model?: string }, what: string): Promise<OpenedModel> {
  const spec: Partial<ModelSpec> = c.model ? (c.overrides ?? {}) : source.model.spec;
  const ref = c.model ? modelRef(c.model) : source.model.name;
  // A model named only by the index's metadata is never downloaded (network use needs an explicit request).
  const backbone = await loadBackbone(ref, { overrides: spec, dtype: c.dtype, feature: c.feature, runtime: c.runtime, download: c.model !== undefined });
  // The backbone first (its error names the model), then the head (below): the one rule of compat.ts.
  if (!sameEmbedding({ model: backbone.fingerprint, head: source.head?.fingerprint ?? null }, source)) {
    await backbone.dispose();
    throw new OptionError(`${what}: model ${ref} (fingerprint ${backbone.fingerprint.slice(0, 12)}) is not the one the index was built with (${source.model.name}, ${source.model.fingerprint.slice(0, 12)}); pass the same {{model}} and spec options, or rebuild the index`);
  }
  const headFile = c.head ?? source.head?.file;
  const head = headFile ? await loadHead(headFile, c.runtime) : undefined;
  if (!sameEmbedding(source, { model: source.model.fingerprint, head: head?.fingerprint ?? null })) {
    await backbone.dispose();
    await head?.dispose();
    throw new OptionError(`${what}: head ${headFile ?? '(none)'} differs from the index's head (${source.head?.file ?? 'none'}); rebuild the index with this {{head}}`);
  }
  return { backbone, head };
}
