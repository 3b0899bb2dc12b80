/**
 * Exact cosine top-k through onnxruntime: one small graph, Gemm(Q, G, transB=1) -> TopK,
 * run over gallery chunks (config.searchChunk rows) and query chunks (config.queryChunk),
 * merged on the host. Memory stays bounded at queryChunk x searchChunk scores.
 * For k up to RESCORE_MAX_K (every search the CLI, library and server answer) the kernel only
 * selects: its best k + RESCORE_MARGIN candidates per query are scored again with one
 * fixed-order float64 dot product rounded to float32, and ranked by that score, so a query's
 * scores and order do not depend on the batch it came in (the Gemm's rounding does). Deeper
 * rankings (whole-gallery evaluation) keep the kernel's scores: re-scoring them would cost a
 * second, slower Gemm.
 * Ties are broken by gallery order (lower row first).
 */
import os from 'node:os';
import type * as ort from 'onnxruntime-node';
import { config } from '../util/config.ts';
import { buildModel } from '../models/onnx-build.ts';
import { createSession } from '../models/ort.ts';
import { ortLib } from '../util/lazy-import.ts';

/** Candidates beyond k that the kernel selects for exact re-scoring, so rounding at the k-th place cannot change the set. */
export const RESCORE_MARGIN = 8;

/** The largest k whose results are re-scored exactly (the server's max_k). */
export const RESCORE_MAX_K = 1000;

/** Top-k results for nq queries: row-major nq x k; index -1 means fewer than k items existed. */
export interface TopK {
  /** min(requested k, gallery size): memory is queries x min(k, N), whatever k was asked for. */
  k: number;
  indices: Int32Array;
  scores: Float32Array;
}

/** Options for searchExact. */
export interface ExactOptions {
  /** Per query, a gallery row to leave out (the query itself), or -1. */
  exclude?: Int32Array;
  /** Gallery rows per chunk (default config.searchChunk). */
  chunk?: number;
  /** Queries per call (default config.queryChunk). */
  queryChunk?: number;
}

/** The ONNX graph of the kernel: scores = Q x G^T, then TopK(k) along the gallery axis. */
export function kernelModel(): Uint8Array {
  return buildModel({
    name: 'lookalike-exact-topk',
    inputs: [
      { name: 'queries', shape: ['nq', 'dim'] },
      { name: 'gallery', shape: ['ng', 'dim'] },
      { name: 'k', type: 'int64', shape: [1] },
    ],
    outputs: [
      { name: 'scores', shape: ['nq', 'kk'] },
      { name: 'indices', type: 'int64', shape: ['nq', 'kk'] },
    ],
    nodes: [
      { op: 'Gemm', inputs: ['queries', 'gallery'], outputs: ['sim'], attrs: { transB: 1 } },
      { op: 'TopK', inputs: ['sim', 'k'], outputs: ['scores', 'indices'], attrs: { axis: -1, largest: 1, sorted: 1 } },
    ],
  });
}

let kernel: Promise<ort.InferenceSession> | undefined;

/**
 * Threads for the search sessions: config.threads, else every core. ORT's own default keeps one
 * core busy on a 2-core machine, and batched exact search over 1M x 512 runs 2.26x faster on both
 * (docs/index-format.md). Each score is still one thread's dot product, so results do not change.
 */
export function kernelThreads(): number {
  return config.threads || os.availableParallelism?.() || os.cpus().length;
}

/** The shared kernel session (created once per process). */
export function kernelSession(): Promise<ort.InferenceSession> {
  kernel ??= createSession(kernelModel(), 'exact-search kernel', { threads: kernelThreads() });
  return kernel;
}

/** Exact top-k of queries against gallery rows (both L2-normalised, row-major, `dim` wide). */
export async function searchExact(gallery: Float32Array, queries: Float32Array, dim: number, k: number, opts: ExactOptions = {}): Promise<TopK> {
  const ng = dim ? gallery.length / dim : 0;
  const nq = dim ? queries.length / dim : 0;
  if (!Number.isInteger(ng) || !Number.isInteger(nq)) throw new Error(`searchExact: arrays are not multiples of dim ${dim}`);
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive integer, got ${k}`);
  // Never more slots than gallery rows: k = 1e9 on 56 items allocates 56 per query.
  k = Math.max(1, Math.min(k, ng));
  if (ng === 0 || nq === 0) return { k, indices: new Int32Array(nq * k).fill(-1), scores: new Float32Array(nq * k).fill(-Infinity) };
  const wanted = k;
  const exact = k <= RESCORE_MAX_K;
  if (exact) k = Math.min(ng, k + RESCORE_MARGIN);
  const indices = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  const session = await kernelSession();
  const chunk = Math.max(1, opts.chunk ?? config.searchChunk);
  const qChunk = Math.max(1, opts.queryChunk ?? config.queryChunk);
  const exclude = opts.exclude;
  const extra = exclude ? 1 : 0;
  const filled = new Int32Array(nq);
  const { Tensor } = ortLib();
  for (let q0 = 0; q0 < nq; q0 += qChunk) {
    const q1 = Math.min(nq, q0 + qChunk);
    const qTensor = new Tensor('float32', queries.subarray(q0 * dim, q1 * dim), [q1 - q0, dim]);
    for (let g0 = 0; g0 < ng; g0 += chunk) {
      const g1 = Math.min(ng, g0 + chunk);
      const kk = Math.min(k + extra, g1 - g0);
      const out = await session.run({
        queries: qTensor,
        gallery: new Tensor('float32', gallery.subarray(g0 * dim, g1 * dim), [g1 - g0, dim]),
        k: new Tensor('int64', BigInt64Array.from([BigInt(kk)]), [1]),
      });
      const s = out.scores.data as Float32Array;
      const ix = out.indices.data as BigInt64Array;
      for (let qi = q0; qi < q1; qi++) {
        const row = (qi - q0) * kk;
        const skip = exclude ? exclude[qi] : -1;
        for (let j = 0; j < kk; j++) {
          const gi = g0 + Number(ix[row + j]);
          if (gi === skip) continue;
          const f = insert(indices, scores, qi * k, k, filled[qi], gi, s[row + j]);
          if (f < 0) break;
          filled[qi] = f;
        }
      }
    }
  }
  return exact ? rescore(gallery, queries, dim, { k, indices, scores }, filled, wanted) : { k, indices, scores };
}

/** float64 dot product of two float32 rows in index order (each product is exact; one fixed summation order). */
export function dot64(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
}

/** Score each query's candidates with dot64 rounded to float32, rank them (score descending, row ascending) and keep k. */
function rescore(gallery: Float32Array, queries: Float32Array, dim: number, cand: TopK, filled: Int32Array, k: number): TopK {
  const nq = filled.length;
  const indices = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  const order: { gi: number; s: number }[] = [];
  for (let q = 0; q < nq; q++) {
    order.length = 0;
    for (let j = 0; j < filled[q]; j++) {
      const gi = cand.indices[q * cand.k + j];
      order.push({ gi, s: Math.fround(dot64(queries, q * dim, gallery, gi * dim, dim)) });
    }
    order.sort((a, b) => b.s - a.s || a.gi - b.gi);
    for (let j = 0; j < Math.min(k, order.length); j++) {
      indices[q * k + j] = order[j].gi;
      scores[q * k + j] = order[j].s;
    }
  }
  return { k, indices, scores };
}

/**
 * Insert (gi, score) into one query's sorted top-k slot range, of which `filled` slots are
 * used; returns the new fill count, or -1 when the candidate does not enter (later candidates
 * of the same sorted chunk cannot either). Order: score descending, then gallery row ascending.
 */
function insert(indices: Int32Array, scores: Float32Array, base: number, k: number, filled: number, gi: number, score: number): number {
  let p: number;
  if (filled < k) p = base + filled++;
  else {
    const last = base + k - 1;
    if (score < scores[last] || (score === scores[last] && gi > indices[last])) return -1;
    p = last;
  }
  while (p > base && (score > scores[p - 1] || (score === scores[p - 1] && gi < indices[p - 1]))) {
    indices[p] = indices[p - 1];
    scores[p] = scores[p - 1];
    p--;
  }
  indices[p] = gi;
  scores[p] = score;
  return filled;
}

let gemm: Promise<ort.InferenceSession> | undefined;

/** Full cosine score matrix a (na x dim) times b^T -> na x nb, through one ORT Gemm (for cross-modal recall). */
export async function scoreMatrix(a: Float32Array, b: Float32Array, dim: number): Promise<Float32Array> {
  const na = a.length / dim;
  const nb = b.length / dim;
  if (na === 0 || nb === 0) return new Float32Array(0);
  gemm ??= createSession(
    buildModel({
      name: 'lookalike-scores',
      inputs: [{ name: 'a', shape: ['na', 'dim'] }, { name: 'b', shape: ['nb', 'dim'] }],
      outputs: [{ name: 'scores', shape: ['na', 'nb'] }],
      nodes: [{ op: 'Gemm', inputs: ['a', 'b'], outputs: ['scores'], attrs: { transB: 1 } }],
    }),
    'score-matrix kernel',
    { threads: kernelThreads() },
  );
  const { Tensor } = ortLib();
  const out = await (await gemm).run({ a: new Tensor('float32', a, [na, dim]), b: new Tensor('float32', b, [nb, dim]) });
  return out.scores.data as Float32Array;
}

/** Plain-TypeScript brute force (for tests and as a reference): same ordering rules as searchExact. */
export function searchBrute(gallery: Float32Array, queries: Float32Array, dim: number, k: number, exclude?: Int32Array): TopK {
  const ng = gallery.length / dim;
  const nq = queries.length / dim;
  const indices = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  for (let q = 0; q < nq; q++) {
    let filled = 0;
    for (let g = 0; g < ng; g++) {
      if (exclude && exclude[q] === g) continue;
      let s = 0;
      for (let d = 0; d < dim; d++) s += queries[q * dim + d] * gallery[g * dim + d];
      const f = insert(indices, scores, q * k, k, filled, g, Math.fround(s));
      if (f >= 0) filled = f;
    }
  }
  return { k, indices, scores };
}
