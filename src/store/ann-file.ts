/**
 * A saved usearch graph (`ann-<seq>.usearch`, usearch 2.x dense format) searched in place: one
 * open reads the headers and the per-node level table (2 bytes an item), and a search then reads
 * only the nodes it expands and the vectors it scores, with positioned reads. The walk is
 * usearch's own (greedy descent through the upper levels, then a best-first search of depth
 * `wanted` on the base level), so it proposes the same kind of candidates.
 *
 * Why not usearch's `view()`: it visits every node before the first search to build its key
 * lookup (0.4-0.5 s at 1M items on the 2-core machine), which is most of a one-shot search. The
 * walk here costs more per query than usearch's native one, so a call with many queries still
 * maps the graph through usearch (AnnGraph.candidates; the crossover is in ann-mode.ts).
 *
 * Layout read (little-endian; usearch index_dense.hpp and index.hpp):
 *   u32 rows | u32 bytes per vector | vectors, in slot order
 *   64-byte head: "usearch", u16 major/minor/patch, u8 metric, scalar, key and slot kinds,
 *                 u64 present, u64 deleted, u64 dimensions, u8 multi
 *   5 x u64: nodes, connectivity, base connectivity, max level, entry slot
 *   i16 level per node
 *   nodes: u64 key | i16 level | base neighbours (u32 count, u32 slots) | one list per upper level
 * Every count, slot and level read is checked against the header; a file that breaks them is
 * reported as damaged, naming it.
 */
import fs from 'node:fs';
import type { AnnDtype } from './ann-mode.ts';
import { fileReader, type ByteReader } from '../util/byte-reader.ts';

/** usearch scalar kinds of the vector types lookalike writes. */
const SCALAR: Record<AnnDtype, number> = { f32: 11, f16: 12, i8: 23 };
const BYTES: Record<AnnDtype, number> = { f32: 4, f16: 2, i8: 1 };
const KEY_U64 = 14;
const SLOT_U32 = 15;
const METRIC_COS = 'c'.charCodeAt(0);
const HEAD = 64;
/** Node head: u64 key + i16 level. */
const NODE_HEAD = 10;
/** Nodes per entry of the running count of upper-level lists (even: levels are summed in pairs). */
const CHUNK = 32;

/** What the manifest says the graph holds. */
export interface GraphFileExpect {
  dim: number;
  dtype: AnnDtype;
  /** Live members (usearch's "present" count). */
  count: number;
}

/** A saved usearch graph opened for searches in place (positioned reads, nothing held per item but its level). */
export class GraphFile {
  readonly file: string;
  /** Live members. */
  readonly count: number;
  private bytes: ByteReader;
  private closed = false;
  private dim: number;
  private dtype: AnnDtype;
  private vecBytes: number;
  private nodes: number;
  private deleted: number;
  private maxLevel: number;
  private entry: number;
  private nodesAt: number;
  private baseBytes: number;
  private upperBytes: number;
  /** Upper-level lists before each chunk of CHUNK nodes (a node's offset is linear in its slot and the lists before it). */
  private chunkBefore: Uint32Array;
  private levels: Int16Array;
  private scratch: ArrayBuffer;
  /** Views of `scratch` for one vector: its bytes, and its values as stored. */
  private vecU8: Uint8Array;
  private vec: Float32Array | Int8Array | Uint16Array;
  private visited: Uint8Array;

  private constructor(file: string, fd: number, expect: GraphFileExpect) {
    this.file = file;
    this.bytes = fileReader(file, fd, 'the graph is damaged (delete ann.json to rebuild it)');
    this.dim = expect.dim;
    this.dtype = expect.dtype;
    const size = this.bytes.length;
    const dims = this.bytes.read(0, 8);
    const rows = dims.readUInt32LE(0);
    this.vecBytes = dims.readUInt32LE(4);
    if (this.vecBytes !== expect.dim * BYTES[expect.dtype]) throw this.damaged(`${this.vecBytes} bytes per vector, a ${expect.dim}-d ${expect.dtype} graph has ${expect.dim * BYTES[expect.dtype]}`);
    const headAt = 8 + rows * this.vecBytes;
    if (headAt + HEAD + 40 > size) throw this.damaged(`${size} bytes cannot hold ${rows} vectors and the headers`);
    const h = this.bytes.read(headAt, HEAD);
    if (h.toString('latin1', 0, 7) !== 'usearch') throw this.damaged('no usearch header after the vectors');
    if (h.readUInt16LE(7) !== 2) throw this.damaged(`usearch format ${h.readUInt16LE(7)}.x, expected 2.x`);
    if (h[13] !== METRIC_COS || h[14] !== SCALAR[expect.dtype] || h[15] !== KEY_U64 || h[16] !== SLOT_U32 || h[41] !== 0) {
      throw this.damaged(`metric, scalar, key or slot kind is not the cosine ${expect.dtype} graph ann.json describes`);
    }
    this.count = u64(h, 17);
    this.deleted = u64(h, 25);
    if (u64(h, 33) !== expect.dim) throw this.damaged(`${u64(h, 33)} dimensions, ann.json says ${expect.dim}`);
    if (this.count !== expect.count) throw this.damaged(`${this.count} members, ann.json says ${expect.count}`);
    const g = this.bytes.read(headAt + HEAD, 40);
    this.nodes = u64(g, 0);
    const connectivity = u64(g, 8);
    const base = u64(g, 16);
    this.maxLevel = u64(g, 24);
    this.entry = u64(g, 32);
    if (this.nodes !== rows || this.nodes !== this.count + this.deleted) throw this.damaged(`${this.nodes} nodes for ${rows} vectors, ${this.count} present and ${this.deleted} removed`);
    if (!connectivity || !base || connectivity > 4096 || base > 8192 || this.maxLevel > 64 || (this.nodes && this.entry >= this.nodes)) throw this.damaged('graph header out of range');
    this.baseBytes = 4 + 4 * base;
    this.upperBytes = 4 + 4 * connectivity;
    const levelsAt = headAt + HEAD + 40;
    this.nodesAt = levelsAt + 2 * this.nodes;
    // Padded to whole chunks, so the sums below read levels two at a time (most are 0).
    const chunks = Math.ceil(this.nodes / CHUNK);
    this.levels = new Int16Array(chunks * CHUNK);
    if (this.nodes) this.bytes.readInto(new Uint8Array(this.levels.buffer, 0, 2 * this.nodes), levelsAt);
    this.chunkBefore = new Uint32Array(chunks + 1);
    const pairs = new Uint32Array(this.levels.buffer);
    let sum = 0;
    let bad = false;
    for (let c = 0; c < chunks; c++) {
      this.chunkBefore[c] = sum;
      for (let j = (c * CHUNK) / 2, e = j + CHUNK / 2; j < e; j++) {
        const x = pairs[j];
        if (x === 0) continue;
        const a = (x << 16) >> 16;
        const b = x >> 16;
        bad ||= a < 0 || b < 0 || a > this.maxLevel || b > this.maxLevel;
        sum += a + b;
      }
    }
    this.chunkBefore[chunks] = sum;
    if (bad) throw this.damaged(`a node level is outside 0-${this.maxLevel}`);
    if (this.nodeAt(this.nodes) !== size) throw this.damaged(`${size} bytes, its ${this.nodes} nodes need ${this.nodeAt(this.nodes)}`);
    this.scratch = new ArrayBuffer(Math.max(this.vecBytes, this.baseBytes, this.upperBytes, 8));
    this.vecU8 = new Uint8Array(this.scratch, 0, this.vecBytes);
    this.vec = expect.dtype === 'f32' ? new Float32Array(this.scratch, 0, expect.dim) : expect.dtype === 'i8' ? new Int8Array(this.scratch, 0, expect.dim) : new Uint16Array(this.scratch, 0, expect.dim);
    this.visited = new Uint8Array(this.nodes);
  }

  /** Open `file`, checking its headers and level table against what ann.json says (`expect`). */
  static open(file: string, expect: GraphFileExpect): GraphFile {
    const fd = fs.openSync(file, 'r');
    try {
      return new GraphFile(file, fd, expect);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /** Close the file. */
  close(): void {
    if (this.closed) return;
    this.bytes.close();
    this.closed = true;
  }

  /** The usearch keys of the `wanted` nearest live members to `query` (cosine), nearest first; `wanted` is also the search depth. */
  search(query: Float32Array, wanted: number): number[] {
    if (query.length !== this.dim) throw new Error(`${this.file}: query has ${query.length} dimensions, the graph ${this.dim}`);
    if (!this.count || wanted < 1) return [];
    const qq = dot(query, query);
    const dist = (slot: number) => this.distance(query, qq, slot);
    let closest = this.entry;
    let closestD = dist(closest);
    for (let level = this.maxLevel; level > 0; level--) {
      for (let changed = true; changed; ) {
        changed = false;
        for (const s of this.neighbours(closest, level)) {
          const d = dist(s);
          if (d < closestD) {
            closestD = d;
            closest = s;
            changed = true;
          }
        }
      }
    }
    const next = new SlotHeap(false);
    const top = new SlotHeap(true);
    const touched: number[] = [closest];
    const visited = this.visited;
    visited[closest] = 1;
    let radius = closestD;
    next.push(closest, closestD);
    if (this.live(closest)) top.push(closest, closestD);
    try {
      while (next.size) {
        if (next.topDistance() > radius && top.size === wanted) break;
        const c = next.pop();
        for (const s of this.neighbours(c, 0)) {
          if (visited[s]) continue;
          visited[s] = 1;
          touched.push(s);
          const d = dist(s);
          if (top.size < wanted || d < radius) {
            next.push(s, d);
            if (this.live(s)) {
              top.push(s, d);
              if (top.size > wanted) top.pop();
              radius = top.topDistance();
            }
          }
        }
      }
    } finally {
      for (const s of touched) visited[s] = 0;
    }
    const out: { slot: number; d: number }[] = [];
    while (top.size) {
      const d = top.topDistance();
      out.push({ slot: top.pop(), d });
    }
    out.reverse();
    return out.map((o) => this.keyOf(o.slot));
  }

  private nodeAt(slot: number): number {
    const c = Math.floor(slot / CHUNK);
    let upper = this.chunkBefore[c];
    for (let i = c * CHUNK; i < slot; i++) upper += this.levels[i];
    return this.nodesAt + slot * (NODE_HEAD + this.baseBytes) + this.upperBytes * upper;
  }

  /** The neighbour slots of `slot` on `level`. */
  private neighbours(slot: number, level: number): Uint32Array {
    if (level > this.levels[slot]) throw this.damaged(`node ${slot} is searched on level ${level} but has ${this.levels[slot]}`);
    const at = this.nodeAt(slot) + NODE_HEAD + (level ? this.baseBytes + (level - 1) * this.upperBytes : 0);
    const cap = ((level ? this.upperBytes : this.baseBytes) - 4) / 4;
    const bytes = new Uint8Array(this.scratch, 0, 4 + 4 * cap);
    this.bytes.readInto(bytes, at);
    const n = new Uint32Array(this.scratch, 0, 1)[0];
    if (n > cap) throw this.damaged(`node ${slot} lists ${n} neighbours on level ${level}, at most ${cap} fit`);
    const list = new Uint32Array(this.scratch, 4, n).slice();
    for (const s of list) if (s >= this.nodes) throw this.damaged(`node ${slot} links to node ${s} of ${this.nodes}`);
    return list;
  }

  /** Cosine distance (1 - cos) of the query to the vector in `slot`, as usearch measures it. */
  private distance(q: Float32Array, qq: number, slot: number): number {
    this.bytes.readInto(this.vecU8, 8 + slot * this.vecBytes);
    const n = this.dim;
    const v = this.vec;
    let qv = 0;
    let vv = 0;
    if (this.dtype !== 'f16') {
      for (let i = 0; i < n; i++) (qv += q[i] * v[i]), (vv += v[i] * v[i]);
    } else {
      const t = halfTable();
      for (let i = 0; i < n; i++) {
        const x = t[v[i]];
        qv += q[i] * x;
        vv += x * x;
      }
    }
    if (qq === 0 && vv === 0) return 0;
    if (qv === 0) return 1;
    return 1 - qv / Math.sqrt(qq * vv);
  }

  /** Whether `slot` holds a live member (usearch marks a removed one with the largest u64 key). */
  private live(slot: number): boolean {
    if (!this.deleted) return true;
    const b = this.bytes.read(this.nodeAt(slot), 8);
    return !(b.readUInt32LE(0) === 0xffffffff && b.readUInt32LE(4) === 0xffffffff);
  }

  private keyOf(slot: number): number {
    return u64(this.bytes.read(this.nodeAt(slot), 8), 0);
  }

  private damaged(why: string): Error {
    return new Error(`${this.file}: ${why}; the graph is damaged (delete ann.json to rebuild it)`);
  }
}

/** A u64 read as a number (exact below 2^53; larger values, such as usearch's removed-member key, come out inexact but never equal a real key). */
function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at) + b.readUInt32LE(at + 4) * 2 ** 32;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

let half: Float32Array | undefined;
/** Every IEEE half-precision bit pattern as a float (256 KB, built on the first f16 graph). */
function halfTable(): Float32Array {
  if (half) return half;
  half = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    half[h] = exp === 0 ? sign * 2 ** -14 * (frac / 1024) : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return half;
}

/** A binary heap of (slot, distance): the nearest on top, or the farthest with `farthestFirst`. */
class SlotHeap {
  size = 0;
  private slots: number[] = [];
  private ds: number[] = [];
  constructor(private farthestFirst: boolean) {}

  private before(a: number, b: number): boolean {
    return this.farthestFirst ? this.ds[a] > this.ds[b] : this.ds[a] < this.ds[b];
  }

  private swap(a: number, b: number): void {
    [this.slots[a], this.slots[b]] = [this.slots[b], this.slots[a]];
    [this.ds[a], this.ds[b]] = [this.ds[b], this.ds[a]];
  }

  push(slot: number, d: number): void {
    let i = this.size++;
    this.slots[i] = slot;
    this.ds[i] = d;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  topDistance(): number {
    return this.ds[0];
  }

  pop(): number {
    const out = this.slots[0];
    const last = --this.size;
    this.slots[0] = this.slots[last];
    this.ds[0] = this.ds[last];
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.before(l, m)) m = l;
      if (r < last && this.before(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return out;
  }
}
