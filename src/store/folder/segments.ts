/**
 * Segments: `seg-NNNNNN.npy` (float32 rows x dim, plain NumPy), `seg-NNNNNN.json`
 * ({ids, files, labels?, domains?, fields?}, row order) and `seg-NNNNNN.ids` (the ids, binary). Written once (new names, fsync), never changed;
 * read in row ranges into caller buffers, so nothing loads a whole matrix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FileRecord } from '../types.ts';
import type { Fields } from '../../data/field-types.ts';
import { npyHeader, parseNpyHeader } from '../../util/npy.ts';
import { crashPoint } from '../../util/atomic.ts';
import { segIds, segJson, segNpy } from './names.ts';
import { encodeIds, MemIds, openIdFile, type IdList } from './id-list.ts';
import { openListed } from './listed.ts';
import type { FileRef, SegmentRef } from './manifest.ts';

/**
 * A segment opened for reading: its rows stay on disk behind an open file descriptor, its ids in
 * the binary id file (or, for older segments, the sidecar), and the rest of its sidecar (file
 * records, labels, domains, fields) is read and checksummed on first use.
 */
export class Segment {
  /** 1 = live row, 0 = removed by a tombstone or replaced by a newer segment. */
  live: Uint8Array;
  private side?: Sidecar;

  constructor(
    readonly gen: number,
    readonly rows: number,
    readonly file: string,
    readonly fd: number,
    /** Byte offset of row 0. */
    readonly offset: number,
    readonly ids: IdList,
    /** Reads the sidecar (checked) when a record is first asked for. */
    private readonly loadSide: () => Sidecar,
    side?: Sidecar,
  ) {
    this.live = new Uint8Array(rows).fill(1);
    this.side = side;
  }

  private records(): Sidecar {
    this.side ??= this.loadSide();
    return this.side;
  }
  /** File records per row. */
  get files(): (FileRecord | null)[] {
    return this.records().files;
  }
  /** Labels per row, when any item has one. */
  get labels(): (string | null)[] | undefined {
    return this.records().labels;
  }
  /** Domains per row, when any item has one. */
  get domains(): (string | null)[] | undefined {
    return this.records().domains;
  }
  /** Fields per row, when any item has some. */
  get fields(): (Fields | null)[] | undefined {
    return this.records().fields;
  }
  /** Close the segment's files (not the views made by withLive, which share them). */
  close(): void {
    fs.closeSync(this.fd);
    this.ids.close?.();
  }
  /** The same segment with other live rows (a filter's pre-filter bitmap); records are shared. */
  withLive(live: Uint8Array): Segment {
    return Object.assign(Object.create(this) as Segment, { live });
  }
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
    const idx = writeNew(path.join(this.dir, segIds(this.gen)), encodeIds(side.ids, path.join(this.dir, segIds(this.gen))));
    const ids = writeJsonNew(path.join(this.dir, segJson(this.gen)), side);
    crashPoint('store:segment');
    return { gen: this.gen, rows: this.rows, npy, ids, idx };
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
    fs.rmSync(path.join(this.dir, segIds(this.gen)), { force: true });
  }
}

/** Write a new JSON file (fsync) and return its reference. */
export function writeJsonNew(file: string, value: unknown): FileRef {
  return writeNew(file, Buffer.from(JSON.stringify(value)));
}

/** Write a new file (fsync; an existing name is an error) and return its reference. */
export function writeNew(file: string, buf: Buffer): FileRef {
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
  const buf = readChecked(dir, ref);
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Read a referenced file, checking its size and checksum; errors name the file. */
export function readChecked(dir: string, ref: FileRef): Buffer {
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
  return buf;
}

/** Open a .npy file for row reads after checking its size and header against what is expected. */
export function openNpy(file: string, rows: number, dim: number, bytes?: number): { fd: number; offset: number } {
  const { fd, size } = openListed(file, bytes);
  try {
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

/**
 * Open a v2 segment: check the npy size and header, and its ids: the binary id file (size now,
 * checksums block by block as they are read) when the manifest lists one, else the sidecar
 * (checksum, then every id). The rest of the
 * sidecar is read on first use.
 */
export function openSegment(dir: string, ref: SegmentRef, dim: number): Segment {
  const sideFile = path.join(dir, ref.ids.file);
  let ids: IdList;
  let side: Sidecar | undefined;
  const idx = ref.idx;
  if (idx) ids = openIdFile(path.join(dir, idx.file), idx, ref.rows, () => readChecked(dir, idx));
  else {
    side = checkSidecar(readCheckedJson(dir, ref.ids), ref.rows, sideFile);
    ids = new MemIds(side.ids, sideFile, ref.rows);
  }
  const file = path.join(dir, ref.npy.file);
  let npy: { fd: number; offset: number };
  try {
    npy = openNpy(file, ref.rows, dim, ref.npy.bytes);
  } catch (e) {
    ids.close?.();
    throw e;
  }
  const { fd, offset } = npy;
  return new Segment(ref.gen, ref.rows, file, fd, offset, ids, () => checkSidecar(readCheckedJson(dir, ref.ids), ref.rows, sideFile), side);
}

/** Check a sidecar's shape (ids are checked by their IdList); missing file records read as null. */
export function checkSidecar(side: unknown, rows: number, sideFile: string): Sidecar {
  if (!side || typeof side !== 'object' || Array.isArray(side)) throw new Error(`${sideFile}: expected an object {ids, files}`);
  const s = side as Sidecar;
  if (!Array.isArray(s.ids) || s.ids.length !== rows) throw new Error(`${sideFile}: ${Array.isArray(s.ids) ? s.ids.length : 'no'} ids for ${rows} rows`);
  if (!(Array.isArray(s.files) && s.files.length === rows)) s.files = s.ids.map(() => null);
  if (s.fields !== undefined && (!Array.isArray(s.fields) || s.fields.length !== rows)) throw new Error(`${sideFile}: "fields" is not an array of ${rows} entries`);
  return s;
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

/** Segment index and row packed in one exact float64: segment * 2^32 + row. */
export const PACK = 2 ** 32;

/** Where `id` is live among `segs`, packed (segment * PACK + row), or -1 (newest segments first; an id is live in at most one). */
export function liveLocation(segs: Segment[], id: string): number {
  for (let si = segs.length - 1; si >= 0; si--) {
    const r = segs[si].ids.find(id);
    if (r >= 0 && segs[si].live[r]) return si * PACK + r;
  }
  return -1;
}
