/** CSV parsing (RFC 4180 style: quoted fields may hold commas, quotes as "" and newlines). */
import fs from 'node:fs';

/** Parse CSV text into rows of fields; a BOM is dropped, blank lines are kept as [""] rows. */
export function parseCsvRows(text: string): string[][] {
  text = text.replace(/^\uFEFF/, '');
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** Parse CSV text with a header into header-keyed records; errors name the file and line. */
export function parseCsv(text: string, file = '<csv>'): Record<string, string>[] {
  const rows = parseCsvRows(text).filter((r) => !(r.length === 1 && r[0].trim() === ''));
  if (rows.length === 0) throw new Error(`${file}: empty CSV`);
  const header = rows[0].map((h) => h.trim());
  return rows.slice(1).map((cells, i) => {
    if (cells.length !== header.length) throw new Error(`${file}:${i + 2}: ${cells.length} columns, header has ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, cells[j]]));
  });
}

/** Read and parse a CSV file with a header; a missing file is an error naming it. */
export function readCsv(file: string): Record<string, string>[] {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  return parseCsv(fs.readFileSync(file, 'utf8'), file);
}
