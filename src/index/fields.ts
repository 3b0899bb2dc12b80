/**
 * Item fields after indexing: change them without re-embedding, browse the items a filter
 * matches, and count field values (the page's facets). Fields never change scores.
 */
import type { FieldSchema, FieldValue, Fields, FilterNode } from '../data/field-types.ts';
import type { ItemRecord, VectorStore } from '../store/types.ts';
import { OptionError } from '../util/options.ts';
import { resolveFilter } from './search.ts';

/** One change of an item's fields: merged into the present ones (a null value removes that field), or replacing them all. */
export interface FieldUpdate {
  id: string;
  fields: Record<string, FieldValue | null>;
}

/**
 * Apply field updates in one atomic write: each item is written again with its stored vector,
 * file record and label, and the new fields (the vector is copied, never recomputed).
 */
export async function setItemFields(store: VectorStore, updates: FieldUpdate[], replace = false): Promise<number> {
  if (!updates.length) return 0;
  const ids = updates.map((u) => u.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new OptionError(`{{fields}}: id "${dup}" is updated twice in one change`);
  const recs = await store.items(ids);
  const vectors = await store.getVectors(ids);
  const dim = vectors.length / Math.max(1, ids.length);
  const upsert = updates.map((u, i) => {
    const next: Fields = replace ? {} : { ...recs[i].fields };
    for (const [name, v] of Object.entries(u.fields)) {
      if (v === null) delete next[name];
      else next[name] = v;
    }
    const { id, file, label, domain } = recs[i];
    return { id, file, label, domain, fields: next, vector: vectors.slice(i * dim, (i + 1) * dim) };
  });
  await store.write({ upsert });
  return upsert.length;
}

/**
 * `name=value` assignments (the CLI's `fields set`) as field values: typed by the index's schema
 * when the field exists (numbers, booleans, ISO dates, lists split on `|`), otherwise a number
 * when the text is one, true/false as a boolean, else a string. `name=` with nothing after
 * removes the field.
 */
export function parseAssignments(assignments: string[], schema: FieldSchema): Record<string, FieldValue | null> {
  const out: Record<string, FieldValue | null> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq < 1) throw new OptionError(`{{fields}} ${JSON.stringify(a)}: expected name=value`);
    const name = a.slice(0, eq);
    const text = a.slice(eq + 1);
    if (text === '') {
      out[name] = null;
      continue;
    }
    const type = schema[name];
    const bad = () => new OptionError(`{{fields}} ${name}=${text}: the field is a ${type}`);
    if (type === 'number' || (!type && /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text))) {
      const n = Number(text);
      if (!Number.isFinite(n)) throw bad();
      out[name] = n;
    } else if (type === 'boolean' || (!type && (text === 'true' || text === 'false'))) {
      if (text !== 'true' && text !== 'false') throw bad();
      out[name] = text === 'true';
    } else if (type === 'list') out[name] = text.split('|').filter((x) => x !== '');
    else out[name] = text;
  }
  return out;
}

/** Options of browseItems. */
export interface BrowseOptions {
  filter?: string | FilterNode;
  offset?: number;
  limit?: number;
  /** `id` (default) or a field name; items without the field come last. */
  sortBy?: string;
  descending?: boolean;
}

/** A page of the items a filter matches, in a stable order, with the total count. */
export async function browseItems(store: VectorStore, opts: BrowseOptions = {}): Promise<{ total: number; items: ItemRecord[] }> {
  const offset = opts.offset ?? 0;
  const limit = opts.limit ?? 60;
  if (!Number.isInteger(offset) || offset < 0) throw new OptionError(`{{offset}} ${offset}: expected a whole number >= 0`);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new OptionError(`{{limit}} ${limit}: expected a whole number from 1 to 1000`);
  const ids = await store.select(await resolveFilter(store, opts.filter));
  const by = opts.sortBy ?? 'id';
  const sign = opts.descending ? -1 : 1;
  if (by === 'id') {
    const page = opts.descending ? ids.slice().reverse().slice(offset, offset + limit) : ids.slice(offset, offset + limit);
    return { total: ids.length, items: page.length ? await store.items(page) : [] };
  }
  const schema = await store.fieldSchema();
  if (!(by in schema)) throw new OptionError(`{{sortBy}} ${by}: no such field (fields: id, ${Object.keys(schema).join(', ')})`);
  const recs = ids.length ? await store.items(ids) : [];
  recs.sort((a, b) => {
    const x = a.fields[by];
    const y = b.fields[by];
    if (x === undefined || y === undefined) return x === y ? (a.id < b.id ? -1 : 1) : x === undefined ? 1 : -1;
    const c = x < y ? -1 : x > y ? 1 : 0;
    return c * sign || (a.id < b.id ? -1 : 1);
  });
  return { total: ids.length, items: recs.slice(offset, offset + limit) };
}

/** Counts of one field's values among the matching items. */
export type Facet =
  | { field: string; type: 'string' | 'boolean' | 'list'; present: number; values: { value: string | boolean; count: number }[] }
  | { field: string; type: 'number' | 'date'; present: number; min: number | string; max: number | string };

/** Per field of the index: top `top` values with counts (strings, booleans, lists) or the range (numbers, dates). */
export async function facetCounts(store: VectorStore, opts: { filter?: string | FilterNode; top?: number } = {}): Promise<Facet[]> {
  const schema: FieldSchema = await store.fieldSchema();
  const ids = await store.select(await resolveFilter(store, opts.filter));
  const top = opts.top ?? 20;
  const counts = new Map<string, Map<string | boolean, number>>();
  const ranges = new Map<string, { min: number | string; max: number | string }>();
  const present = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 10_000) {
    for (const r of await store.items(ids.slice(i, i + 10_000))) {
      for (const [name, v] of Object.entries(r.fields)) {
        present.set(name, (present.get(name) ?? 0) + 1);
        const t = schema[name];
        if (t === 'number' || t === 'date') {
          const x = v as number | string;
          const g = ranges.get(name);
          if (!g) ranges.set(name, { min: x, max: x });
          else (g.min = x < g.min ? x : g.min), (g.max = x > g.max ? x : g.max);
          continue;
        }
        const m = counts.get(name) ?? new Map<string | boolean, number>();
        counts.set(name, m);
        for (const x of Array.isArray(v) ? v : [v as string | boolean]) m.set(x, (m.get(x) ?? 0) + 1);
      }
    }
  }
  return Object.entries(schema).map(([field, type]): Facet => {
    const n = present.get(field) ?? 0;
    if (type === 'number' || type === 'date') {
      const g = ranges.get(field);
      return { field, type, present: n, min: g?.min ?? (type === 'number' ? 0 : ''), max: g?.max ?? (type === 'number' ? 0 : '') };
    }
    const values = [...(counts.get(field) ?? new Map<string | boolean, number>())]
      .sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : 1))
      .slice(0, top)
      .map(([value, count]) => ({ value, count }));
    return { field, type, present: n, values };
  });
}
