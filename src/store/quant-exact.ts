/**
 * Exact top-k from int8 copies of the rows, for long-lived readers. A float32 scan of 1M x 512
 * reads 2 GB per query and is bound by memory bandwidth (about 70 ms on a 2-core machine); an
 * int8 copy is a quarter of that, scored by onnxruntime's MatMulInteger against the block's codes
 * pre-packed once as a constant of its session.
 *
 * The int8 scores only select candidates; the answer stays exact. Each row x is stored as
 * a * c (c int8, a = max|x| / 127), each query q as b * p (p in [-127, 127]). With r = x - a c and
 * rho = q - b p:
 *     q.x = a b (p.c) + b p.r + rho.x,   so   |q.x - a b (p.c)| <= |b p| * |r| + |rho| * |x|.
 * A block returns its best kk rows by a b (p.c); every row it did not return scores at most the
 * kk-th of those plus that bound. Candidates are re-scored with the float32 rows; a block whose
 * bound reaches the k-th exact score is asked again for more (quantSearchRounds), so no row that
 * can enter the top k is left out.
 */
import type * as ort from 'onnxruntime-node';
import { buildModel } from '../models/onnx-build.ts';
import { createSession } from '../models/ort.ts';
import { kernelThreads } from './exact.ts';
import { ortLib } from '../util/lazy-import.ts';

/** Rows per int8 block (one session each): 65,536 x 512 is 32 MiB of codes. */
export const QUANT_BLOCK_ROWS = 65536;

/**
 * Slack added to every bound: float32 rounding of the block's scores (int32 -> float, times
 * the row scale) and of the final float32 scores is a few 1e-7 at unit norm.
 */
const ROUNDING_SLACK = 1e-5;

/** One block of rows as int8 codes inside an ORT session, with the numbers its bound needs. */
export interface QuantBlock {
  rows: number;
  dim: number;
  /** Largest |x - a c| over the block's rows. */
  errMax: number;
  /** Largest |x| over the block's rows. */
  normMax: number;
  /** Bytes the block holds (codes + scales). */
  bytes: number;
  session: ort.InferenceSession;
}

/** A query in int8: codes offset by 128 (uint8, zero point 128), its scale b, |b p| and |rho|. */
export interface QuantQuery {
  codes: Uint8Array;
  scale: number;
  codeNorm: number;
  resid: number;
}

/** The scoring graph of one block: MatMulInteger(query codes, block codes^T) -> float -> times row scales -> TopK. */
function blockModel(codesT: Int8Array, scales: Float32Array, dim: number, rows: number): Uint8Array {
  return buildModel({
    name: 'lookalike-int8-block',
    inputs: [
      { name: 'q', type: 'uint8', shape: ['nq', dim] },
      { name: 'k', type: 'int64', shape: [1] },
    ],
    outputs: [
      { name: 'scores', shape: ['nq', 'kk'] },
      { name: 'indices', type: 'int64', shape: ['nq', 'kk'] },
    ],
    initializers: [
      { name: 'codes', dims: [dim, rows], data: codesT },
      { name: 'zero', dims: [], data: Uint8Array.of(128) },
      { name: 'scales', dims: [rows], data: scales },
    ],
    nodes: [
      { op: 'MatMulInteger', inputs: ['q', 'codes', 'zero'], outputs: ['dots'] },
      { op: 'Cast', inputs: ['dots'], outputs: ['dotsF'], attrs: { to: 1 } },
      { op: 'Mul', inputs: ['dotsF', 'scales'], outputs: ['approx'] },
      { op: 'TopK', inputs: ['approx', 'k'], outputs: ['scores', 'indices'], attrs: { axis: -1, largest: 1, sorted: 1 } },
    ],
  });
}

/** Quantise `rows` (row-major, `dim` wide) into a block: per-row scale, codes transposed for the session. */
export async function quantBlock(rows: Float32Array, dim: number): Promise<QuantBlock> {
  const n = rows.length / dim;
  const codesT = new Int8Array(n * dim);
  const scales = new Float32Array(n);
  let errMax = 0;
  let normMax = 0;
  for (let i = 0; i < n; i++) {
    const o = i * dim;
    let max = 0;
    for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(rows[o + d]));
    const a = Math.fround(max / 127) || 1;
    scales[i] = a;
    let err = 0;
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      const x = rows[o + d];
      const c = Math.max(-127, Math.min(127, Math.round(x / a)));
      codesT[d * n + i] = c;
      err += (x - a * c) ** 2;
      norm += x * x;
    }
    errMax = Math.max(errMax, Math.sqrt(err));
    normMax = Math.max(normMax, Math.sqrt(norm));
  }
  const session = await createSession(blockModel(codesT, scales, dim, n), 'int8 search block', { threads: kernelThreads() });
  return { rows: n, dim, errMax, normMax, bytes: n * dim + n * 4, session };
}

/** Quantise one query row (from `q` at offset `o`). */
export function quantQuery(q: Float32Array, o: number, dim: number): QuantQuery {
  let max = 0;
  for (let d = 0; d < dim; d++) max = Math.max(max, Math.abs(q[o + d]));
  const b = max / 127 || 1;
  const codes = new Uint8Array(dim);
  let codeNorm = 0;
  let resid = 0;
  for (let d = 0; d < dim; d++) {
    const p = Math.max(-127, Math.min(127, Math.round(q[o + d] / b)));
    codes[d] = p + 128;
    codeNorm += (b * p) ** 2;
    resid += (q[o + d] - b * p) ** 2;
  }
  return { codes, scale: b, codeNorm: Math.sqrt(codeNorm), resid: Math.sqrt(resid) };
}

/** How far a row's true score can be from its int8 estimate in `block` for query `q`. */
export function quantBound(block: QuantBlock, q: QuantQuery): number {
  return q.codeNorm * block.errMax + q.resid * block.normMax + ROUNDING_SLACK;
}

/** Best kk rows of the block per query by int8 estimate: estimates (scaled by each query's b) and block rows, row-major nq x kk. */
export async function quantTop(block: QuantBlock, queries: QuantQuery[], kk: number): Promise<{ kk: number; scores: Float32Array; rows: Int32Array }> {
  const nq = queries.length;
  kk = Math.max(1, Math.min(kk, block.rows));
  const codes = new Uint8Array(nq * block.dim);
  queries.forEach((q, i) => codes.set(q.codes, i * block.dim));
  const { Tensor } = ortLib();
  const out = await block.session.run({
    q: new Tensor('uint8', codes, [nq, block.dim]),
    k: new Tensor('int64', BigInt64Array.of(BigInt(kk)), [1]),
  });
  const s = out.scores.data as Float32Array;
  const ix = out.indices.data as BigInt64Array;
  const scores = new Float32Array(nq * kk);
  const rows = new Int32Array(nq * kk);
  for (let q = 0; q < nq; q++) {
    for (let j = 0; j < kk; j++) {
      scores[q * kk + j] = s[q * kk + j] * queries[q].scale;
      rows[q * kk + j] = Number(ix[q * kk + j]);
    }
  }
  return { kk, scores, rows };
}

/** Free a block's session. */
export async function releaseQuantBlock(block: QuantBlock): Promise<void> {
  await block.session.release();
}
