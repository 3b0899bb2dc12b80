/**
 * The one embedding pipeline: decode + preprocess (sharp) -> batch -> backbone -> pool ->
 * optional tuned head -> L2 normalise. Decoding of the next batch overlaps inference of
 * the current one; undecodable files are reported and skipped.
 */
import fs from 'node:fs';
import { config } from '../util/config.ts';
import { assertInputFits, decodeRgb, normalizeInto, variableSize } from '../models/preprocess.ts';
import { fsReason } from '../data/images.ts';
import type { Backbone } from '../models/backbone.ts';
import { inputChannels, inputSize, type ModelSpec } from '../models/spec.ts';
import { l2normalize, pool } from '../models/pool.ts';
import type { Head } from '../models/head.ts';

/** One image to embed: an id and where its bytes come from. */
export interface EmbedItem {
  id: string;
  source: string | Buffer;
}

/** A file that could not be embedded, and why. */
export interface Skipped {
  id: string;
  reason: string;
}

/** Embeddings of the items that decoded, in input order. */
export interface EmbedResult {
  ids: string[];
  /** Row-major ids.length x dim, L2-normalised. */
  vectors: Float32Array;
  dim: number;
  skipped: Skipped[];
}

/** Options for embedWithBackbone. */
export interface EmbedOptions {
  batchSize?: number;
  head?: Head;
  /** Called after each batch with the number of items processed (embedded or skipped). */
  onProgress?: (n: number) => void;
  /** Called for each skipped file as soon as it is found. */
  onSkip?: (s: Skipped) => void;
  /** Stop between batches (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** Images of one tensor size, ready for one backbone call; `rows` are their positions in `ok`. */
interface SizeGroup {
  size: { height: number; width: number };
  pixels: Float32Array;
  rows: number[];
}

interface Decoded {
  items: EmbedItem[];
  /** One group for fixed-size specs; one per distinct size when each image keeps its aspect ratio. */
  groups: SizeGroup[];
  ok: EmbedItem[];
  skipped: Skipped[];
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

/** Decode one item with a precise error: missing, folder, empty, or the decoder's own message. */
async function decodeAlone(item: EmbedItem, spec: ModelSpec): ReturnType<typeof decodeRgb> {
  if (typeof item.source === 'string') {
    // Open it first: permission denied, a symlink loop or a missing file get their own reason.
    const fh = await fs.promises.open(item.source, 'r');
    const st = await fh.stat().finally(() => fh.close());
    if (st.isDirectory()) throw new Error('is a folder');
    if (st.size === 0) throw new Error('empty file (0 bytes)');
  } else if (item.source.length === 0) throw new Error('empty file (0 bytes)');
  return decodeRgb(item.source, spec);
}

async function decodeBatch(items: EmbedItem[], backbone: Backbone): Promise<Decoded> {
  const channels = inputChannels(backbone.spec);
  const results = await Promise.allSettled(items.map((it) => decodeRgb(it.source, backbone.spec)));
  // libvips keeps one error buffer for all threads, so concurrent failures can swap messages:
  // decode each failed item again on its own to get its true reason.
  for (let i = 0; i < items.length; i++) {
    if (results[i].status === 'fulfilled') continue;
    results[i] = await decodeAlone(items[i], backbone.spec).then(
      (value) => ({ status: 'fulfilled', value }) as const,
      (reason) => ({ status: 'rejected', reason }) as const,
    );
  }
  const ok: EmbedItem[] = [];
  const skipped: Skipped[] = [];
  const decoded: { data: Buffer; width: number; height: number }[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      decoded.push(r.value);
      ok.push(items[i]);
    } else skipped.push({ id: items[i].id, reason: decodeError(r.reason) });
  });
  // Fixed-size specs: one group. Variable-size specs (aspect ratio kept): one group per size.
  const bySize = new Map<string, number[]>();
  decoded.forEach((d, i) => {
    const key = variableSize(backbone.spec) ? `${d.height}x${d.width}` : '';
    bySize.set(key, [...(bySize.get(key) ?? []), i]);
  });
  const groups = [...bySize.values()].map((rows) => {
    const size = variableSize(backbone.spec) ? { height: decoded[rows[0]].height, width: decoded[rows[0]].width } : inputSize(backbone.spec);
    const pixels = new Float32Array(rows.length * channels * size.height * size.width);
    rows.forEach((r, slot) => normalizeInto(decoded[r].data, backbone.spec, pixels, slot, size));
    return { size, pixels, rows };
  });
  return { items, groups, ok, skipped };
}

/** Run each size group through the backbone (and head) and return the pooled rows in `ok` order. */
async function runGroups(backbone: Backbone, cur: Decoded, head: Head | undefined): Promise<{ data: Float32Array; dim: number }> {
  if (cur.groups.length === 1) {
    const g = cur.groups[0];
    const pooled = pool(await backbone.run(g.pixels, g.rows.length, g.size), backbone.spec);
    return head ? head.apply(pooled.data, g.rows.length, pooled.dim) : pooled;
  }
  let out: Float32Array | undefined;
  let dim = 0;
  for (const g of cur.groups) {
    let pooled = pool(await backbone.run(g.pixels, g.rows.length, g.size), backbone.spec);
    if (head) pooled = await head.apply(pooled.data, g.rows.length, pooled.dim);
    dim = pooled.dim;
    out ??= new Float32Array(cur.ok.length * dim);
    g.rows.forEach((r, j) => out!.set(pooled.data.subarray(j * dim, (j + 1) * dim), r * dim));
  }
  return { data: out!, dim };
}

/** Embed items through a backbone (and head), batch by batch, skipping undecodable files. */
export async function embedWithBackbone(backbone: Backbone, items: EmbedItem[], opts: EmbedOptions = {}): Promise<EmbedResult> {
  const bs = Math.max(1, opts.batchSize ?? config.batchSize);
  const batches: EmbedItem[][] = [];
  for (let i = 0; i < items.length; i += bs) batches.push(items.slice(i, i + bs));
  const ids: string[] = [];
  const chunks: Float32Array[] = [];
  const skipped: Skipped[] = [];
  let dim = 0;
  assertInputFits(backbone.spec, backbone.inputs, backbone.name);
  let next: Promise<Decoded> | undefined = batches.length ? decodeBatch(batches[0], backbone) : undefined;
  for (let b = 0; b < batches.length; b++) {
    const cur = await next!;
    opts.signal?.throwIfAborted();
    // Start decoding the next batch before running this one, so sharp and ORT overlap.
    next = b + 1 < batches.length ? decodeBatch(batches[b + 1], backbone) : undefined;
    for (const s of cur.skipped) opts.onSkip?.(s);
    skipped.push(...cur.skipped);
    if (cur.ok.length) {
      const pooled = await runGroups(backbone, cur, opts.head);
      if (dim && pooled.dim !== dim) throw new Error(`embedding size changed from ${dim} to ${pooled.dim}`);
      dim = pooled.dim;
      chunks.push(l2normalize(Float32Array.from(pooled.data), dim));
      ids.push(...cur.ok.map((i) => i.id));
    }
    opts.onProgress?.(cur.items.length);
  }
  const vectors = new Float32Array(ids.length * dim);
  let o = 0;
  for (const c of chunks) {
    vectors.set(c, o);
    o += c.length;
  }
  return { ids, vectors, dim, skipped };
}
