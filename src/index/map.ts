/**
 * A 2-D map of an index (docs/explorer.md): UMAP (umap-js) over each item's nearest neighbours,
 * found through the one search path, or PCA above MAP_UMAP_MAX items (UMAP's optimisation grows
 * with the item count and runs in JS). Computed once per index state and cached: a file beside a
 * folder index (a name the store's cleanup never removes), else under the cache folder, keyed by
 * a checksum of the index's model, update time, count and ids.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { VectorStore } from '../store/types.ts';
import { searchStore } from './search.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { config } from '../util/config.ts';
import { rng } from '../util/random.ts';
import { optionalImport } from '../util/optional.ts';
import { OptionError } from '../util/options.ts';

/** Above this many items `auto` lays the map out with PCA instead of UMAP. */
export const MAP_UMAP_MAX = 20_000;
/** Neighbours per item that UMAP's graph is built from. */
export const MAP_NEIGHBOURS = 15;
/** The cache file's name inside a folder index. */
export const MAP_CACHE_FILE = 'lookalike-map.json';
/** Bumped when the layout changes, so old caches are recomputed. */
const MAP_VERSION = 1;

/** How a map is laid out: `auto` is UMAP up to MAP_UMAP_MAX items, else PCA. */
export type MapMethod = 'auto' | 'umap' | 'pca';

/** Points of a map: item i at (x[i], y[i]), both in [0, 1] (aspect kept). */
export interface GalleryMap {
  method: 'umap' | 'pca';
  ids: string[];
  x: number[];
  y: number[];
  /** The index state the map was computed for. */
  key: string;
  /** True when read from the cache. */
  cached?: boolean;
}

/** Options of galleryMap. */
export interface MapOptions {
  method?: MapMethod;
  /** Read and write the cache (default true). */
  cache?: boolean;
  /** Told how the map was made (a stderr line in the CLI). */
  onNote?: (msg: string) => void;
}

/** The 2-D map of a store (from its cache when the index has not changed since). */
export async function galleryMap(store: VectorStore, opts: MapOptions = {}): Promise<GalleryMap> {
  const ids = await store.ids();
  const method = resolveMethod(checkMethod(opts.method ?? 'auto'), ids.length);
  const meta = await store.meta();
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify([MAP_VERSION, method, meta.model.fingerprint, meta.head?.fingerprint ?? null, meta.updated, ids.length]))
    .update(ids.join('\0'))
    .digest('hex');
  const file = cacheFile(store);
  if (opts.cache !== false) {
    const hit = readCache(file, key);
    if (hit) return hit;
  }
  const dim = meta.dim;
  const vectors = new Float32Array(ids.length * dim);
  let row = 0;
  for await (const b of store.scan()) {
    vectors.set(b.vectors, row * dim);
    row += b.ids.length;
  }
  const knn = (k: number) => knnOfStore(store, vectors, dim, k);
  const m = { ...(await layout(vectors, dim, method, knn, opts.onNote)), ids, key };
  if (opts.cache !== false) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, JSON.stringify({ version: MAP_VERSION, ...m }));
    } catch (e) {
      // A read-only index still gets its map, computed again next time.
      opts.onNote?.(`map: not cached (${(e as Error).message.split('\n')[0]})`);
    }
  }
  return m;
}

/** The layout used for n items: auto is UMAP up to MAP_UMAP_MAX; too few items for UMAP's neighbourhoods get PCA. */
function resolveMethod(m: MapMethod, n: number): 'umap' | 'pca' {
  const use = m === 'auto' ? (n > MAP_UMAP_MAX ? 'pca' : 'umap') : m;
  return use === 'umap' && n <= MAP_NEIGHBOURS + 1 ? 'pca' : use;
}

function checkMethod(m: string): MapMethod {
  if (m !== 'auto' && m !== 'umap' && m !== 'pca') throw new OptionError(`{{method}} ${m}: expected auto, umap or pca`);
  return m;
}

/** Where a store's map is cached: inside a folder index, else under the cache folder by location. */
function cacheFile(store: VectorStore): string {
  if (store.kind === 'folder') return path.join(store.location, MAP_CACHE_FILE);
  const h = crypto.createHash('sha256').update(store.location).digest('hex').slice(0, 24);
  return path.join(config.cacheDir, 'maps', `${h}.json`);
}

function readCache(file: string, key: string): GalleryMap | undefined {
  try {
    const c = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (c.version !== MAP_VERSION || c.key !== key || !Array.isArray(c.ids) || c.x?.length !== c.ids.length) return undefined;
    return { method: c.method, ids: c.ids, x: c.x, y: c.y, key, cached: true };
  } catch {
    return undefined;
  }
}

type Knn = (k: number) => Promise<{ indices: Int32Array; scores: Float32Array; k: number }>;

/** Each row's k nearest rows (itself first) through the one search path. */
async function knnOfStore(store: VectorStore, vectors: Float32Array, dim: number, k: number) {
  const ids = await store.ids();
  const at = new Map(ids.map((id, i) => [id, i]));
  const n = ids.length;
  const indices = new Int32Array(n * k).fill(-1);
  const scores = new Float32Array(n * k);
  const block = 1024;
  for (let s = 0; s < n; s += block) {
    const e = Math.min(n, s + block);
    const hits = await searchStore(store, vectors.subarray(s * dim, e * dim), k, undefined);
    hits.forEach((list, q) =>
      list.forEach((h, j) => {
        indices[(s + q) * k + j] = at.get(h.id) ?? -1;
        scores[(s + q) * k + j] = h.score;
      }),
    );
  }
  return { indices, scores, k };
}

async function layout(vectors: Float32Array, dim: number, use: 'umap' | 'pca', knn: Knn, onNote?: (msg: string) => void): Promise<{ method: 'umap' | 'pca'; x: number[]; y: number[] }> {
  const n = vectors.length / dim;
  // umap-js is an optional peer: a missing one is an error naming its npm install (PCA needs nothing).
  const umap = use === 'umap' ? await optionalImport<typeof import('umap-js')>('umap-js', 'map') : undefined;
  const xy = use === 'umap' ? await umapLayout(umap!, n, await knn(Math.min(n, MAP_NEIGHBOURS + 1))) : pcaLayout(vectors, dim);
  onNote?.(`map: ${n} items laid out with ${use === 'umap' ? 'UMAP' : 'PCA'}`);
  return { method: use, ...normalise(xy) };
}

/** UMAP from a precomputed neighbour graph (cosine distance 1 - score); the loop yields to the event loop now and then. */
async function umapLayout(lib: typeof import('umap-js'), n: number, g: { indices: Int32Array; scores: Float32Array; k: number }): Promise<Float64Array> {
  const k = g.k;
  const indices: number[][] = [];
  const distances: number[][] = [];
  for (let i = 0; i < n; i++) {
    const ri: number[] = [i];
    const rd: number[] = [0];
    for (let j = 0; j < k && ri.length < k; j++) {
      const o = g.indices[i * k + j];
      if (o < 0 || o === i) continue;
      ri.push(o);
      rd.push(Math.max(0, 1 - g.scores[i * k + j]));
    }
    while (ri.length < k) ri.push(ri[ri.length - 1]), rd.push(rd[rd.length - 1]);
    indices.push(ri);
    distances.push(rd);
  }
  const u = new lib.UMAP({ nComponents: 2, nNeighbors: k, minDist: 0.1, random: rng(42) });
  u.setPrecomputedKNN(indices, distances);
  // The vectors themselves are not read once the neighbours are given: only their count.
  const epochs = u.initializeFit(Array.from({ length: n }, () => []));
  for (let e = 0; e < epochs; e++) {
    u.step();
    if (e % 25 === 24) await new Promise((r) => setImmediate(r));
  }
  const emb = u.getEmbedding();
  const out = new Float64Array(n * 2);
  emb.forEach((p, i) => ((out[2 * i] = p[0]), (out[2 * i + 1] = p[1])));
  return out;
}

/** The first two principal components (subspace iteration on the centred vectors). */
export function pcaLayout(vectors: Float32Array, dim: number): Float64Array {
  const n = vectors.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += vectors[i * dim + d];
  for (let d = 0; d < dim; d++) mean[d] /= Math.max(1, n);
  const rand = rng(7);
  let a = Float64Array.from({ length: dim }, () => rand() - 0.5);
  let b = Float64Array.from({ length: dim }, () => rand() - 0.5);
  const proj = new Float64Array(2 * n);
  const project = () => {
    for (let i = 0; i < n; i++) {
      let pa = 0;
      let pb = 0;
      for (let d = 0; d < dim; d++) {
        const v = vectors[i * dim + d] - mean[d];
        pa += v * a[d];
        pb += v * b[d];
      }
      proj[2 * i] = pa;
      proj[2 * i + 1] = pb;
    }
  };
  for (let it = 0; it < 30; it++) {
    orthonormalise(a, b);
    project();
    const na = new Float64Array(dim);
    const nb = new Float64Array(dim);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < dim; d++) {
        const v = vectors[i * dim + d] - mean[d];
        na[d] += v * proj[2 * i];
        nb[d] += v * proj[2 * i + 1];
      }
    }
    a = na;
    b = nb;
  }
  orthonormalise(a, b);
  project();
  return proj;
}

function orthonormalise(a: Float64Array, b: Float64Array): void {
  const norm = (v: Float64Array) => {
    let s = 0;
    for (const x of v) s += x * x;
    s = Math.sqrt(s) || 1;
    for (let i = 0; i < v.length; i++) v[i] /= s;
  };
  norm(a);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  for (let i = 0; i < a.length; i++) b[i] -= dot * a[i];
  norm(b);
}

/** Scale points into [0, 1] on the longer axis, centred on the shorter (aspect kept). */
function normalise(xy: Float64Array): { x: number[]; y: number[] } {
  const n = xy.length / 2;
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (let i = 0; i < n; i++) {
    x0 = Math.min(x0, xy[2 * i]), x1 = Math.max(x1, xy[2 * i]);
    y0 = Math.min(y0, xy[2 * i + 1]), y1 = Math.max(y1, xy[2 * i + 1]);
  }
  const span = Math.max(x1 - x0, y1 - y0) || 1;
  const ox = (span - (x1 - x0)) / 2;
  const oy = (span - (y1 - y0)) / 2;
  const r = (v: number) => Math.round(v * 1e5) / 1e5;
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    x.push(n === 1 ? 0.5 : r((xy[2 * i] - x0 + ox) / span));
    y.push(n === 1 ? 0.5 : r((xy[2 * i + 1] - y0 + oy) / span));
  }
  return { x, y };
}
