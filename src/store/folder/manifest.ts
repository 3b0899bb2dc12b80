/**
 * The folder store's manifest (format v2): what the index holds, every segment and tombstone
 * file with its size and sha256. The manifest is the commit point: it is replaced atomically
 * (temp + fsync + rename + fsync folder), so a crash leaves the previous one or the new one.
 * v1 manifests (one embeddings.npy + ids.json + files.json) are read too.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { EmbeddingSource } from '../../models/compat.ts';
import type { StoreMeta } from '../types.ts';
import type { FieldSchema } from '../../data/field-types.ts';
import { crashPoint, fsyncDir } from '../../util/atomic.ts';
import { readJson } from '../../util/json.ts';
import { FORMAT, MANIFEST, VERSION } from './names.ts';

/** One file the manifest references, with its checksum. */
export interface FileRef {
  file: string;
  bytes: number;
  sha256: string;
}

/** One segment: a float32 .npy of `rows` x dim plus its sidecar JSON (ids, file records) and its binary id file. */
export interface SegmentRef {
  gen: number;
  rows: number;
  npy: FileRef;
  ids: FileRef;
  /** The binary id file (sorted ids, searched in place); absent in segments written before it existed. */
  idx?: FileRef;
}

/** One tombstone list: ids removed from every segment of an older generation. */
export interface TombRef extends FileRef {
  gen: number;
  count: number;
}

/** Manifest v2. */
export interface ManifestV2 extends EmbeddingSource {
  format: typeof FORMAT;
  version: 2;
  dim: number;
  count: number;
  root?: string;
  created: string;
  updated: string;
  /** Last generation written (segment and tombstone names carry it). */
  generation: number;
  segments: SegmentRef[];
  tombstones: TombRef[];
  /** Field name -> type of every field written so far (docs/filters.md). */
  fieldTypes?: FieldSchema;
  /** Set while an `index` run is still adding to this store (a resumable, unfinished build). */
  building?: { folder: string; started: string };
}

/** Manifest v1 (read only; migrated on the first write). */
export interface ManifestV1 extends EmbeddingSource {
  format: typeof FORMAT;
  version: 1;
  dim: number;
  count: number;
  root: string;
  created: string;
  updated: string;
}

/** Read and check a manifest; errors name the file. */
export function readManifest(dir: string): ManifestV1 | ManifestV2 {
  const file = path.join(dir, MANIFEST);
  const m = readJson(file) as Record<string, unknown>;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) throw new Error(`${file}: expected a JSON object`);
  if (m.format !== FORMAT) throw new Error(`${file}: not a lookalike index manifest (format ${JSON.stringify(m.format)})`);
  if (m.version !== 1 && m.version !== VERSION) throw new Error(`${file}: index version ${m.version} is not supported (expected 1 or ${VERSION}); a newer lookalike wrote it?`);
  const model = m.model as Record<string, unknown> | undefined;
  if (!model || typeof model.fingerprint !== 'string' || typeof model.name !== 'string') throw new Error(`${file}: manifest has no model name/fingerprint`);
  if (!Number.isInteger(m.dim) || (m.dim as number) < 0) throw new Error(`${file}: dim ${JSON.stringify(m.dim)} is not a non-negative integer`);
  if (!Number.isInteger(m.count) || (m.count as number) < 0) throw new Error(`${file}: count ${JSON.stringify(m.count)} is not a non-negative integer`);
  if (m.version === VERSION) {
    if (!Array.isArray(m.segments) || !Array.isArray(m.tombstones) || !Number.isInteger(m.generation)) throw new Error(`${file}: manifest v2 needs segments, tombstones and generation`);
    const refOk = (r: FileRef) => r && typeof r.file === 'string' && !r.file.includes('/') && !r.file.includes('\\') && Number.isInteger(r.bytes) && typeof r.sha256 === 'string';
    for (const s of m.segments as SegmentRef[]) {
      if (!s || !Number.isInteger(s.gen) || !Number.isInteger(s.rows) || !refOk(s.npy) || !refOk(s.ids) || (s.idx !== undefined && !refOk(s.idx))) throw new Error(`${file}: malformed segment entry ${JSON.stringify(s)}`);
    }
    for (const t of m.tombstones as TombRef[]) {
      if (!refOk(t) || !Number.isInteger(t.gen)) throw new Error(`${file}: malformed tombstone entry ${JSON.stringify(t)}`);
    }
  }
  return m as unknown as ManifestV1 | ManifestV2;
}

/** Store metadata from a manifest. */
export function metaOf(m: ManifestV1 | ManifestV2): StoreMeta {
  const meta: StoreMeta = { model: m.model, dim: m.dim, created: m.created, updated: m.updated };
  if (m.head) meta.head = m.head;
  if (m.root) meta.root = m.root;
  return meta;
}

/** Replace the manifest atomically: temp file + fsync, rename over manifest.json, fsync the folder. */
export function writeManifest(dir: string, m: ManifestV2): void {
  const file = path.join(dir, MANIFEST);
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, JSON.stringify(m, null, 1) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  crashPoint('store:manifest-tmp');
  fs.renameSync(tmp, file);
  fsyncDir(dir);
  crashPoint('store:manifest-renamed');
}
