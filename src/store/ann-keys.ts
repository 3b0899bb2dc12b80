/**
 * The ANN graph's key map as one binary file (`ann-<seq>-<pid>.keys`, docs/index-format.md):
 * usearch keys sorted ascending (float64, exact below 2^53), each item's vector hash, and its id
 * (an offsets table into one UTF-8 blob). A search maps the keys usearch returns to ids by binary
 * search in place, so opening a graph builds nothing per item.
 *
 *   "LKXANNK1" | u32 count | u32 0 | f64 next | f64 keys[count] | u32 hashes[count] | u32 offsets[count + 1] | blob
 */

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

/** A decoded key file: key -> id by binary search, and every entry for a graph opened to be changed. */
export class KeyTable {
  readonly count: number;
  readonly next: number;
  private keys: Float64Array;
  private hashes: Uint32Array;
  private offsets: Uint32Array;
  private base: number;
  private buf: Buffer;

  constructor(buf: Buffer, file: string) {
    if (buf.length < HEAD || buf.toString('latin1', 0, 8) !== MAGIC) throw new Error(`${file}: not a lookalike ANN key file (bad magic)`);
    // Typed views need aligned offsets; copy a buffer that does not start on an 8-byte boundary.
    if (buf.byteOffset % 8) buf = Buffer.from(buf);
    this.buf = buf;
    const n = (this.count = buf.readUInt32LE(8));
    this.next = buf.readDoubleLE(16);
    const end = HEAD + 16 * n + 4;
    if (buf.length < end) throw new Error(`${file}: truncated (${buf.length} bytes for ${n} keys)`);
    this.keys = new Float64Array(buf.buffer, buf.byteOffset + HEAD, n);
    this.hashes = new Uint32Array(buf.buffer, buf.byteOffset + HEAD + 8 * n, n);
    this.offsets = new Uint32Array(buf.buffer, buf.byteOffset + HEAD + 12 * n, n + 1);
    this.base = end;
    if (this.base + this.offsets[n] !== buf.length) throw new Error(`${file}: ${buf.length} bytes, the offsets table says ${this.base + this.offsets[n]}`);
  }

  /** The id of usearch key `key`, or undefined. */
  idOf(key: number): string | undefined {
    const k = this.keys;
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (k[mid] === key) return this.idAt(mid);
      if (k[mid] < key) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  private idAt(i: number): string {
    return this.buf.toString('utf8', this.base + this.offsets[i], this.base + this.offsets[i + 1]);
  }

  /** Every entry (to rebuild the maps of a graph that will be changed). */
  *entries(): IterableIterator<{ key: number; id: string; hash: number }> {
    for (let i = 0; i < this.count; i++) yield { key: this.keys[i], id: this.idAt(i), hash: this.hashes[i] };
  }
}
