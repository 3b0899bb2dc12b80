/**
 * TensorFlow.js image backbones: a model.json (graph or layers model) and its weight shards,
 * read from disk (no fetch), run through @tensorflow/tfjs on the wasm backend, reading any
 * named node (graph models) or layer (layers models), NHWC input.
 * Also reads the CommonJS bundles nsfwjs ships (`model.min.js` + `group1-shardXofY.min.js`
 * modules exporting the model.json object and base64 shards).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as tfTypes from '@tensorflow/tfjs';
import type { Backbone, RawOutput, TensorInfo } from './backbone.ts';
import { canonicalSpec, defaultSpec, inputChannels, inputSize, type ModelSpec } from './spec.ts';
import { setupTfjs, type Tf, type TfjsRuntime } from './tfjs-backend.ts';
import { hashParts } from '../util/hash.ts';
import { specFromInput } from './input-shape.ts';
import { decodeUtf8 } from '../util/text.ts';
import type { Runtime } from './runtime.ts';

type Tensor = tfTypes.Tensor;

/** One group of a model.json weightsManifest. */
interface ManifestGroup {
  paths: string[];
  weights: tfTypes.io.WeightsManifestEntry[];
}

/** The parts of a TF.js model.json lookalike reads. */
export interface TfjsModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: Record<string, unknown>;
  weightsManifest?: ManifestGroup[];
  signature?: Record<string, unknown>;
  userDefinedMetadata?: Record<string, unknown>;
  modelInitializer?: Record<string, unknown>;
}

/** A model.json and its weights, read into memory. */
export interface TfjsArtifacts {
  /** The model.json (or bundle) path. */
  file: string;
  json: TfjsModelJson;
  kind: 'graph' | 'layers';
  weightSpecs: tfTypes.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** sha256 over the model.json text and every shard's bytes, in manifest order. */
  hash: string;
}

/** Node-level description of a model: inputs, outputs and candidate pooled-feature nodes. */
export interface TfjsDescription {
  kind: 'graph' | 'layers';
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Nodes (graph) or layers (layers model) that look like pooled features, in graph order. */
  candidates: TensorInfo[];
}

/** True when `file` lies inside `dir` (after resolving `..`). */
function insideFolder(dir: string, file: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** Read a TF.js model: `model.json` (any name ending .json) + shards, or an nsfwjs `.js` bundle. */
export function readTfjsArtifacts(file: string): TfjsArtifacts {
  if (!fs.existsSync(file)) throw new Error(`${file}: not found`);
  const bundle = file.endsWith('.js');
  let text: string;
  let json: TfjsModelJson;
  try {
    if (bundle) {
      json = requireFresh(file) as TfjsModelJson;
      text = JSON.stringify(json);
    } else {
      text = decodeUtf8(fs.readFileSync(file), file);
      json = JSON.parse(text);
    }
  } catch (e) {
    throw new Error(`${file}: not a TensorFlow.js model.json (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object') {
    throw new Error(`${file}: not a TensorFlow.js model.json (no "modelTopology")`);
  }
  const kind = modelKind(json, file);
  const hash = createHash('sha256').update(text);
  const weightSpecs: tfTypes.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  const dir = path.dirname(file);
  for (const group of json.weightsManifest ?? []) {
    for (const p of group.paths) {
      if (typeof p !== 'string' || p === '' || path.isAbsolute(p) || /^[a-z][a-z0-9+.-]*:/i.test(p)) throw new Error(`${file}: weight path ${JSON.stringify(p)} is not a relative path inside the model folder`);
      const shard = bundle ? path.join(dir, `${p}.min.js`) : path.join(dir, p);
      if (!insideFolder(dir, shard)) throw new Error(`${file}: weight path ${p} points outside the model folder ${dir}; refusing to read it`);
      if (!fs.existsSync(shard)) throw new Error(`${file}: weight shard ${p} missing (expected ${shard})`);
      if (!insideFolder(fs.realpathSync(dir), fs.realpathSync(shard))) throw new Error(`${file}: weight path ${p} links outside the model folder ${dir}; refusing to read it`);
      let bytes: Uint8Array;
      if (bundle) {
        const b64 = requireFresh(shard);
        if (typeof b64 !== 'string') throw new Error(`${shard}: expected a module exporting a base64 weight shard`);
        bytes = Buffer.from(b64, 'base64');
      } else bytes = fs.readFileSync(shard);
      hash.update(bytes);
      parts.push(bytes);
    }
    weightSpecs.push(...group.weights);
  }
  const total = parts.reduce((a, b) => a + b.byteLength, 0);
  const need = weightSpecs.reduce((a, w) => a + weightBytes(w), 0);
  if (need > total) throw new Error(`${file}: weight shards hold ${total} bytes but the manifest needs ${need}; a shard is truncated`);
  const weightData = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    weightData.set(p, o);
    o += p.byteLength;
  }
  return { file, json, kind, weightSpecs, weightData: weightData.buffer, hash: hash.digest('hex') };
}

function requireFresh(file: string): unknown {
  const require = createRequire(path.resolve(file));
  const abs = require.resolve(path.resolve(file));
  try {
    return require(abs);
  } finally {
    delete require.cache[abs];
  }
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, string: 0, complex64: 8, uint8: 1, uint16: 2, float16: 2 };

function weightBytes(w: tfTypes.io.WeightsManifestEntry): number {
  const n = w.shape.reduce((a, b) => a * b, 1);
  const q = w.quantization;
  if (q) return n * (q.dtype === 'float16' ? 2 : DTYPE_BYTES[q.dtype] ?? 1);
  return n * (DTYPE_BYTES[w.dtype] ?? 4);
}

function modelKind(json: TfjsModelJson, file: string): 'graph' | 'layers' {
  if (json.format === 'graph-model' || Array.isArray(json.modelTopology.node)) return 'graph';
  if (json.format === 'layers-model' || json.modelTopology.model_config || json.modelTopology.class_name) return 'layers';
  throw new Error(`${file}: cannot tell a graph model from a layers model (format "${json.format}")`);
}

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, { shape?: { dim?: { size?: string | number }[] }; type?: string }>;
}

interface KerasLayer {
  class_name: string;
  name?: string;
  config: { name: string; batch_input_shape?: (number | null)[]; dtype?: string };
  inbound_nodes?: unknown[];
}

const POOL_OPS = new Set(['Mean', 'AvgPool', 'MaxPool', 'Max', 'Squeeze']);
const POOL_LAYERS = /Pool|Flatten/;

function kerasLayers(json: TfjsModelJson): KerasLayer[] {
  const topo = json.modelTopology as { model_config?: { config?: { layers?: KerasLayer[] } }; config?: { layers?: KerasLayer[] } };
  return topo.model_config?.config?.layers ?? topo.config?.layers ?? [];
}

function dimsOf(n: GraphNode): (number | string)[] {
  const dims = n.attr?.shape?.shape?.dim ?? [];
  return dims.map((d) => {
    const v = Number(d.size ?? -1);
    return v < 0 ? 'batch' : v;
  });
}

/** Inputs, outputs and pooled-feature candidates read from model.json alone (no weights needed). */
export function describeTfjs(a: Pick<TfjsArtifacts, 'json' | 'kind'>): TfjsDescription {
  const { json } = a;
  if (a.kind === 'graph') {
    const nodes = (json.modelTopology.node ?? []) as GraphNode[];
    const inputs = nodes
      .filter((n) => n.op === 'Placeholder')
      .map((n) => ({ name: n.name, shape: dimsOf(n), type: (n.attr?.dtype?.type ?? 'DT_FLOAT').replace(/^DT_/, '').toLowerCase() }));
    const sigOut = (json.signature?.outputs ?? (json.userDefinedMetadata?.signature as { outputs?: unknown } | undefined)?.outputs) as
      | Record<string, { name: string }>
      | undefined;
    let outputs: TensorInfo[];
    if (sigOut && Object.keys(sigOut).length) outputs = Object.values(sigOut).map((o) => ({ name: o.name.replace(/:0$/, ''), shape: [], type: 'float32' }));
    else {
      const consumed = new Set(nodes.flatMap((n) => (n.input ?? []).map((i) => i.replace(/^\^/, '').replace(/:\d+$/, ''))));
      outputs = nodes.filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !consumed.has(n.name)).map((n) => ({ name: n.name, shape: [], type: 'float32' }));
    }
    const candidates = nodes.filter((n) => POOL_OPS.has(n.op)).map((n) => ({ name: n.name, shape: [], type: n.op }));
    return { kind: 'graph', inputs, outputs, candidates };
  }
  const layers = kerasLayers(json);
  const inputs = layers
    .filter((l) => l.class_name === 'InputLayer')
    .map((l) => ({ name: l.config.name, shape: (l.config.batch_input_shape ?? []).map((d) => (d === null ? 'batch' : d)), type: l.config.dtype ?? 'float32' }));
  const topo = json.modelTopology as { model_config?: { config?: { output_layers?: [string, number, number][] } } };
  const outNames = topo.model_config?.config?.output_layers?.map((o) => o[0]) ?? (layers.length ? [layers[layers.length - 1].config.name] : []);
  const outputs = outNames.map((name) => ({ name, shape: [], type: 'float32' }));
  const candidates = layers.filter((l) => POOL_LAYERS.test(l.class_name)).map((l) => ({ name: l.config.name, shape: [], type: l.class_name }));
  return { kind: 'layers', inputs, outputs, candidates };
}

/**
 * The spec a bare TF.js model gets before presets and flags: tfjs format, NHWC (NCHW when the
 * input's channel axis is 1), and the model's fixed input size (resize to 1/0.875 of it, center
 * crop, as for ImageNet); otherwise the ImageNet default.
 */
export function tfjsDefaultSpec(desc: TfjsDescription): ModelSpec {
  // TensorFlow graphs are channels-last unless the input shape says otherwise.
  const input = desc.inputs[0];
  const nchw = input?.shape.length === 4 && (input.shape[1] === 3 || input.shape[1] === 1) && input.shape[3] !== 3 && input.shape[3] !== 1;
  return { ...defaultSpec(), format: 'tfjs', ...specFromInput(input), layout: nchw ? 'nchw' : 'nhwc' };
}

/** The spec of a TF.js model: its defaults, then a preset's fields (`base`), then flags (`overrides`). */
export function tfjsSpec(desc: TfjsDescription, base: Partial<ModelSpec> = {}, overrides: Partial<ModelSpec> = {}): ModelSpec {
  return { ...tfjsDefaultSpec(desc), ...base, ...overrides, format: 'tfjs' };
}

/** The folder form of a TF.js model argument resolved to its model.json (or bundle) file. */
export function tfjsFile(model: string): string {
  if (fs.existsSync(model) && fs.statSync(model).isDirectory()) {
    const file = path.join(model, 'model.json');
    if (!fs.existsSync(file)) throw new Error(`${model}: no model.json in this folder`);
    return file;
  }
  return model;
}

/** A feature that is already one vector per image: rank 2, or a 1x1 spatial map. */
function isPooled(t: TensorInfo): boolean {
  if (t.shape.length === 2) return true;
  if (t.shape.length !== 4) return false;
  const [, a, b, c] = t.shape;
  return (a === 1 && b === 1) || (b === 1 && c === 1);
}

/** A TF.js model behind the Backbone interface. */
export class TfjsBackbone implements Backbone {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  /** Candidate pooled-feature nodes or layers (for `models info` and `--output`). */
  candidates: TensorInfo[];
  /** The node or layer read by run(). */
  readonly outputName: string;
  /** Why this model runs on TF.js rather than converted to ONNX, when it was tried. */
  engine?: string;
  private readonly inputName: string;
  private readonly tf: Tf;
  private disposed = false;

  private constructor(
    readonly name: string,
    readonly spec: ModelSpec,
    readonly fingerprint: string,
    readonly runtime: TfjsRuntime,
    private readonly graph: tfTypes.GraphModel | undefined,
    private readonly layers: tfTypes.LayersModel | undefined,
    desc: TfjsDescription,
    nodes: string[],
    private readonly full?: tfTypes.LayersModel,
  ) {
    this.tf = runtime.tf;
    this.inputs = desc.inputs;
    this.outputs = desc.outputs;
    this.candidates = desc.candidates;
    if (graph) {
      this.inputs = graph.inputs.map((t) => ({ name: t.name, shape: (t.shape ?? []).map((d) => (d < 0 ? 'batch' : d)), type: t.dtype }));
      this.outputs = graph.outputs.map((t) => ({ name: t.name, shape: (t.shape ?? []).map((d) => (d < 0 ? 'batch' : d)), type: t.dtype }));
      const wanted = spec.inputName ?? graph.inputNodes[0];
      this.inputName = graph.inputNodes.find((n) => n === wanted || n.replace(/:0$/, '') === wanted.replace(/:0$/, '')) ?? wanted;
      if (!graph.inputNodes.includes(this.inputName)) throw new Error(`${name}: no input "${this.inputName}"; inputs are ${graph.inputNodes.join(', ')}`);
      this.outputName = spec.output ?? graph.outputNodes[0];
      const bare = this.outputName.replace(/:\d+$/, '');
      if (!nodes.includes(bare)) throw new Error(`${name}: no node "${this.outputName}"; outputs are ${graph.outputNodes.join(', ')}; pooled candidates are ${desc.candidates.map((c) => c.name).join(', ') || 'none'}`);
    } else {
      const m = layers!;
      this.inputs = m.inputs.map((t) => ({ name: t.name, shape: t.shape.map((d) => (d === null ? 'batch' : d)), type: t.dtype }));
      this.outputs = m.outputs.map((t) => ({ name: t.name, shape: t.shape.map((d) => (d === null ? 'batch' : d)), type: t.dtype }));
      const source = full ?? m;
      this.candidates = desc.candidates
        .map((c) => {
          const shape = source.getLayer(c.name).outputShape as (number | null)[];
          return { ...c, shape: shape.map((d) => (d === null ? 'batch' : d)) };
        })
        .filter(isPooled);
      this.inputName = m.inputs[0].name;
      this.outputName = spec.output ?? (full ?? m).outputNames[0];
    }
  }

  /** Load a TF.js model from a model.json / bundle path; `base` spec fields (a preset's) and `overrides` (flags) apply over the defaults. */
  static async load(file: string, opts: { name?: string; base?: Partial<ModelSpec>; overrides?: Partial<ModelSpec>; artifacts?: TfjsArtifacts; runtime?: Runtime } = {}): Promise<TfjsBackbone> {
    const artifacts = opts.artifacts ?? readTfjsArtifacts(file);
    const desc = describeTfjs(artifacts);
    const spec = tfjsSpec(desc, opts.base, opts.overrides);
    // TF.js is set up once per process: the first load's backend and threads apply.
    const r = opts.runtime ?? {};
    const runtime = await setupTfjs({ backend: r.tfjsBackend, threads: r.tfjsThreads || r.threads || undefined });
    const { tf } = runtime;
    const handler: tfTypes.io.IOHandler = {
      load: async () =>
        ({
          modelTopology: artifacts.json.modelTopology,
          format: artifacts.json.format,
          generatedBy: artifacts.json.generatedBy,
          convertedBy: artifacts.json.convertedBy,
          weightSpecs: artifacts.weightSpecs,
          weightData: artifacts.weightData,
          signature: artifacts.json.signature,
          userDefinedMetadata: artifacts.json.userDefinedMetadata,
          modelInitializer: artifacts.json.modelInitializer,
        }) as tfTypes.io.ModelArtifacts,
    };
    const name = opts.name ?? file;
    const fingerprint = hashParts(artifacts.hash, canonicalSpec(spec));
    try {
      if (artifacts.kind === 'graph') {
        const graph = await tf.loadGraphModel(handler);
        const nodes = ((artifacts.json.modelTopology.node ?? []) as GraphNode[]).map((n) => n.name);
        return new TfjsBackbone(name, spec, fingerprint, runtime, graph, undefined, desc, nodes);
      }
      const full = await tf.loadLayersModel(handler);
      let model = full;
      if (spec.output && !full.outputNames.includes(spec.output)) {
        let layer: tfTypes.layers.Layer;
        try {
          layer = full.getLayer(spec.output);
        } catch {
          full.dispose();
          throw new Error(`${name}: no layer "${spec.output}"; outputs are ${full.outputNames.join(', ')}; pooled candidates are ${desc.candidates.map((c) => c.name).join(', ') || 'none'}`);
        }
        model = tf.model({ inputs: full.inputs, outputs: layer.output as tfTypes.SymbolicTensor });
      }
      return new TfjsBackbone(name, spec, fingerprint, runtime, undefined, model, desc, [], model === full ? undefined : full);
    } catch (e) {
      const msg = (e as Error).message;
      if (msg.startsWith(name)) throw e;
      throw new Error(`${name}: cannot load TensorFlow.js model: ${msg}`);
    }
  }

  /** Run one preprocessed batch (n images in spec.layout) and return the chosen node's values. */
  async run(pixels: Float32Array, n: number, size = inputSize(this.spec)): Promise<RawOutput> {
    if (this.disposed) throw new Error(`${this.name}: backbone disposed`);
    const { tf } = this;
    const { height, width } = size;
    const c = inputChannels(this.spec);
    const shape = this.spec.layout === 'nhwc' ? [n, height, width, c] : [n, c, height, width];
    if (pixels.length !== n * c * height * width) throw new Error(`${this.name}: batch has ${pixels.length} values, expected ${n}x${shape.slice(1).join('x')}`);
    const x = tf.tensor(pixels, shape, 'float32');
    let y: Tensor | undefined;
    try {
      y = await this.forward(x);
      if (y.dtype !== 'float32') throw new Error(`${this.name}: node ${this.outputName} is ${y.dtype}, expected float32`);
      const data = (await y.data()) as Float32Array;
      return { data, dims: [...y.shape], name: this.outputName };
    } finally {
      x.dispose();
      y?.dispose();
    }
  }

  private async forward(x: Tensor): Promise<Tensor> {
    if (this.layers) return this.layers.predict(x) as Tensor;
    const feeds = { [this.inputName]: x };
    try {
      return this.graph!.execute(feeds, this.outputName) as Tensor;
    } catch (e) {
      // Graphs with control flow or dynamic shapes must run asynchronously.
      if (/executeAsync/.test((e as Error).message)) return (await this.graph!.executeAsync(feeds, this.outputName)) as Tensor;
      throw e;
    }
  }

  /** Run one blank image and report the shape of every candidate node (for `models info`). */
  async probeCandidates(): Promise<TensorInfo[]> {
    if (this.layers || !this.candidates.length) return this.candidates;
    const { tf } = this;
    const { height, width } = inputSize(this.spec);
    const c = inputChannels(this.spec);
    const x = tf.zeros(this.spec.layout === 'nhwc' ? [1, height, width, c] : [1, c, height, width]);
    const names = this.candidates.map((c) => c.name);
    try {
      const res = this.graph!.execute({ [this.inputName]: x }, names);
      const ys = Array.isArray(res) ? res : [res];
      const out = this.candidates.map((c, i) => ({ ...c, shape: ys[i].shape.map((d, j) => (j === 0 ? 'batch' : d)) }));
      tf.dispose(ys);
      return out.filter(isPooled);
    } finally {
      x.dispose();
    }
  }

  /** Live tfjs tensors in this process (leak checks). */
  numTensors(): number {
    return this.tf.memory().numTensors;
  }

  /** Release the weights. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.graph?.dispose();
    // A layer sub-model shares layers with the full model: dispose the full model once, then
    // the sub-model (its shared layers already gone), so every weight is freed exactly once.
    for (const m of [this.full, this.layers]) {
      try {
        m?.dispose();
      } catch (e) {
        if (!/already disposed/.test((e as Error).message)) throw e;
      }
    }
  }
}

/** Load a TF.js backbone (a model.json path, a folder holding model.json, or an nsfwjs bundle). */
export async function loadTfjsBackbone(model: string, opts: { name?: string; base?: Partial<ModelSpec>; overrides?: Partial<ModelSpec>; artifacts?: TfjsArtifacts; runtime?: Runtime } = {}): Promise<TfjsBackbone> {
  return TfjsBackbone.load(tfjsFile(model), { name: opts.name ?? model, base: opts.base, overrides: opts.overrides, artifacts: opts.artifacts, runtime: opts.runtime });
}

/** True when a path names a TF.js model: a .json file, or a folder with model.json (and no ONNX layout). */
export function isTfjsPath(model: string): boolean {
  if (model.endsWith('.json')) return true;
  try {
    return fs.statSync(model).isDirectory() && fs.existsSync(path.join(model, 'model.json'));
  } catch {
    return false;
  }
}
