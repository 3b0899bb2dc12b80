/** Write a tuned head as an ONNX file that `loadHead` (src/models/head.ts) loads: input [N, D] -> `embedding` [N, D'] (not normalised). */
import { buildModel } from '../models/onnx-build.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { inferenceGraph, type TrainableHead } from './heads.ts';
import { HEAD_META } from '../util/head-metadata.ts';

/** Serialise a head to ONNX bytes; metadata (loss, dims, metrics...) goes into the model's metadata_props. */
export function headModel(head: TrainableHead, metadata: Record<string, string> = {}): Uint8Array {
  const meta = { [HEAD_META.kind]: 'head', [HEAD_META.spec]: JSON.stringify(head.spec), ...metadata };
  return buildModel(inferenceGraph(head, true, meta));
}

/** Write the head atomically (temp file + fsync + rename). */
export function writeHead(file: string, head: TrainableHead, metadata: Record<string, string> = {}): void {
  try {
    writeFileAtomic(file, headModel(head, metadata));
  } catch (e) {
    throw new Error(`${file}: cannot write head: ${(e as Error).message}`);
  }
}
