/**
 * bench:search — exact cosine top-k of Q queries over an N x D gallery (seeded random unit vectors).
 *
 * What it compares, and why:
 *  - `single`: one ORT Gemm+TopK call over everything, all Q x N scores in memory at once. The
 *    fastest thing ORT can do with this data and the baseline of the ratios: it is the ceiling for
 *    lookalike's chunked search, which runs the same kernel.
 *  - `chunked`: lookalike's searchExact (src/store/exact.ts), the same kernel over gallery and
 *    query chunks merged on the host, so memory stays bounded (see the peak RSS column, measured
 *    per path in its own process). Goal: >= 0.8x `single`.
 *  - `ts-blocked`: the strongest simple baseline without a BLAS, a TypeScript loop blocked over 4
 *    queries x 2 gallery rows (8 accumulators: each loaded value is used 4 or 2 times), with the
 *    same top-k insertion; one core. Run on a slice of the queries (its work is declared, so its
 *    GFLOP/s and ratio are per unit of work, not extrapolated seconds).
 *  - `ts-naive`: the textbook one-query-one-row loop (searchBrute), for scale.
 * GFLOP counts the multiply-adds only (2 x Q x N x D); TopK and merging are not counted, so the
 * GFLOP/s of every path is "useful GFLOP/s". Each row's cpu/wall says how many cores it kept busy.
 *
 *   npm run bench:search -- [--gallery 100000] [--queries 1000] [--dim 512] [--k 10] [--slice 8]
 *                           [--rounds 5] [--json] [--quick: 500 queries]
 */
import * as ort from 'onnxruntime-node';
import { searchBrute, searchExact, kernelSession, type TopK } from '../src/store/exact.ts';
import { l2normalize } from '../src/models/pool.ts';
import { gaussian, rng } from '../src/util/random.ts';
import { Bench, benchArgs } from './harness.ts';

const { values } = benchArgs({
  gallery: { type: 'string' },
  queries: { type: 'string' },
  dim: { type: 'string', default: '512' },
  k: { type: 'string', default: '10' },
  slice: { type: 'string', default: '8' },
});
const quick = Boolean(values.quick);
const N = Number(values.gallery ?? 100_000);
const Q = Number(values.queries ?? (quick ? 500 : 1000));
const D = Number(values.dim);
const K = Number(values.k);
const S = Math.min(Q, Math.max(4, Math.round(Number(values.slice) / 4) * 4));

/**
 * Blocked TypeScript top-k: 4 queries x 2 gallery rows per inner loop (8 dot products share each
 * loaded query and gallery value); ties broken like searchExact. nq must be a multiple of 4.
 */
function searchBlocked(gallery: Float32Array, queries: Float32Array, dim: number, k: number): TopK {
  const ng = gallery.length / dim;
  const nq = queries.length / dim;
  const indices = new Int32Array(nq * k).fill(-1);
  const scores = new Float32Array(nq * k).fill(-Infinity);
  const filled = new Int32Array(nq);
  const put = (q: number, g: number, s: number) => {
    const base = q * k;
    let p: number;
    if (filled[q] < k) p = base + filled[q]++;
    else {
      p = base + k - 1;
      if (s < scores[p] || (s === scores[p] && g > indices[p])) return;
    }
    while (p > base && (s > scores[p - 1] || (s === scores[p - 1] && g < indices[p - 1]))) {
      indices[p] = indices[p - 1];
      scores[p] = scores[p - 1];
      p--;
    }
    indices[p] = g;
    scores[p] = s;
  };
  for (let q = 0; q < nq; q += 4) {
    const a = q * dim, b = a + dim, c = b + dim, e = c + dim;
    for (let g = 0; g < ng; g += 2) {
      const two = g + 1 < ng;
      const o = g * dim, p = two ? o + dim : o;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, t0 = 0, t1 = 0, t2 = 0, t3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = gallery[o + d], y = gallery[p + d];
        const qa = queries[a + d], qb = queries[b + d], qc = queries[c + d], qe = queries[e + d];
        s0 += qa * x; s1 += qb * x; s2 += qc * x; s3 += qe * x;
        t0 += qa * y; t1 += qb * y; t2 += qc * y; t3 += qe * y;
      }
      put(q, g, Math.fround(s0)); put(q + 1, g, Math.fround(s1)); put(q + 2, g, Math.fround(s2)); put(q + 3, g, Math.fround(s3));
      if (two) { put(q, g + 1, Math.fround(t0)); put(q + 1, g + 1, Math.fround(t1)); put(q + 2, g + 1, Math.fround(t2)); put(q + 3, g + 1, Math.fround(t3)); }
    }
  }
  return { k, indices, scores };
}

const b = new Bench(
  'search',
  `Exact cosine top-${K} of ${Q} queries over ${N} x ${D} gallery vectors: lookalike's chunked searchExact and two TypeScript loops against one all-in-memory ORT Gemm+TopK call. GFLOP = 2 x Q x N x D multiply-adds (TopK not counted).`,
  { gallery: N, queries: Q, dim: D, k: K, 'ts slice': S },
);
const g = gaussian(rng(7));
const gallery = l2normalize(Float32Array.from({ length: N * D }, g), D);
const queries = l2normalize(Float32Array.from({ length: Q * D }, g), D);
const slice = queries.subarray(0, S * D);
const gflop = (2 * Q * N * D) / 1e9;
const gflopSlice = (2 * S * N * D) / 1e9;
let session: ort.InferenceSession;
let chunked: TopK | undefined;
let blocked: TopK | undefined;
const r = await b.compare({
  group: 'search',
  title: `exact top-${K}: ${Q} queries x ${N} gallery x ${D}-d`,
  unit: 'GFLOP/s',
  baseline: 'single',
  paths: [
    {
      name: 'single',
      label: 'one ORT Gemm+TopK call (all scores in memory)',
      work: gflop,
      setup: async () => void (session = await kernelSession()),
      run: () =>
        session.run({
          queries: new ort.Tensor('float32', queries, [Q, D]),
          gallery: new ort.Tensor('float32', gallery, [N, D]),
          k: new ort.Tensor('int64', BigInt64Array.from([BigInt(K)]), [1]),
        }),
    },
    { name: 'chunked', label: 'lookalike searchExact (chunked, bounded memory)', work: gflop, run: async () => void (chunked = await searchExact(gallery, queries, D, K)) },
    { name: 'ts-blocked', label: `TS loop blocked 4 queries x 2 rows (${S} queries, 1 core)`, work: gflopSlice, run: () => void (blocked = searchBlocked(gallery, slice, D, K)) },
    { name: 'ts-naive', label: `TS loop naive, searchBrute (${S} queries, 1 core)`, work: gflopSlice, run: () => searchBrute(gallery, slice, D, K) },
  ],
});
if (!r.skipped) {
  const brute = searchBrute(gallery, slice, D, K);
  const same = (x: TopK | undefined) => (x ? Array.from({ length: S }, (_, q) => x.indices.subarray(q * K, q * K + K).every((v, j) => v === brute.indices[q * K + j])).filter(Boolean).length : 0);
  b.groupNote(r, `searchExact / single call: ${r.ratio('chunked').toFixed(3)} by wall time, ${(r.paths.find((p) => p.name === 'chunked')!.cpuRatio ?? NaN).toFixed(3)} by CPU time (goal >= 0.8); searchExact / blocked TS loop: ${(r.throughput('chunked') / r.throughput('ts-blocked')).toFixed(0)}x; blocked / naive TS loop: ${(r.throughput('ts-blocked') / r.throughput('ts-naive')).toFixed(2)}x`);
  const row = (n: string) => r.paths.find((p) => p.name === n)!;
  const mem = (n: string) => (row(n).peakRssMiB === undefined ? '?' : Math.round(row(n).peakRssMiB!));
  b.headline(
    `Exact search of ${Q} queries over ${N} x ${D} vectors runs at ${r.throughput('chunked').toFixed(1)} GFLOP/s with ORT on ${row('chunked').busyThreads ?? '?'} busy thread(s), ${r.ratio('chunked').toFixed(3)}x one all-in-memory Gemm+TopK call (peak RSS ${mem('chunked')} vs ${mem('single')} MiB) and ${(r.throughput('chunked') / r.throughput('ts-blocked')).toFixed(0)}x a blocked TypeScript loop on one core (${(r.throughput('ts-blocked') / r.throughput('ts-naive')).toFixed(2)}x the naive loop).`,
  );
  b.groupNote(r, `top-${K} identical to searchBrute on ${S} queries: searchExact ${same(chunked)}/${S}, blocked loop ${same(blocked)}/${S} (ORT sums in float32, the loops in float64: near-ties may swap)`);
}
await b.done();
