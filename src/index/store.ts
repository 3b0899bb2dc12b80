/**
 * The on-disk index (a folder, conventionally `NAME.lkx`), documented in docs/index-format.md:
 *   manifest.json    format, version, model fingerprint + spec, head, dim, count, root, dates
 *   embeddings.npy   float32 [count, dim], L2-normalised rows (np.load reads it)
 *   ids.json         [count] ids: paths relative to the indexed folder, POSIX separators
 *   files.json       {id: {sha256, size}} content hashes for incremental re-indexing
 * Written with writeDirAtomic: a crash mid-write leaves the previous index loadable.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ModelSpec } from '../models/spec.ts';
import { recoverDir, writeDirAtomic } from '../util/atomic.ts';
import { decodeNpy, encodeNpy } from './npy.ts';
import { readJson, readJsonObject } from '../util/json.ts';

/** Index manifest. */
export interface Manifest {
  format: 'lookalike-index';
  version: 1;
  model: { name: string; fingerprint: string; spec: ModelSpec };
  head?: { file: string; fingerprint: string };
  dim: number;
  count: number;
  /** Absolute path of the indexed folder. */
  root: string;
  created: string;
  updated: string;
}

/** Content record of one indexed file. */
export interface FileRecord {
  sha256: string;
  size: number;
}

/** A loaded index. */
export interface IndexData {
  dir: string;
  manifest: Manifest;
  ids: string[];
  /** count x dim, row-major, L2-normalised. */
  vectors: Float32Array;
  dim: number;
  files: Record<string, FileRecord>;
}

/** The embedding fingerprint: model fingerprint plus head fingerprint when a head is used. */
export function embeddingFingerprint(m: Pick<Manifest, 'model' | 'head'>): string {
  return m.head ? `${m.model.fingerprint}+head:${m.head.fingerprint}` : m.model.fingerprint;
}

/** Write an index folder atomically. */
export function saveIndex(dir: string, data: Omit<IndexData, 'dir'>): void {
  const { manifest, ids, vectors, dim, files } = data;
  if (ids.length * dim !== vectors.length) throw new Error(`index ${dir}: ${ids.length} ids but ${vectors.length / (dim || 1)} vectors`);
  if (new Set(ids).size !== ids.length) throw new Error(`index ${dir}: duplicated ids`);
  const m: Manifest = { ...manifest, dim, count: ids.length };
  writeDirAtomic(dir, {
    'embeddings.npy': encodeNpy(vectors, ids.length, dim),
    'ids.json': JSON.stringify(ids),
    'files.json': JSON.stringify(files),
    // The manifest goes last: a folder without it is never a complete index.
    'manifest.json': JSON.stringify(m, null, 2) + '\n',
  });
}

/** True if a folder looks like a lookalike index. */
export function isIndexDir(dir: string): boolean {
  const d = recoverDir(dir);
  return fs.existsSync(path.join(d, 'manifest.json'));
}

/** Load an index folder, checking that its parts agree. */
export function loadIndex(dir: string): IndexData {
  const d = recoverDir(dir);
  const mf = path.join(d, 'manifest.json');
  if (!fs.existsSync(mf)) throw new Error(`${dir}: not a lookalike index (no manifest.json)`);
  const manifest = readJsonObject(mf) as unknown as Manifest;
  if (manifest.format !== 'lookalike-index') throw new Error(`${mf}: not a lookalike index manifest`);
  if (manifest.version !== 1) throw new Error(`${mf}: index version ${manifest.version} is not supported (expected 1)`);
  const npyFile = path.join(d, 'embeddings.npy');
  const { data, rows, cols } = decodeNpy(fs.readFileSync(npyFile), npyFile);
  const idsFile = path.join(d, 'ids.json');
  const ids = readJson(idsFile) as string[];
  if (!Array.isArray(ids)) throw new Error(`${idsFile}: expected a JSON array of ids`);
  const filesPath = path.join(d, 'files.json');
  const files = fs.existsSync(filesPath) ? (readJsonObject(filesPath) as unknown as Record<string, FileRecord>) : {};
  if (rows !== ids.length || rows !== manifest.count) throw new Error(`${dir}: manifest count ${manifest.count}, ${ids.length} ids, ${rows} embedding rows`);
  if (cols !== manifest.dim && rows > 0) throw new Error(`${dir}: manifest dim ${manifest.dim}, embeddings have ${cols}`);
  return { dir: d, manifest, ids, vectors: data, dim: manifest.dim, files };
}

/** Refuse to mix embeddings from different models (or heads). */
export function assertSameEmbedding(a: Pick<Manifest, 'model' | 'head'>, b: Pick<Manifest, 'model' | 'head'>, what: string): void {
  const fa = embeddingFingerprint(a);
  const fb = embeddingFingerprint(b);
  if (fa !== fb) {
    const desc = (m: Pick<Manifest, 'model' | 'head'>) => `${m.model.name} ${m.model.fingerprint.slice(0, 12)}, head ${m.head ? `${m.head.file} ${m.head.fingerprint.slice(0, 12)}` : 'none'}`;
    throw new Error(`${what}: embeddings come from a different model or head (index: ${desc(a)}; now: ${desc(b)}); rebuild the index with --rebuild or use the same --model/--head`);
  }
}
