/**
 * The approximate (HNSW) index kept beside a store's vectors: a usearch graph plus a key map,
 * described by `ann.json`. Layout and guarantees are in docs/index-format.md ("ANN graph").
 *
 *   ann.json              format, version, graph + keys file names, sha256 and size of the graph,
 *                         the store state (`covers`) it was built for, dim, dtype, connectivity
 *   ann-<seq>.usearch     the usearch graph (cosine metric, vectors in f32, f16 or i8)
 *   ann-<seq>.keys        the key map, binary (src/store/ann-keys.ts): usearch key -> item id,
 *                         and a hash of each item's float vector (to find items whose vector
 *                         changed); graphs saved before it have `ann-<seq>.keys.json` instead
 *
 * A one-shot reader searches the graph and the key map in place (src/store/ann-file.ts): it reads
 * only the nodes and vectors its walk visits. A call with many queries maps the graph through
 * usearch (view) instead; a graph that will be changed, or searched for long, is loaded.
 *
 * Why usearch: a maintained HNSW library with Node bindings and prebuilt binaries, incremental
 * add/remove, f16/i8 storage, save/load/view (memory map). Keys are usearch keys that this
 * module assigns (never reused); ids stay the store's ids.
 *
 * Saves are crash-safe: graph and keys go to new file names (temp + fsync + rename), then
 * ann.json is replaced atomically, then the previous generation's files are removed. A crash
 * leaves the previous ann.json and its files, or the new ones. A graph whose `covers` is not the
 * store's current state is stale: it is brought up to date (refreshAnn) before it is searched,
 * never trusted as is.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Index as UIndex, MetricKind, ScalarKind } from 'usearch';
import { readJsonObject } from '../util/json.ts';
import { writeFileAtomic, crashPoint } from '../util/atomic.ts';
import { config } from '../util/config.ts';
import { readInPlace, type AnnDtype } from './ann-mode.ts';
import { encodeKeys, KeyTable } from './ann-keys.ts';
import { GraphFile } from './ann-file.ts';
import type { VectorBlock } from './types.ts';
import { processAlive } from '../util/temp.ts';

/** Graph construction parameters. */
export interface AnnParams {
  dtype: AnnDtype;
  /** HNSW M: links per node (usearch `connectivity`). */
  connectivity: number;
  /** HNSW efConstruction (usearch `expansion_add`). */
  expansionAdd: number;
}

/** Defaults: f32 vectors, M = 16, efConstruction = 128. */
export const ANN_DEFAULTS: AnnParams = { dtype: 'f32', connectivity: 16, expansionAdd: 128 };

/** Contents of ann.json. */
export interface AnnManifest {
  format: 'lookalike-ann';
  version: 1;
  seq: number;
  graph: string;
  keys: string;
  sha256: string;
  bytes: number;
  /** The store state this graph covers (see storeStamp). */
  covers: string;
  dim: number;
  count: number;
  dtype: AnnDtype;
  connectivity: number;
  expansionAdd: number;
  saved: string;
  /** Size and sha256 of the key file (absent in graphs saved before the binary key file). */
  keysBytes?: number;
  keysSha256?: string;
}

/** Contents of ann-<seq>.keys.json (graphs saved before the binary key file). */
interface KeysFile {
  next: number;
  keys: number[];
  ids: string[];
  hashes: number[];
}

/** Name of the manifest file in a store folder. */
export const ANN_MANIFEST = 'ann.json';

/**
 * Threads for usearch adds and searches: config.threads, else every core. One number for both,
 * because usearch reserves per-thread search contexts when it grows (search with more threads
 * than were reserved fails).
 */
export function annThreads(): number {
  return config.threads || os.availableParallelism?.() || os.cpus().length;
}

/** 32-bit FNV-1a over a vector's bytes: tells whether an item's vector changed since it was added. */
export function vectorHash(v: Float32Array): number {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 0x01000193) >>> 0;
  return h;
}

/** usearch, loaded on the first graph: a process that never uses ANN never loads the native module. */
let usearchModule: typeof import('usearch') | undefined;
function usearchLib(): typeof import('usearch') {
  usearchModule ??= createRequire(import.meta.url)('usearch') as typeof import('usearch');
  return usearchModule;
}

function newIndex(dim: number, p: AnnParams): UIndex {
  // expansion_search = 1: the search depth is set per call by how many candidates are asked for
  // (usearch searches with max(expansion_search, wanted)).
  return new (usearchLib().Index)({
    dimensions: dim,
    metric: 'cos' as MetricKind,
    quantization: p.dtype as ScalarKind,
    connectivity: p.connectivity,
    expansion_add: p.expansionAdd,
    expansion_search: 1,
    multi: false,
  });
}

function sha256File(file: string): string {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // some file systems cannot fsync a directory; the renames are still atomic
  }
}

/** An HNSW graph over a store's live items, with the id <-> key map. */
export class AnnGraph {
  readonly dim: number;
  readonly params: AnnParams;
  /** The store state the graph reflects (set by refreshAnn / save). */
  covers = '';
  /** True when opened to be read in place (view): searchable, not modifiable. */
  readonly readOnly: boolean;
  /** Sequence number of the last save (0 = never saved). */
  seq = 0;
  /** The usearch index: loaded or created, or, for a graph read in place, mapped on the first call with many queries. */
  private index?: UIndex;
  /** A graph read in place: its file, searched without usearch. */
  private file?: GraphFile;
  /** The key map of a graph read in place, searched in place. */
  private table?: KeyTable;
  private keyOf = new Map<string, number>();
  private idOf = new Map<number, string>();
  private hashOf = new Map<string, number>();
  private next = 1;

  private constructor(dim: number, params: AnnParams, index: UIndex | undefined, file: GraphFile | undefined) {
    this.dim = dim;
    this.params = params;
    this.index = index;
    this.file = file;
    this.readOnly = !!file;
  }

  /** An empty graph. */
  static create(dim: number, params: AnnParams = ANN_DEFAULTS): AnnGraph {
    return new AnnGraph(dim, params, newIndex(dim, params), undefined);
  }

  /** Number of items in the graph. */
  get size(): number {
    return this.table ? this.table.count : this.keyOf.size;
  }

  /** Ids in the graph (unordered). */
  ids(): IterableIterator<string> {
    const t = this.table;
    return t ? (function* () { for (const e of t.entries()) yield e.id; })() : this.keyOf.keys();
  }

  /** The recorded vector hash of an id, or undefined when the id is not in the graph. */
  hash(id: string): number | undefined {
    return this.hashOf.get(id);
  }

  /** Add items (row-major vectors); an id already present is replaced. */
  add(ids: string[], vectors: Float32Array): void {
    if (this.readOnly) throw new Error('ANN graph was opened read-only (read in place); open it writable to change it');
    if (vectors.length !== ids.length * this.dim) throw new Error(`ANN add: ${ids.length} ids but ${vectors.length / this.dim} vectors`);
    if (!ids.length) return;
    this.remove(ids.filter((id) => this.keyOf.has(id)));
    const keys = new BigUint64Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      const key = this.next++;
      keys[i] = BigInt(key);
      this.keyOf.set(ids[i], key);
      this.idOf.set(key, ids[i]);
      this.hashOf.set(ids[i], vectorHash(vectors.subarray(i * this.dim, (i + 1) * this.dim)));
    }
    this.index!.add(keys, vectors, annThreads());
  }

  /** Remove items by id (unknown ids are ignored). */
  remove(ids: string[]): void {
    if (this.readOnly) throw new Error('ANN graph was opened read-only (read in place); open it writable to change it');
    const keys: bigint[] = [];
    for (const id of ids) {
      const key = this.keyOf.get(id);
      if (key === undefined) continue;
      keys.push(BigInt(key));
      this.keyOf.delete(id);
      this.idOf.delete(key);
      this.hashOf.delete(id);
    }
    if (keys.length) this.index!.remove(BigUint64Array.from(keys));
  }

  /**
   * The `wanted` approximate nearest ids of each query (row-major), best first. `wanted` is also
   * the search depth (HNSW ef). A graph read in place walks its file while readInPlace says that
   * is cheaper than mapping it through usearch, which it does otherwise (and keeps).
   */
  candidates(queries: Float32Array, wanted: number): string[][] {
    const nq = queries.length / this.dim;
    const w = Math.min(wanted, this.size);
    if (nq === 0) return [];
    if (w < 1) return Array.from({ length: nq }, () => []);
    const idOf = (key: number) => (this.table ? this.table.idOf(key) : this.idOf.get(key));
    const named = (keys: Iterable<number>) => [...keys].map(idOf).filter((id): id is string => id !== undefined);
    const file = this.file;
    if (file && !this.index && readInPlace(nq, this.size, this.dim)) {
      return Array.from({ length: nq }, (_, q) => named(file.search(queries.subarray(q * this.dim, (q + 1) * this.dim), w)));
    }
    // One query at a time returns Matches; several return BatchMatches (same fields plus counts).
    const r = this.native().search(queries, w, annThreads()) as unknown as { keys: BigUint64Array; counts?: BigUint64Array };
    const out: string[][] = [];
    for (let q = 0; q < nq; q++) {
      const n = r.counts ? Number(r.counts[q]) : r.keys.length;
      out.push(named(Array.from(r.keys.subarray(q * w, q * w + n), Number)));
    }
    return out;
  }

  /** The usearch index; a graph read in place is mapped (usearch view) on first use. */
  private native(): UIndex {
    if (this.index) return this.index;
    const file = this.file!.file;
    const index = newIndex(this.dim, this.params);
    try {
      index.view(file);
    } catch (e) {
      throw new Error(`${file}: usearch could not map it (${(e as Error).message})`);
    }
    if (index.size() !== this.size) throw new Error(`${file}: graph holds ${index.size()} items, ann.json says ${this.size}`);
    return (this.index = index);
  }

  /** Release the files of a graph read in place (a graph that is no longer used). */
  close(): void {
    this.file?.close();
    this.table?.close();
  }

  /**
   * Save crash-safely into `dir`: new graph and keys files (temp + fsync + rename), then ann.json
   * (atomic replace), then the previous save's files are removed. Returns the manifest.
   */
  save(dir: string, covers: string): AnnManifest {
    if (this.readOnly) throw new Error('ANN graph was opened read-only; nothing to save');
    const prev = readAnnManifest(dir);
    const seq = Math.max(this.seq, prev?.seq ?? 0) + 1;
    // The pid keeps two processes saving at once from writing the same names.
    const stem = `ann-${String(seq).padStart(6, '0')}-${process.pid}`;
    const graph = `${stem}.usearch`;
    const keysName = `${stem}.keys`;
    const tmp = path.join(dir, `${graph}.tmp`);
    this.index!.save(tmp);
    fsyncFile(tmp);
    crashPoint('ann:graph');
    fs.renameSync(tmp, path.join(dir, graph));
    const entries: { key: number; id: string; hash: number }[] = [];
    for (const [id, key] of this.keyOf) entries.push({ key, id, hash: this.hashOf.get(id) ?? 0 });
    const keyBuf = encodeKeys(this.next, entries);
    writeFileAtomic(path.join(dir, keysName), keyBuf);
    const stat = fs.statSync(path.join(dir, graph));
    const m: AnnManifest = {
      format: 'lookalike-ann',
      version: 1,
      seq,
      graph,
      keys: keysName,
      sha256: sha256File(path.join(dir, graph)),
      bytes: stat.size,
      covers,
      dim: this.dim,
      count: this.size,
      dtype: this.params.dtype,
      connectivity: this.params.connectivity,
      expansionAdd: this.params.expansionAdd,
      saved: new Date().toISOString(),
      keysBytes: keyBuf.length,
      keysSha256: createHash('sha256').update(keyBuf).digest('hex'),
    };
    crashPoint('ann:manifest');
    writeFileAtomic(path.join(dir, ANN_MANIFEST), JSON.stringify(m, null, 2) + '\n');
    fsyncDir(dir);
    removeUnreferenced(dir, m);
    this.seq = seq;
    this.covers = covers;
    return m;
  }

  /**
   * Record that the saved graph (unchanged) now covers `covers` (the store changed without
   * changing its items, e.g. a compaction): ann.json is rewritten, the graph files are kept.
   */
  retag(dir: string, covers: string): void {
    const m = readAnnManifest(dir);
    this.covers = covers;
    if (!m || m.seq !== this.seq) return;
    writeFileAtomic(path.join(dir, ANN_MANIFEST), JSON.stringify({ ...m, covers }, null, 2) + '\n');
  }

  /**
   * Open the graph saved in `dir`, or undefined when there is none. `view` reads it in place
   * (searchable, read-only: headers and level table now, nodes as searches visit them);
   * otherwise it is loaded into memory (modifiable). A graph whose size or checksum does not
   * match ann.json is an error naming the file.
   */
  static open(dir: string, opts: { view?: boolean; verify?: 'full' | 'size' } = {}): AnnGraph | undefined {
    const m = readAnnManifest(dir);
    if (!m) return undefined;
    const gfile = path.join(dir, m.graph);
    if (!fs.existsSync(gfile)) throw new Error(`${gfile}: ANN graph named by ${path.join(dir, ANN_MANIFEST)} is missing; delete ann.json to rebuild it`);
    const size = fs.statSync(gfile).size;
    if (size !== m.bytes) throw new Error(`${gfile}: ${size} bytes, ann.json says ${m.bytes}; the graph is damaged (delete ann.json to rebuild it)`);
    if ((opts.verify ?? 'full') === 'full' && sha256File(gfile) !== m.sha256) {
      throw new Error(`${gfile}: checksum differs from ann.json; the graph is damaged (delete ann.json to rebuild it)`);
    }
    const keysFile = path.join(dir, m.keys);
    const full = (opts.verify ?? 'full') === 'full';
    const params: AnnParams = { dtype: m.dtype, connectivity: m.connectivity, expansionAdd: m.expansionAdd };
    // Read in place, a binary key file is searched where it lies too; otherwise the keys are read.
    const keys = readKeys(keysFile, m, full, !!opts.view);
    let g: AnnGraph;
    if (opts.view) {
      let file: GraphFile;
      try {
        file = GraphFile.open(gfile, { dim: m.dim, dtype: m.dtype, count: m.count });
      } catch (e) {
        if (keys instanceof KeyTable) keys.close();
        throw e;
      }
      g = new AnnGraph(m.dim, params, undefined, file);
    } else {
      const index = newIndex(m.dim, params);
      try {
        index.load(gfile);
      } catch (e) {
        throw new Error(`${gfile}: usearch could not load it (${(e as Error).message})`);
      }
      if (index.size() !== m.count) throw new Error(`${gfile}: graph holds ${index.size()} items, ann.json says ${m.count}`);
      g = new AnnGraph(m.dim, params, index, undefined);
    }
    // A graph read in place searches its key file in place; one that will be changed (or whose
    // key map is a legacy JSON file) gets its maps.
    if (opts.view && keys instanceof KeyTable) g.table = keys;
    else {
      for (const e of keys instanceof KeyTable ? keys.entries() : legacyEntries(keys)) {
        g.keyOf.set(e.id, e.key);
        g.idOf.set(e.key, e.id);
        g.hashOf.set(e.id, e.hash);
      }
    }
    g.next = keys.next;
    g.covers = m.covers;
    g.seq = m.seq;
    return g;
  }
}

/**
 * The key map named by ann.json: the binary key file (size checked, and sha256 when recorded and
 * `full`, as for the graph; `inPlace` reads it where it lies unless `full`), or a legacy JSON one.
 */
function readKeys(keysFile: string, m: AnnManifest, full: boolean, inPlace: boolean): KeyTable | KeysFile {
  if (m.keys.endsWith('.json')) {
    const k = readJsonObject(keysFile) as unknown as KeysFile;
    if (!Array.isArray(k.keys) || !Array.isArray(k.ids) || k.keys.length !== k.ids.length || k.keys.length !== m.count) {
      throw new Error(`${keysFile}: key map does not match ann.json (${m.count} items)`);
    }
    return k;
  }
  if (inPlace && !full) {
    let t: KeyTable;
    try {
      t = KeyTable.fromFile(keysFile);
    } catch (e) {
      throw new Error((e as NodeJS.ErrnoException).code === 'ENOENT' ? `${keysFile}: missing (ann.json names it); delete ann.json to rebuild the graph` : (e as Error).message);
    }
    const problem = m.keysBytes !== undefined && t.bytesLength !== m.keysBytes ? `${t.bytesLength} bytes, ann.json says ${m.keysBytes}` : t.count !== m.count ? `key map does not match ann.json (${t.count} keys, ${m.count} items)` : '';
    if (problem) {
      t.close();
      throw new Error(`${keysFile}: ${problem}; delete ann.json to rebuild the graph`);
    }
    return t;
  }
  let buf: Buffer;
  try {
    buf = fs.readFileSync(keysFile);
  } catch (e) {
    throw new Error(`${keysFile}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (ann.json names it); delete ann.json to rebuild the graph' : (e as Error).message}`);
  }
  if (m.keysBytes !== undefined && buf.length !== m.keysBytes) throw new Error(`${keysFile}: ${buf.length} bytes, ann.json says ${m.keysBytes}; delete ann.json to rebuild the graph`);
  if (full && m.keysSha256 && createHash('sha256').update(buf).digest('hex') !== m.keysSha256) throw new Error(`${keysFile}: checksum differs from ann.json; delete ann.json to rebuild the graph`);
  const t = KeyTable.fromBuffer(buf, keysFile);
  if (t.count !== m.count) throw new Error(`${keysFile}: key map does not match ann.json (${t.count} keys, ${m.count} items)`);
  return t;
}

function* legacyEntries(k: KeysFile): IterableIterator<{ key: number; id: string; hash: number }> {
  for (let i = 0; i < k.keys.length; i++) yield { key: k.keys[i], id: k.ids[i], hash: k.hashes?.[i] ?? 0 };
}

/** Problems with the saved graph's files (size and sha256 of the graph and key file against ann.json), one line each; [] when none or no graph. */
export function verifyAnnFiles(dir: string): string[] {
  let m: AnnManifest | undefined;
  try {
    m = readAnnManifest(dir);
  } catch (e) {
    return [(e as Error).message];
  }
  if (!m) return [];
  const out: string[] = [];
  const gfile = path.join(dir, m.graph);
  const st = fs.statSync(gfile, { throwIfNoEntry: false });
  if (!st) out.push(`${gfile}: ANN graph named by ann.json is missing; delete ann.json to rebuild it`);
  else if (st.size !== m.bytes) out.push(`${gfile}: ${st.size} bytes, ann.json says ${m.bytes}; delete ann.json to rebuild it`);
  else if (sha256File(gfile) !== m.sha256) out.push(`${gfile}: checksum differs from ann.json; delete ann.json to rebuild it`);
  try {
    readKeys(path.join(dir, m.keys), m, true, false);
  } catch (e) {
    out.push((e as Error).message);
  }
  return out;
}

/** Read ann.json from a store folder, or undefined when there is none. */
export function readAnnManifest(dir: string): AnnManifest | undefined {
  const f = path.join(dir, ANN_MANIFEST);
  if (!fs.existsSync(f)) return undefined;
  const m = readJsonObject(f) as unknown as AnnManifest;
  if (m.format !== 'lookalike-ann') throw new Error(`${f}: not a lookalike ANN manifest`);
  if (m.version !== 1) throw new Error(`${f}: ANN manifest version ${m.version} is not supported (expected 1)`);
  return m;
}

/** ANN file names this module creates (graph, keys, their temp files). */
export const ANN_NAME = /^ann-\d{6}-\d+\.(usearch|keys(\.json)?)(\.tmp(-\d+-[a-z0-9]+)?)?$/;

/** Remove ANN files that ann.json does not reference, except another live process's temp files. */
function removeUnreferenced(dir: string, m: AnnManifest): void {
  for (const n of fs.readdirSync(dir)) {
    if (!ANN_NAME.test(n) || n === m.graph || n === m.keys) continue;
    const pid = Number(/^ann-\d{6}-(\d+)/.exec(n)![1]);
    if (/\.tmp/.test(n) && pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(dir, n), { force: true });
  }
}

/** Remove a saved graph (ann.json first, so a crash never leaves a manifest without its files). */
export function removeAnn(dir: string): void {
  const m = readAnnManifest(dir);
  if (!m) return;
  fs.rmSync(path.join(dir, ANN_MANIFEST), { force: true });
  fs.rmSync(path.join(dir, m.graph), { force: true });
  fs.rmSync(path.join(dir, m.keys), { force: true });
}

/** What refreshAnn did. */
export interface RefreshReport {
  graph: AnnGraph;
  added: number;
  removed: number;
  rebuilt: boolean;
  /** False when the graph already covered the store's state. */
  changed: boolean;
  /** True when items were added or removed (the graph files must be saved again). */
  modified: boolean;
}

/** The items a graph is built from: a store's scan (every live item, in blocks). */
export interface AnnSource {
  dim: number;
  scan(blockRows?: number): AsyncIterable<VectorBlock>;
}

/**
 * Bring `graph` up to date with `source` (whose state is `covers`): scan every live item, add
 * the new ones and those whose vector changed, remove the ones gone. Without a graph, or when
 * more than half of it would change, the graph is built anew. Cost: one sequential read of the
 * vectors plus O(changed) graph updates.
 */
export async function refreshAnn(
  graph: AnnGraph | undefined,
  source: AnnSource,
  covers: string,
  opts: { params?: AnnParams; onProgress?: (done: number) => void } = {},
): Promise<RefreshReport> {
  if (graph && graph.covers === covers) return { graph, added: 0, removed: 0, rebuilt: false, changed: false, modified: false };
  const params = opts.params ?? graph?.params ?? ANN_DEFAULTS;
  const sameParams = graph && graph.dim === source.dim && graph.params.dtype === params.dtype && graph.params.connectivity === params.connectivity;
  let g = graph && sameParams && !graph.readOnly ? graph : undefined;
  let rebuilt = !g;
  const seen = new Set<string>();
  const pendingIds: string[] = [];
  const pendingVecs: Float32Array[] = [];
  let added = 0;
  let done = 0;
  for await (const block of source.scan(65536)) {
    const fresh = g ?? AnnGraph.create(source.dim, params);
    g = fresh;
    for (let i = 0; i < block.ids.length; i++) {
      const id = block.ids[i];
      seen.add(id);
      const v = block.vectors.subarray(i * block.dim, (i + 1) * block.dim);
      if (g.hash(id) !== vectorHash(v)) {
        pendingIds.push(id);
        pendingVecs.push(v.slice()); // a store may reuse its scan buffer
      }
    }
    // A refresh that would touch more than half of an existing graph: rebuild instead (better graph, same cost).
    if (!rebuilt && pendingIds.length > g.size / 2 + 1000) {
      g = AnnGraph.create(source.dim, params);
      rebuilt = true;
      return refreshAnnFresh(g, source, covers, opts);
    }
    if (pendingIds.length >= 16384) {
      added += flush(g, pendingIds, pendingVecs);
    }
    done += block.ids.length;
    opts.onProgress?.(done);
  }
  g ??= AnnGraph.create(source.dim, params);
  added += flush(g, pendingIds, pendingVecs);
  const gone = [...g.ids()].filter((id) => !seen.has(id));
  g.remove(gone);
  g.covers = covers;
  return { graph: g, added, removed: gone.length, rebuilt, changed: true, modified: rebuilt || added > 0 || gone.length > 0 };
}

async function refreshAnnFresh(g: AnnGraph, source: AnnSource, covers: string, opts: { onProgress?: (done: number) => void }): Promise<RefreshReport> {
  let added = 0;
  for await (const block of source.scan(65536)) {
    g.add(block.ids, block.vectors);
    added += block.ids.length;
    opts.onProgress?.(added);
  }
  g.covers = covers;
  return { graph: g, added, removed: 0, rebuilt: true, changed: true, modified: true };
}

function flush(g: AnnGraph, ids: string[], vecs: Float32Array[]): number {
  if (!ids.length) return 0;
  const m = new Float32Array(ids.length * g.dim);
  vecs.forEach((v, i) => m.set(v, i * g.dim));
  g.add(ids.slice(), m);
  const n = ids.length;
  ids.length = 0;
  vecs.length = 0;
  return n;
}
