/**
 * Item fields given by the user (docs/filters.md#sidecar-files): a CSV or JSONL sidecar for
 * `index --fields`, joined on a `path` column, and checkFields for fields from the API or the
 * library. Both type every field (number, string, boolean, date, list of strings), keep each
 * field's type consistent with the index's schema, store dates canonicalised (dates.ts) and
 * enforce the same limits.
 */
import path from 'node:path';
import { parseNumber } from './number.ts';
import { FILTER_KEYWORDS, ID_FIELD, type FieldSchema, type FieldType, type FieldValue, type Fields } from '../field-types.ts';
import { parseCsvLines } from '../csv.ts';
import { didYouMean, readText } from '../../util/text.ts';
import { canonicalDate } from './dates.ts';

/** A field value or name that does not fit (bad input, not a fault: the server answers 400). */
export class FieldError extends Error {
  override name = 'FieldError';
}

/** Field names: a letter or _, then letters, digits, _ . -; at most 64 characters. */
export const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** Most fields one item may have. */
export const MAX_FIELDS = 64;
/** Largest JSON encoding of one item's fields, in bytes. */
export const MAX_FIELDS_BYTES = 4096;
/** Separator of list items in a CSV cell (`red|new`); items are trimmed, empty items dropped. */
export const CSV_LIST_SEPARATOR = '|';
const TYPES: FieldType[] = ['string', 'number', 'boolean', 'date', 'list'];
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The problem with a field name, or '' when it is a valid name. */
export function fieldNameProblem(name: string): string {
  if (!FIELD_NAME.test(name)) return `field name ${JSON.stringify(name)} is not valid (a letter or _, then letters, digits, _ . -; at most 64 characters)`;
  if (name === ID_FIELD) return `field name "${name}" is reserved (every item has the built-in id); rename it`;
  if (FILTER_KEYWORDS.has(name.toLowerCase())) return `field name "${name}" is reserved (a word of the filter language); rename it`;
  // JSON objects in JS would turn this name into a prototype.
  if (name === '__proto__') return `field name "${name}" is reserved; rename it`;
  return '';
}

const describe = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v) : Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'an object' : String(v));
const WANT: Record<FieldType, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  date: 'a date (ISO 8601: 2024-05-01 or 2024-05-01T10:00:00Z)',
  list: 'a list of strings',
};

/** A string both the JSON store and Postgres accept: well-formed UTF-16 and no NUL. */
function storableString(s: string): boolean {
  return !LONE_SURROGATE.test(s) && !s.includes('\0');
}

/** The type a value would give a new field (strings that are ISO dates make date fields), or undefined when it is no field value. */
function typeOf(v: unknown): FieldType | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? 'number' : undefined;
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return canonicalDate(v) !== undefined ? 'date' : 'string';
  if (Array.isArray(v)) return v.every((x) => typeof x === 'string') ? 'list' : undefined;
  return undefined;
}

/** The value stored for `v` in a field of `type`, or undefined when it does not fit. */
function fit(v: unknown, type: FieldType): FieldValue | undefined {
  switch (type) {
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'string':
      return typeof v === 'string' && storableString(v) ? v : undefined;
    case 'date':
      return typeof v === 'string' ? canonicalDate(v) : undefined;
    case 'list':
      return Array.isArray(v) && v.every((x) => typeof x === 'string' && storableString(x)) ? [...(v as string[])] : undefined;
  }
}

/**
 * Check fields given by a user (API, library, sidecar row): a JSON object of at most MAX_FIELDS
 * fields and MAX_FIELDS_BYTES of JSON, valid names, values that are strings, finite numbers,
 * booleans or lists of strings, each of the type the schema has for it. A new field takes the
 * type of its value (an ISO date string makes a date field) and is added to the returned schema
 * (a copy). Dates come back canonicalised. Errors are one line starting with `where`.
 */
export function checkFields(fields: unknown, schema: FieldSchema, where: string): { fields: Fields; schema: FieldSchema } {
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new FieldError(`${where}: fields must be a JSON object like {"color": "red"}, got ${describe(fields)}`);
  const entries = Object.entries(fields);
  if (entries.length > MAX_FIELDS) throw new FieldError(`${where}: ${entries.length} fields, at most ${MAX_FIELDS} per item`);
  const bytes = Buffer.byteLength(JSON.stringify(fields) ?? '');
  if (bytes > MAX_FIELDS_BYTES) throw new FieldError(`${where}: fields take ${bytes} bytes of JSON, at most ${MAX_FIELDS_BYTES} per item`);
  const out: Fields = {};
  const next: FieldSchema = { ...schema };
  for (const [name, v] of entries) {
    const bad = fieldNameProblem(name);
    if (bad) throw new FieldError(`${where}: ${bad}`);
    const type = Object.hasOwn(next, name) ? next[name] : typeOf(v);
    if (type === undefined) throw new FieldError(`${where}: field "${name}" must be a string, number, boolean or list of strings, got ${describe(v)}`);
    const value = fit(v, type);
    if (value === undefined) {
      const extra = (typeof v === 'string' || Array.isArray(v)) && typeOf(v) === type ? ' (it holds a NUL or an unpaired surrogate)' : '';
      throw new FieldError(`${where}: field "${name}" is ${WANT[type]}, got ${describe(v)}${extra}`);
    }
    next[name] = type;
    Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  return { fields: out, schema: next };
}

/**
 * A sidecar path as an index id: `\` becomes `/`, `./` and repeated slashes go, and an absolute
 * path is made relative to `root` (the indexed folder) when given; a path leaving the folder is an error.
 */
export function itemPath(raw: string, root?: string): string {
  let p = raw.trim().replace(/\\/g, '/');
  if (p.startsWith('/') || /^[A-Za-z]:\//.test(p)) {
    if (!root) throw new Error(`absolute path ${JSON.stringify(raw)}: give paths relative to the indexed folder`);
    p = path.relative(path.resolve(root), p).split(path.sep).join('/');
  }
  p = path.posix.normalize(p).replace(/^(\.\/)+/, '');
  if (p === '' || p === '.' || p === '..' || p.startsWith('../') || p.endsWith('/')) throw new Error(`path ${JSON.stringify(raw)} is not a file inside the indexed folder`);
  return p;
}

/** One parsed sidecar row: where it is, its normalised path, and its raw values by field name. */
interface Row {
  line: number;
  path: string;
  values: Record<string, unknown>;
}

/**
 * Read a sidecar of item fields: `.csv` (a `path` column, other columns typed by a header
 * annotation `price:number` / `tags:list` or inferred from all their values) or `.jsonl` (one
 * object per line with a `path` key; types from JSON, a string field whose every value is an
 * ISO date is a date). Paths are normalised with itemPath (relative to `root` if absolute).
 * Errors are one line naming file:line and the column.
 */
export function readFieldsFile(file: string, o: { root?: string } = {}): { byPath: Map<string, Fields>; schema: FieldSchema } {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.csv' && ext !== '.jsonl') throw new Error(`${file}: fields file must be .csv or .jsonl`);
  const text = readText(file);
  const { rows, schema } = ext === '.csv' ? readCsvRows(text, file, o.root) : readJsonlRows(text, file, o.root);
  const byPath = new Map<string, Fields>();
  const firstLine = new Map<string, number>();
  for (const r of rows) {
    if (firstLine.has(r.path)) throw new Error(`${file}:${r.line}: duplicate path ${r.path} (first on line ${firstLine.get(r.path)})`);
    firstLine.set(r.path, r.line);
    byPath.set(r.path, checkFields(r.values, schema, `${file}:${r.line}`).fields);
  }
  return { byPath, schema };
}

function readCsvRows(text: string, file: string, root?: string): { rows: Row[]; schema: FieldSchema } {
  const lines = parseCsvLines(text, file).filter((r) => !(r.cells.length === 1 && r.cells[0].trim() === ''));
  if (lines.length === 0) throw new Error(`${file}: empty CSV (expected a header like path,price:number,tags:list)`);
  const header = lines[0].cells.map((h) => h.trim());
  const cols = header.map((h) => {
    const i = h.lastIndexOf(':');
    const name = i < 0 ? h : h.slice(0, i).trim();
    const ann = i < 0 ? undefined : h.slice(i + 1).trim().toLowerCase();
    if (ann !== undefined && !TYPES.includes(ann as FieldType)) {
      throw new Error(`${file}:${lines[0].line}: column "${h}": unknown type "${ann}" (one of ${TYPES.join(', ')})${didYouMean(ann, TYPES)}`);
    }
    return { name, type: ann as FieldType | undefined };
  });
  const pathCol = cols.findIndex((c) => c.name === 'path');
  if (pathCol < 0) throw new Error(`${file}:${lines[0].line}: no path column (the header must name one, e.g. path,price:number)`);
  if (cols[pathCol].type) throw new Error(`${file}:${lines[0].line}: the path column takes no type`);
  const seen = new Set<string>();
  for (const [j, c] of cols.entries()) {
    if (j === pathCol) continue;
    const bad = fieldNameProblem(c.name);
    if (bad) throw new Error(`${file}:${lines[0].line}: column ${j + 1}: ${bad}`);
    if (seen.has(c.name)) throw new Error(`${file}:${lines[0].line}: column "${c.name}" appears twice`);
    seen.add(c.name);
  }
  const body = lines.slice(1);
  for (const { cells, line } of body) if (cells.length !== header.length) throw new Error(`${file}:${line}: ${cells.length} columns, header has ${header.length}`);
  const schema: FieldSchema = {};
  for (const [j, c] of cols.entries()) {
    if (j === pathCol) continue;
    const cells = body.map((r) => r.cells[j].trim()).filter((x) => x !== '');
    if (c.type) schema[c.name] = c.type;
    else if (cells.length === 0) continue;
    else if (cells.every((x) => parseNumber(x) !== undefined)) schema[c.name] = 'number';
    else if (cells.every((x) => /^(true|false)$/i.test(x))) schema[c.name] = 'boolean';
    else if (cells.every((x) => canonicalDate(x) !== undefined)) schema[c.name] = 'date';
    else schema[c.name] = 'string';
  }
  const rows = body.map(({ cells, line }): Row => {
    let p: string;
    try {
      p = itemPath(cells[pathCol], root);
    } catch (e) {
      throw new Error(`${file}:${line}: ${(e as Error).message}`);
    }
    const values: Record<string, unknown> = {};
    for (const [j, c] of cols.entries()) {
      const type = schema[c.name];
      const cell = cells[j].trim();
      if (j === pathCol || cell === '' || !type) continue;
      const fail = () => new Error(`${file}:${line}: column "${c.name}": ${JSON.stringify(cell)} is not ${WANT[type]}`);
      if (type === 'number') {
        const n = parseNumber(cell);
        if (n === undefined) throw fail();
        values[c.name] = n;
      } else if (type === 'boolean') {
        if (!/^(true|false)$/i.test(cell)) throw fail();
        values[c.name] = cell.toLowerCase() === 'true';
      } else if (type === 'date') {
        if (canonicalDate(cell) === undefined) throw fail();
        values[c.name] = cell;
      } else if (type === 'list') {
        values[c.name] = cell.split(CSV_LIST_SEPARATOR).map((x) => x.trim()).filter((x) => x !== '');
      } else values[c.name] = cell;
    }
    return { line, path: p, values };
  });
  return { rows, schema };
}

function readJsonlRows(text: string, file: string, root?: string): { rows: Row[]; schema: FieldSchema } {
  const rows: Row[] = [];
  // Per field: its JSON kind and the first line that showed it; strings become dates only if every one is a date.
  const kinds = new Map<string, { type: FieldType; line: number; allDates: boolean }>();
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${file}:${line}: not valid JSON (${(e as Error).message.split('\n')[0]})`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new Error(`${file}:${line}: expected a JSON object like {"path": "a.jpg", "price": 10}`);
    const { path: rawPath, ...rest } = obj as Record<string, unknown>;
    if (typeof rawPath !== 'string') throw new Error(`${file}:${line}: no "path" string (each line needs the item's path relative to the indexed folder)`);
    let p: string;
    try {
      p = itemPath(rawPath, root);
    } catch (e) {
      throw new Error(`${file}:${line}: ${(e as Error).message}`);
    }
    const values: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(rest)) {
      if (v === null) continue;
      const bad = fieldNameProblem(name);
      if (bad) throw new Error(`${file}:${line}: ${bad}`);
      const t = typeOf(v);
      if (t === undefined) throw new Error(`${file}:${line}: field "${name}": ${describe(v)} is not a string, number, boolean or list of strings`);
      const kind: FieldType = t === 'date' ? 'string' : t;
      const k = kinds.get(name);
      if (!k) kinds.set(name, { type: kind, line, allDates: t === 'date' });
      else if (k.type !== kind) throw new Error(`${file}:${line}: field "${name}": ${describe(v)} is not ${WANT[k.type]} (line ${k.line} made it ${k.type === 'list' ? 'a list' : k.type})`);
      else if (t !== 'date') k.allDates = false;
      values[name] = v;
    }
    rows.push({ line, path: p, values });
  });
  const schema: FieldSchema = {};
  for (const [name, k] of kinds) schema[name] = k.type === 'string' && k.allDates ? 'date' : k.type;
  return { rows, schema };
}
