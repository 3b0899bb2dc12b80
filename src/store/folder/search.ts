/**
 * Bounded-memory exact search over segments: rows are read in fixed-size chunks into one
 * reused buffer and scored by the existing ORT Gemm+TopK kernel (searchExact); per-query
 * candidates are merged into the top-k by (score descending, id ascending). Peak memory is
 * the chunk buffer plus queryChunk x chunk scores, whatever the gallery size.
 */
import { searchExact } from '../../index/exact.ts';
import type { Hit } from '../types.ts';
import { readRows, type Segment } from './segments.ts';

/** Gallery rows read per chunk (8192 x 512-d = 16 MiB). */
export const SEARCH_CHUNK_ROWS = 8192;

interface Cand {
  s: number;
  id: string;
}

const byScoreThenId = (a: Cand, b: Cand): number => b.s - a.s || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Exact top-k over the live rows of the segments; `exclude[q]` is an id left out of query q's results. */
export async function searchSegments(
  segs: Segment[],
  dim: number,
  queries: Float32Array,
  k: number,
  exclude?: (string | undefined)[],
  chunkRows = SEARCH_CHUNK_ROWS,
): Promise<Hit[][]> {
  const nq = dim ? queries.length / dim : 0;
  const cands: Cand[][] = Array.from({ length: nq }, () => []);
  if (nq === 0 || k < 1) return cands.map(() => []);
  const maxRows = Math.max(1, Math.min(chunkRows, Math.max(0, ...segs.map((s) => s.rows))));
  const buf = new Float32Array(maxRows * dim);
  const extra = exclude?.some((e) => e !== undefined) ? 1 : 0;
  for (const seg of segs) {
    for (let r0 = 0; r0 < seg.rows; r0 += maxRows) {
      const n = Math.min(maxRows, seg.rows - r0);
      let dead = 0;
      for (let i = r0; i < r0 + n; i++) dead += seg.live[i] ? 0 : 1;
      if (dead === n) continue;
      readRows(seg, dim, r0, n, buf);
      const kk = Math.min(n, k + dead + extra);
      const top = await searchExact(buf.subarray(0, n * dim), queries, dim, kk, { chunk: n });
      for (let q = 0; q < nq; q++) {
        const list = cands[q];
        const skip = exclude?.[q];
        for (let j = 0; j < kk; j++) {
          const li = top.indices[q * kk + j];
          if (li < 0) break;
          const row = r0 + li;
          if (!seg.live[row]) continue;
          const id = seg.ids[row];
          if (id === skip) continue;
          list.push({ s: top.scores[q * kk + j], id });
        }
        if (list.length > 2 * k + 64) {
          list.sort(byScoreThenId);
          list.length = k;
        }
      }
    }
  }
  return cands.map((list) => {
    list.sort(byScoreThenId);
    return list.slice(0, k).map((c, i) => ({ rank: i + 1, id: c.id, score: c.s }));
  });
}
