/**
 * One-time TensorFlow.js setup for Node: the wasm backend (XNNPACK, SIMD) loaded from
 * node_modules as file paths (no fetch), multi-threaded when asked, with a cpu fallback.
 * Anything that runs tfjs (backbones, tuning) calls `setupTfjs()` first.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { config } from '../util/config.ts';
import { optionalImport } from '../util/optional.ts';

/** The @tensorflow/tfjs namespace. */
export type Tf = typeof import('@tensorflow/tfjs');

/** The ready tfjs namespace and how it runs. */
export interface TfjsRuntime {
  tf: Tf;
  /** 'wasm' (normal) or 'cpu' (fallback, much slower). */
  backend: 'wasm' | 'cpu';
  /** Threads XNNPACK uses (1 = single-threaded wasm). */
  threads: number;
}

/** Options for the first `setupTfjs` call; later calls return the same runtime. */
export interface TfjsSetupOptions {
  /** Force a backend; default wasm, falling back to cpu. LOOKALIKE_TFJS_BACKEND overrides. */
  backend?: 'wasm' | 'cpu';
  /** wasm threads; default LOOKALIKE_TFJS_THREADS, else config.threads, else the number of CPU cores (max 8). */
  threads?: number;
  /** Where warnings go (default stderr). */
  warn?: (msg: string) => void;
}

let ready: Promise<TfjsRuntime> | undefined;

/** Set up tfjs once per process and return it; safe to call from anywhere, any number of times. */
export function setupTfjs(opts: TfjsSetupOptions = {}): Promise<TfjsRuntime> {
  ready ??= init(opts);
  return ready;
}

/** The thread count `setupTfjs` would use with these options. */
export function defaultTfjsThreads(opts: TfjsSetupOptions = {}): number {
  if (opts.threads !== undefined && opts.threads > 0) return opts.threads;
  if (config.tfjsThreads > 0) return config.tfjsThreads;
  if (config.threads > 0) return config.threads;
  return Math.min(8, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
}

/** The folder holding tfjs-backend-wasm's .wasm binaries, with a trailing separator. */
export function wasmDir(): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve('@tensorflow/tfjs-backend-wasm');
  const dir = path.dirname(main);
  if (!fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm'))) throw new Error(`${dir}: tfjs-backend-wasm binaries missing; run npm ci`);
  return dir + path.sep;
}

async function init(opts: TfjsSetupOptions): Promise<TfjsRuntime> {
  // Emscripten's Node glue installs process-wide uncaughtException/unhandledRejection handlers
  // that rethrow and print its whole minified source; take them out again once it is loaded.
  const before = { uncaughtException: process.listeners('uncaughtException'), unhandledRejection: process.listeners('unhandledRejection') };
  try {
    return await start(opts);
  } finally {
    for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
  }
}

async function start(opts: TfjsSetupOptions): Promise<TfjsRuntime> {
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`${m}\n`));
  const tf = await optionalImport<Tf>('@tensorflow/tfjs', 'tfjs');
  const want = opts.backend ?? config.tfjsBackend;
  if (want === 'wasm') {
    try {
      const wasm = await optionalImport<typeof import('@tensorflow/tfjs-backend-wasm')>('@tensorflow/tfjs-backend-wasm', 'tfjs');
      wasm.setWasmPaths(wasmDir());
      const threads = defaultTfjsThreads(opts);
      if (threads > 1) {
        enableNodeThreads(tf);
        wasm.setThreadsCount(threads);
      }
      if (await tf.setBackend('wasm')) {
        await tf.ready();
        return { tf, backend: 'wasm', threads };
      }
      warn('tfjs: the wasm backend did not start; falling back to the cpu backend (slow)');
    } catch (e) {
      warn(`tfjs: the wasm backend failed (${(e as Error).message}); falling back to the cpu backend (slow)`);
    }
  }
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, backend: 'cpu', threads: 1 };
}

/**
 * tfjs-backend-wasm ships a multi-threaded build but disables it under Node, because its
 * Emscripten loader starts pthread workers from `blob:` URLs, which Node's Worker rejects.
 * We capture the two scripts it builds as Blobs (the worker and the module factory), write
 * them to a temp folder, and hand Worker real file paths instead. The module factory was
 * bundled with a few free variables (require$$N, commonjsGlobal) that we define up front.
 */
function enableNodeThreads(tf: Tf): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lookalike-wasm-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const mainFile = path.join(dir, 'backend.js');
  const workerFile = path.join(dir, 'worker.js');
  const texts = new WeakMap<Blob, string>();
  const Base = globalThis.Blob;
  const prelude =
    "var require$$0=require('fs'),require$$1=require('path'),require$$2=require('url'),require$$3=require('perf_hooks'),require$$4=require('os'),commonjsGlobal=globalThis;\n";
  class CapturingBlob extends Base {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every((p) => typeof p === 'string')) {
        const text = (parts as string[]).join('');
        texts.set(this, text);
        if (text.startsWith('var WasmBackendModuleThreadedSimd')) fs.writeFileSync(mainFile, prelude + text);
      }
    }
  }
  globalThis.Blob = CapturingBlob as typeof Blob;
  const createObjectURL = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj: Blob) => {
    const text = texts.get(obj);
    if (text === undefined) return createObjectURL(obj);
    // The worker turns the factory Blob it receives into a URL too: point it at our file.
    fs.writeFileSync(workerFile, `URL.createObjectURL=()=>${JSON.stringify(mainFile)};URL.revokeObjectURL=()=>{};\n${text}`);
    return workerFile;
  };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
}
