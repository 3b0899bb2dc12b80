/** Index maintenance: compaction of an index folder's segments and checksum verification. */
import { FolderStore } from '../store/folder/store.ts';
import { verifyFolder, type VerifyReport } from '../store/folder/verify.ts';
import { openStore } from '../store/open-store.ts';
import { isPgLocation } from '../store/pg/location.ts';

/** What compactIndex did. */
export interface CompactReport {
  index: string;
  compacted: boolean;
  segments_before: number;
  segments_after: number;
  rows_before: number;
  items: number;
  seconds: number;
}

/** Rewrite an index folder as one segment without removed rows (crash-safe; also migrates a v1 index). */
export async function compactIndex(location: string): Promise<CompactReport> {
  const store = await openStore(location, { write: true });
  try {
    if (!(store instanceof FolderStore)) throw new Error(`${location}: compact applies to index folders`);
    const before = store.layout();
    const t0 = Date.now();
    const did = await store.compact(true);
    const after = store.layout();
    return { index: location, compacted: did, segments_before: before.segments.length, segments_after: after.segments.length, rows_before: before.segments.reduce((a, s) => a + s.rows, 0), items: await store.count(), seconds: (Date.now() - t0) / 1000 };
  } finally {
    await store.close();
  }
}

/** Check every file of an index folder against its manifest: sizes, headers, sha256, ids, unit rows. */
export async function verifyIndex(location: string): Promise<VerifyReport> {
  if (isPgLocation(location)) throw new Error(`${location}: verify checks index folders; a database checks its own pages`);
  return verifyFolder(location);
}
