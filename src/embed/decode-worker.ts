/**
 * A decode worker of the embedding pipeline (src/embed/decode-pool.ts): decodes one batch at a
 * time into the tensor buffer it is handed, and hands the buffer back (transferred, not copied).
 */
import { parentPort } from 'node:worker_threads';
import { decodeBatchInto, decodeError, type ImageSource } from './decode-batch.ts';
import type { ModelSpec } from '../models/spec.ts';

/** A batch to decode: sent by the pool with `buffer` in the transfer list. */
export interface DecodeRequest {
  id: number;
  sources: ImageSource[];
  spec: ModelSpec;
  shrink: boolean;
  buffer: ArrayBuffer;
}

/** The answer: the same buffer back (transferred), and the outcome or the error that stopped the batch. */
export interface DecodeReply {
  id: number;
  buffer: ArrayBuffer;
  ok?: number[];
  skipped?: { index: number; reason: string }[];
  noFace?: number[];
  error?: string;
}

parentPort!.on('message', async (m: DecodeRequest) => {
  let reply: DecodeReply;
  try {
    const r = await decodeBatchInto(m.sources, m.spec, new Float32Array(m.buffer), m.shrink);
    reply = { id: m.id, buffer: m.buffer, ok: r.ok, skipped: r.skipped, noFace: r.noFace };
  } catch (e) {
    reply = { id: m.id, buffer: m.buffer, error: decodeError(e) };
  }
  parentPort!.postMessage(reply, [m.buffer]);
});
