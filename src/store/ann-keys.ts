/**
 * The ANN graph's key map as one binary file (`ann-<seq>-<pid>.keys`, docs/index-format.md):
 * usearch keys sorted ascending (float64, exact below 2^53), each item's vector hash, and its id
 * (an offsets table into one UTF-8 blob). A search maps the keys usearch returns to ids by binary
 * search in place, so opening a graph builds nothing per item.
 *
 *   "LKXANNK1" | u32 count | u32 0 | f64 next | f64 keys[count] | u32 hashes[count] | u32 offsets[count + 1] | blob
 */
import fs from 'node:fs';

const MAGIC = 'LKXANNK1';
const HEAD = 24;

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

/** A key file's bytes: held in memory, or read in place with positioned reads. */
interface KeyBytes {
  readonly length: number;
  f64(at: number): number;
  u32(at: number): number;
  text(from: number, to: number, encoding?: BufferEncoding): string;
  close(): void;
}

function memoryBytes(buf: Buffer): KeyBytes {
  return {
    length: buf.length,
    f64: (at) => buf.readDoubleLE(at),
    u32: (at) => buf.readUInt32LE(at),
    text: (from, to, encoding = 'utf8') => buf.toString(encoding, from, to),
    close: () => {},
  };
}

function fileBytes(file: string, fd: number): KeyBytes {
  const length = fs.fstatSync(fd).size;
  const b = Buffer.alloc(8);
  const read = (at: number, n: number, into: Buffer) => {
    const got = fs.readSync(fd, into, 0, n, at);
    if (got !== n) throw new Error(`${file}: ends at byte ${at + got}, before the ${n} bytes at ${at}; delete ann.json to rebuild the graph`);
    return into;
  };
  return {
    length,
    f64: (at) => read(at, 8, b).readDoubleLE(0),
    u32: (at) => read(at, 4, b).readUInt32LE(0),
    text: (from, to, encoding = 'utf8') => read(from, to - from, Buffer.alloc(to - from)).toString(encoding),
    close: () => fs.closeSync(fd),
  };
}

/**
 * A key file: key -> id by binary search, and every entry for a graph opened to be changed.
 * Read from memory (`fromBuffer`) or in place (`fromFile`: a one-shot search reads about 20
 * keys and one id per candidate, not the 34 MB of a 1M-item file).
 */
export class KeyTable {
  readonly count: number;
  readonly next: number;
  private bytes: KeyBytes;
  private base: number;

  private constructor(bytes: KeyBytes, file: string) {
    this.bytes = bytes;
    if (bytes.length < HEAD || bytes.text(0, 8, 'latin1') !== MAGIC) throw new Error(`${file}: not a lookalike ANN key file (bad magic)`);
    const n = (this.count = bytes.u32(8));
    this.next = bytes.f64(16);
    const end = HEAD + 16 * n + 4;
    if (bytes.length < end) throw new Error(`${file}: truncated (${bytes.length} bytes for ${n} keys)`);
    this.base = end;
    const blob = bytes.u32(HEAD + 12 * n + 4 * n);
    if (this.base + blob !== bytes.length) throw new Error(`${file}: ${bytes.length} bytes, the offsets table says ${this.base + blob}`);
  }

  /** A key file held in memory. */
  static fromBuffer(buf: Buffer, file: string): KeyTable {
    return new KeyTable(memoryBytes(buf), file);
  }

  /** A key file read in place (close() releases it). */
  static fromFile(file: string): KeyTable {
    const fd = fs.openSync(file, 'r');
    try {
      return new KeyTable(fileBytes(file, fd), file);
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
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = this.bytes.f64(HEAD + 8 * mid);
      if (k === key) return this.idAt(mid);
      if (k < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  private idAt(i: number): string {
    const o = HEAD + 12 * this.count + 4 * i;
    return this.bytes.text(this.base + this.bytes.u32(o), this.base + this.bytes.u32(o + 4));
  }

  /** Every entry (to rebuild the maps of a graph that will be changed). */
  *entries(): IterableIterator<{ key: number; id: string; hash: number }> {
    for (let i = 0; i < this.count; i++) yield { key: this.bytes.f64(HEAD + 8 * i), id: this.idAt(i), hash: this.bytes.u32(HEAD + 8 * this.count + 4 * i) };
  }

  /** Release the file of a table read in place. */
  close(): void {
    this.bytes.close();
  }
}
