/**
 * Decoding one batch of images into a model input tensor: the same code runs in the pipeline's
 * decode workers (src/embed/decode-worker.ts) and, for small jobs, on the calling thread.
 */
import fs from 'node:fs';
import { decodeRgb, normalizeInto } from '../models/preprocess.ts';
import { decodeRgbShrunk } from '../models/shrink-decode.ts';
import { fsReason } from '../data/images.ts';
import type { ModelSpec } from '../models/spec.ts';

/** Where an image's bytes come from: a path or the bytes. */
export type ImageSource = string | Buffer | Uint8Array;

/** The outcome of decoding a batch: the input positions that decoded (in order, one tensor slot each) and the ones that did not, with why. */
export interface BatchDecode {
  ok: number[];
  skipped: { index: number; reason: string }[];
  /** `--crop face`: input positions where no face was found (embedded from the whole image). */
  noFace?: number[];
}

/** Human-readable reason from a sharp/IO error. */
export function decodeError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code) return fsReason(e);
  const msg = (e as Error)?.message ?? String(e);
  if (/ENOENT|Input file is missing/.test(msg)) return 'file not found';
  if (/EISDIR/.test(msg)) return 'is a folder';
  if (/EACCES|permission denied/i.test(msg)) return 'permission denied';
  if (/^image too large/.test(msg)) return msg.split('\n')[0];
  if (/pixel limit/i.test(msg)) return `image too large (${msg.split('\n')[0]})`;
  if (/unsupported image format/i.test(msg)) return 'not an image (unrecognised content)';
  if (/premature end|truncated|corrupt|read error|incorrect header check|invalid|bad (huffman|seek)/i.test(msg)) return `truncated or corrupt image (${msg.split('\n')[0]})`;
  return msg.split('\n')[0];
}

type Decoder = (input: string | Buffer, spec: ModelSpec) => Promise<{ data: Buffer; width: number; height: number; face?: boolean }>;

// The face detector (and ONNX Runtime with it) loads in a decode worker only when a spec asks for faces.
const decodeFace: Decoder = async (input, spec) => (await import('../models/face-crop.ts')).decodeFace(input, spec);

const asBuffer = (b: Buffer | Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Decode one item with a precise error: missing, folder, empty, or the decoder's own message. */
export async function decodeAlone(source: ImageSource, spec: ModelSpec, decode: Decoder): ReturnType<Decoder> {
  if (typeof source === 'string') {
    // Open it first: permission denied, a symlink loop or a missing file get their own reason.
    const fh = await fs.promises.open(source, 'r');
    const st = await fh.stat().finally(() => fh.close());
    if (st.isDirectory()) throw new Error('is a folder');
    if (st.size === 0) throw new Error('empty file (0 bytes)');
    return decode(source, spec);
  }
  if (source.length === 0) throw new Error('empty file (0 bytes)');
  return decode(asBuffer(source), spec);
}

/**
 * Decode images into `tensor` (batch slots of the spec's input size): the images that decode are
 * normalised into slots 0, 1, ... in input order; `shrink` selects shrink-on-load decoding; a spec
 * with a face framing cuts the aligned face (src/models/face-crop.ts) and lists the images without one.
 */
export async function decodeBatchInto(sources: readonly ImageSource[], spec: ModelSpec, tensor: Float32Array, shrink: boolean): Promise<BatchDecode> {
  const decode: Decoder = spec.face ? decodeFace : shrink ? decodeRgbShrunk : decodeRgb;
  // Files are read here and decoded from memory: libvips reading a path costs ~0.4 ms more CPU per small JPEG.
  const results: PromiseSettledResult<Awaited<ReturnType<Decoder>>>[] = await Promise.allSettled(
    sources.map(async (s) => decode(typeof s === 'string' ? await fs.promises.readFile(s) : asBuffer(s), spec)),
  );
  // libvips keeps one error buffer for all threads, so concurrent failures can swap messages:
  // decode each failed item again on its own to get its true reason.
  for (let i = 0; i < sources.length; i++) {
    if (results[i].status === 'fulfilled') continue;
    results[i] = await decodeAlone(sources[i], spec, decode).then(
      (value) => ({ status: 'fulfilled', value }) as const,
      (reason) => ({ status: 'rejected', reason }) as const,
    );
  }
  const out: BatchDecode = spec.face ? { ok: [], skipped: [], noFace: [] } : { ok: [], skipped: [] };
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      normalizeInto(r.value.data, spec, tensor, out.ok.length);
      out.ok.push(i);
      if (r.value.face === false) out.noFace!.push(i);
    } else out.skipped.push({ index: i, reason: decodeError(r.reason) });
  });
  return out;
}
