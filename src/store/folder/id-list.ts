/**
 * A segment's ids without a per-item object: the binary id file `seg-NNNNNN.ids` written beside
 * each segment (docs/index-format.md) holds the ids in row order, which is id order, in blocks of
 * ID_BLOCK_ROWS: each block an offsets table and a UTF-8 blob, with its own sha256, and a
 * directory of the blocks (where each lies, its checksum, its first id) at the front. Opening
 * reads the header and the directory; a lookup reads and checks the one block it needs, so a
 * search by id over a million items reads about 13 KB of ids instead of 22 MB. Ids are unique by
 * construction (the writer refuses ids that are not strictly ascending).
 * Files of the first format (`LKXIDS01`: one offsets table and blob, checked whole at open) and
 * segments written before id files (ids in the JSON sidecar: MemIds) still open.
 */
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { compareIds } from './id-order.ts';
import { openListed } from './listed.ts';
import { bufferReader, fileReader, type ByteReader } from '../../util/byte-reader.ts';

/** Magic bytes of the blocked id file, and of the first format. */
const MAGIC = 'LKXIDS02';
const MAGIC_V1 = 'LKXIDS01';
/** v1 header: magic (8), count (u32), flags (u32). */
const HEAD_V1 = 16;
/** Header: magic, count, flags, block rows, blocks, directory bytes, 0 (u32 each), the directory's checksum (16). */
const HEAD = 48;
/** Per block in the directory: f64 start, u32 bytes, u32 0, checksum (16). */
const DIR_ENTRY = 32;
/** Bytes of sha256 kept as a block's or the directory's checksum. */
const SUM = 16;
/** Flag bit: rows are in strictly ascending id order. */
const SORTED = 1;
/** Rows per block: a lookup reads one block (about 13 KB for 20-byte ids). */
export const ID_BLOCK_ROWS = 512;

/** Row -> id and id -> row of one segment. */
export interface IdList {
  readonly length: number;
  /** True when row order is strictly ascending id order. */
  readonly sorted: boolean;
  /** The id of row `row`. */
  at(row: number): string;
  /** The row of `id`, or -1. */
  find(id: string): number;
  /** Release the file of a list read in place. */
  close?(): void;
  /** Read and check every block now (a long-lived reader: its lookups then read nothing). */
  warm?(): void;
}

function sum(b: Uint8Array): Buffer {
  return createHash('sha256').update(b).digest().subarray(0, SUM);
}

/** One block (or a v1 file's whole list): an offsets table and a UTF-8 blob. */
function encodeList(parts: Buffer[]): Buffer {
  const blob = parts.reduce((a, b) => a + b.length, 0);
  const buf = Buffer.alloc(4 * (parts.length + 1) + blob);
  let off = 0;
  let at = 4 * (parts.length + 1);
  parts.forEach((p, i) => {
    buf.writeUInt32LE(off, 4 * i);
    at += p.copy(buf, at);
    off += p.length;
  });
  buf.writeUInt32LE(off, 4 * parts.length);
  return buf;
}

/** Encode ids (strictly ascending, non-empty strings) as an id file; `where` names the file in errors. */
export function encodeIds(ids: string[], where: string, blockRows = ID_BLOCK_ROWS): Buffer {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'string' || id === '') throw new Error(`${where}: item ${i} is ${JSON.stringify(id)}, not a non-empty string id`);
    if (i > 0 && compareIds(ids[i - 1], id) >= 0) throw new Error(`${where}: ids must be strictly ascending; item ${i} "${id}" follows "${ids[i - 1]}"${ids[i - 1] === id ? ' (a duplicate)' : ''}`);
  }
  const parts = ids.map((id) => Buffer.from(id, 'utf8'));
  const blocks: Buffer[] = [];
  for (let r = 0; r < ids.length; r += blockRows) blocks.push(encodeList(parts.slice(r, r + blockRows)));
  const fences = encodeList(blocks.map((_, b) => parts[b * blockRows]));
  const dir = Buffer.alloc(DIR_ENTRY * blocks.length + fences.length);
  let start = HEAD + dir.length;
  blocks.forEach((blk, b) => {
    dir.writeDoubleLE(start, DIR_ENTRY * b);
    dir.writeUInt32LE(blk.length, DIR_ENTRY * b + 8);
    sum(blk).copy(dir, DIR_ENTRY * b + 16);
    start += blk.length;
  });
  fences.copy(dir, DIR_ENTRY * blocks.length);
  if (start > 2 ** 52) throw new Error(`${where}: the ids of one segment take ${start} bytes`);
  const head = Buffer.alloc(HEAD);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(ids.length, 8);
  head.writeUInt32LE(SORTED, 12);
  head.writeUInt32LE(blockRows, 16);
  head.writeUInt32LE(blocks.length, 20);
  head.writeUInt32LE(dir.length, 24);
  sum(dir).copy(head, 32);
  return Buffer.concat([head, dir, ...blocks]);
}

/** A decoded offsets table and blob (a block, or a v1 file's whole list). */
class IdSlice {
  private offsets: Uint32Array;
  private base: number;
  constructor(
    private buf: Buffer,
    at: number,
    readonly rows: number,
    file: string,
  ) {
    const tableEnd = at + 4 * (rows + 1);
    if (buf.length < tableEnd) throw new Error(`${file}: truncated (${buf.length} bytes, the offsets table needs ${tableEnd})`);
    // A typed view needs 4-byte alignment; a pooled small buffer may not have it.
    if ((buf.byteOffset + at) % 4) this.buf = buf = Buffer.from(buf);
    this.offsets = new Uint32Array(buf.buffer, buf.byteOffset + at, rows + 1);
    this.base = tableEnd;
    if (this.base + this.offsets[rows] !== buf.length) throw new Error(`${file}: ${buf.length - at} bytes of ids, the offsets table says ${this.base + this.offsets[rows] - at}`);
  }

  at(row: number): string {
    return this.buf.toString('utf8', this.base + this.offsets[row], this.base + this.offsets[row + 1]);
  }

  find(id: string): number {
    let lo = 0;
    let hi = this.rows - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareIds(this.at(mid), id);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/**
 * The ids of an id file of either format, from its bytes in memory (`verify`, tests). The
 * caller has checked the whole file's size and sha256 against the manifest.
 */
export function decodeIds(buf: Buffer, file: string, rows: number): IdList {
  return buf.toString('latin1', 0, 8) === MAGIC_V1 ? new FileIds(buf, file, rows) : new BlockIds(bufferReader(buf), file, rows);
}

/**
 * Open the id file `file` of a segment of `rows` rows whose manifest entry says `ref`: a blocked
 * file is read in place (size checked now, the directory's and each block's checksum when
 * read); a v1 file is read whole and checked against the manifest's sha256 by `readWhole`.
 */
export function openIdFile(file: string, ref: { bytes: number }, rows: number, readWhole: () => Buffer): IdList {
  const { fd } = openListed(file, ref.bytes);
  try {
    const bytes = fileReader(file, fd, 'the file is truncated');
    if (bytes.length >= 8 && bytes.read(0, 8).toString('latin1') === MAGIC_V1) {
      fs.closeSync(fd);
      return new FileIds(readWhole(), file, rows);
    }
    return new BlockIds(bytes, file, rows);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed (a v1 file that failed its check)
    }
    throw e;
  }
}

/** The ids of a blocked id file: the directory held, blocks read and checked on first use and kept. */
export class BlockIds implements IdList {
  readonly length: number;
  readonly sorted = true;
  private blockRows: number;
  private starts: number[] = [];
  private sizes: number[] = [];
  private sums: Buffer[] = [];
  private fences: string[] = [];
  private cache = new Map<number, IdSlice>();

  constructor(
    private bytes: ByteReader,
    private file: string,
    rows: number,
  ) {
    if (bytes.length < HEAD) throw new Error(`${file}: truncated (${bytes.length} bytes, the header needs ${HEAD})`);
    const h = bytes.read(0, HEAD);
    if (h.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${file}: not a lookalike id file (bad magic)`);
    this.length = h.readUInt32LE(8);
    if (this.length !== rows) throw new Error(`${file}: ${this.length} ids for ${rows} rows`);
    if (!(h.readUInt32LE(12) & SORTED)) throw new Error(`${file}: ids are not marked sorted (written by a newer lookalike?)`);
    this.blockRows = h.readUInt32LE(16);
    const blocks = h.readUInt32LE(20);
    const dirBytes = h.readUInt32LE(24);
    if (!this.blockRows || blocks !== Math.ceil(rows / this.blockRows) || HEAD + dirBytes > bytes.length) throw new Error(`${file}: header does not describe ${rows} ids (damaged)`);
    const dir = bytes.read(HEAD, dirBytes);
    if (!sum(dir).equals(h.subarray(32, 32 + SUM))) throw new Error(`${file}: checksum mismatch in the block directory: the file is corrupt`);
    let end = HEAD + dirBytes;
    for (let b = 0; b < blocks; b++) {
      const at = DIR_ENTRY * b;
      this.starts.push(dir.readDoubleLE(at));
      this.sizes.push(dir.readUInt32LE(at + 8));
      this.sums.push(dir.subarray(at + 16, at + 16 + SUM));
      if (this.starts[b] !== end) throw new Error(`${file}: block ${b} starts at ${this.starts[b]}, expected ${end} (damaged)`);
      end += this.sizes[b];
    }
    if (end !== bytes.length) throw new Error(`${file}: ${bytes.length} bytes, its blocks end at ${end} (damaged)`);
    const fences = new IdSlice(dir.subarray(DIR_ENTRY * blocks), 0, blocks, file);
    for (let b = 0; b < blocks; b++) this.fences.push(fences.at(b));
  }

  at(row: number): string {
    const b = Math.floor(row / this.blockRows);
    return this.block(b).at(row - b * this.blockRows);
  }

  find(id: string): number {
    // The last block whose first id is <= id.
    let lo = 0;
    let hi = this.fences.length - 1;
    let b = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compareIds(this.fences[mid], id) <= 0) (b = mid), (lo = mid + 1);
      else hi = mid - 1;
    }
    if (b < 0) return -1;
    const r = this.block(b).find(id);
    return r < 0 ? -1 : b * this.blockRows + r;
  }

  close(): void {
    this.bytes.close();
  }

  warm(): void {
    if (this.cache.size === this.starts.length || !this.starts.length) return;
    // One read of every block (22 MB at 1M ids) instead of one per block.
    const from = this.starts[0];
    const all = this.bytes.read(from, this.bytes.length - from);
    for (let b = 0; b < this.starts.length; b++) this.block(b, all.subarray(this.starts[b] - from, this.starts[b] - from + this.sizes[b]));
  }

  /** Block `b`, read (unless given) and checked on first use. */
  private block(b: number, bytes?: Buffer): IdSlice {
    let s = this.cache.get(b);
    if (s) return s;
    const buf = bytes ?? this.bytes.read(this.starts[b], this.sizes[b]);
    if (!sum(buf).equals(this.sums[b])) throw new Error(`${this.file}: checksum mismatch in block ${b} (rows ${b * this.blockRows}-${Math.min(this.length, (b + 1) * this.blockRows) - 1}): the file is corrupt`);
    s = new IdSlice(buf, 0, Math.min(this.blockRows, this.length - b * this.blockRows), this.file);
    // Kept for the life of the reader: at most the file's size, what a first-format file holds whole.
    this.cache.set(b, s);
    return s;
  }
}

/** The ids of a first-format (`LKXIDS01`) id file, read whole and checksummed by the caller. */
export class FileIds implements IdList {
  readonly length: number;
  readonly sorted = true;
  private list: IdSlice;

  constructor(buf: Buffer, file: string, rows: number) {
    if (buf.length < HEAD_V1 || buf.toString('latin1', 0, 8) !== MAGIC_V1) throw new Error(`${file}: not a lookalike id file (bad magic)`);
    this.length = buf.readUInt32LE(8);
    if (this.length !== rows) throw new Error(`${file}: ${this.length} ids for ${rows} rows`);
    if (!(buf.readUInt32LE(12) & SORTED)) throw new Error(`${file}: ids are not marked sorted (written by a newer lookalike?)`);
    this.list = new IdSlice(buf, HEAD_V1, rows, file);
  }

  at(row: number): string {
    return this.list.at(row);
  }

  find(id: string): number {
    return this.list.find(id);
  }
}

/**
 * Ids held as a string array (a sidecar of a segment written before id files, or a v1 index):
 * checked once (non-empty strings, unique); when they are not in id order, a sorted permutation
 * serves find().
 */
export class MemIds implements IdList {
  readonly length: number;
  readonly sorted: boolean;
  private order?: Uint32Array;

  constructor(
    private ids: string[],
    file: string,
    rows: number,
  ) {
    if (!Array.isArray(ids)) throw new Error(`${file}: expected an array of ids`);
    if (ids.length !== rows) throw new Error(`${file}: ${ids.length} ids for ${rows} rows`);
    this.length = rows;
    let sorted = true;
    for (let i = 0; i < rows; i++) {
      const id = ids[i];
      if (typeof id !== 'string' || id === '') throw new Error(`${file}: item ${i} is ${JSON.stringify(id)}, not a non-empty string id`);
      if (i > 0 && sorted && compareIds(ids[i - 1], id) >= 0) {
        if (ids[i - 1] === id) throw new Error(`${file}: item ${i}: duplicate id "${id}"`);
        sorted = false;
      }
    }
    this.sorted = sorted;
    if (!sorted) {
      const order = Uint32Array.from({ length: rows }, (_, i) => i).sort((a, b) => compareIds(ids[a], ids[b]));
      for (let i = 1; i < rows; i++) if (ids[order[i]] === ids[order[i - 1]]) throw new Error(`${file}: item ${order[i]}: duplicate id "${ids[order[i]]}"`);
      this.order = order;
    }
  }

  at(row: number): string {
    return this.ids[row];
  }

  find(id: string): number {
    const o = this.order;
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const row = o ? o[mid] : mid;
      const c = compareIds(this.ids[row], id);
      if (c === 0) return row;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
