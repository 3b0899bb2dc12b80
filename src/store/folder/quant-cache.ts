/**
 * int8 blocks of a folder store's segments, for a long-lived reader (src/store/quant-exact.ts
 * explains the exact search they serve). They are built in the background after a store is
 * searched a second time, one block at a time, within the process's cache budget
 * (config.cacheMb, shared with the float32 RowCache); until every segment has its blocks,
 * searches take the float32 path. Segments never change once written (tombstones and filters
 * are live masks applied at search time), so blocks stay valid until their segment is closed.
 */
import { quantBlock, releaseQuantBlock, QUANT_BLOCK_ROWS, type QuantBlock } from '../quant-exact.ts';
import { freeCache, reserveCache } from './row-cache.ts';
import { readRows, type Segment } from './segments.ts';

/** The int8 blocks of some segments, keyed by segment file. */
export class QuantCache {
  private blocks = new Map<string, QuantBlock[]>();
  private bytes = 0;
  private building: Promise<void> | undefined;
  /** Bumped by clear(): a build started before it drops what it made. */
  private epoch = 0;
  /** Set when the budget could not hold a block: no further builds are tried. */
  private full = false;

  constructor(readonly blockRows = QUANT_BLOCK_ROWS) {}

  /** Every segment's blocks when all are built, else undefined. */
  ready(segs: Segment[]): QuantBlock[][] | undefined {
    const out: QuantBlock[][] = [];
    for (const s of segs) {
      const b = this.blocks.get(s.file);
      if (!b) return undefined;
      out.push(b);
    }
    return out;
  }

  /** Start building the blocks of the segments that have none (no-op while a build runs or when the budget is spent). */
  warm(segs: Segment[], dim: number): void {
    if (this.building || this.full || this.ready(segs)) return;
    const epoch = this.epoch;
    this.building = this.build(segs, dim, epoch)
      .catch((e: unknown) => {
        // A segment closed under the build (compaction, close): the next search starts again.
        if (epoch === this.epoch) process.emitWarning(`int8 search blocks not built: ${(e as Error).message}`);
      })
      .finally(() => {
        if (epoch === this.epoch) this.building = undefined;
      });
  }

  /** Wait for a running build (tests, benchmarks). */
  async settled(): Promise<void> {
    await this.building;
  }

  private async build(segs: Segment[], dim: number, epoch: number): Promise<void> {
    for (const seg of segs) {
      if (this.blocks.has(seg.file)) continue;
      const made: QuantBlock[] = [];
      const need = seg.rows * dim + seg.rows * 4;
      if (!reserveCache(need)) {
        // Blocks for only some segments are never used: give back what was built.
        this.full = true;
        this.drop();
        return;
      }
      try {
        const buf = new Float32Array(Math.min(this.blockRows, seg.rows) * dim);
        for (let r = 0; r < seg.rows; r += this.blockRows) {
          const n = Math.min(this.blockRows, seg.rows - r);
          readRows(seg, dim, r, n, buf);
          made.push(await quantBlock(buf.subarray(0, n * dim), dim));
          // Let requests through between blocks.
          await new Promise((res) => setImmediate(res));
          if (epoch !== this.epoch) throw new Error('closed');
        }
      } catch (e) {
        freeCache(need);
        for (const b of made) await releaseQuantBlock(b);
        throw e;
      }
      this.blocks.set(seg.file, made);
      this.bytes += need;
    }
  }

  /** Bytes the blocks hold. */
  get size(): number {
    return this.bytes;
  }

  /** Drop every block (the store closed, or its segments were replaced). */
  clear(): void {
    this.epoch++;
    this.building = undefined;
    this.full = false;
    this.drop();
  }

  private drop(): void {
    freeCache(this.bytes);
    this.bytes = 0;
    for (const list of this.blocks.values()) for (const b of list) void releaseQuantBlock(b);
    this.blocks.clear();
  }
}
