/**
 * int8 blocks of a folder store's segments, for a long-lived reader (src/store/quant-exact.ts
 * explains the exact search they serve). They are built in the background after a store is
 * searched a second time (or at warm()), one block at a time, within the process's cache budget
 * (config.cacheMb, shared with the float32 RowCache); until every segment has its blocks,
 * searches take the float32 path. A segment file never changes once written (tombstones and
 * filters are live masks applied at search time), so its blocks are shared by every store of the
 * process that has it open: a server's next generation, opened after an upload, builds blocks for
 * the new segment only.
 */
import fs from 'node:fs';
import { quantBlock, releaseQuantBlock, QUANT_BLOCK_ROWS, type QuantBlock } from '../quant-exact.ts';
import { freeCache, reserveCache } from './row-cache.ts';
import { readRows, type Segment } from './segments.ts';

/** The blocks of one segment file, and how many caches use them. */
interface SharedBlocks {
  blocks?: QuantBlock[];
  building?: Promise<void>;
  users: number;
  bytes: number;
}

/** Blocks by segment file identity (device, inode, size, mtime), dimension and block size. */
const shared = new Map<string, SharedBlocks>();

function segmentKey(seg: Segment, dim: number, blockRows: number): string {
  const st = fs.fstatSync(seg.fd);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}#${dim}#${blockRows}`;
}

/** The int8 blocks one store uses, by segment file. */
export class QuantCache {
  /** Segment file -> key of the shared blocks this cache holds a use of. */
  private held = new Map<string, string>();
  private building: Promise<void> | undefined;
  /** Bumped by clear(): a build started before it stops taking uses. */
  private epoch = 0;
  /** Set when the budget could not hold a segment's blocks: no further builds are tried. */
  private full = false;

  constructor(readonly blockRows = QUANT_BLOCK_ROWS) {}

  /** Every segment's blocks when all are built, else undefined. */
  ready(segs: Segment[]): QuantBlock[][] | undefined {
    const out: QuantBlock[][] = [];
    for (const s of segs) {
      const key = this.held.get(s.file);
      const b = key === undefined ? undefined : shared.get(key)?.blocks;
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
      if (epoch !== this.epoch) return;
      const heldKey = this.held.get(seg.file);
      if (heldKey !== undefined) {
        const e = shared.get(heldKey);
        if (e?.blocks) continue;
        // Its build failed (another store closed the file under it): start again.
        if (!e) this.held.delete(seg.file);
      }
      const key = segmentKey(seg, dim, this.blockRows);
      let entry = shared.get(key);
      if (!entry) {
        const need = seg.rows * dim + seg.rows * 4;
        if (!reserveCache(need)) {
          // Blocks for only some segments are never used: give back what this cache holds.
          this.full = true;
          this.drop();
          return;
        }
        const made: SharedBlocks = { users: 0, bytes: need };
        made.building = this.buildSegment(seg, dim).then(
          (blocks) => {
            made.blocks = blocks;
            made.building = undefined;
          },
          (e: unknown) => {
            if (shared.get(key) === made) shared.delete(key);
            freeCache(need);
            throw e;
          },
        );
        shared.set(key, (entry = made));
      }
      if (!this.held.has(seg.file)) {
        entry.users++;
        this.held.set(seg.file, key);
      }
      await entry.building;
    }
  }

  private async buildSegment(seg: Segment, dim: number): Promise<QuantBlock[]> {
    const made: QuantBlock[] = [];
    try {
      const buf = new Float32Array(Math.min(this.blockRows, seg.rows) * dim);
      for (let r = 0; r < seg.rows; r += this.blockRows) {
        const n = Math.min(this.blockRows, seg.rows - r);
        readRows(seg, dim, r, n, buf);
        made.push(await quantBlock(buf.subarray(0, n * dim), dim));
        // Let requests through between blocks.
        await new Promise((res) => setImmediate(res));
      }
      return made;
    } catch (e) {
      for (const b of made) await releaseQuantBlock(b);
      throw e;
    }
  }

  /** Stop using every block (the store closed, or its segments were replaced); blocks no cache uses are freed. */
  clear(): void {
    this.epoch++;
    this.building = undefined;
    this.full = false;
    this.drop();
  }

  private drop(): void {
    for (const key of this.held.values()) {
      const entry = shared.get(key);
      if (!entry || --entry.users > 0) continue;
      shared.delete(key);
      const release = () => {
        freeCache(entry.bytes);
        for (const b of entry.blocks ?? []) void releaseQuantBlock(b);
      };
      // A build still running is freed when it ends.
      if (entry.building) entry.building.then(release, () => undefined);
      else release();
    }
    this.held.clear();
  }
}
