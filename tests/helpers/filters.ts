/** Random items and random filter texts for the filter tests (match in memory, SQL). */
import type { FieldSchema, Fields } from '../../src/data/field-types.ts';

/** The schema of randomItems. */
export const RANDOM_SCHEMA: FieldSchema = { color: 'string', name: 'string', price: 'number', taken: 'date', tags: 'list', sale: 'boolean', folder: 'string' };

const COLORS = ['red', 'green', 'blue', 'Red', 'été', '𝒳ray', 'ｚ'];
const TAGS = ['a', 'b', 'c', 'd'];
const FOLDERS = ['', 'shoes', 'shoes/red', 'bags', 'shoes2'];

/** A seeded generator of floats in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** n items with random fields; each field is missing in about one item of five, and the values repeat so filters hit. */
export function randomItems(n: number, seed = 1): { id: string; fields: Fields }[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  return Array.from({ length: n }, (_, i) => {
    const f: Fields = {};
    const folder = pick(FOLDERS);
    if (r() < 0.8) f.color = pick(COLORS);
    if (r() < 0.8) f.name = pick(['x', "x'); drop table t; --", 'a"b', 'α', 'shoe']);
    if (r() < 0.8) f.price = pick([0, 1, 1.5, 10, 49.99, 50, -3, 1e21, 0.1 + 0.2]);
    if (r() < 0.8) f.taken = pick(['2024-01-01', '2024-01-01T00:00:00.000Z', '2023-12-31T23:30:00.000Z', '2024-06-30T10:00:00.500Z', '1999-05-05']);
    if (r() < 0.8) f.tags = TAGS.filter(() => r() < 0.4);
    if (r() < 0.8) f.sale = r() < 0.5;
    f.folder = folder;
    return { id: `${folder ? folder + '/' : ''}img${String(i).padStart(4, '0')}.jpg`, fields: f };
  });
}

/** A random filter text over RANDOM_SCHEMA (and id) of about `depth` levels. */
export function randomFilter(r: () => number, depth = 3): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const q = (s: string) => JSON.stringify(s);
  const leaf = (): string => {
    const ops = ['<', '<=', '>', '>=', '=', '!='];
    switch (pick(['color', 'name', 'price', 'taken', 'tags', 'sale', 'folder', 'id', 'exists', 'in', 'between'])) {
      case 'color':
        return `color ${pick(ops)} ${q(pick(COLORS))}`;
      case 'name':
        return `name ${pick(['=', '!=', '^=', '<'])} ${q(pick(['x', "x'); drop table t; --", 'a"b', 'α', 'sh']))}`;
      case 'price':
        return `price ${pick(ops)} ${pick(['0', '1', '1.5', '50', '-3', '1e21', '0.30000000000000004', '0.3'])}`;
      case 'taken':
        return `taken ${pick(ops)} ${pick(['2024-01-01', '2024-01-01T01:00:00+01:00', '2023-12-31T23:30:00Z', '"2024-06-30 10:00:00.5"', '2000-01-01'])}`;
      case 'tags':
        return pick([`tags = ${pick(TAGS)}`, `tags != ${pick(TAGS)}`, `tags contains ${q(pick(TAGS))}`, `tags in (${pick(TAGS)}, ${pick(TAGS)})`]);
      case 'sale':
        return `sale ${pick(['=', '!='])} ${pick(['true', 'false'])}`;
      case 'folder':
        return pick([`folder ^= ${q(pick(['shoes', 'shoes/', '', 'b']))}`, `folder = ${q(pick(FOLDERS))}`]);
      case 'id':
        return pick([`id ^= "shoes/"`, `id < "m"`, `id = "bags/img0001.jpg"`]);
      case 'exists':
        return `exists(${pick(['color', 'price', 'taken', 'tags', 'id'])})`;
      case 'in':
        return pick([`color in (${q(pick(COLORS))}, ${q(pick(COLORS))})`, `price not in (1, 50)`, `taken in (2024-01-01, 1999-05-05)`]);
      default:
        return pick([`price between 0 and 50`, `taken between 2023-12-31 and 2024-01-01T00:00:00Z`, `color between "a" and "s"`]);
    }
  };
  const node = (d: number): string => {
    if (d <= 0 || r() < 0.3) return r() < 0.2 ? `not ${leaf()}` : leaf();
    const parts = Array.from({ length: 2 + Math.floor(r() * 2) }, () => node(d - 1));
    const joined = parts.join(r() < 0.5 ? ' and ' : ' or ');
    return r() < 0.25 ? `not (${joined})` : `(${joined})`;
  };
  return node(depth);
}
