/**
 * Whole-index helpers over the one store (src/store): load every vector into memory (for tune,
 * which trains on every labelled vector; search, eval, text queries and caption metrics go
 * through the store instead), write a whole index (tests, tools),
 * and the embedding-fingerprint rules. The on-disk format is the folder store's
 * (docs/index-format.md); other locations (postgres://, pglite:) work through openStore.
 */
import { openStore, readAll } from '../store/open-store.ts';
import type { FileRecord, StoreMeta } from '../store/types.ts';

export type { FileRecord } from '../store/types.ts';

/** Index metadata (the store's StoreMeta). */
export type Manifest = StoreMeta;

/** An index loaded whole into memory. */
export interface IndexData {
  /** The location as given (folder path or URL). */
  dir: string;
  manifest: StoreMeta;
  /** Sorted ids, one per row. */
  ids: string[];
  /** count x dim, row-major, L2-normalised. */
  vectors: Float32Array;
  dim: number;
  files: Record<string, FileRecord>;
}

/** Read every item of an index (any store location) into memory (O(items x dim): tune only; search and eval use the store). */
export async function loadIndex(location: string): Promise<IndexData> {
  const store = await openStore(location);
  try {
    const manifest = await store.meta();
    const { ids, vectors, dim } = await readAll(store);
    return { dir: location, manifest, ids, vectors, dim, files: Object.fromEntries(await store.files()) };
  } finally {
    await store.close();
  }
}

/** Make the index at `location` hold exactly these items (creating it if needed), in one atomic change. */
export async function saveIndex(location: string, data: { manifest: Omit<StoreMeta, 'created' | 'updated'> & Partial<StoreMeta>; ids: string[]; vectors: Float32Array; dim: number; files?: Record<string, FileRecord> }): Promise<void> {
  const { ids, vectors, dim } = data;
  if (ids.length * dim !== vectors.length) throw new Error(`index ${location}: ${ids.length} ids but ${vectors.length / (dim || 1)} vectors`);
  const { model, head, root } = data.manifest;
  const store = await openStore(location, { write: true, create: { model, ...(head ? { head } : {}), dim, ...(root ? { root } : {}) } });
  try {
    const keep = new Set(ids);
    const remove = (await store.ids()).filter((id) => !keep.has(id));
    const upsert = ids.map((id, i) => ({ id, vector: vectors.slice(i * dim, (i + 1) * dim), file: data.files?.[id] }));
    await store.write({ upsert, remove });
  } finally {
    await store.close();
  }
}
