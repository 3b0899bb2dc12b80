/** Captions files for image <-> text retrieval: CSV `path,caption` (several rows per image). */
import { readCsv } from './csv.ts';

/** One row of a captions file. */
export interface Caption {
  path: string;
  caption: string;
}

/** Read a captions CSV (`path,caption`, header required; captions may be quoted and contain commas). */
export function readCaptions(file: string): Caption[] {
  const records = readCsv(file);
  if (records.length === 0) throw new Error(`${file}: no captions`);
  if (!('path' in records[0]) || !('caption' in records[0])) throw new Error(`${file}: expected a header with "path" and "caption" columns, got ${Object.keys(records[0]).join(',')}`);
  return records.map((r, i) => {
    const p = r.path.trim();
    const c = r.caption.trim();
    if (!p || !c) throw new Error(`${file}:${i + 2}: missing path or caption`);
    return { path: p, caption: c };
  });
}
