/**
 * Load a TF.js model on the fast engine: converted to ONNX (cached) and run by ONNX Runtime,
 * with the same spec and fingerprint as the TF.js path (the embeddings match it to cosine
 * >= 0.9999). Models the conversion does not cover run on TF.js, with a note naming the ops.
 * LOOKALIKE_TFJS_ENGINE=tfjs (config.tfjsEngine) forces the TF.js path.
 */
import { canonicalSpec, type ModelSpec } from '../spec.ts';
import { hashParts } from '../../util/hash.ts';
import type { Backbone } from '../backbone.ts';
import { OrtBackbone, createSession } from '../ort.ts';
import { TfjsBackbone, describeTfjs, readTfjsArtifacts, tfjsFile, tfjsSpec } from '../tfjs.ts';
import { tfjsToOnnx, type TfjsOnnx } from './convert.ts';
import { resolveRuntime, type Runtime } from '../runtime.ts';

/** Options: a display name, a preset's spec fields, flags, and where notes go. */
export interface TfjsLoadOptions {
  name?: string;
  base?: Partial<ModelSpec>;
  overrides?: Partial<ModelSpec>;
  /** Threads, device, TF.js engine and backend (default: config). */
  runtime?: Runtime;
  /** Notes such as "not converted: ops X, Y" (default stderr). */
  warn?: (msg: string) => void;
}

/** Load a TF.js model (model.json, folder, or nsfwjs bundle): on ONNX Runtime when it converts, else on TF.js. */
export async function loadTfjsModel(model: string, opts: TfjsLoadOptions = {}): Promise<Backbone> {
  const file = tfjsFile(model);
  const name = opts.name ?? model;
  const artifacts = readTfjsArtifacts(file);
  const runtime = resolveRuntime(opts.runtime);
  if (runtime.tfjsEngine === 'tfjs') return TfjsBackbone.load(file, { name, base: opts.base, overrides: opts.overrides, artifacts, runtime: opts.runtime });
  const desc = describeTfjs(artifacts);
  const spec = tfjsSpec(desc, opts.base, opts.overrides);
  const output = spec.output ?? desc.outputs[0]?.name;
  let r: TfjsOnnx | undefined;
  if (output) {
    try {
      r = tfjsToOnnx(artifacts, output);
    } catch (e) {
      // An unknown node and the like: the TF.js path reports it with the candidates.
      r = { ok: false, unsupported: [(e as Error).message] };
    }
  }
  if (r?.ok) {
    const session = await createSession(r.model, `${name} (converted from TF.js)`, opts.runtime);
    try {
      const b = new OrtBackbone(name, spec, hashParts(artifacts.hash, canonicalSpec(spec)), session);
      b.engine = `onnxruntime (converted from TF.js${typeof r.model === 'string' ? `, cached at ${r.model}` : ''})`;
      return b;
    } catch (e) {
      await session.release();
      throw e;
    }
  }
  const tf = await TfjsBackbone.load(file, { name, base: opts.base, overrides: opts.overrides, artifacts, runtime: opts.runtime });
  if (r && !r.ok) {
    tf.engine = `tfjs (not converted to ONNX: ${r.unsupported.join(', ')})`;
    (opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`)))(`${name}: running on TF.js (slower): not converted to ONNX: ${r.unsupported.join(', ')}`);
  }
  return tf;
}
