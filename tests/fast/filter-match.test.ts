/** Matching filters in memory (src/data/filter/match.ts): each operator on a table worked out by hand, and random filters against a naive evaluator. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFilter } from '../../src/data/filter/parse.ts';
import { compareCodePoints, compileFilter, matchesFilter } from '../../src/data/filter/match.ts';
import type { FieldSchema, Fields, FilterNode } from '../../src/data/field-types.ts';
import { RANDOM_SCHEMA, randomFilter, randomItems, rng } from '../helpers/filters.ts';

const schema: FieldSchema = { label: 'string', price: 'number', taken: 'date', tags: 'list', sale: 'boolean', folder: 'string' };
const table: { id: string; fields: Fields }[] = [
  { id: 'shoes/a.jpg', fields: { label: 'shoes', price: 10, taken: '2024-01-01', tags: ['red', 'new'], sale: true, folder: 'shoes' } },
  { id: 'shoes/b.jpg', fields: { label: 'shoes', price: 50, taken: '2024-06-30T10:00:00.000Z', tags: ['blue'], sale: false, folder: 'shoes' } },
  { id: 'bags/c.jpg', fields: { label: 'bags', price: 49.5, taken: '2023-12-31T23:30:00.000Z', tags: [], folder: 'bags' } },
  { id: 'd.jpg', fields: { folder: '' } },
  { id: 'shoes2/e.jpg', fields: { label: 'Shoes', price: -1, tags: ['red'], folder: 'shoes2' } },
];

function ids(where: string): string[] {
  const m = compileFilter(parseFilter(where, schema));
  return table.filter((t) => m(t.fields, t.id)).map((t) => t.id.split('/').pop()!);
}

test('each operator on a hand-checked table (missing fields make comparisons false and their negation true)', () => {
  const cases: [string, string[]][] = [
    ['label = "shoes"', ['a.jpg', 'b.jpg']], // case-sensitive: "Shoes" is another label
    ['label != "shoes"', ['c.jpg', 'd.jpg', 'e.jpg']], // != is not(=): d has no label
    ['not label = "shoes"', ['c.jpg', 'd.jpg', 'e.jpg']],
    ['price < 49.5', ['a.jpg', 'e.jpg']],
    ['price <= 49.5', ['a.jpg', 'c.jpg', 'e.jpg']],
    ['price > 10', ['b.jpg', 'c.jpg']],
    ['price >= 10 and price < 50', ['a.jpg', 'c.jpg']],
    ['price between 10 and 50', ['a.jpg', 'b.jpg', 'c.jpg']],
    ['not price > 10', ['a.jpg', 'd.jpg', 'e.jpg']],
    ['price in (10, 50)', ['a.jpg', 'b.jpg']],
    ['price not in (10, 50)', ['c.jpg', 'd.jpg', 'e.jpg']],
    ['taken >= 2024-01-01', ['a.jpg', 'b.jpg']],
    ['taken < 2024-01-01T00:30:00+01:00', []], // = 2023-12-31T23:30Z, an instant: c is not before it
    ['taken <= 2024-01-01T00:30:00+01:00', ['c.jpg']],
    ['taken = "2024-01-01T00:00:00Z"', ['a.jpg']], // same instant as the stored day
    ['exists(taken)', ['a.jpg', 'b.jpg', 'c.jpg']],
    ['not exists(taken)', ['d.jpg', 'e.jpg']],
    ['exists(id)', ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg']],
    ['tags = red', ['a.jpg', 'e.jpg']],
    ['tags contains "new"', ['a.jpg']],
    ['tags != red', ['b.jpg', 'c.jpg', 'd.jpg']],
    ['tags in (blue, new)', ['a.jpg', 'b.jpg']],
    ['sale = true', ['a.jpg']],
    ['sale != true', ['b.jpg', 'c.jpg', 'd.jpg', 'e.jpg']],
    ['sale = false', ['b.jpg']],
    ['folder ^= "shoes"', ['a.jpg', 'b.jpg', 'e.jpg']],
    ['folder = ""', ['d.jpg']],
    ['id ^= "shoes/"', ['a.jpg', 'b.jpg']],
    ['id < "c"', ['c.jpg']], // "bags/c.jpg" < "c"; "d.jpg" and "shoes..." are not
    ['label < "bags" or label > "shoes"', ['e.jpg']], // "Shoes" < "bags" by code point
    ['label = shoes or price < 0 and tags = red', ['a.jpg', 'b.jpg', 'e.jpg']],
    ['(label = shoes or price < 0) and not tags = red', ['b.jpg']],
  ];
  for (const [where, want] of cases) assert.deepEqual(ids(where), want, where);
});

test('matchesFilter agrees with compileFilter; a wrongly typed stored value never matches', () => {
  const node = parseFilter('price > 1', schema);
  assert.equal(matchesFilter(node, { price: 2 }, 'x'), true);
  assert.equal(matchesFilter(node, { price: '2' as unknown as number }, 'x'), false);
  assert.equal(matchesFilter(parseFilter('not price > 1', schema), { price: '2' as unknown as number }, 'x'), true);
  assert.equal(matchesFilter(parseFilter('exists(label)', schema), {}, 'x'), false);
  // Object.prototype names are not fields.
  assert.equal(matchesFilter({ op: 'exists', field: 'toString' }, {}, 'x'), false);
});

test('strings order by code point, as SQL COLLATE "C" on UTF-8', () => {
  const words = ['b', 'a', 'B', 'é', '𝒳', 'ｚ', '', 'ab'];
  const byCodePoint = [...words].sort((x, y) => {
    const a = [...x].map((c) => c.codePointAt(0)!);
    const b = [...y].map((c) => c.codePointAt(0)!);
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  });
  assert.deepEqual([...words].sort(compareCodePoints), byCodePoint);
  assert.deepEqual(byCodePoint.slice(-2), ['ｚ', '𝒳']); // UTF-16 order would put 𝒳 (a surrogate pair) first
});

/** A naive evaluator written apart from match.ts: the documented semantics, one rule at a time. */
function naive(n: FilterNode, f: Fields, id: string): boolean {
  const get = (field: string) => (field === 'id' ? id : Object.hasOwn(f, field) ? f[field] : undefined);
  const instant = (s: unknown) => {
    if (typeof s !== 'string' || !/^\d{4}-\d{2}-\d{2}/.test(s)) return NaN;
    const norm = s.length === 10 ? `${s}T00:00:00Z` : /(Z|[+-]\d\d:\d\d)$/.test(s) ? s : `${s}Z`;
    return Date.parse(norm.replace(' ', 'T'));
  };
  const cp = (s: string) => [...s].map((c) => c.codePointAt(0)!);
  const order = (a: unknown, b: unknown, type: string): number | null => {
    if (type === 'number') return typeof a === 'number' ? Math.sign(a - (b as number)) : null;
    if (type === 'date') return Number.isNaN(instant(a)) ? null : Math.sign(instant(a) - instant(b));
    if (type === 'boolean') return typeof a === 'boolean' ? (a === b ? 0 : 1) : null;
    if (type === 'list') return Array.isArray(a) ? (a.includes(b as string) ? 0 : 1) : null;
    if (typeof a !== 'string') return null;
    const x = cp(a);
    const y = cp(b as string);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return Math.sign(x[i] - y[i]);
    return Math.sign(x.length - y.length);
  };
  switch (n.op) {
    case 'and':
      return n.args.every((a) => naive(a, f, id));
    case 'or':
      return n.args.some((a) => naive(a, f, id));
    case 'not':
      return !naive(n.arg, f, id);
    case 'exists':
      return get(n.field) !== undefined;
    case 'prefix': {
      const v = get(n.field);
      return typeof v === 'string' && v.slice(0, n.value.length) === n.value;
    }
    case 'contains': {
      const v = get(n.field);
      return Array.isArray(v) && v.some((x) => x === n.value);
    }
    case 'in':
      return n.values.some((v) => order(get(n.field), v, n.type) === 0);
    case 'cmp': {
      if (n.cmp === '!=') return !naive({ ...n, cmp: '=' }, f, id);
      const c = order(get(n.field), n.value, n.type);
      if (c === null) return false;
      return { '=': c === 0, '<': c < 0, '<=': c <= 0, '>': c > 0, '>=': c >= 0 }[n.cmp];
    }
  }
}

test('200 random filters on 300 random items agree with a naive evaluator', () => {
  const items = randomItems(300, 11);
  const r = rng(5);
  let nonTrivial = 0;
  for (let i = 0; i < 200; i++) {
    const text = randomFilter(r);
    const node = parseFilter(text, RANDOM_SCHEMA);
    assert.deepEqual(JSON.parse(JSON.stringify(node)), node, `${text}: the tree is plain JSON`);
    const m = compileFilter(node);
    const got = items.filter((t) => m(t.fields, t.id)).map((t) => t.id);
    const want = items.filter((t) => naive(node, t.fields, t.id)).map((t) => t.id);
    assert.deepEqual(got, want, text);
    if (got.length > 0 && got.length < items.length) nonTrivial++;
  }
  assert.ok(nonTrivial > 100, `only ${nonTrivial} filters kept some but not all items`);
});
