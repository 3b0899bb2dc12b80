/**
 * Re-ranking for the one search path (index/search.ts#searchStore): the registry of methods (one
 * per file here, each declaring its parameters), the `rerank` option's text form, and the search
 * that applies them. The index itself is never changed.
 */
import type { Hit, VectorStore } from '../../store/types.ts';
import { scoreMatrix, searchExact } from '../../store/exact.ts';
import { OptionError } from '../../util/options.ts';
import type { AnnMode } from '../../store/ann-mode.ts';
import type { RerankDef, RerankStep } from './base.ts';
import { AQE, alphaQueryExpansion } from './aqe.ts';
import { DBA, DBA_MAX_GALLERY, augmentDatabase } from './dba.ts';
import { KRECIPROCAL, KR_MAX_ITEMS, kReciprocalDistances } from './k-reciprocal.ts';

export type { RerankStep } from './base.ts';
export { DBA_MAX_GALLERY } from './dba.ts';
export { KR_MAX_ITEMS } from './k-reciprocal.ts';

/** Every re-ranking method, in the order they combine (gallery, then query, then final list). */
export const RERANK_METHODS: readonly RerankDef[] = [DBA, AQE, KRECIPROCAL];

/** The `rerank` option: its text form (`aqe`, `dba:n=5+aqe:n=3,alpha=2`, `kr:k1=20`) or parsed steps. */
export type RerankOption = string | RerankStep[];

/** One line per method and parameter, for help texts. */
export function rerankHelp(): string {
  return RERANK_METHODS.map((m) => `${m.name}: ${m.help} (${Object.entries(m.params).map(([p, d]) => `${p}=${d.default}`).join(', ')})`).join('; ');
}

/**
 * Parse `METHOD[:PARAM=VALUE,...][+METHOD...]` (or check parsed steps): known methods, each at
 * most once, known parameters within their limits, defaults filled in; sorted into the order
 * they apply (dba, aqe, kr). `none` or '' means no re-ranking.
 */
export function parseRerank(o: RerankOption | undefined): RerankStep[] {
  if (o === undefined) return [];
  const raw: { method: string; params: Record<string, string | number> }[] = typeof o === 'string'
    ? o.trim() === '' || o.trim() === 'none'
      ? []
      : o.split('+').map((part) => {
          const [method, rest] = part.trim().split(':', 2) as [string, string | undefined];
          const params: Record<string, string> = {};
          for (const kv of rest ? rest.split(',') : []) {
            const m = /^\s*([A-Za-z]\w*)\s*=\s*(\S+)\s*$/.exec(kv);
            if (!m) throw new OptionError(`{{rerank}} ${o}: "${kv}" is not PARAM=VALUE (e.g. aqe:n=3,alpha=3)`);
            params[m[1]] = m[2];
          }
          return { method, params };
        })
    : o.map((s) => ({ method: s.method, params: s.params ?? {} }));
  const seen = new Set<string>();
  const steps = raw.map(({ method, params }) => {
    const def = RERANK_METHODS.find((m) => m.name === method);
    if (!def) throw new OptionError(`{{rerank}} ${method}: unknown method (expected ${RERANK_METHODS.map((m) => m.name).join(', ')} or none, joined with +)`);
    if (seen.has(method)) throw new OptionError(`{{rerank}} ${method} is given twice`);
    seen.add(method);
    const values: Record<string, number> = {};
    for (const [p, d] of Object.entries(def.params)) values[p] = d.default;
    for (const [p, v] of Object.entries(params)) {
      const d = def.params[p];
      if (!d) throw new OptionError(`{{rerank}} ${method}: unknown parameter "${p}" (expected ${Object.keys(def.params).join(', ')})`);
      const x = typeof v === 'number' ? v : Number(v);
      if (!Number.isFinite(x) || x < d.min || x > d.max || (d.integer && !Number.isInteger(x))) {
        throw new OptionError(`{{rerank}} ${method}:${p}=${v}: expected ${d.integer ? 'an integer' : 'a number'} from ${d.min} to ${d.max}`);
      }
      values[p] = x;
    }
    return { method: def.name, params: values, stage: def.stage };
  });
  return steps.sort((a, b) => a.stage - b.stage).map(({ method, params }) => ({ method, params }));
}

/** The canonical text of parsed steps (every parameter written), for records and reproduction. */
export function formatRerank(steps: readonly RerankStep[]): string {
  if (!steps.length) return 'none';
  return steps.map((s) => `${s.method}:${Object.entries(s.params).map(([p, v]) => `${p}=${v}`).join(',')}`).join('+');
}

/** The store search a re-ranking builds on (exact or ANN, as the caller's mode says). */
export interface BaseSearch {
  ann?: AnnMode;
  ef?: number;
  minScore?: number;
}

interface Gallery {
  ids: string[];
  vectors: Float32Array;
  dim: number;
}

// One loaded (and augmented) gallery per store and index state: a batch of searches, or a
// leave-one-out evaluation in query blocks, pays for loading and DBA once.
const galleries = new WeakMap<VectorStore, { key: string; gallery: Gallery }>();

async function loadGallery(store: VectorStore, dba: RerankStep | undefined, limit: number, what: string): Promise<Gallery> {
  const meta = await store.meta();
  const count = await store.count();
  if (count > limit) throw new OptionError(`{{rerank}} ${what}: the gallery has ${count} items, more than the ${limit.toLocaleString('en-US')} it accepts (it loads the gallery and compares it with itself); use aqe alone on large galleries`);
  const key = `${store.location}|${meta.updated}|${count}|${dba ? formatRerank([dba]) : ''}`;
  const hit = galleries.get(store);
  if (hit?.key === key) return hit.gallery;
  const ids: string[] = [];
  const vectors = new Float32Array(count * meta.dim);
  let o = 0;
  for await (const b of store.scan()) {
    ids.push(...b.ids);
    vectors.set(b.vectors, o);
    o += b.vectors.length;
  }
  let g: Gallery = { ids, vectors: vectors.subarray(0, o), dim: meta.dim };
  if (dba) {
    const n = Math.min(dba.params.n, ids.length);
    const top = await searchExact(g.vectors, g.vectors, g.dim, n);
    g = { ...g, vectors: augmentDatabase(g.vectors, g.dim, top.indices, top.scores, top.k, dba.params.alpha) };
  }
  galleries.set(store, { key, gallery: g });
  return g;
}

/** Top lists (indices into the gallery, scores) of each query, without its excluded id, at most `n` long. */
async function exactTop(g: Gallery, queries: Float32Array, n: number, exclude: (string | undefined)[] | undefined): Promise<{ idx: number[]; score: number[] }[]> {
  const nq = queries.length / g.dim;
  const top = await searchExact(g.vectors, queries, g.dim, n + (exclude ? 1 : 0));
  return Array.from({ length: nq }, (_, i) => {
    const idx: number[] = [];
    const score: number[] = [];
    for (let j = 0; j < top.k && idx.length < n; j++) {
      const gi = top.indices[i * top.k + j];
      if (gi < 0 || (exclude?.[i] !== undefined && g.ids[gi] === exclude[i])) continue;
      idx.push(gi);
      score.push(top.scores[i * top.k + j]);
    }
    return { idx, score };
  });
}

function expand(g: Gallery, queries: Float32Array, tops: { idx: number[]; score: number[] }[], aqe: RerankStep): Float32Array {
  const n = aqe.params.n;
  const vectors = new Float32Array(tops.length * n * g.dim);
  const scores = new Float32Array(tops.length * n).fill(-Infinity);
  tops.forEach((t, i) => t.idx.forEach((gi, j) => {
    vectors.set(g.vectors.subarray(gi * g.dim, (gi + 1) * g.dim), (i * n + j) * g.dim);
    scores[i * n + j] = t.score[j];
  }));
  return alphaQueryExpansion(queries, g.dim, vectors, scores, n, aqe.params.alpha);
}

/**
 * Rank the store for query rows with the given re-ranking steps (non-empty). αQE alone runs
 * through the store (two searches, ANN allowed); DBA and k-reciprocal load the gallery (with
 * their limits) and rank it exactly. Hit scores are the cosine of the (expanded) query with the
 * (augmented) gallery vector, or 1 - the k-reciprocal distance; minScore applies to them.
 */
export async function rerankSearch(store: VectorStore, queries: Float32Array, k: number, exclude: (string | undefined)[] | undefined, steps: readonly RerankStep[], mode: BaseSearch): Promise<Hit[][]> {
  const step = (m: RerankStep['method']) => steps.find((s) => s.method === m);
  const dba = step('dba');
  const aqe = step('aqe');
  const kr = step('kr');
  if (!dba && !kr) {
    const n = aqe!.params.n;
    const first = await store.search(queries, { k: n, exclude, ann: mode.ann, ef: mode.ef });
    const wanted = [...new Set(first.flat().map((h) => h.id))];
    const rows = await store.getVectors(wanted);
    const { dim } = await store.meta();
    const g: Gallery = { ids: wanted, vectors: rows, dim };
    const at = new Map(wanted.map((id, i) => [id, i]));
    const tops = first.map((hits) => ({ idx: hits.map((h) => at.get(h.id)!), score: hits.map((h) => h.score) }));
    return store.search(expand(g, queries, tops, aqe!), { k, exclude, ann: mode.ann, ef: mode.ef, minScore: mode.minScore });
  }
  const g = await loadGallery(store, dba, kr ? KR_MAX_ITEMS : DBA_MAX_GALLERY, kr ? 'kr' : 'dba');
  if (queries.length % g.dim !== 0) throw new Error(`${store.location}: queries are not ${g.dim}-d`);
  const nq = queries.length / g.dim;
  if (kr && nq + g.ids.length > KR_MAX_ITEMS) throw new OptionError(`{{rerank}} kr: ${nq} queries + ${g.ids.length} gallery items exceed the ${KR_MAX_ITEMS.toLocaleString('en-US')} it accepts together (its matrices are that size squared); search in smaller query batches or use dba/aqe`);
  const q = aqe ? expand(g, queries, await exactTop(g, queries, Math.min(aqe.params.n, g.ids.length), exclude), aqe) : queries;
  let lists: { idx: number[]; score: number[] }[];
  if (kr) {
    const all = new Float32Array(q.length + g.vectors.length);
    all.set(q);
    all.set(g.vectors, q.length);
    const dist = kReciprocalDistances(await scoreMatrix(all, all, g.dim), nq, g.ids.length, kr.params as { k1: number; k2: number; lambda: number });
    const ng = g.ids.length;
    lists = Array.from({ length: nq }, (_, i) => {
      const order = Array.from({ length: ng }, (_, j) => j).filter((j) => exclude?.[i] === undefined || g.ids[j] !== exclude[i]);
      order.sort((a, b) => dist[i * ng + a] - dist[i * ng + b] || a - b);
      const idx = order.slice(0, k);
      return { idx, score: idx.map((j) => 1 - dist[i * ng + j]) };
    });
  } else {
    lists = await exactTop(g, q, Math.min(k, g.ids.length), exclude);
  }
  return lists.map((t) => {
    const hits: Hit[] = [];
    t.idx.forEach((gi, j) => {
      if (mode.minScore !== undefined && t.score[j] < mode.minScore) return;
      hits.push({ rank: hits.length + 1, id: g.ids[gi], score: t.score[j] });
    });
    return hits;
  });
}
