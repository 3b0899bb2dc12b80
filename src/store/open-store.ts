/**
 * openStore: the one entry point to a VectorStore. The location picks the implementation:
 * a plain folder path is the folder store (src/store/folder); URL schemes (postgres://,
 * pglite:) are added here by the Postgres store.
 */
import type { OpenOptions, VectorStore } from './types.ts';
import { FolderStore } from './folder/store.ts';
import { isPgLocation } from './pg/location.ts';

/** Open the store at `location`: a folder path, `postgres://...` or `pglite:DIR` (the pg store is loaded on demand). */
export async function openStore(location: string, opts: OpenOptions = {}): Promise<VectorStore> {
  if (isPgLocation(location)) return (await import('./pg/store.ts')).openPgStore(location, opts);
  return FolderStore.open(location, opts);
}

/** Every live item of a store in id order, as one matrix (for tune, which trains on every labelled vector; search and eval go through store.search). */
export async function readAll(store: VectorStore): Promise<{ ids: string[]; vectors: Float32Array; dim: number }> {
  const meta = await store.meta();
  const n = await store.count();
  const vectors = new Float32Array(n * meta.dim);
  const ids: string[] = [];
  for await (const b of store.scan()) {
    vectors.set(b.vectors, ids.length * meta.dim);
    ids.push(...b.ids);
  }
  if (ids.length !== n) throw new Error(`${store.location}: scan gave ${ids.length} items, count is ${n}`);
  return { ids, vectors, dim: meta.dim };
}

/** Open a store, run `fn`, and close it whatever happens. */
export async function withStore<T>(location: string, opts: OpenOptions, fn: (s: VectorStore) => Promise<T>): Promise<T> {
  const store = await openStore(location, opts);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
