/**
 * Per-call runtime options (threads, device, offline, TF.js backend, batch size). Library
 * functions take them as an argument; a field left unset falls back to the process-wide
 * `config` (src/util/config.ts), which only environment variables and the embedding app set.
 */
import { config } from '../util/config.ts';

/** Runtime options passed to model loading and embedding; unset fields use `config`. */
export interface Runtime {
  /** Intra-op threads for onnxruntime (0 = ORT chooses). */
  threads?: number;
  /** Execution device. */
  device?: 'cpu' | 'cuda';
  /** Never touch the network, even for Hub ids. */
  offline?: boolean;
  /** How TF.js models run: converted to ONNX (default) or on TensorFlow.js itself. */
  tfjsEngine?: 'onnx' | 'tfjs';
  /** TensorFlow.js backend for TF.js backbones. */
  tfjsBackend?: 'wasm' | 'cpu';
  /** wasm threads for TF.js (0 = `threads`). */
  tfjsThreads?: number;
  /** Images per inference batch. */
  batchSize?: number;
}

/** Every runtime field, from `r` where set, else from `config`. */
export function resolveRuntime(r: Runtime = {}): Required<Runtime> {
  return {
    threads: r.threads ?? config.threads,
    device: r.device ?? config.device,
    offline: r.offline ?? config.offline,
    tfjsEngine: r.tfjsEngine ?? config.tfjsEngine,
    tfjsBackend: r.tfjsBackend ?? config.tfjsBackend,
    tfjsThreads: r.tfjsThreads ?? config.tfjsThreads,
    batchSize: Math.max(1, r.batchSize ?? config.batchSize),
  };
}
