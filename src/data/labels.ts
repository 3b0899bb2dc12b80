/** Label manifests: CSV files with a header `path,label[,domain][,split]` (extra columns are kept). */
import fs from 'node:fs';

/** One labelled image. */
export interface LabelRow {
  path: string;
  label: string;
  domain?: string;
  split?: string;
  /** Any other columns, by header name. */
  extra: Record<string, string>;
}

/** Split one CSV line, honouring double quotes ("" escapes a quote). */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') out.push(cur), (cur = '');
    else cur += c;
  }
  out.push(cur);
  return out;
}

/** Parse CSV text into header-keyed records; errors name the file and line. */
export function parseCsv(text: string, file = '<csv>'): Record<string, string>[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new Error(`${file}: empty CSV`);
  const header = parseCsvLine(lines[0]).map((h) => h.trim());
  return lines.slice(1).map((line, i) => {
    const cells = parseCsvLine(line);
    if (cells.length !== header.length) throw new Error(`${file}:${i + 2}: ${cells.length} columns, header has ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, cells[j]]));
  });
}

/** Read a labels CSV (`path,label[,domain][,split]`). Duplicate paths are an error. */
export function readLabels(file: string): LabelRow[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such labels file`);
  const records = parseCsv(fs.readFileSync(file, 'utf8'), file);
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
