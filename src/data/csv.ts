/** CSV parsing (RFC 4180 style: quoted fields may hold commas, quotes as "" and newlines). */
import { readText } from '../util/text.ts';

/** One parsed CSV row and the line it starts on (1-based). */
export interface CsvRow {
  cells: string[];
  line: number;
}

/**
 * Parse CSV text into rows with their starting line numbers; a BOM is dropped, blank lines are
 * kept as [""] rows. A quote left open at the end of the text is an error naming the file and
 * the line it was opened on (instead of silently swallowing the rest of the file).
 */
export function parseCsvLines(text: string, file = '<csv>'): CsvRow[] {
  text = text.replace(/^\uFEFF/, '');
  const rows: CsvRow[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  let quoteLine = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) line++;
        field += ch;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push({ cells: row, line: rowLine });
      row = [];
      field = '';
      line++;
      rowLine = line;
    } else field += ch;
  }
  if (quoted) throw new Error(`${file}:${quoteLine}: unterminated quoted field (a " opened here is never closed)`);
  if (field !== '' || row.length) {
    row.push(field);
    rows.push({ cells: row, line: rowLine });
  }
  return rows;
}

/** Parse CSV text with a header into header-keyed records; errors name the file and line. */
export function parseCsv(text: string, file = '<csv>'): Record<string, string>[] {
  return parseCsvRecords(text, file).map((r) => r.record);
}

/** Header-keyed records with the line each starts on; errors name the file and line. */
export function parseCsvRecords(text: string, file = '<csv>'): { record: Record<string, string>; line: number }[] {
  const rows = parseCsvLines(text, file).filter((r) => !(r.cells.length === 1 && r.cells[0].trim() === ''));
  if (rows.length === 0) throw new Error(`${file}: empty CSV`);
  const header = rows[0].cells.map((h) => h.trim());
  return rows.slice(1).map(({ cells, line }) => {
    if (cells.length !== header.length) throw new Error(`${file}:${line}: ${cells.length} columns, header has ${header.length}`);
    return { record: Object.fromEntries(header.map((h, j) => [h, cells[j]])), line };
  });
}

/** Read and parse a CSV file with a header; a missing or non-UTF-8 file is an error naming it. */
export function readCsv(file: string): Record<string, string>[] {
  return parseCsv(readText(file), file);
}

/** readCsv with the line each record starts on. */
export function readCsvRecords(file: string): { record: Record<string, string>; line: number }[] {
  return parseCsvRecords(readText(file), file);
}
