/**
 * One configuration object for lookalike, in the spirit of transformers.js' `env`.
 * Every field has a documented default; environment variables override at start-up,
 * and code may assign fields before the first model is loaded.
 */
import os from 'node:os';
import path from 'node:path';

export interface LookalikeConfig {
  /** Images per inference batch (LOOKALIKE_BATCH, default 32). */
  batchSize: number;
  /** Intra-op threads for onnxruntime; 0 lets ORT choose for models and uses every core for exact search (LOOKALIKE_THREADS, default 0). */
  threads: number;
  /** Execution device: 'cpu' or 'cuda' (LOOKALIKE_DEVICE, default 'cpu'). */
  device: 'cpu' | 'cuda';
  /** Gallery rows per exact-search chunk; bounds memory to chunk x dim floats (default 65536). */
  searchChunk: number;
  /** Queries per exact-search call (default 1024). */
  queryChunk: number;
  /** Model cache for Hub downloads (LOOKALIKE_CACHE, default ~/.cache/lookalike). */
  cacheDir: string;
  /**
   * Folders searched for model folders by name, before `<cacheDir>/models` (LOOKALIKE_MODELS,
   * separated like PATH: ':' on Linux/macOS, ';' on Windows; default none). See docs/models.md.
   */
  modelsPath: string[];
  /** Never touch the network, even for Hub ids (LOOKALIKE_OFFLINE=1, default false). */
  offline: boolean;
  /**
   * Decode large JPEGs at a reduced DCT scale before the exact resize, for Pillow-exact specs
   * (LOOKALIKE_SHRINK_ON_LOAD=1, default off; src/models/shrink-decode.ts has the rule and the tolerance).
   */
  shrinkOnLoad: boolean;
  /** Decode workers of the embedding pipeline, src/embed/decode-pool.ts (default: number of CPU cores). */
  decodeConcurrency: number;
  /** TensorFlow.js backend for TF.js backbones: 'wasm' (default) or 'cpu' (LOOKALIKE_TFJS_BACKEND). */
  tfjsBackend: 'wasm' | 'cpu';
  /**
   * How TF.js models run: 'onnx' (default) converts them to ONNX (cached under <cacheDir>/tfjs-onnx)
   * and runs them on onnxruntime, falling back to TF.js for unsupported ops; 'tfjs' always uses
   * TF.js (LOOKALIKE_TFJS_ENGINE).
   */
  tfjsEngine: 'onnx' | 'tfjs';
  /** wasm threads for TF.js; 0 = `threads`, else up to 8 cores (LOOKALIKE_TFJS_THREADS, default 0). */
  tfjsThreads: number;
  /** `index` commits its progress at least every this many images (LOOKALIKE_COMMIT_ITEMS, default 1000; also every 30 s). */
  indexCommitItems: number;
  /**
   * Items a saved ANN graph may lag behind its index before it is updated and saved again:
   * max(this, 5% of the live items) (LOOKALIKE_ANN_LAG, default 10000; docs/index-format.md).
   */
  annLag: number;
  /**
   * MiB of index rows a process keeps in memory for repeated exact searches (a server, eval):
   * an opened index caches the chunks its searches read, from its second search on, up to this
   * budget shared by every open index (LOOKALIKE_CACHE_MB, default a quarter of physical memory;
   * 0 turns it off; docs/index-format.md).
   */
  cacheMb: number;
  /**
   * Live items from which a long-lived reader also keeps int8 copies of the rows and answers
   * exact searches through them (a quarter of the memory traffic, same results; docs/index-format.md).
   * Below it the float32 scan is as fast (LOOKALIKE_INT8_MIN_ROWS, default 50000).
   */
  int8MinRows: number;
}

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative integer`);
  return n;
}

/** The process-wide configuration; read it, or assign fields before loading models. */
export const config: LookalikeConfig = {
  batchSize: envInt('LOOKALIKE_BATCH', 32) || 32,
  threads: envInt('LOOKALIKE_THREADS', 0),
  device: process.env.LOOKALIKE_DEVICE === 'cuda' ? 'cuda' : 'cpu',
  searchChunk: 65536,
  queryChunk: 1024,
  cacheDir: process.env.LOOKALIKE_CACHE || path.join(os.homedir(), '.cache', 'lookalike'),
  modelsPath: (process.env.LOOKALIKE_MODELS ?? '').split(path.delimiter).filter((d) => d !== ''),
  offline: process.env.LOOKALIKE_OFFLINE === '1' || process.env.HF_HUB_OFFLINE === '1',
  shrinkOnLoad: process.env.LOOKALIKE_SHRINK_ON_LOAD === '1',
  decodeConcurrency: Math.max(1, os.availableParallelism?.() ?? os.cpus().length),
  tfjsBackend: process.env.LOOKALIKE_TFJS_BACKEND === 'cpu' ? 'cpu' : 'wasm',
  tfjsThreads: envInt('LOOKALIKE_TFJS_THREADS', 0),
  tfjsEngine: process.env.LOOKALIKE_TFJS_ENGINE === 'tfjs' ? 'tfjs' : 'onnx',
  indexCommitItems: Math.min(1000, envInt('LOOKALIKE_COMMIT_ITEMS', 1000) || 1000),
  annLag: envInt('LOOKALIKE_ANN_LAG', 10_000),
  cacheMb: envInt('LOOKALIKE_CACHE_MB', Math.floor(os.totalmem() / 4 / 2 ** 20)),
  int8MinRows: envInt('LOOKALIKE_INT8_MIN_ROWS', 50_000),
};
