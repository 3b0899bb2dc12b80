/**
 * The one embedding pipeline: decode + preprocess (sharp) -> batch -> backbone -> pool ->
 * optional tuned head -> L2 normalise; with views (spec.views: scales, flip) each view is
 * embedded alone and the mean of their unit descriptors goes on to the head (runViews).
 * Decoding runs a bounded number of batches ahead of
 * inference (embedBatches); undecodable files are reported and skipped.
 *
 * How the two stages share the cores (the rule, docs/models.md "Where the time goes"): the
 * model's session gets every core (ORT's default intra-op threads, or LOOKALIKE_THREADS) with
 * spinning off, and decoding runs at the same time in decode workers (one per core,
 * src/embed/decode-pool.ts; sharp's threads under them). Neither stage holds a core it is not
 * using, so whichever has work takes the idle core: the split of CPU follows what each stage
 * needs per image, without a fixed thread count per stage.
 */
import { config } from '../util/config.ts';
import { decodeAlone, decodeBatchInto, decodeError } from './decode-batch.ts';
import { assertInputFits, decodeRgb, normalizeInto, variableSize } from '../models/preprocess.ts';
import { decodeRgbShrunk } from '../models/shrink-decode.ts';
import { decodePool, type DecodePool } from './decode-pool.ts';
import type { Backbone } from '../models/backbone.ts';
import { inputChannels, inputSize, type ModelSpec } from '../models/spec.ts';
import { l2normalize, pool } from '../models/pool.ts';
import type { Head } from '../models/head.ts';
import { flipImages, scaleSpec, viewCount, type ViewSet } from '../models/views.ts';

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
  /** `--crop face`: ids embedded from the whole image because no face was found in them. */
  noFace?: string[];
}

/** Options for embedWithBackbone and embedBatches. */
export interface EmbedOptions {
  batchSize?: number;
  head?: Head;
  /** Called after each batch with the number of items processed (embedded or skipped). */
  onProgress?: (n: number) => void;
  /** Called for each skipped file as soon as it is found. */
  onSkip?: (s: Skipped) => void;
  /** `--crop face`: called for each image with no face (embedded from the whole image). */
  onNoFace?: (id: string) => void;
  /** Stop between batches (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Batches decoded ahead of the one being inferred (default PREFETCH_BATCHES); bounds decoded memory. */
  prefetch?: number;
  /** Decode large JPEGs at a reduced DCT scale (models/shrink-decode.ts; default config.shrinkOnLoad). */
  shrinkOnLoad?: boolean;
  /** Decode workers (src/embed/decode-pool.ts); 0 decodes on this thread. Default: config.decodeConcurrency when there is more than one batch, else 0. */
  decodeWorkers?: number;
}

/**
 * Batches decoded ahead of inference by default. Two keep the model fed when one batch's decode
 * finishes late (a large JPEG) while holding at most 3 batch tensors (~19 MB at 32 x 224 x 224 x 3).
 */
export const PREFETCH_BATCHES = 2;

/** One embedded batch: the rows of the items that decoded (input order), the skipped ones, and how many items it covered. */
export interface EmbeddedBatch {
  ids: string[];
  /** Row-major ids.length x dim, L2-normalised; owned by the caller. */
  vectors: Float32Array;
  dim: number;
  skipped: Skipped[];
  /** `--crop face`: ids of this batch embedded from the whole image because no face was found. */
  noFace?: string[];
  /** Items of the input this batch covered (embedded + skipped). */
  processed: number;
}

/** Images of one tensor size, ready for one backbone call; `rows` are their positions in `ok` (-1: dropped, see decodeViews). */
interface SizeGroup {
  size: { height: number; width: number };
  pixels: Float32Array;
  rows: number[];
}

interface Decoded {
  items: EmbedItem[];
  /** The tensor buffer of a fixed-size batch (back to the pool after inference). */
  buffer?: ArrayBuffer;
  /** One group for fixed-size specs; one per distinct size when each image keeps its aspect ratio. */
  groups: SizeGroup[];
  ok: EmbedItem[];
  skipped: Skipped[];
  noFace?: string[];
}

export { decodeError };

/**
 * Decode a batch straight into `buffer` (a tensor of batchSize slots), in a decode worker (the
 * buffer travels there and back by transfer) or on this thread: each image is normalised into the
 * next free slot, so the batch reaches the model without a copy.
 */
async function decodeBatch(items: EmbedItem[], spec: ModelSpec, buffer: ArrayBuffer, shrink: boolean, pool: DecodePool | undefined): Promise<Decoded> {
  const sources = items.map((i) => i.source);
  const r = pool ? await pool.decode(sources, spec, shrink, buffer) : { buffer, ...(await decodeBatchInto(sources, spec, new Float32Array(buffer), shrink)) };
  const { height, width } = inputSize(spec);
  const pixels = new Float32Array(r.buffer, 0, r.ok.length * inputChannels(spec) * height * width);
  const ok = r.ok.map((i) => items[i]);
  const skipped = r.skipped.map((x) => ({ id: items[x.index].id, reason: x.reason }));
  const noFace = r.noFace?.map((i) => items[i].id);
  return { items, buffer: r.buffer, groups: [{ size: { height, width }, pixels, rows: ok.map((_, i) => i) }], ok, skipped, ...(noFace ? { noFace } : {}) };
}

/**
 * A batch of a variable-size spec (each image keeps its aspect ratio): decoded on this thread and
 * grouped by tensor size, one backbone call per group.
 */
async function decodeVariable(items: EmbedItem[], spec: ModelSpec, shrink: boolean): Promise<Decoded> {
  const decode = shrink ? decodeRgbShrunk : decodeRgb;
  const results = await Promise.allSettled(items.map((it) => decode(it.source, spec)));
  const ok: EmbedItem[] = [];
  const skipped: Skipped[] = [];
  const decoded: { data: Buffer; width: number; height: number }[] = [];
  for (let i = 0; i < items.length; i++) {
    // libvips keeps one error buffer for all threads: a failure is decoded again alone for its true reason.
    const r = results[i].status === 'fulfilled' ? results[i] : await decodeAlone(items[i].source, spec, decode).then((value) => ({ status: 'fulfilled' as const, value }), (reason) => ({ status: 'rejected' as const, reason }));
    if (r.status === 'fulfilled') {
      decoded.push(r.value);
      ok.push(items[i]);
    } else skipped.push({ id: items[i].id, reason: decodeError(r.reason) });
  }
  const channels = inputChannels(spec);
  const bySize = new Map<string, number[]>();
  decoded.forEach((d, i) => {
    const key = `${d.height}x${d.width}`;
    bySize.set(key, [...(bySize.get(key) ?? []), i]);
  });
  const groups = [...bySize.values()].map((rows) => {
    const size = { height: decoded[rows[0]].height, width: decoded[rows[0]].width };
    const pixels = new Float32Array(rows.length * channels * size.height * size.width);
    rows.forEach((r, slot) => normalizeInto(decoded[r].data, spec, pixels, slot, size));
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

/**
 * A batch with several views per image (`spec.views`): every scale decoded from the source with
 * that scale's spec (in parallel; in decode workers when the size is fixed), groups of all scales
 * together. An image is kept only if it decodes at every scale; the flipped views are made from
 * these tensors at inference (runViews), so decoded memory is one tensor per scale.
 */
async function decodeViews(items: EmbedItem[], specs: ModelSpec[], shrink: boolean, pool: DecodePool | undefined): Promise<Decoded> {
  // Own copies, so an item object given twice is still two rows.
  const own = items.map((i) => ({ ...i }));
  const all = await Promise.all(specs.map((spec) => (variableSize(spec) ? decodeVariable(own, spec, shrink) : decodeBatch(own, spec, new ArrayBuffer(own.length * slotSize(spec) * 4), shrink, pool))));
  const decodedAll = own.filter((i) => all.every((d) => d.ok.includes(i)));
  const at = new Map(decodedAll.map((i, r) => [i, r]));
  const groups = all.flatMap((d) => d.groups.map((g) => ({ ...g, rows: g.rows.map((r) => at.get(d.ok[r]) ?? -1) })));
  const skipped = own.flatMap((i) => (at.has(i) ? [] : [all.flatMap((d) => d.skipped).find((x) => x.id === i.id)!]));
  // Every scale detects the same faces: the first scale's list speaks for the image.
  const kept = new Set(decodedAll.map((i) => i.id));
  const noFace = all[0].noFace?.filter((id) => kept.has(id));
  return { items, groups, ok: decodedAll.map((i) => items[own.indexOf(i)]), skipped, ...(noFace ? { noFace } : {}) };
}

/**
 * Every view of a batch through the backbone: each view's pooled descriptor L2-normalised, the
 * mean over an image's views L2-normalised again, then the head (as for one view). Rows in `ok` order.
 */
async function runViews(backbone: Backbone, cur: Decoded, views: ViewSet, head: Head | undefined): Promise<{ data: Float32Array; dim: number }> {
  const spec = backbone.spec;
  let sum: Float32Array | undefined;
  let dim = 0;
  const add = (pooled: { data: Float32Array; dim: number }, rows: number[]) => {
    dim = pooled.dim;
    sum ??= new Float32Array(cur.ok.length * dim);
    const unit = l2normalize(pooled.data.slice(0, rows.length * dim), dim);
    rows.forEach((r, j) => {
      if (r < 0) return;
      for (let k = 0; k < dim; k++) sum![r * dim + k] += unit[j * dim + k];
    });
  };
  for (const g of cur.groups) {
    const n = g.rows.length;
    add(pool(await backbone.run(g.pixels, n, g.size), spec), g.rows);
    if (views.flip) add(pool(await backbone.run(flipImages(g.pixels, n, g.size, inputChannels(spec), spec.layout), n, g.size), spec), g.rows);
  }
  const count = viewCount(views);
  const mean = l2normalize(sum!.map((x) => x / count), dim);
  return head ? head.apply(mean, cur.ok.length, dim) : { data: mean, dim };
}

function slotSize(spec: ModelSpec): number {
  const { height, width } = inputSize(spec);
  return inputChannels(spec) * height * width;
}

/**
 * The embedding job, batch by batch, as a stream: decoding runs up to `prefetch` batches ahead
 * of inference (in decode workers when there is more than one batch, while the model runs on
 * this thread and its own), into a fixed pool of prefetch + 1 batch tensors reused for the whole
 * stream and handed between the threads by transfer, so memory does not grow with the number of
 * items and no batch is copied. Undecodable files are reported and skipped.
 * Breaking out of the loop stops decoding after the batches already started.
 */
export async function* embedBatches(backbone: Backbone, items: readonly EmbedItem[], opts: EmbedOptions = {}): AsyncGenerator<EmbeddedBatch> {
  const bs = Math.max(1, opts.batchSize ?? config.batchSize);
  const ahead = Math.max(1, opts.prefetch ?? PREFETCH_BATCHES);
  const count = Math.ceil(items.length / bs);
  assertInputFits(backbone.spec, backbone.inputs, backbone.name);
  const variable = variableSize(backbone.spec);
  const size = variable ? 0 : slotSize(backbone.spec);
  const views = backbone.spec.views;
  const viewSpecs = views?.scales.map((s) => scaleSpec(backbone.spec, s));
  const shrink = opts.shrinkOnLoad ?? config.shrinkOnLoad;
  // Workers pay off from the second batch on; one batch (a query, an upload) decodes here.
  const workers = variable ? 0 : (opts.decodeWorkers ?? (count > 1 ? config.decodeConcurrency : 0));
  const decoders = workers > 0 ? decodePool(workers) : undefined;
  const free: ArrayBuffer[] = [];
  const queue: Promise<Decoded>[] = [];
  let started = 0;
  const fill = () => {
    while (started < count && queue.length < ahead) {
      const batch = items.slice(started * bs, (started + 1) * bs);
      if (viewSpecs) queue.push(decodeViews(batch, viewSpecs, shrink, decoders));
      else if (variable) queue.push(decodeVariable(batch, backbone.spec, shrink));
      else queue.push(decodeBatch(batch, backbone.spec, free.pop() ?? new ArrayBuffer(bs * size * 4), shrink, decoders));
      started++;
    }
  };
  let dim = 0;
  try {
    fill();
    while (queue.length) {
      const cur = await queue.shift()!;
      opts.signal?.throwIfAborted();
      // Keep `ahead` batches decoding while this one runs.
      fill();
      for (const s of cur.skipped) opts.onSkip?.(s);
      for (const id of cur.noFace ?? []) opts.onNoFace?.(id);
      let vectors: Float32Array = new Float32Array(0);
      if (cur.ok.length) {
        const pooled = views ? await runViews(backbone, cur, views, opts.head) : await runGroups(backbone, cur, opts.head);
        if (dim && pooled.dim !== dim) throw new Error(`embedding size changed from ${dim} to ${pooled.dim}`);
        dim = pooled.dim;
        vectors = l2normalize(Float32Array.from(pooled.data.subarray(0, cur.ok.length * dim)), dim);
      }
      // The model is done with the pixels: the tensor goes back for a later batch.
      if (cur.buffer) free.push(cur.buffer);
      opts.onProgress?.(cur.items.length);
      yield { ids: cur.ok.map((i) => i.id), vectors, dim, skipped: cur.skipped, ...(cur.noFace ? { noFace: cur.noFace } : {}), processed: cur.items.length };
    }
  } finally {
    // Stopped early (break, abort, error): let the batches in flight settle quietly.
    for (const p of queue) p.catch(() => undefined);
  }
}

/** Embed items through a backbone (and head), batch by batch, skipping undecodable files. */
export async function embedWithBackbone(backbone: Backbone, items: EmbedItem[], opts: EmbedOptions = {}): Promise<EmbedResult> {
  const ids: string[] = [];
  const chunks: Float32Array[] = [];
  const skipped: Skipped[] = [];
  let noFace: string[] | undefined;
  let dim = 0;
  for await (const b of embedBatches(backbone, items, opts)) {
    skipped.push(...b.skipped);
    if (b.noFace) (noFace ??= []).push(...b.noFace);
    if (!b.ids.length) continue;
    dim = b.dim;
    ids.push(...b.ids);
    chunks.push(b.vectors);
  }
  const vectors = new Float32Array(ids.length * dim);
  let o = 0;
  for (const c of chunks) {
    vectors.set(c, o);
    o += c.length;
  }
  return { ids, vectors, dim, skipped, ...(noFace ? { noFace } : {}) };
}
