/** Label manifests: CSV files with a header `path,label[,domain][,split]` (extra columns are kept). */
import { readCsv } from './csv.ts';

/** One labelled image. */
export interface LabelRow {
  path: string;
  label: string;
  domain?: string;
  split?: string;
  /** Any other columns, by header name. */
  extra: Record<string, string>;
}

/** Read a labels CSV (`path,label[,domain][,split]`). Duplicate paths are an error. */
export function readLabels(file: string): LabelRow[] {
  const records = readCsv(file);
  if (records.length && (!('path' in records[0]) || !('label' in records[0]))) {
    throw new Error(`${file}: header must start with path,label (got ${Object.keys(records[0]).join(',')})`);
  }
  const seen = new Set<string>();
  return records.map((r, i) => {
    if (seen.has(r.path)) throw new Error(`${file}:${i + 2}: duplicate path ${r.path}`);
    seen.add(r.path);
    const { path, label, domain, split, ...extra } = r;
    return { path, label, domain: domain || undefined, split: split || undefined, extra };
  });
}
