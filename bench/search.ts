/**
 * bench:search — exact search of Q queries over N x D gallery vectors: lookalike's chunked
 * searchExact against one ORT Gemm+TopK call on the same data (goal: ratio >= 0.8), plus
 * a plain TypeScript scan on a slice for scale, and peak memory.
 * Usage: npm run bench:search [-- --gallery 100000 --queries 1000 --dim 512 --k 10]
 */
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { searchBrute, searchExact, kernelSession } from '../src/index/exact.ts';
import { l2normalize } from '../src/embed/pool.ts';
import { gaussian, rng } from '../src/util/random.ts';
import { rssSampler, table, time } from './util.ts';

const { values } = parseArgs({ options: { gallery: { type: 'string', default: '100000' }, queries: { type: 'string', default: '1000' }, dim: { type: 'string', default: '512' }, k: { type: 'string', default: '10' } } });
const [N, Q, D, K] = [values.gallery, values.queries, values.dim, values.k].map(Number);
const g = gaussian(rng(7));
const gallery = l2normalize(Float32Array.from({ length: N * D }, g), D);
const queries = l2normalize(Float32Array.from({ length: Q * D }, g), D);
console.log(`bench:search  ${Q} queries x ${N} gallery x ${D}-d, k=${K}`);

const session = await kernelSession();
const once = async () =>
  session.run({
    queries: new ort.Tensor('float32', queries, [Q, D]),
    gallery: new ort.Tensor('float32', gallery, [N, D]),
    k: new ort.Tensor('int64', BigInt64Array.from([BigInt(K)]), [1]),
  });
await once(); // warm-up
await searchExact(gallery, queries.subarray(0, D), D, K);
const base = rssSampler();
const tOne = await time(once);
const peakOne = base.stop();
const m = rssSampler();
let res: Awaited<ReturnType<typeof searchExact>> | undefined;
const tOurs = await time(async () => (res = await searchExact(gallery, queries, D, K)));
const peakOurs = m.stop();
const slice = Math.min(Q, 20);
const tBrute = await time(() => searchBrute(gallery, queries.subarray(0, slice * D), D, K));
const check = searchBrute(gallery, queries.subarray(0, slice * D), D, K);
const same = check.indices.every((v, i) => v === res!.indices[i]);
const gflop = (2 * Q * N * D) / 1e9;
table([
  { path: 'one ORT Gemm+TopK call (all in memory)', seconds: tOne, 'GFLOP/s': gflop / tOne, 'peak RSS MiB': Math.round(peakOne) },
  { path: 'lookalike searchExact (chunked)', seconds: tOurs, 'GFLOP/s': gflop / tOurs, 'peak RSS MiB': Math.round(peakOurs) },
  { path: `plain TS loop (scaled from ${slice} queries)`, seconds: (tBrute * Q) / slice, 'GFLOP/s': (gflop * slice) / Q / tBrute, 'peak RSS MiB': '-' },
]);
console.log(`ratio searchExact / single call: ${(tOne / tOurs).toFixed(3)} (goal >= 0.8); speed-up over TS loop: ${((tBrute * Q) / slice / tOurs).toFixed(0)}x`);
console.log(`top-${K} identical to brute force on ${slice} queries: ${same}`);
