/** Captions files for image <-> text retrieval: CSV `path,caption` (several rows per image). */
import { readCsvRecords } from './csv.ts';

/** One row of a captions file. */
export interface Caption {
  path: string;
  caption: string;
}

/** Read a captions CSV (`path,caption`, header required; captions may be quoted and contain commas). */
export function readCaptions(file: string): Caption[] {
  const records = readCsvRecords(file);
  if (records.length === 0) throw new Error(`${file}: no captions`);
  if (!('path' in records[0].record) || !('caption' in records[0].record)) throw new Error(`${file}: expected a header with "path" and "caption" columns, got ${Object.keys(records[0].record).join(',')}`);
  return records.map(({ record: r, line }) => {
    const p = r.path.trim();
    const c = r.caption.trim();
    if (!p || !c) throw new Error(`${file}:${line}: missing path or caption`);
    return { path: p, caption: c };
  });
}
