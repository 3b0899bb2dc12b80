/**
 * A segment's ids without a per-item object: the binary id file `seg-NNNNNN.ids` written beside
 * each segment (docs/index-format.md) holds the ids in row order, which is id order, as one UTF-8
 * blob and an offsets table. Row -> id decodes one slice; id -> row is a binary search over the
 * rows. Opening it is one read and one checksum, whatever the number of items, and ids are
 * unique by construction (the writer refuses ids that are not strictly ascending).
 * Segments written before the file existed keep their ids in the JSON sidecar (MemIds).
 */
import { compareIds } from './id-order.ts';

/** Magic bytes at the start of an id file. */
const MAGIC = 'LKXIDS01';
/** Header: magic (8), count (u32), flags (u32). */
const HEAD = 16;
/** Flag bit: rows are in strictly ascending id order. */
const SORTED = 1;

/** Row -> id and id -> row of one segment. */
export interface IdList {
  readonly length: number;
  /** True when row order is strictly ascending id order. */
  readonly sorted: boolean;
  /** The id of row `row`. */
  at(row: number): string;
  /** The row of `id`, or -1. */
  find(id: string): number;
}

/** Encode ids (strictly ascending, non-empty strings) as an id file; `where` names the file in errors. */
export function encodeIds(ids: string[], where: string): Buffer {
  const parts = ids.map((id) => Buffer.from(id, 'utf8'));
  const blob = parts.reduce((a, b) => a + b.length, 0);
  if (blob > 0xffffffff) throw new Error(`${where}: the ids of one segment take ${blob} bytes, more than 4 GiB`);
  const buf = Buffer.alloc(HEAD + 4 * (ids.length + 1) + blob);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(ids.length, 8);
  buf.writeUInt32LE(SORTED, 12);
  let off = 0;
  let at = HEAD + 4 * (ids.length + 1);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (typeof id !== 'string' || id === '') throw new Error(`${where}: item ${i} is ${JSON.stringify(id)}, not a non-empty string id`);
    if (i > 0 && compareIds(ids[i - 1], id) >= 0) throw new Error(`${where}: ids must be strictly ascending; item ${i} "${id}" follows "${ids[i - 1]}"${ids[i - 1] === id ? ' (a duplicate)' : ''}`);
    buf.writeUInt32LE(off, HEAD + 4 * i);
    parts[i].copy(buf, at);
    at += parts[i].length;
    off += parts[i].length;
  }
  buf.writeUInt32LE(off, HEAD + 4 * ids.length);
  return buf;
}

/** The ids of an id file (read and checksummed by the caller); `file` names it in errors. */
export class FileIds implements IdList {
  readonly length: number;
  readonly sorted = true;
  private offsets: Uint32Array;
  private base: number;

  constructor(
    private buf: Buffer,
    file: string,
    rows: number,
  ) {
    if (buf.length < HEAD || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${file}: not a lookalike id file (bad magic)`);
    this.length = buf.readUInt32LE(8);
    if (this.length !== rows) throw new Error(`${file}: ${this.length} ids for ${rows} rows`);
    if (!(buf.readUInt32LE(12) & SORTED)) throw new Error(`${file}: ids are not marked sorted (written by a newer lookalike?)`);
    const tableEnd = HEAD + 4 * (rows + 1);
    if (buf.length < tableEnd) throw new Error(`${file}: truncated (${buf.length} bytes, the offsets table needs ${tableEnd})`);
    // A typed view needs 4-byte alignment; a pooled small buffer may not have it.
    if ((buf.byteOffset + HEAD) % 4) this.buf = buf = Buffer.from(buf);
    this.offsets = new Uint32Array(buf.buffer, buf.byteOffset + HEAD, rows + 1);
    this.base = tableEnd;
    if (this.base + this.offsets[rows] !== buf.length) throw new Error(`${file}: ${buf.length} bytes, the offsets table says ${this.base + this.offsets[rows]}`);
  }

  at(row: number): string {
    return this.buf.toString('utf8', this.base + this.offsets[row], this.base + this.offsets[row + 1]);
  }

  find(id: string): number {
    let lo = 0;
    let hi = this.length - 1;
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
