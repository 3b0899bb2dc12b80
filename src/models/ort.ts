/** ONNX image backbones through onnxruntime-node. */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type * as ort from 'onnxruntime-node';
import type { Backbone, RawOutput, TensorInfo } from './backbone.ts';
import { inputChannels, inputSize, type ModelSpec } from './spec.ts';
import { resolveRuntime, type Runtime } from './runtime.ts';
import { OptionError } from '../util/options.ts';
import { ortLib } from '../util/lazy-import.ts';

/**
 * Keep ONNX Runtime private: unless the user set ORT_DISABLE_TELEMETRY themselves, turn off its
 * telemetry (which otherwise writes a device id and event store under
 * ~/.cache/Microsoft/DeveloperTools/.onnxruntime, plus `mat-debug-PID.log` and `.ses` files in
 * the temp folder). ORT reads the variable when its environment starts (the first session), so
 * this runs at import and again before every session; child processes inherit it.
 */
export function disableOrtTelemetry(): void {
  if (!process.env.ORT_DISABLE_TELEMETRY) process.env.ORT_DISABLE_TELEMETRY = '1';
}
disableOrtTelemetry();

/** The folder of onnxruntime-node's native binaries, where its CUDA provider libraries must be. */
export function ortBinaryDir(): string {
  const pkg = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return path.join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** Fail fast, before ORT prints its own errors, when --device cuda has no CUDA provider installed. */
export function assertCudaAvailable(dir = ortBinaryDir()): void {
  const lib = path.join(dir, 'libonnxruntime_providers_cuda.so');
  // The installed package's preinstall (scripts/onnxruntime-cpu-only.cjs) leaves a small text marker in its place.
  if (!fs.existsSync(lib) || (fs.statSync(lib).size < 1024 && fs.readFileSync(lib, 'utf8').startsWith('lookalike-retrieval: placeholder'))) {
    throw new OptionError(`{{device}} cuda: onnxruntime-node's CUDA provider is not installed (${lib} is missing); with CUDA 12 and cuDNN 9 on the machine, get it online with ONNXRUNTIME_NODE_INSTALL=1 npm rebuild onnxruntime-node, or use {{device}} cpu`);
  }
}

/** Session options: threads and execution provider from `runtime`, else the global config. */
export function sessionOptions(runtime?: Runtime): ort.InferenceSession.SessionOptions {
  const rt = resolveRuntime(runtime);
  if (rt.device === 'cuda') assertCudaAvailable();
  // No spin-waiting: ORT's idle threads would otherwise take the cores sharp decodes on.
  const opts: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } };
  if (rt.threads > 0) opts.intraOpNumThreads = rt.threads;
  opts.executionProviders = rt.device === 'cuda' ? ['cuda'] : ['cpu'];
  return opts;
}

/** The options each session was created with (what reached ORT: threads, provider), for `optionsOf`. */
const created = new WeakMap<ort.InferenceSession, ort.InferenceSession.SessionOptions>();

/** The session options a session made by createSession was created with. */
export function optionsOf(session: ort.InferenceSession): ort.InferenceSession.SessionOptions | undefined {
  return created.get(session);
}

/** Create an ORT session from bytes or a path, with a clear error naming the file. */
export async function createSession(model: string | Uint8Array, what: string, runtime?: Runtime): Promise<ort.InferenceSession> {
  disableOrtTelemetry();
  const opts = sessionOptions(runtime);
  try {
    const { InferenceSession } = ortLib();
    const s = typeof model === 'string' ? await InferenceSession.create(model, opts) : await InferenceSession.create(model, opts);
    created.set(s, opts);
    return s;
  } catch (e) {
    const msg = (e as Error).message;
    if (resolveRuntime(runtime).device === 'cuda' && /cuda/i.test(msg)) {
      throw new OptionError(`${what}: {{device}} cuda needs onnxruntime-node's CUDA provider (install it online with its CUDA files); ORT said: ${msg}`);
    }
    throw new Error(`${what}: cannot load ONNX model: ${msg}`);
  }
}

/** Input and output descriptions of a session. */
export function describeSession(s: ort.InferenceSession): { inputs: TensorInfo[]; outputs: TensorInfo[] } {
  const meta = (list: readonly ort.InferenceSession.ValueMetadata[] | undefined, names: readonly string[]): TensorInfo[] =>
    names.map((name, i) => {
      const m = list?.[i] as { isTensor?: boolean; shape?: readonly (number | string)[]; type?: string } | undefined;
      return { name, shape: m?.isTensor ? [...(m.shape ?? [])] : [], type: m?.isTensor ? String(m.type) : 'unknown' };
    });
  return { inputs: meta(s.inputMetadata, s.inputNames), outputs: meta(s.outputMetadata, s.outputNames) };
}

/** An ONNX backbone around one session. */
export class OrtBackbone implements Backbone {
  inputs: TensorInfo[];
  outputs: TensorInfo[];
  private inputName: string;
  private outputName: string;
  /** How it runs, when not a plain ONNX file (e.g. converted from TF.js). */
  engine?: string;
  /** The ONNX file, when the graph came from one. */
  file?: string;

  constructor(
    readonly name: string,
    readonly spec: ModelSpec,
    readonly fingerprint: string,
    private session: ort.InferenceSession,
  ) {
    ({ inputs: this.inputs, outputs: this.outputs } = describeSession(session));
    this.inputName = spec.inputName ?? pickImageInput(this.inputs, name);
    if (!session.inputNames.includes(this.inputName)) {
      throw new Error(`${name}: no input "${this.inputName}"; inputs are ${session.inputNames.join(', ')}`);
    }
    this.outputName = spec.output ?? session.outputNames[0];
    if (!session.outputNames.includes(this.outputName)) {
      throw new Error(`${name}: no output "${this.outputName}"; outputs are ${session.outputNames.join(', ')}`);
    }
  }

  /** The options the session was created with (intra-op threads, provider): every model format's ORT session comes from createSession. */
  get sessionOptions(): ort.InferenceSession.SessionOptions | undefined {
    return optionsOf(this.session);
  }

  /** Run one preprocessed batch. */
  async run(pixels: Float32Array, n: number, size = inputSize(this.spec)): Promise<RawOutput> {
    const { height, width } = size;
    const c = inputChannels(this.spec);
    const dims = this.spec.layout === 'nchw' ? [n, c, height, width] : [n, height, width, c];
    const out = await this.session.run({ [this.inputName]: new (ortLib().Tensor)('float32', pixels, dims) }, [this.outputName]);
    const t = out[this.outputName];
    if (t.type !== 'float32') throw new Error(`${this.name}: output ${this.outputName} is ${t.type}, expected float32`);
    return { data: t.data as Float32Array, dims: [...t.dims], name: this.outputName };
  }

  /** Release the session. */
  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** The first 4-D float input, else the first input. */
function pickImageInput(inputs: TensorInfo[], name: string): string {
  if (inputs.length === 0) throw new Error(`${name}: model has no inputs`);
  const image = inputs.find((i) => i.shape.length === 4 && /float/.test(i.type));
  return (image ?? inputs[0]).name;
}
