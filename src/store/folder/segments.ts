/**
 * Segments: `seg-NNNNNN.npy` (float32 rows x dim, plain NumPy) plus `seg-NNNNNN.json`
 * ({ids, files, labels?, domains?, fields?}, row order). Written once (new names, fsync), never changed;
 * read in row ranges into caller buffers, so nothing loads a whole matrix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FileRecord } from '../types.ts';
import type { Fields } from '../../data/field-types.ts';
import { npyHeader, parseNpyHeader } from '../../util/npy.ts';
import { crashPoint } from '../../util/atomic.ts';
import { segJson, segNpy } from './names.ts';
import type { FileRef, SegmentRef } from './manifest.ts';

/** A segment opened for reading: its rows stay on disk behind an open file descriptor. */
export interface Segment {
  gen: number;
  rows: number;
  file: string;
  fd: number;
  /** Byte offset of row 0. */
  offset: number;
  ids: string[];
  files: (FileRecord | null)[];
  labels?: (string | null)[];
  domains?: (string | null)[];
  fields?: (Fields | null)[];
  /** 1 = live row, 0 = removed by a tombstone or replaced by a newer segment. */
  live: Uint8Array;
}

/** Contents of a segment sidecar. */
export interface Sidecar {
  ids: string[];
  files: (FileRecord | null)[];
  labels?: (string | null)[];
  domains?: (string | null)[];
  /** Item fields (docs/filters.md), covered by the sidecar's checksum like everything else in it. */
  fields?: (Fields | null)[];
}

/** Streams one new segment to disk, hashing as it goes. */
export class SegmentWriter {
  private fd: number;
  private hash = createHash('sha256');
  private bytes = 0;
  private written = 0;
  readonly npyFile: string;

  constructor(private dir: string, readonly gen: number, readonly rows: number, readonly dim: number) {
    this.npyFile = path.join(dir, segNpy(gen));
    this.fd = fs.openSync(this.npyFile, 'wx');
    this.put(npyHeader(rows, dim));
  }

  private put(b: Uint8Array): void {
    let off = 0;
    while (off < b.length) off += fs.writeSync(this.fd, b, off, b.length - off);
    this.hash.update(b);
    this.bytes += b.length;
  }

  /** Append rows (row-major, a multiple of dim floats). */
  append(vectors: Float32Array): void {
    this.put(new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
    this.written += vectors.length / this.dim;
  }

  /** fsync both files and return the manifest entry. */
  finish(side: Sidecar): SegmentRef {
    if (this.written !== this.rows || side.ids.length !== this.rows) throw new Error(`${this.npyFile}: wrote ${this.written} rows and ${side.ids.length} ids, expected ${this.rows}`);
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    const npy: FileRef = { file: segNpy(this.gen), bytes: this.bytes, sha256: this.hash.digest('hex') };
    const ids = writeJsonNew(path.join(this.dir, segJson(this.gen)), side);
    crashPoint('store:segment');
    return { gen: this.gen, rows: this.rows, npy, ids };
  }

  /** Give up: close and remove what was written. */
  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      // already closed
    }
    fs.rmSync(this.npyFile, { force: true });
    fs.rmSync(path.join(this.dir, segJson(this.gen)), { force: true });
  }
}

/** Write a new JSON file (fsync) and return its reference. */
export function writeJsonNew(file: string, value: unknown): FileRef {
  const buf = Buffer.from(JSON.stringify(value));
  const fd = fs.openSync(file, 'wx');
  try {
    let off = 0;
    while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { file: path.basename(file), bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex') };
}

/** Read a referenced JSON file, checking its size and checksum first; errors name the file. */
export function readCheckedJson(dir: string, ref: FileRef): unknown {
  const file = path.join(dir, ref.file);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (the manifest lists it)' : (e as Error).message}`);
  }
  if (buf.length !== ref.bytes) throw new Error(`${file}: ${buf.length} bytes, the manifest says ${ref.bytes} (truncated or changed)`);
  const sum = createHash('sha256').update(buf).digest('hex');
  if (sum !== ref.sha256) throw new Error(`${file}: checksum mismatch (sha256 ${sum.slice(0, 12)}, manifest ${ref.sha256.slice(0, 12)}): the file is corrupt`);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Check an ids array: non-empty strings, unique; errors name the file and the item. */
export function checkIds(ids: unknown, rows: number, file: string): string[] {
  if (!Array.isArray(ids)) throw new Error(`${file}: expected an array of ids`);
  if (ids.length !== rows) throw new Error(`${file}: ${ids.length} ids for ${rows} rows`);
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (typeof id !== 'string' || id === '') throw new Error(`${file}: item ${i} is ${JSON.stringify(id)}, not a non-empty string id`);
    if (seen.has(id)) throw new Error(`${file}: item ${i}: duplicate id "${id}"`);
    seen.add(id);
  });
  return ids as string[];
}

/** Open a .npy file for row reads after checking its size and header against what is expected. */
export function openNpy(file: string, rows: number, dim: number, bytes?: number): { fd: number; offset: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (the manifest lists it)' : (e as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (bytes !== undefined && size !== bytes) throw new Error(`${file}: ${size} bytes, the manifest says ${bytes} (truncated or changed)`);
    const head = Buffer.alloc(Math.min(size, 4096));
    fs.readSync(fd, head, 0, head.length, 0);
    const h = parseNpyHeader(head, file);
    if (h.rows !== rows) throw new Error(`${file}: ${h.rows} rows, expected ${rows}`);
    if (rows > 0 && h.cols !== dim) throw new Error(`${file}: ${h.cols} columns, the index is ${dim}-d`);
    if (size - h.offset !== rows * h.cols * 4) throw new Error(`${file}: ${size - h.offset} data bytes, shape (${rows}, ${h.cols}) needs ${rows * h.cols * 4} (truncated?)`);
    return { fd, offset: h.offset };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Open a v2 segment: check the npy size and header, the sidecar checksum and its ids. */
export function openSegment(dir: string, ref: SegmentRef, dim: number): Segment {
  const sideFile = path.join(dir, ref.ids.file);
  const side = readCheckedJson(dir, ref.ids) as Sidecar;
  if (!side || typeof side !== 'object') throw new Error(`${sideFile}: expected an object {ids, files}`);
  const ids = checkIds(side.ids, ref.rows, sideFile);
  const files = Array.isArray(side.files) && side.files.length === ref.rows ? side.files : ids.map(() => null);
  if (side.fields !== undefined && (!Array.isArray(side.fields) || side.fields.length !== ref.rows)) throw new Error(`${sideFile}: "fields" is not an array of ${ref.rows} entries`);
  const file = path.join(dir, ref.npy.file);
  const { fd, offset } = openNpy(file, ref.rows, dim, ref.npy.bytes);
  return { gen: ref.gen, rows: ref.rows, file, fd, offset, ids, files, labels: side.labels, domains: side.domains, fields: side.fields, live: new Uint8Array(ref.rows).fill(1) };
}

/** Read rows [row0, row0 + n) of a segment into `out` (at least n x dim floats). */
export function readRows(seg: Segment, dim: number, row0: number, n: number, out: Float32Array): void {
  const bytes = n * dim * 4;
  const view = Buffer.from(out.buffer, out.byteOffset, bytes);
  let got = 0;
  while (got < bytes) {
    const r = fs.readSync(seg.fd, view, got, bytes - got, seg.offset + row0 * dim * 4 + got);
    if (r === 0) throw new Error(`${seg.file}: unexpected end of file at row ${row0} (truncated?)`);
    got += r;
  }
}
