/** Write a tuned head as an ONNX file that `loadHead` (src/embed/head.ts) loads: input [N, D] -> `embedding` [N, D'] (not normalised). */
import fs from 'node:fs';
import path from 'node:path';
import { buildModel } from '../models/onnx/build.ts';
import { inferenceGraph, type Head } from './heads.ts';

/** Serialise a head to ONNX bytes; metadata (loss, dims, metrics...) goes into the model's metadata_props. */
export function headModel(head: Head, metadata: Record<string, string> = {}): Uint8Array {
  const meta = { 'lookalike.kind': 'head', 'lookalike.head': JSON.stringify(head.spec), ...metadata };
  return buildModel(inferenceGraph(head, true, meta));
}

/** Write the head atomically (temp file in the same folder, then rename). */
export function writeHead(file: string, head: Head, metadata: Record<string, string> = {}): void {
  const bytes = headModel(head, metadata);
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new Error(`${file}: folder ${dir} does not exist`);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, bytes);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${file}: cannot write head: ${(e as Error).message}`);
  }
}
