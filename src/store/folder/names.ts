/**
 * The names a folder store creates, and the ownership rule: a writer only replaces or
 * deletes a folder whose manifest says it is a lookalike index, or a folder holding nothing
 * but names from this list (an index whose first commit never happened).
 */
import fs from 'node:fs';
import path from 'node:path';

/** Format name written in every manifest: the ownership marker. */
export const FORMAT = 'lookalike-index';
/** Current format version. */
export const VERSION = 2;
/** The manifest file. */
export const MANIFEST = 'manifest.json';
/** The writer lock file. */
export const LOCK = 'lock.json';

/** Segment vectors file for a generation. */
export const segNpy = (gen: number): string => `seg-${String(gen).padStart(6, '0')}.npy`;
/** Segment sidecar (ids, file records) for a generation. */
export const segJson = (gen: number): string => `seg-${String(gen).padStart(6, '0')}.json`;
/** Segment id file (binary, sorted ids; src/store/folder/id-list.ts) for a generation. */
export const segIds = (gen: number): string => `seg-${String(gen).padStart(6, '0')}.ids`;
/** Tombstone list for a generation. */
export const tombJson = (gen: number): string => `tomb-${String(gen).padStart(6, '0')}.json`;

/** Files of the v1 one-file format (read, and removed after migration). */
export const V1_FILES = ['embeddings.npy', 'ids.json', 'files.json'];

/** Names the folder store creates (and so may clean up when nothing references them). */
export const STORE_NAME = /^(seg-\d{6}\.(npy|json|ids)|tomb-\d{6}\.json|manifest\.json\.tmp-\d+-[a-z0-9]+|lock\.json(\.tmp-\d+-[a-z0-9]+|\.stale-\d+)?)$/;

/** True if every entry of the folder is a name the store creates (and so the folder is ours to fill). */
export function onlyStoreNames(dir: string): boolean {
  return fs.readdirSync(dir).every((n) => STORE_NAME.test(n));
}

/** The hidden sibling a `--rebuild` fills before swapping it in. */
export function rebuildSibling(dir: string): string {
  const abs = path.resolve(dir);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lookalike-rebuild`);
}

/** The hidden sibling that holds the previous index during a `--rebuild` swap. */
export function backupSibling(dir: string): string {
  const abs = path.resolve(dir);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lookalike-old`);
}
