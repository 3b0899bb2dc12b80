/**
 * Segment rows kept in memory by a long-lived reader (a server, an eval), so repeated exact
 * searches do not re-read the index: chunks are cached as searches read them, while every
 * cache of the process together stays within config.cacheMb. A full budget admits nothing more
 * and evicts nothing (a scan that cycles through more rows than fit would evict every chunk
 * before its reuse), so the first chunks stay hot and the rest are read as before.
 */
import { config } from '../../util/config.ts';
import type { Segment } from './segments.ts';

/** Bytes held by every row cache (float32 chunks and int8 blocks) of this process. */
let held = 0;

/** Take `bytes` from the process's cache budget (config.cacheMb); false when they do not fit. */
export function reserveCache(bytes: number): boolean {
  if (held + bytes > config.cacheMb * 2 ** 20) return false;
  held += bytes;
  return true;
}

/** Give `bytes` back to the cache budget. */
export function freeCache(bytes: number): void {
  held -= bytes;
}

/** Chunks of rows of some segments, keyed by segment file and row range. */
export class RowCache {
  private chunks = new Map<string, Float32Array>();
  private bytes = 0;

  /** The cached rows [r0, r0 + n) of `seg`, or undefined. */
  get(seg: Segment, r0: number, n: number): Float32Array | undefined {
    return this.chunks.get(`${seg.file}#${r0}#${n}`);
  }

  /** Keep a copy of rows [r0, r0 + n) of `seg` when the budget allows. */
  put(seg: Segment, r0: number, n: number, rows: Float32Array): void {
    const key = `${seg.file}#${r0}#${n}`;
    if (this.chunks.has(key) || !reserveCache(rows.byteLength)) return;
    this.chunks.set(key, rows.slice());
    this.bytes += rows.byteLength;
  }

  /** Bytes this cache holds. */
  get size(): number {
    return this.bytes;
  }

  /** Drop everything (the store closed, or its segments were replaced). */
  clear(): void {
    freeCache(this.bytes);
    this.bytes = 0;
    this.chunks.clear();
  }
}

/** Bytes held by every row cache of this process (for stats and tests). */
export function rowCacheBytes(): number {
  return held;
}
