/**
 * Exact top-k over a folder store's segments through their int8 blocks (src/store/quant-exact.ts):
 * each block proposes its best rows by int8 estimate, the proposals are scored with the float32
 * rows exactly as the float32 path scores them (dot64 rounded to float32, ties by id), and a
 * block is asked for more rows while its bound says an unseen row could still enter the top k.
 * The result is the float32 path's result, hit for hit.
 */
import { dot64, RESCORE_MARGIN } from '../exact.ts';
import { quantBound, quantQuery, quantTop, type QuantBlock } from '../quant-exact.ts';
import type { Hit } from '../types.ts';
import { liveLocation, PACK, readRows, type Segment } from './segments.ts';

/** A block with more rows than this out of the search (removed or filtered out) is left to the float32 path. */
export const QUANT_MAX_DEAD_SHARE = 1 / 8;

/** Queries per call from which the float32 Gemm (compute-bound, batched) is the faster exact path. */
export const INT8_MAX_QUERIES = 64;

/** How much more a block is asked for each time its bound is not met. */
const GROW = 4;

interface BlockRef {
  seg: number;
  r0: number;
  rows: number;
  dead: number;
  block: QuantBlock;
}

/**
 * Exact top-k of `queries` over the live rows of `segs` through `blocks` (per segment, `blockRows`
 * rows each); undefined when some block has too many rows out of the search (the caller takes
 * the float32 path).
 */
export async function searchQuantized(
  segs: Segment[],
  blocks: QuantBlock[][],
  blockRows: number,
  dim: number,
  queries: Float32Array,
  k: number,
  exclude?: (string | undefined)[],
): Promise<Hit[][] | undefined> {
  const refs: BlockRef[] = [];
  for (let si = 0; si < segs.length; si++) {
    const live = segs[si].live;
    blocks[si].forEach((block, bi) => {
      const r0 = bi * blockRows;
      let dead = 0;
      for (let r = r0; r < r0 + block.rows; r++) dead += 1 - live[r];
      refs.push({ seg: si, r0, rows: block.rows, dead, block });
    });
  }
  if (refs.some((b) => b.dead > b.rows * QUANT_MAX_DEAD_SHARE)) return undefined;
  const nq = queries.length / dim;
  const idOf = (l: number) => segs[Math.floor(l / PACK)].ids.at(l % PACK);
  const skip = (exclude ?? []).map((id) => (id === undefined ? -1 : liveLocation(segs, id)));
  const qq = Array.from({ length: nq }, (_, q) => quantQuery(queries, q * dim, dim));
  // Per query: exact scores of every row proposed so far.
  const seen = Array.from({ length: nq }, () => new Map<number, number>());
  const row = new Float32Array(dim);
  // Per query and block: rows asked for, and the lowest estimate returned (-Infinity: all rows seen).
  const asked = refs.map((b) => new Int32Array(nq).fill(Math.min(b.rows, k + RESCORE_MARGIN + b.dead + (exclude ? 1 : 0))));
  const lowest = refs.map(() => new Float64Array(nq));
  let pending = refs.map(() => Array.from({ length: nq }, (_, q) => q));
  const tau = new Float64Array(nq);
  while (pending.some((p) => p.length)) {
    for (let b = 0; b < refs.length; b++) {
      const qs = pending[b];
      if (!qs.length) continue;
      const ref = refs[b];
      const kk = Math.max(...qs.map((q) => asked[b][q]));
      const top = await quantTop(ref.block, qs.map((q) => qq[q]), kk);
      const live = segs[ref.seg].live;
      qs.forEach((q, i) => {
        asked[b][q] = top.kk;
        lowest[b][q] = top.kk < ref.rows ? top.scores[i * top.kk + top.kk - 1] : -Infinity;
        for (let j = 0; j < top.kk; j++) {
          const r = ref.r0 + top.rows[i * top.kk + j];
          const loc = ref.seg * PACK + r;
          if (!live[r] || loc === skip[q] || seen[q].has(loc)) continue;
          readRows(segs[ref.seg], dim, r, 1, row);
          seen[q].set(loc, Math.fround(dot64(queries, q * dim, row, 0, dim)));
        }
      });
    }
    // The k-th best exact score so far per query (ties by id), then the blocks whose bound reaches it.
    for (let q = 0; q < nq; q++) {
      const best = ranked(seen[q], k, idOf);
      tau[q] = best.length === k ? best[k - 1][1] : -Infinity;
    }
    pending = refs.map((ref, b) =>
      Array.from({ length: nq }, (_, q) => q).filter((q) => {
        if (lowest[b][q] === -Infinity || lowest[b][q] + quantBound(ref.block, qq[q]) < tau[q]) return false;
        asked[b][q] = Math.min(ref.rows, asked[b][q] * GROW);
        return true;
      }),
    );
  }
  return seen.map((m) => ranked(m, k, idOf).map(([loc, score], j): Hit => ({ rank: j + 1, id: idOf(loc), score })));
}

/** The best k of (location, score) pairs: score descending, then id ascending (the float32 path's order). */
function ranked(scores: Map<number, number>, k: number, idOf: (l: number) => string): [number, number][] {
  const all = [...scores];
  all.sort((a, b) => b[1] - a[1] || (idOf(a[0]) < idOf(b[0]) ? -1 : idOf(a[0]) > idOf(b[0]) ? 1 : 0));
  return all.slice(0, k);
}
