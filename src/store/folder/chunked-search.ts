/**
 * Bounded-memory exact search over segments: live rows are read in fixed-size chunks into one
 * reused buffer (removed and filtered-out rows are skipped, never scored) and scored by the
 * existing ORT Gemm+TopK kernel (searchExact); each chunk's
 * sorted candidates are merged into per-query top-k typed arrays by (score descending, id
 * ascending). Peak memory is the chunk buffer, queryChunk x chunk scores and queries x k
 * slots, whatever the gallery size; a long-lived reader's RowCache serves the fully live spans it holds.
 */
import { searchExact } from '../exact.ts';
import type { Hit } from '../types.ts';
import { liveLocation, PACK, readRows, type Segment } from './segments.ts';
import type { RowCache } from './row-cache.ts';

/** Gallery rows read per chunk (8192 x 512-d = 16 MiB). */
export const SEARCH_CHUNK_ROWS = 8192;


/** Exact top-k over the live rows of the segments; `exclude[q]` is an id left out of query q's results. */
export async function searchSegments(
  segs: Segment[],
  dim: number,
  queries: Float32Array,
  k: number,
  exclude?: (string | undefined)[],
  chunkRows = SEARCH_CHUNK_ROWS,
  cache?: RowCache,
): Promise<Hit[][]> {
  const nq = dim ? queries.length / dim : 0;
  if (nq === 0 || k < 1) return Array.from({ length: nq }, () => []);
  const maxRows = Math.max(1, Math.min(chunkRows, segs.reduce((a, s) => a + s.rows, 0)));
  const buf = new Float32Array(maxRows * dim);
  const extra = exclude?.some((e) => e !== undefined) ? 1 : 0;
  const idOf = (l: number) => segs[Math.floor(l / PACK)].ids.at(l % PACK);
  // Each query's excluded id as a packed location (-1: not live here), found once by binary search.
  const skipAt = extra
    ? Float64Array.from({ length: nq }, (_, q) => {
        const id = exclude![q];
        return id === undefined ? -1 : liveLocation(segs, id);
      })
    : undefined;
  // Per query, the best candidates so far in typed arrays (no object per candidate), sorted by
  // score descending then id ascending; each chunk's sorted list is merged in linearly.
  const topS = new Float32Array(nq * k);
  const topL = new Float64Array(nq * k);
  const filled = new Int32Array(nq);
  const mergedS = new Float32Array(k);
  const mergedL = new Float64Array(k);
  let candS = new Float32Array(0);
  let candL = new Float64Array(0);
  for (const { n, locs, rows } of liveChunks(segs, dim, buf, maxRows, cache)) {
    const kk = Math.min(n, k + extra);
    if (candS.length < kk) {
      candS = new Float32Array(kk);
      candL = new Float64Array(kk);
    }
    const top = await searchExact(rows, queries, dim, kk, { chunk: n });
    for (let q = 0; q < nq; q++) {
      const skip = skipAt ? skipAt[q] : -1;
      // This chunk's candidates for q, in the kernel's order (score descending).
      let m = 0;
      for (let j = 0; j < kk; j++) {
        const li = top.indices[q * kk + j];
        if (li < 0) break;
        const l = locs[li];
        if (l === skip) continue;
        const score = top.scores[q * kk + j];
        // Equal scores are put in id order (the kernel orders them by row).
        let p = m++;
        while (p > 0 && candS[p - 1] === score && idOf(candL[p - 1]) > idOf(l)) {
          candS[p] = candS[p - 1];
          candL[p] = candL[p - 1];
          p--;
        }
        candS[p] = score;
        candL[p] = l;
      }
      mergeTop(topS, topL, q * k, filled, q, k, candS, candL, m, mergedS, mergedL, idOf);
    }
  }
  return Array.from({ length: nq }, (_, q) => {
    const hits: Hit[] = new Array(filled[q]);
    for (let j = 0; j < filled[q]; j++) hits[j] = { rank: j + 1, id: idOf(topL[q * k + j]), score: topS[q * k + j] };
    return hits;
  });
}

/**
 * Fill `buf` with live rows only, up to `maxRows` at a time, across segments, so tombstoned or
 * filtered-out rows (a filter's bitmap is the segments' live mask) are never scored. A span
 * that is mostly live is read at once and its live rows copied together; a sparse one is read
 * run by run (few reads of consecutive live rows). Yields the row count and each buffer row's
 * packed location (segment * 2^32 + row).
 */
function* liveChunks(segs: Segment[], dim: number, buf: Float32Array, maxRows: number, cache?: RowCache): Generator<{ n: number; locs: Float64Array; rows: Float32Array }> {
  if (cache) {
    yield* cachedChunks(segs, dim, buf, maxRows, cache);
    return;
  }
  const locs = new Float64Array(maxRows);
  let scratch: Float32Array | undefined;
  let n = 0;
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si];
    const live = seg.live;
    for (let r = 0; r < seg.rows; ) {
      const span = Math.min(maxRows - n, seg.rows - r);
      let count = 0;
      for (let i = r; i < r + span; i++) count += live[i];
      if (count < span && count * 4 >= span) {
        // Dense: one read, then the live rows moved together in memory.
        scratch ??= new Float32Array(maxRows * dim);
        readRows(seg, dim, r, span, scratch);
        for (let i = r; i < r + span; i++) {
          if (!live[i]) continue;
          buf.set(scratch.subarray((i - r) * dim, (i - r + 1) * dim), n * dim);
          locs[n++] = si * PACK + i;
        }
      } else if (count) {
        // Run by run (a span with every row live is one run: one read).
        for (let i = r; i < r + span; ) {
          if (!live[i]) {
            i++;
            continue;
          }
          let e = i + 1;
          while (e < r + span && live[e]) e++;
          readRows(seg, dim, i, e - i, buf.subarray(n * dim));
          for (let j = i; j < e; j++) locs[n++] = si * PACK + j;
          i = e;
        }
      }
      r += span;
      if (n === maxRows) {
        yield { n, locs, rows: buf.subarray(0, n * dim) };
        n = 0;
      }
    }
  }
  if (n) yield { n, locs, rows: buf.subarray(0, n * dim) };
}

/**
 * liveChunks for a long-lived reader: each segment is taken in fixed blocks of `maxRows` rows
 * (the same blocks whatever the live mask, so a filter reuses them), served from `cache` or read
 * once and offered to it. A fully live block is scored where it lies; otherwise its live rows are
 * copied (in memory) into `buf`.
 */
function* cachedChunks(segs: Segment[], dim: number, buf: Float32Array, maxRows: number, cache: RowCache): Generator<{ n: number; locs: Float64Array; rows: Float32Array }> {
  const locs = new Float64Array(maxRows);
  let scratch: Float32Array | undefined;
  let n = 0;
  for (let si = 0; si < segs.length; si++) {
    const seg = segs[si];
    const live = seg.live;
    for (let r = 0; r < seg.rows; r += maxRows) {
      const span = Math.min(maxRows, seg.rows - r);
      let count = 0;
      for (let i = r; i < r + span; i++) count += live[i];
      if (!count) continue;
      let rows = cache.get(seg, r, span);
      if (!rows) {
        scratch ??= new Float32Array(maxRows * dim);
        readRows(seg, dim, r, span, scratch);
        rows = scratch.subarray(0, span * dim);
        cache.put(seg, r, span, rows);
      }
      if (count === span && n === 0) {
        for (let i = 0; i < span; i++) locs[i] = si * PACK + r + i;
        yield { n: span, locs, rows };
        continue;
      }
      for (let i = 0; i < span; i++) {
        if (!live[r + i]) continue;
        buf.set(rows.subarray(i * dim, (i + 1) * dim), n * dim);
        locs[n++] = si * PACK + r + i;
        if (n === maxRows) {
          yield { n, locs, rows: buf.subarray(0, n * dim) };
          n = 0;
        }
      }
    }
  }
  if (n) yield { n, locs, rows: buf.subarray(0, n * dim) };
}

/** Merge m sorted candidates into query q's sorted top-k (slots base..base+k) through the scratch arrays. */
function mergeTop(
  topS: Float32Array,
  topL: Float64Array,
  base: number,
  filled: Int32Array,
  q: number,
  k: number,
  candS: Float32Array,
  candL: Float64Array,
  m: number,
  outS: Float32Array,
  outL: Float64Array,
  idOf: (l: number) => string,
): void {
  const f = filled[q];
  if (f === k) {
    // Full: only the candidates that beat the current last one can enter (they come first).
    const ls = topS[base + k - 1];
    const lid = idOf(topL[base + k - 1]);
    let e = 0;
    while (e < m && (candS[e] > ls || (candS[e] === ls && idOf(candL[e]) < lid))) e++;
    m = e;
  }
  if (m === 0) return;
  let a = 0;
  let b = 0;
  let o = 0;
  while (o < k && (a < f || b < m)) {
    let takeA: boolean;
    if (a >= f) takeA = false;
    else if (b >= m) takeA = true;
    else {
      const sa = topS[base + a];
      const sb = candS[b];
      takeA = sa > sb || (sa === sb && idOf(topL[base + a]) < idOf(candL[b]));
    }
    if (takeA) {
      outS[o] = topS[base + a];
      outL[o++] = topL[base + a++];
    } else {
      outS[o] = candS[b];
      outL[o++] = candL[b++];
    }
  }
  topS.set(outS.subarray(0, o), base);
  topL.set(outL.subarray(0, o), base);
  filled[q] = o;
}
