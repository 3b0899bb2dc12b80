/** Label manifests: CSV files with a header `path,label[,domain][,split]` (extra columns are kept). */
import { readCsvRecords } from './csv.ts';

/** The class label a relative path gets from its class folder (its first folder), or undefined for a file at the root. */
export function folderLabel(relPath: string): string | undefined {
  const i = relPath.indexOf('/');
  return i > 0 ? relPath.slice(0, i) : undefined;
}

/** One labelled image. */
export interface LabelRow {
  path: string;
  label: string;
  domain?: string;
  split?: string;
  /** Any other columns, by header name. */
  extra: Record<string, string>;
}

/** Read a labels CSV (`path,label[,domain][,split]`). Duplicate paths, empty paths and empty labels are errors naming file:line. */
export function readLabels(file: string): LabelRow[] {
  const records = readCsvRecords(file);
  if (records.length && (!('path' in records[0].record) || !('label' in records[0].record))) {
    throw new Error(`${file}: header must start with path,label (got ${Object.keys(records[0].record).join(',')})`);
  }
  const seen = new Set<string>();
  return records.map(({ record: r, line }) => {
    if (r.path.trim() === '') throw new Error(`${file}:${line}: empty path`);
    if (r.label.trim() === '') throw new Error(`${file}:${line}: empty label for ${r.path} (every row needs a class label)`);
    if (seen.has(r.path)) throw new Error(`${file}:${line}: duplicate path ${r.path}`);
    seen.add(r.path);
    const { path, label, domain, split, ...extra } = r;
    return { path, label, domain: domain || undefined, split: split || undefined, extra };
  });
}
