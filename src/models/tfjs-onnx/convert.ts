/**
 * TF.js models on ONNX Runtime: convert a model.json (graph or layers) to an ONNX graph that
 * computes the requested node, cache it by content hash under `<cacheDir>/tfjs-onnx/` (atomic
 * write; a read-only cache just skips the write), and load it in an ORT session. Returns the
 * unsupported ops instead when the conversion does not cover the model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { config } from '../../util/config.ts';
import { hashParts } from '../../util/hash.ts';
import { writeFileAtomic } from '../../util/atomic.ts';
import type { TfjsArtifacts } from '../tfjs.ts';
import { convertGraph, type Conversion } from './graph.ts';
import { convertLayers, type KerasLayer } from './layers.ts';
import type { TfNode } from './context.ts';
import { decodeWeights } from './weights.ts';

/** Bumped whenever the converter's output changes, so stale cached graphs are not reused. */
export const CONVERTER_VERSION = '2';

/** A converted model: the ONNX file in the cache (or bytes when the cache is not writable). */
export type TfjsOnnx = { ok: true; model: string | Uint8Array; cached: boolean; output: string } | { ok: false; unsupported: string[] };

/** Convert the subgraph of a TF.js model that computes `output` (graph models: or several outputs) to ONNX bytes. */
export function convertTfjs(a: TfjsArtifacts, output: string | readonly string[]): Conversion {
  const weights = decodeWeights(a);
  if (a.kind === 'graph') return convertGraph((a.json.modelTopology.node ?? []) as TfNode[], weights, output);
  if (typeof output !== 'string') return { ok: false, unsupported: ['several outputs of a layers model'] };
  const topo = a.json.modelTopology as { model_config?: { config?: { layers?: KerasLayer[] } }; config?: { layers?: KerasLayer[] } };
  const layers = topo.model_config?.config?.layers ?? topo.config?.layers ?? [];
  return convertLayers(layers, weights, output);
}

/** The cache file of a model's conversion for one output node (or several, in order). */
export function convertedFile(a: Pick<TfjsArtifacts, 'hash'>, output: string | readonly string[]): string {
  return path.join(config.cacheDir, 'tfjs-onnx', `${hashParts(a.hash, bareOutputs(output), CONVERTER_VERSION)}.onnx`);
}

const bareOutputs = (output: string | readonly string[]) => (typeof output === 'string' ? [output] : output).map((o) => o.replace(/:0$/, '')).join(',');

/** The ONNX form of a TF.js model for `output` (or several outputs, named in `output` joined by commas): from the cache, else converted and cached. */
export function tfjsToOnnx(a: TfjsArtifacts, output: string | readonly string[]): TfjsOnnx {
  const file = convertedFile(a, output);
  const bare = bareOutputs(output);
  if (fs.existsSync(file)) return { ok: true, model: file, cached: true, output: bare };
  const r = convertTfjs(a, output);
  if (!r.ok) return r;
  try {
    writeFileAtomic(file, r.model);
    return { ok: true, model: file, cached: false, output: bare };
  } catch {
    return { ok: true, model: r.model, cached: false, output: bare };
  }
}
