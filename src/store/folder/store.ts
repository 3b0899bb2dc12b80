/**
 * The folder store (format v2, docs/index-format.md): append-only .npy segments, tombstone
 * lists, a manifest that is the single atomic commit point, a writer lock, compaction.
 * Opens v1 one-file indexes too and migrates them on the first write.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FieldSchema, Fields, FilterNode } from '../../data/field-types.ts';
import { compileFilter, filterUsesId } from '../../data/filter/match.ts';
import { checkFields } from '../../data/fields/sidecar.ts';
import type { FileRecord, Hit, ItemRecord, OpenOptions, PrepareAnnOptions, SearchOptions, StoreChange, StoreItem, StoreMeta, VectorBlock, VectorStore, WarmOptions } from '../types.ts';
import { crashPoint, fsyncDir } from '../../util/atomic.ts';
import { readJson } from '../../util/json.ts';
import { acquireLock } from './lock.ts';
import { metaOf, readManifest, writeManifest, type ManifestV1, type ManifestV2, type SegmentRef, type TombRef } from './manifest.ts';
import { FORMAT, LOCK, MANIFEST, STORE_NAME, V1_FILES, VERSION, backupSibling, onlyStoreNames, segIds, tombJson } from './names.ts';
import { liveLocation, PACK, Segment, SegmentWriter, openNpy, openSegment, readCheckedJson, readRows, writeJsonNew, writeNew, type Sidecar } from './segments.ts';
import { encodeIds, MemIds } from './id-list.ts';
import { RowCache } from './row-cache.ts';
import { QuantCache } from './quant-cache.ts';
import { INT8_MAX_QUERIES, searchQuantized } from './quant-search.ts';
import { RESCORE_MAX_K } from '../exact.ts';
import { config } from '../../util/config.ts';
import { searchSegments } from './chunked-search.ts';
import { mergeFrom, mergeSegments } from './compact.ts';
import { ANN_FILTER_MIN_SHARE, annApply, annDeltaLimit, annFlush, annSearch, annStoreGraph, annStoreSearch, candidateCount, heldAnn, peekAnn, useAnn } from '../ann-search.ts';
import { ANN_AUTO_MIN, chooseAnn, type AnnMode } from '../ann-mode.ts';
import { liveRows } from './compact.ts';
import { ANN_DEFAULTS, readAnnManifest, type AnnGraph } from '../ann.ts';
import { compareIds } from './id-order.ts';

export { compareIds };

/** The best k of two hit lists for one query (score descending, ties by id), above minScore. */
function mergeHits(a: Hit[], b: Hit[], k: number, minScore?: number): Hit[] {
  const all = [...a, ...b].filter((h) => minScore === undefined || h.score >= minScore);
  all.sort((x, y) => y.score - x.score || compareIds(x.id, y.id));
  return all.slice(0, k).map((h, i) => ({ rank: i + 1, id: h.id, score: h.score }));
}

/** A lookalike index folder as a VectorStore. */
export class FolderStore implements VectorStore {
  readonly kind = 'folder';
  private segs: Segment[] = [];
  private tombs: TombRef[] = [];
  /** Live rows over all segments (kept up to date by every change). */
  private liveCount = 0;
  /** Rows kept for repeated searches (from the second search on; config.cacheMb). */
  private cache = new RowCache();
  /** int8 blocks for the same readers' exact searches (from config.int8MinRows live items). */
  private quant = new QuantCache();
  private searches = 0;
  private sorted?: string[];
  private manifest?: ManifestV1 | ManifestV2;
  private newMeta?: StoreMeta;
  private release?: () => void;
  /** True when this writer created the folder (removed again on close if nothing was committed). */
  private createdDir = false;
  /** Field types after the change being written (typedFields), committed with it. */
  private fieldTypes?: FieldSchema;
  /** Set by an `index` run while it adds to this store; written with the next commit. */
  building?: { folder: string; started: string };

  private constructor(readonly location: string, readonly dir: string, private writable: boolean) {}

  /** Open (or, with `create`, start) the store in folder `location`. */
  static async open(location: string, opts: OpenOptions = {}): Promise<FolderStore> {
    const dir = path.resolve(location);
    const st = fs.statSync(dir, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new Error(`${location}: is a file, not a lookalike index folder`);
    if (!st) {
      const backup = backupSibling(dir);
      if (fs.existsSync(path.join(backup, MANIFEST))) {
        // An interrupted --rebuild swap: the previous index waits in its hidden sibling.
        if (opts.write) fs.renameSync(backup, dir);
        else {
          process.stderr.write(`warning: ${location} missing; reading the previous index from ${backup} (an interrupted --rebuild)\n`);
          return FolderStore.open(backup, opts).then((s) => Object.assign(s, { location }));
        }
      } else if (!opts.create) throw new Error(`${location}: no such index`);
    }
    const hasManifest = fs.existsSync(path.join(dir, MANIFEST));
    if (!hasManifest && fs.existsSync(dir) && !onlyStoreNames(dir)) {
      throw new Error(`${location}: not a lookalike index (no manifest.json) and not empty; refusing to ${opts.write ? 'write into' : 'read'} it`);
    }
    if (!hasManifest && !opts.create) throw new Error(`${location}: not a lookalike index (no manifest.json)`);
    const store = new FolderStore(location, dir, !!opts.write);
    if (opts.write) {
      store.createdDir = !fs.existsSync(dir);
      fs.mkdirSync(dir, { recursive: true });
      store.release = acquireLock(dir);
    }
    try {
      if (hasManifest) store.load();
      else {
        const now = new Date().toISOString();
        store.newMeta = { ...opts.create!, created: now, updated: now };
      }
      if (opts.write) store.cleanUnreferenced();
    } catch (e) {
      store.release?.();
      throw e;
    }
    return store;
  }

  /** Read the manifest and open every segment (sizes, headers, sidecar checksums, ids). */
  private load(): void {
    for (let attempt = 0; ; attempt++) {
      const m = readManifest(this.dir);
      try {
        this.closeSegments();
        if (m.version === 1) this.loadV1(m);
        else {
          this.segs = m.segments.map((r) => openSegment(this.dir, r, m.dim));
          this.tombs = m.tombstones;
        }
        this.manifest = m;
        this.index();
        return;
      } catch (e) {
        // A compaction by another process may have replaced the manifest between our reads.
        if (attempt < 2 && /missing \(the manifest lists it\)/.test((e as Error).message) && JSON.stringify(readManifest(this.dir)) !== JSON.stringify(m)) continue;
        this.closeSegments();
        throw e;
      }
    }
  }

  private loadV1(m: ManifestV1): void {
    const idsFile = path.join(this.dir, 'ids.json');
    const raw = readJson(idsFile) as string[];
    const ids = new MemIds(raw, idsFile, m.count);
    const filesPath = path.join(this.dir, 'files.json');
    const rec = fs.existsSync(filesPath) ? (readJson(filesPath) as Record<string, FileRecord>) : {};
    const npy = path.join(this.dir, 'embeddings.npy');
    const { fd, offset } = openNpy(npy, m.count, m.dim);
    const side: Sidecar = { ids: raw, files: raw.map((id) => rec?.[id] ?? null) };
    this.segs = [new Segment(0, m.count, npy, fd, offset, ids, () => side, side)];
    this.tombs = [];
  }

  /**
   * Mark which rows are live, generation by generation: the tombstone list of generation G
   * removes its ids from every older segment, then segment G adds its rows. Each id is looked up
   * in the segments' sorted ids (nothing is built per item); a live id in two segments cannot
   * arise from a write, and the manifest's count (checked here) would catch it.
   */
  private index(): void {
    this.sorted = undefined;
    for (const seg of this.segs) seg.live.fill(1);
    for (const t of this.tombs) {
      const list = readCheckedJson(this.dir, t);
      const file = path.join(this.dir, t.file);
      if (!Array.isArray(list)) throw new Error(`${file}: expected a JSON array of ids`);
      const older = this.segs.filter((sg) => sg.gen < t.gen);
      for (const id of list) {
        if (typeof id !== 'string') throw new Error(`${file}: ${JSON.stringify(id)} is not a string id`);
        for (const sg of older) {
          const r = sg.ids.find(id);
          if (r >= 0) sg.live[r] = 0;
        }
      }
    }
    this.liveCount = this.segs.reduce((a, sg) => a + liveRows(sg), 0);
    if (this.manifest && this.manifest.count !== this.liveCount) throw new Error(`${path.join(this.dir, MANIFEST)}: count ${this.manifest.count}, but the segments hold ${this.liveCount} live items`);
  }

  /** Where id is live: segment index * 2^32 + row, or -1. */
  private locate(id: string): number {
    return liveLocation(this.segs, id);
  }

  /** locate(), or an error naming the id. */
  private must(id: string): number {
    const l = this.locate(id);
    if (l < 0) throw new Error(`${this.location}: no id "${id}" in the index`);
    return l;
  }

  private kill(id: string): void {
    const l = this.locate(id);
    if (l < 0) return;
    this.segs[Math.floor(l / PACK)].live[l % PACK] = 0;
    this.liveCount--;
  }

  /** Remove files with names the store creates that the manifest does not reference (left by a crash). */
  private cleanUnreferenced(): void {
    const keep = new Set<string>([MANIFEST, 'lock.json']);
    const m = this.manifest;
    if (m?.version === VERSION) {
      for (const s of m.segments) {
        keep.add(s.npy.file).add(s.ids.file);
        if (s.idx) keep.add(s.idx.file);
      }
      for (const t of m.tombstones) keep.add(t.file);
      // v1 files left by a crash right after a migration committed.
      for (const f of V1_FILES) fs.rmSync(path.join(this.dir, f), { force: true });
    }
    for (const n of fs.readdirSync(this.dir)) {
      if (keep.has(n) || !STORE_NAME.test(n)) continue;
      if (/^lock\.json/.test(n) && !/\.stale-|\.tmp-/.test(n)) continue;
      fs.rmSync(path.join(this.dir, n), { force: true });
    }
  }

  private get dim(): number {
    return this.manifest?.dim ?? this.newMeta?.dim ?? 0;
  }

  /** Metadata: model, head, dim, dates. */
  async meta(): Promise<StoreMeta> {
    return this.manifest ? metaOf(this.manifest) : { ...this.newMeta! };
  }

  /** The manifest as read (undefined for a store not committed yet). */
  rawManifest(): ManifestV1 | ManifestV2 | undefined {
    return this.manifest;
  }

  /** Number of live items. */
  async count(): Promise<number> {
    return this.liveCount;
  }

  /** Live ids, sorted (built on first call: one segment in id order needs no sort). */
  async ids(): Promise<string[]> {
    if (!this.sorted) {
      const out: string[] = [];
      for (const seg of this.segs) for (let r = 0; r < seg.rows; r++) if (seg.live[r]) out.push(seg.ids.at(r));
      if (this.segs.length > 1 || !this.segs[0]?.ids.sorted) out.sort(compareIds);
      this.sorted = out;
    }
    return this.sorted;
  }

  /** Content records by id. */
  async files(): Promise<Map<string, FileRecord>> {
    const out = new Map<string, FileRecord>();
    for (const seg of this.segs) {
      for (let r = 0; r < seg.rows; r++) {
        const f = seg.live[r] ? seg.files[r] : null;
        if (f) out.set(seg.ids.at(r), f);
      }
    }
    return out;
  }

  /** Field name -> type of every field written so far. */
  async fieldSchema(): Promise<FieldSchema> {
    return { ...((this.manifest as ManifestV2 | undefined)?.fieldTypes ?? {}) };
  }

  /** Whether each id is live, in the order given. */
  async has(ids: string[]): Promise<boolean[]> {
    return ids.map((id) => this.locate(id) >= 0);
  }

  /** Records (file, label, domain, fields) of these ids, in the order given. */
  async items(ids: string[]): Promise<ItemRecord[]> {
    return ids.map((id) => {
      const l = this.must(id);
      const seg = this.segs[Math.floor(l / PACK)];
      const r = l % PACK;
      const rec: ItemRecord = { id, fields: { ...(seg.fields?.[r] ?? {}) } };
      if (seg.files[r]) rec.file = seg.files[r]!;
      if (seg.labels?.[r] != null) rec.label = seg.labels[r]!;
      if (seg.domains?.[r] != null) rec.domain = seg.domains[r]!;
      return rec;
    });
  }

  /** Live ids matching `filter` (all when undefined), sorted. */
  async select(filter?: FilterNode): Promise<string[]> {
    if (!filter) return this.ids();
    const masks = this.masks(filter);
    const out: string[] = [];
    this.segs.forEach((seg, si) => {
      for (let r = 0; r < seg.rows; r++) if (masks[si][r]) out.push(seg.ids.at(r));
    });
    return out.sort(compareIds);
  }

  /**
   * Per segment, 1 for the live rows `filter` matches: the pre-filter bitmap a filtered search
   * scores (one pass over the fields held in memory; rows without fields match as an empty object).
   */
  private masks(filter: FilterNode): Uint8Array[] {
    const test = compileFilter(filter);
    const none: Fields = {};
    // Ids are decoded from the segment's id file only when the filter reads them.
    const withId = filterUsesId(filter);
    return this.segs.map((seg) => {
      const m = new Uint8Array(seg.rows);
      const fields = seg.fields;
      for (let r = 0; r < seg.rows; r++) m[r] = seg.live[r] && test(fields?.[r] ?? none, withId ? seg.ids.at(r) : '') ? 1 : 0;
      return m;
    });
  }

  /** Vectors of these ids, in the order given. */
  async getVectors(ids: string[]): Promise<Float32Array> {
    const dim = this.dim;
    const out = new Float32Array(ids.length * dim);
    ids.forEach((id, i) => {
      const l = this.must(id);
      readRows(this.segs[Math.floor(l / PACK)], dim, l % PACK, 1, out.subarray(i * dim));
    });
    return out;
  }

  /**
   * Every live item in id order, in blocks: the segments' rows (each in id order) merged by id,
   * runs of consecutive rows read with one call; no id lookups.
   */
  async *scan(blockRows = 4096): AsyncIterable<VectorBlock> {
    const dim = this.dim;
    if (!this.segs.every((sg) => sg.ids.sorted)) {
      const ids = await this.ids();
      for (let i = 0; i < ids.length; i += blockRows) {
        const part = ids.slice(i, i + blockRows);
        yield { ids: part, vectors: await this.getVectors(part), dim };
      }
      return;
    }
    const segs = this.segs;
    const pos = segs.map(() => 0);
    const head: (string | undefined)[] = segs.map(() => undefined);
    const advance = (si: number) => {
      const sg = segs[si];
      while (pos[si] < sg.rows && !sg.live[pos[si]]) pos[si]++;
      head[si] = pos[si] < sg.rows ? sg.ids.at(pos[si]) : undefined;
    };
    segs.forEach((_, si) => advance(si));
    for (;;) {
      const ids: string[] = [];
      const at: number[] = [];
      while (ids.length < blockRows) {
        let best = -1;
        for (let si = 0; si < segs.length; si++) if (head[si] !== undefined && (best < 0 || compareIds(head[si]!, head[best]!) < 0)) best = si;
        if (best < 0) break;
        ids.push(head[best]!);
        at.push(best * PACK + pos[best]);
        pos[best]++;
        advance(best);
      }
      if (!ids.length) return;
      const vectors = new Float32Array(ids.length * dim);
      for (let i = 0; i < at.length; ) {
        const si = Math.floor(at[i] / PACK);
        const r0 = at[i] % PACK;
        let n = 1;
        while (i + n < at.length && at[i + n] === at[i] + n) n++;
        readRows(segs[si], dim, r0, n, vectors.subarray(i * dim));
        i += n;
      }
      yield { ids, vectors, dim };
    }
  }

  /** Exact top-k per query row. */
  async search(queries: Float32Array, opts: SearchOptions): Promise<Hit[][]> {
    const dim = this.dim;
    if (!Number.isInteger(opts.k) || opts.k < 1) throw new Error(`k must be a positive integer, got ${opts.k}`);
    if (dim && queries.length % dim !== 0) throw new Error(`${this.location}: queries are not ${dim}-d`);
    const nq = dim ? queries.length / dim : 0;
    if (opts.filter) return this.searchFiltered(queries, opts, opts.filter, nq);
    // A store searched again is kept by a long-lived process: its rows are cached from now on.
    const cache = this.searches++ ? this.cache : undefined;
    const k = Math.min(opts.k, this.liveCount);
    if (k === 0) return Array.from({ length: nq }, () => []);
    // Approximate search (src/store/ann.ts): saved beside the segments by a writer, or by a reader when no writer runs.
    if (this.annChoice(opts.ann, this.liveCount, nq)) return this.searchAnn(queries, { ...opts, k });
    const hot = cache && (await this.searchInt8(this.segs, queries, k, opts.exclude));
    return this.checked(hot ?? (await searchSegments(this.segs, dim, queries, k, opts.exclude, undefined, cache)), opts.minScore);
  }

  /**
   * Search restricted to the items `filter` matches. The graph is used (ANN mode, at least
   * ANN_AUTO_MIN matches, and a share of at least ANN_FILTER_MIN_SHARE) with candidates
   * over-fetched by 1/share and non-matching ones dropped; a query that comes back with fewer
   * than min(k, matches) hits is searched again exactly. Otherwise the exact kernel scores only
   * the matching rows (the pre-filter bitmap as the segments' live masks). Either way the result
   * is min(k, matches) hits (fewer only through minScore or the query's own item).
   */
  private async searchFiltered(queries: Float32Array, opts: SearchOptions, filter: FilterNode, nq: number): Promise<Hit[][]> {
    const masks = this.masks(filter);
    let matches = 0;
    for (const m of masks) for (let r = 0; r < m.length; r++) matches += m[r];
    const k = Math.min(opts.k, matches);
    if (k === 0) return Array.from({ length: nq }, () => []);
    const segs = this.segs.map((sg, i) => sg.withLive(masks[i]));
    const cache = this.searches++ ? this.cache : undefined;
    const exact = async (rows: Float32Array, exclude?: (string | undefined)[]) => {
      const hot = cache && (await this.searchInt8(segs, rows, k, exclude));
      return this.checked(hot ?? (await searchSegments(segs, this.dim, rows, k, exclude, undefined, cache)), opts.minScore);
    };
    const share = matches / this.liveCount;
    if (!this.annChoice(opts.ann, matches, nq) || share < ANN_FILTER_MIN_SHARE) return exact(queries, opts.exclude);
    const accept = (id: string) => {
      const l = this.locate(id);
      return l >= 0 && masks[Math.floor(l / PACK)][l % PACK] === 1;
    };
    const ef = Math.ceil(candidateCount(k, opts.ef) / share);
    const hits = await this.searchAnn(queries, { ...opts, k, ef }, accept);
    const dim = this.dim;
    for (let q = 0; q < nq; q++) {
      const self = opts.exclude?.[q];
      const want = Math.min(k, matches - (self !== undefined && accept(self) ? 1 : 0));
      if (hits[q].length < want && !(opts.minScore !== undefined && hits[q].length && hits[q][hits[q].length - 1].score < opts.minScore)) {
        hits[q] = (await exact(queries.subarray(q * dim, (q + 1) * dim), [self]))[0];
      }
    }
    return hits;
  }

  /**
   * A long-lived reader's exact search through the int8 blocks (src/store/quant-exact.ts): same
   * hits as the float32 path. Undefined (take the float32 path) below config.int8MinRows live
   * items, for deep rankings or large batches, while the blocks are being built, or when the
   * request leaves out too many rows of a block (a narrow filter: the float32 path reads only its rows).
   */
  private async searchInt8(segs: Segment[], queries: Float32Array, k: number, exclude?: (string | undefined)[]): Promise<Hit[][] | undefined> {
    if (this.liveCount < config.int8MinRows || k > RESCORE_MAX_K || queries.length / this.dim > INT8_MAX_QUERIES) return undefined;
    this.quant.warm(this.segs, this.dim);
    const blocks = this.quant.ready(segs);
    return blocks && searchQuantized(segs, blocks, this.quant.blockRows, this.dim, queries, k, exclude);
  }

  /**
   * Read every id block now; unless `exact` is false, also cache rows from the next search on and
   * build the int8 blocks now (from config.int8MinRows live items). Resolves when they are built.
   */
  async warm(opts: WarmOptions = {}): Promise<void> {
    for (const s of this.segs) s.ids.warm?.();
    if (opts.exact === false) return;
    this.searches = Math.max(this.searches, 1);
    if (this.liveCount >= config.int8MinRows) this.quant.warm(this.segs, this.dim);
    await this.quant.settled();
  }

  /** Apply minScore, and refuse rows that are not unit length (a corrupt segment scores above 1). */
  private checked(hits: Hit[][], minScore?: number): Hit[][] {
    for (const list of hits) {
      const top = list[0];
      if (top && top.score > 1.001) {
        const l = this.locate(top.id);
        throw new Error(`${this.segs[Math.floor(l / PACK)].file}: row ${l % PACK} (id "${top.id}") is not unit length (cosine ${top.score.toFixed(3)}): the file is corrupt; run lookalike verify`);
      }
    }
    return minScore === undefined ? hits : hits.map((l) => l.filter((h) => h.score >= minScore));
  }

  /**
   * The index state an ANN graph is stamped with: `gen<generation>#<live count>`. A graph stamped
   * with generation G holds exactly the items that were live then; rows of newer segments are
   * what it lacks.
   */
  annCovers(): string {
    return `gen${this.generation()}#${this.liveCount}`;
  }

  /**
   * How a graph stamped with an older state of this index can still be used as it is: the
   * generation it covers and the segments it lacks, when it lags by at most annDeltaLimit items;
   * undefined when it covers the current state, lags more, or does not fit.
   */
  private annLag(g: Pick<AnnGraph, 'covers' | 'dim' | 'size'>): { covered: number; newer: Segment[]; lagging: number } | undefined {
    const G = /^gen(\d+)#/.exec(g.covers);
    if (!G || g.covers === this.annCovers() || g.dim !== this.dim) return undefined;
    const covered = Number(G[1]);
    const newer = this.segs.filter((s) => s.gen > covered);
    const lagging = newer.reduce((a, s) => a + liveRows(s), 0);
    const gone = g.size - (this.liveCount - lagging);
    return lagging + gone <= annDeltaLimit(this.liveCount) ? { covered, newer, lagging } : undefined;
  }

  /**
   * The graph as `--ann auto` sees it, without opening it: ready (held by this process, or saved
   * and current or lagging within annDeltaLimit; `lag` rows searched exactly) or none.
   */
  private graphState(): { graph: 'ready' | 'none'; lag: number } {
    const now = this.annCovers();
    const held = heldAnn(this.dir);
    if (held && held.covers === now && held.dim === this.dim) return { graph: 'ready', lag: 0 };
    let m;
    try {
      m = readAnnManifest(this.dir);
    } catch {
      return { graph: 'none', lag: 0 };
    }
    if (!m || m.dim !== this.dim) return { graph: 'none', lag: 0 };
    if (m.covers === now) return { graph: 'ready', lag: 0 };
    const lag = this.annLag({ covers: m.covers, dim: m.dim, size: m.count });
    return lag ? { graph: 'ready', lag: lag.lagging } : { graph: 'none', lag: 0 };
  }

  /** Whether a search of `queries` rows over `count` items uses the graph (chooseAnn: 'auto' weighs both paths for this request). */
  private annChoice(mode: AnnMode | undefined, count: number, queries: number): boolean {
    if (mode === 'on' || mode === 'off' || count < ANN_AUTO_MIN) return chooseAnn(mode, { count, queries, dim: this.dim, graph: 'none' });
    return chooseAnn(mode, { count, queries, dim: this.dim, ...this.graphState() });
  }

  /**
   * Approximate top-k. A saved graph that lags the index by at most annDeltaLimit items is used
   * as it is: its candidates still current (live, in a segment it covers) are re-scored exactly,
   * the rows of newer segments are searched exactly, and the two lists are merged. A graph that
   * lags more (or none) is brought up to date first and saved (getAnn).
   */
  private async searchAnn(queries: Float32Array, opts: SearchOptions, keep?: (id: string) => boolean): Promise<Hit[][]> {
    const g = peekAnn(this.dir);
    const lag = g && this.annLag(g);
    if (g && lag) {
      const { covered, newer } = lag;
      const accept = (id: string) => {
        const l = this.locate(id);
        return l >= 0 && this.segs[Math.floor(l / PACK)].gen <= covered && (!keep || keep(id));
      };
      const a = await annSearch(g, queries, (ids) => this.getVectors(ids), { ...opts, accept });
      if (!newer.length) return a;
      const b = await searchSegments(keep ? newer.map((sg) => sg.withLive(sg.live.map((v, r) => (v && keep(sg.ids.at(r)) ? 1 : 0)))) : newer, this.dim, queries, opts.k, opts.exclude);
      return a.map((hits, q) => mergeHits(hits, b[q], opts.k, opts.minScore));
    }
    return annStoreSearch(this, this.dir, queries, { ...opts, accept: keep }, this.persistAnn(), this.annCovers());
  }

  /**
   * Make the ANN graph ready now, when a search with `opts.ann` would use it: a saved graph that
   * covers this state, or lags it within annDeltaLimit (searches merge the lag exactly), is loaded
   * as it is; otherwise it is built or brought up to date and saved (getAnn). A `dtype` other
   * than the graph's rebuilds it.
   */
  async prepareAnn(opts: PrepareAnnOptions = {}): Promise<boolean> {
    if (!this.liveCount || !(opts.queries === undefined ? useAnn(opts.ann, this.liveCount) : this.annChoice(opts.ann, this.liveCount, opts.queries))) return false;
    const params = opts.dtype ? { ...ANN_DEFAULTS, dtype: opts.dtype } : undefined;
    // A writer holds the graph loaded, so its commits update it in memory (annApply). So does a
    // long-lived reader (no `queries`: a server): a graph read in place costs a read per vector
    // scored (about 6 ms per query at 1M, against about 1 ms loaded).
    const g = peekAnn(this.dir, !this.writable && opts.queries !== undefined);
    if (g && (!params || g.params.dtype === params.dtype) && (g.covers === this.annCovers() || this.annLag(g))) return true;
    await annStoreGraph(this, this.dir, this.persistAnn(), { params, onNote: opts.onNote }, this.annCovers());
    return true;
  }

  /** A graph built or refreshed by this process is saved by a writer, or by a reader when no writer runs. */
  private persistAnn(): boolean {
    return this.writable || !fs.existsSync(path.join(this.dir, LOCK));
  }

  /** Apply one change atomically: new segment + tombstone files, then the manifest. */
  async write(change: StoreChange): Promise<void> {
    if (!this.writable || !this.release) throw new Error(`${this.location}: opened read-only (open with { write: true })`);
    // Copies: typedFields stores the checked fields on the items, not on the caller's objects.
    const upsert = (change.upsert ?? []).map((it) => ({ ...it })).sort((a, b) => compareIds(a.id, b.id));
    const remove = change.remove ?? [];
    let dim = this.dim;
    if (!dim && upsert.length) dim = upsert[0].vector.length;
    checkChange(upsert, remove, dim, this.location, (id) => this.locate(id) >= 0);
    this.fieldTypes = typedFields(upsert, await this.fieldSchema(), this.location);
    if (this.manifest?.version === 1) await this.compact(true);
    const before = this.annCovers();
    if (!upsert.length && !remove.length) {
      // Nothing to add or remove: commit only a change of the `building` mark, or, for a store
      // not committed yet, its empty first state (an index of an empty folder exists afterwards).
      if (!this.manifest || !this.building !== !(this.manifest as ManifestV2).building) await this.commit([], [], [], undefined, undefined, dim);
      return;
    }
    const gen = this.generation() + 1;
    let seg: SegmentRef | undefined;
    if (upsert.length) {
      const w = new SegmentWriter(this.dir, gen, upsert.length, dim);
      try {
        for (const it of upsert) w.append(it.vector);
        seg = w.finish(sidecarOf(upsert));
      } catch (e) {
        w.abort();
        throw e;
      }
    }
    const dead = [...remove, ...upsert.map((u) => u.id).filter((id) => this.locate(id) >= 0)];
    let tomb: TombRef | undefined;
    if (dead.length) {
      tomb = { ...writeJsonNew(path.join(this.dir, tombJson(gen)), dead), gen, count: dead.length };
      crashPoint('store:tombstone');
    }
    await this.commit(seg ? [seg] : [], tomb ? [tomb] : [], dead, undefined, gen, dim);
    const from = mergeFrom(this.segs);
    if (from >= 0) await this.mergeSegmentsFrom(from);
    annApply(this.dir, before, this.annCovers(), upsert, remove);
  }

  private generation(): number {
    return this.manifest?.version === VERSION ? this.manifest.generation : 0;
  }

  /**
   * Commit: append a segment and/or tombstone (`dead` = the ids it removes), or, with
   * `replaceFrom`, replace segments from that index on by `addSegs` (a merge: same live items).
   * The manifest is written atomically first; memory and unreferenced files follow.
   */
  private async commit(addSegs: SegmentRef[], addTombs: TombRef[], dead: string[], replaceFrom: number | undefined, gen: number | undefined, dim: number): Promise<void> {
    const old = this.manifest;
    const oldSegs: SegmentRef[] = old?.version === VERSION ? old.segments : [];
    const kept = replaceFrom === undefined ? oldSegs : oldSegs.slice(0, replaceFrom);
    // Segments written before id files existed gain one with this commit.
    const segments = [...kept.map((ref, i) => (ref.idx ? ref : this.withIdFile(ref, this.segs[i]))), ...addSegs];
    const minGen = Math.min(...segments.map((s) => s.gen));
    const tombstones = (replaceFrom === 0 ? [] : [...this.tombs, ...addTombs]).filter((t) => t.gen > minGen);
    const opened = addSegs.map((r) => openSegment(this.dir, r, dim));
    const killed = new Set(dead.filter((id) => this.locate(id) >= 0)).size;
    const count = replaceFrom === undefined ? this.liveCount - killed + opened.reduce((a, sg) => a + sg.rows, 0) : this.liveCount;
    const meta = old ? metaOf(old) : this.newMeta!;
    const fieldTypes = this.fieldTypes ?? (old as ManifestV2 | undefined)?.fieldTypes;
    this.fieldTypes = undefined;
    const next: ManifestV2 = {
      format: FORMAT,
      version: VERSION,
      model: meta.model,
      ...(meta.head ? { head: meta.head } : {}),
      dim,
      count,
      ...(meta.root ? { root: meta.root } : {}),
      created: meta.created,
      updated: new Date().toISOString(),
      generation: gen ?? this.generation(),
      segments,
      tombstones,
      ...(fieldTypes && Object.keys(fieldTypes).length ? { fieldTypes } : {}),
      ...(this.building ? { building: this.building } : {}),
    };
    try {
      writeManifest(this.dir, next);
    } catch (e) {
      for (const sg of opened) sg.close();
      throw e;
    }
    this.manifest = next;
    this.sorted = undefined;
    if (replaceFrom === undefined) {
      for (const id of dead) this.kill(id);
      for (const sg of opened) {
        this.segs.push(sg);
        this.liveCount += sg.rows;
      }
      this.tombs = tombstones;
    } else {
      for (const sg of this.segs.slice(replaceFrom)) sg.close();
      this.cache.clear();
      this.quant.clear();
      this.segs = [...this.segs.slice(0, replaceFrom), ...opened];
      this.tombs = tombstones;
      this.index();
    }
    this.cleanUnreferenced();
    crashPoint('store:cleanup');
  }

  /** `ref` with a new binary id file written for its segment (when its rows are in id order). */
  private withIdFile(ref: SegmentRef, seg: Segment | undefined): SegmentRef {
    if (!seg || seg.gen !== ref.gen || !seg.ids.sorted) return ref;
    const file = path.join(this.dir, segIds(ref.gen));
    fs.rmSync(file, { force: true }); // unreferenced: left by a crash before its commit
    const idx = writeNew(file, encodeIds(Array.from({ length: seg.rows }, (_, r) => seg.ids.at(r)), file));
    crashPoint('store:idfile');
    return { ...ref, idx };
  }

  /** Merge segments from index `from` on into one (full compaction when from = 0). */
  private async mergeSegmentsFrom(from: number): Promise<void> {
    const gen = this.generation() + 1;
    const ref = mergeSegments(this.dir, this.segs.slice(from), gen, this.dim);
    crashPoint('compact:written');
    await this.commit([ref], [], [], from, gen, this.dim);
  }

  /** Compact now: everything into one segment when `full`, else by the automatic policy. Returns true if it did anything. */
  async compact(full = true): Promise<boolean> {
    if (!this.writable || !this.release) throw new Error(`${this.location}: opened read-only (open with { write: true })`);
    const v1 = this.manifest?.version === 1;
    const from = v1 ? 0 : mergeFrom(this.segs, full);
    if (from < 0) return false;
    await this.mergeSegmentsFrom(from);
    if (v1) {
      for (const f of V1_FILES) fs.rmSync(path.join(this.dir, f), { force: true });
      fsyncDir(this.dir);
    }
    return true;
  }

  /** Segment and tombstone files with their live rows, for `verify` and stats. */
  layout(): { segments: { file: string; rows: number; live: number }[]; tombstones: number } {
    return {
      segments: this.segs.map((s) => ({ file: s.file, rows: s.rows, live: s.live.reduce((a, b) => a + b, 0) })),
      tombstones: this.tombs.length,
    };
  }

  private closeSegments(): void {
    for (const s of this.segs) s.close();
    this.segs = [];
    this.cache.clear();
    this.quant.clear();
  }

  /** Release the lock and close files. */
  async close(): Promise<void> {
    if (this.writable) annFlush(this.dir);
    this.closeSegments();
    this.release?.();
    this.release = undefined;
    this.writable = false;
    // A store that was created but never committed leaves no empty folder behind.
    if (this.createdDir && !this.manifest) {
      this.createdDir = false;
      try {
        fs.rmdirSync(this.dir);
      } catch {
        // not empty (someone else's files arrived): leave it
      }
    }
  }
}

function sidecarOf(items: StoreItem[]): Sidecar {
  const side: Sidecar = { ids: items.map((i) => i.id), files: items.map((i) => i.file ?? null) };
  if (items.some((i) => i.fields && Object.keys(i.fields).length)) side.fields = items.map((i) => (i.fields && Object.keys(i.fields).length ? i.fields : null));
  if (items.some((i) => i.label !== undefined)) side.labels = items.map((i) => i.label ?? null);
  if (items.some((i) => i.domain !== undefined)) side.domains = items.map((i) => i.domain ?? null);
  return side;
}

/** Check each item's fields against the store's field types (checkFields); returns the types after the change. */
function typedFields(upsert: StoreItem[], schema: FieldSchema, where: string): FieldSchema {
  for (const it of upsert) {
    if (it.fields === undefined) continue;
    const r = checkFields(it.fields, schema, `${where}: id "${it.id}"`);
    it.fields = r.fields;
    schema = r.schema;
  }
  return schema;
}

/** Validate a change: ids, sizes, finite unit vectors, removals of known ids. */
function checkChange(upsert: StoreItem[], remove: string[], dim: number, where: string, has: (id: string) => boolean): void {
  const seen = new Set<string>();
  for (const it of upsert) {
    if (typeof it.id !== 'string' || it.id === '') throw new Error(`${where}: item id ${JSON.stringify(it.id)} is not a non-empty string`);
    if (seen.has(it.id)) throw new Error(`${where}: id "${it.id}" appears twice in one change`);
    seen.add(it.id);
    if (it.vector.length !== dim) throw new Error(`${where}: id "${it.id}" has a ${it.vector.length}-d vector, the index is ${dim}-d`);
    let n = 0;
    for (const v of it.vector) {
      if (!Number.isFinite(v)) throw new Error(`${where}: id "${it.id}" has a non-finite value in its vector`);
      n += v * v;
    }
    if (n !== 0 && Math.abs(Math.sqrt(n) - 1) > 1e-3) throw new Error(`${where}: id "${it.id}" has a vector of norm ${Math.sqrt(n).toFixed(4)}; vectors must be L2-normalised`);
  }
  for (const id of remove) {
    if (seen.has(id)) throw new Error(`${where}: id "${id}" is both upserted and removed in one change`);
    if (!has(id)) throw new Error(`${where}: cannot remove "${id}": no such id in the index`);
  }
}
