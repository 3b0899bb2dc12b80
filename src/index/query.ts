/**
 * Queries against an index from image files: expanding files and folders into queries, the id
 * a query file would have inside the index (for exclude-self), and the submission shape.
 */
import fs from 'node:fs';
import path from 'node:path';
import { listFolder, listingSkips, type ListingSkip } from '../data/images.ts';
import type { QueryResult } from './search.ts';

/** A query image: the key it is reported under and its file. */
export interface QueryFile {
  key: string;
  file: string;
}

/**
 * Expand query arguments (files and folders) into query files keyed by name relative to their
 * folder, plus the entries skipped while listing. A folder without images is an error.
 */
export function expandQueries(args: string[]): { files: QueryFile[]; skipped: ListingSkip[] } {
  const files: QueryFile[] = [];
  const skipped: ListingSkip[] = [];
  for (const a of args) {
    if (!fs.existsSync(a)) throw new Error(`${a}: no such file or folder`);
    if (fs.statSync(a).isDirectory()) {
      const l = listFolder(a);
      if (!l.images.length) throw new Error(`${a}: no query images in this folder`);
      files.push(...l.images.map((rel) => ({ key: rel, file: path.join(a, rel) })));
      skipped.push(...listingSkips(l).map((s) => ({ ...s, id: path.join(a, s.id) })));
    } else files.push({ key: path.basename(a), file: a });
  }
  return { files, skipped };
}

/** Submission object: query key -> ranked gallery ids. */
export function toSubmission(results: QueryResult[]): Record<string, string[]> {
  return Object.fromEntries(results.map((r) => [r.query, r.hits.map((h) => h.id)]));
}

/** The id a file would have in an index rooted at `root` (POSIX relative path), or `query:FILE` outside it. */
export function idInIndex(root: string, file: string): string {
  const rel = path.relative(root, path.resolve(file));
  return rel.startsWith('..') || path.isAbsolute(rel) ? `query:${file}` : rel.split(path.sep).join('/');
}
