/**
 * Bulk-create a folder store from a stream of row blocks, without holding them in memory:
 * one segment written straight to disk, then the manifest. For benchmarks and importers.
 */
import fs from 'node:fs';
import type { StoreMeta } from '../types.ts';
import { writeManifest, type ManifestV2 } from './manifest.ts';
import { FORMAT, VERSION, onlyStoreNames } from './names.ts';
import { SegmentWriter } from './segments.ts';

/** Write a new store in `dir` (absent or empty) holding `rows` items from `blocks` (ids sorted overall, vectors unit-length). */
export async function writeBulk(dir: string, meta: Omit<StoreMeta, 'created' | 'updated'>, rows: number, blocks: AsyncIterable<{ ids: string[]; vectors: Float32Array }> | Iterable<{ ids: string[]; vectors: Float32Array }>): Promise<void> {
  if (fs.existsSync(dir) && !onlyStoreNames(dir)) throw new Error(`${dir}: not empty; writeBulk creates new stores only`);
  fs.mkdirSync(dir, { recursive: true });
  const w = new SegmentWriter(dir, 1, rows, meta.dim);
  const ids: string[] = [];
  try {
    for await (const b of blocks) {
      w.append(b.vectors);
      for (const id of b.ids) ids.push(id);
    }
    const ref = w.finish({ ids, files: ids.map(() => null) });
    const now = new Date().toISOString();
    const m: ManifestV2 = { format: FORMAT, version: VERSION, ...meta, count: rows, created: now, updated: now, generation: 1, segments: [ref], tombstones: [] };
    writeManifest(dir, m);
  } catch (e) {
    w.abort();
    throw e;
  }
}
