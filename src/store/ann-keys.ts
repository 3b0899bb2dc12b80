/**
 * The ANN graph's key map as one binary file (`ann-<seq>-<pid>.keys`, docs/index-format.md):
 * usearch keys sorted ascending (float64, exact below 2^53), each item's vector hash, and its id
 * (an offsets table into one UTF-8 blob). A search maps the keys usearch returns to ids by binary
 * search in place, so opening a graph builds nothing per item.
 *
 *   "LKXANNK1" | u32 count | u32 0 | f64 next | f64 keys[count] | u32 hashes[count] | u32 offsets[count + 1] | blob
 */
import fs from 'node:fs';
import { bufferReader, fileReader, type ByteReader } from '../util/byte-reader.ts';

const MAGIC = 'LKXANNK1';
const HEAD = 24;
/** Lookups of a key file read in place that probe the file before its keys are read whole. */
const IN_PLACE_LOOKUPS = 1024;

/** Encode a key map (any order; sorted by key here). */
export function encodeKeys(next: number, entries: { key: number; id: string; hash: number }[]): Buffer {
  const sorted = [...entries].sort((a, b) => a.key - b.key);
  const parts = sorted.map((e) => Buffer.from(e.id, 'utf8'));
  const n = sorted.length;
  const blob = parts.reduce((a, b) => a + b.length, 0);
  if (blob > 0xffffffff) throw new Error(`ANN key map: ids take ${blob} bytes, more than 4 GiB`);
  const buf = Buffer.alloc(HEAD + 8 * n + 4 * n + 4 * (n + 1) + blob);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(n, 8);
  buf.writeDoubleLE(next, 16);
  let o = HEAD;
  for (const e of sorted) (buf.writeDoubleLE(e.key, o), (o += 8));
  for (const e of sorted) (buf.writeUInt32LE(e.hash >>> 0, o), (o += 4));
  let off = 0;
  for (let i = 0; i < n; i++) {
    buf.writeUInt32LE(off, o + 4 * i);
    off += parts[i].length;
  }
  buf.writeUInt32LE(off, o + 4 * n);
  let at = o + 4 * (n + 1);
  for (const p of parts) at += p.copy(buf, at);
  return buf;
}

/** `len` bytes at `at` as a typed array (copied when they do not start on its alignment). */
function typed<T>(bytes: ByteReader, at: number, n: number, size: number, make: (b: ArrayBuffer, o: number, n: number) => T): T {
  let b = bytes.read(at, n * size);
  if (b.byteOffset % size) b = Buffer.from(b);
  return make(b.buffer as ArrayBuffer, b.byteOffset, n);
}

/**
 * A key file: key -> id by binary search, and every entry for a graph opened to be changed.
 * Read from memory (`fromBuffer`) or in place (`fromFile`): the first IN_PLACE_LOOKUPS lookups
 * probe the file (about 20 small reads each: a one-shot search's candidates), later ones read
 * the keys and the offsets table once (12 bytes an item: 12 MB at 1M, for a call with many
 * queries); the vector hashes and the ids not asked for are never read.
 */
export class KeyTable {
  readonly count: number;
  readonly next: number;
  private bytes: ByteReader;
  private base: number;
  private keys?: Float64Array;
  private offsets?: Uint32Array;
  private probes = 0;
  private inPlace: boolean;

  private constructor(bytes: ByteReader, file: string, inPlace: boolean) {
    this.bytes = bytes;
    this.inPlace = inPlace;
    const head = bytes.length >= HEAD ? bytes.read(0, HEAD) : undefined;
    if (!head || head.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${file}: not a lookalike ANN key file (bad magic)`);
    const n = (this.count = head.readUInt32LE(8));
    this.next = head.readDoubleLE(16);
    const end = HEAD + 16 * n + 4;
    if (bytes.length < end) throw new Error(`${file}: truncated (${bytes.length} bytes for ${n} keys)`);
    this.base = end;
    const blob = bytes.read(HEAD + 16 * n, 4).readUInt32LE(0);
    if (this.base + blob !== bytes.length) throw new Error(`${file}: ${bytes.length} bytes, the offsets table says ${this.base + blob}`);
  }

  /** A key file held in memory. */
  static fromBuffer(buf: Buffer, file: string): KeyTable {
    return new KeyTable(bufferReader(buf), file, false);
  }

  /** A key file read in place (close() releases it). */
  static fromFile(file: string): KeyTable {
    const fd = fs.openSync(file, 'r');
    try {
      return new KeyTable(fileReader(file, fd, 'delete ann.json to rebuild the graph'), file, true);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Size of the key file in bytes. */
  get bytesLength(): number {
    return this.bytes.length;
  }

  /** The id of usearch key `key`, or undefined. */
  idOf(key: number): string | undefined {
    const probe = this.inPlace && !this.keys && this.probes++ < IN_PLACE_LOOKUPS;
    const k = probe ? undefined : this.tables().keys;
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = k ? k[mid] : this.bytes.read(HEAD + 8 * mid, 8).readDoubleLE(0);
      if (at === key) return this.idAt(mid);
      if (at < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  private tables(): { keys: Float64Array; offsets: Uint32Array } {
    const n = this.count;
    this.keys ??= typed(this.bytes, HEAD, n, 8, (b, o, len) => new Float64Array(b, o, len));
    this.offsets ??= typed(this.bytes, HEAD + 12 * n, n + 1, 4, (b, o, len) => new Uint32Array(b, o, len));
    return { keys: this.keys, offsets: this.offsets };
  }

  private idAt(i: number): string {
    let from: number;
    let to: number;
    if (this.offsets) (from = this.offsets[i]), (to = this.offsets[i + 1]);
    else {
      const b = this.bytes.read(HEAD + 12 * this.count + 4 * i, 8);
      (from = b.readUInt32LE(0)), (to = b.readUInt32LE(4));
    }
    return this.bytes.read(this.base + from, to - from).toString('utf8');
  }

  /** Every entry (to rebuild the maps of a graph that will be changed). */
  *entries(): IterableIterator<{ key: number; id: string; hash: number }> {
    const { keys } = this.tables();
    const hashes = typed(this.bytes, HEAD + 8 * this.count, this.count, 4, (b, o, len) => new Uint32Array(b, o, len));
    for (let i = 0; i < this.count; i++) yield { key: keys[i], id: this.idAt(i), hash: hashes[i] };
  }

  /** Release the file of a table read in place. */
  close(): void {
    this.bytes.close();
  }
}
