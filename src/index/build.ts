/**
 * Build or update an index from a folder: hash every image, embed only new or changed
 * files (by content), drop deleted ones, write atomically.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listFolder, listingSkips } from '../data/images.ts';
import type { Backbone } from '../models/backbone.ts';
import { decodeError, embedImages, type EmbedItem, type Skipped } from '../embed/pipeline.ts';
import type { Head } from '../embed/head.ts';
import { hashFile } from '../util/hash.ts';
import { assertSameEmbedding, isIndexDir, loadIndex, saveIndex, type FileRecord, type Manifest } from './store.ts';

/** Options for buildIndex. */
export interface BuildOptions {
  folder: string;
  out: string;
  backbone: Backbone;
  head?: Head;
  /** Ignore an existing index and embed everything. */
  rebuild?: boolean;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  onSkip?: (s: Skipped) => void;
  /** --strict: any skipped file is an error raised before the index is written (the old one stays as it was). */
  strict?: boolean;
  /** Stop before writing anything; the previous index stays as it was. */
  signal?: AbortSignal;
}

/** What an index run changed. */
export interface BuildReport {
  out: string;
  total: number;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: number;
  skipped: Skipped[];
  dim: number;
}

async function hashAll(folder: string, ids: string[], onError: (s: Skipped) => void): Promise<Map<string, FileRecord>> {
  const out = new Map<string, FileRecord>();
  const width = 16;
  for (let i = 0; i < ids.length; i += width) {
    const part = ids.slice(i, i + width);
    const res = await Promise.allSettled(part.map(async (id) => {
      const file = path.join(folder, id);
      const size = fs.statSync(file).size;
      return { sha256: await hashFile(file), size };
    }));
    res.forEach((r, j) => (r.status === 'fulfilled' ? out.set(part[j], r.value) : onError({ id: part[j], reason: decodeError(r.reason) })));
  }
  return out;
}

/** Index a folder into `out`, incrementally when `out` already holds an index of the same model. */
export async function buildIndex(opts: BuildOptions): Promise<BuildReport> {
  const { folder, out, backbone, head } = opts;
  const listing = listFolder(folder);
  const skipped: Skipped[] = [];
  const skip = (s: Skipped) => {
    skipped.push(s);
    opts.onSkip?.(s);
  };
  for (const s of listingSkips(listing)) skip(s);
  const records = await hashAll(folder, listing.images, skip);
  const manifestNow: Pick<Manifest, 'model' | 'head'> = {
    model: { name: backbone.name, fingerprint: backbone.fingerprint, spec: backbone.spec },
    head: head ? { file: path.resolve(head.file), fingerprint: head.fingerprint } : undefined,
  };
  const prev = !opts.rebuild && isIndexDir(out) ? loadIndex(out) : undefined;
  if (prev) assertSameEmbedding(prev.manifest, manifestNow, out);
  const prevRow = new Map(prev?.ids.map((id, i) => [id, i]));
  const ids = listing.images.filter((id) => records.has(id));
  const added: string[] = [];
  const changed: string[] = [];
  const todo: EmbedItem[] = [];
  for (const id of ids) {
    const old = prev?.files[id];
    if (!prevRow.has(id)) added.push(id);
    else if (!old || old.sha256 !== records.get(id)!.sha256) changed.push(id);
    else continue;
    todo.push({ id, source: path.join(folder, id) });
  }
  const keep = new Set(ids);
  const removed = prev ? prev.ids.filter((id) => !keep.has(id)) : [];
  let done = 0;
  const fresh = await embedImages(backbone, todo, {
    batchSize: opts.batchSize,
    head,
    onSkip: skip,
    onProgress: (n) => opts.onProgress?.((done += n), todo.length),
    signal: opts.signal,
  });
  opts.signal?.throwIfAborted();
  const dim = fresh.ids.length ? fresh.dim : (prev?.dim ?? 0);
  if (prev && fresh.ids.length && prev.dim !== fresh.dim && prev.ids.length) throw new Error(`${out}: index has ${prev.dim}-d embeddings, model gives ${fresh.dim}-d`);
  const freshRow = new Map(fresh.ids.map((id, i) => [id, i]));
  const todoIds = new Set(todo.map((t) => t.id));
  const finalIds: string[] = [];
  const rows: Float32Array[] = [];
  const files: Record<string, FileRecord> = {};
  for (const id of ids) {
    const f = freshRow.get(id);
    const p = prevRow.get(id);
    let row: Float32Array | undefined;
    if (f !== undefined) row = fresh.vectors.subarray(f * dim, (f + 1) * dim);
    else if (p !== undefined && !todoIds.has(id)) row = prev!.vectors.subarray(p * dim, (p + 1) * dim);
    if (!row) continue; // changed but failed to decode now: dropped, reported in skipped
    finalIds.push(id);
    rows.push(row);
    files[id] = records.get(id)!;
  }
  const vectors = new Float32Array(finalIds.length * dim);
  rows.forEach((r, i) => vectors.set(r, i * dim));
  const now = new Date().toISOString();
  const manifest: Manifest = {
    format: 'lookalike-index',
    version: 1,
    ...manifestNow,
    dim,
    count: finalIds.length,
    root: path.resolve(folder),
    created: prev?.manifest.created ?? now,
    updated: now,
  };
  if (!manifest.head) delete manifest.head;
  if (opts.strict && skipped.length) throw new Error(`--strict: ${skipped.length} file(s) skipped; ${out} was not written`);
  saveIndex(out, { manifest, ids: finalIds, vectors, dim, files });
  const failed = new Set(skipped.map((s) => s.id));
  return {
    out,
    total: finalIds.length,
    added: added.filter((id) => !failed.has(id)),
    changed: changed.filter((id) => !failed.has(id)),
    removed,
    unchanged: ids.length - added.length - changed.length,
    skipped,
    dim,
  };
}
