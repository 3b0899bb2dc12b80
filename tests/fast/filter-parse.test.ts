/** The filter language (src/data/filter/parse.ts): the trees it builds and the errors, with their positions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FilterError, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, parseFilter } from '../../src/data/filter/parse.ts';
import type { FieldSchema } from '../../src/data/field-types.ts';

const schema: FieldSchema = { color: 'string', label: 'string', price: 'number', taken: 'date', tags: 'list', sale: 'boolean', folder: 'string' };

/** The FilterError thrown for `text`, checked to be one line naming the position. */
function fails(text: string): FilterError {
  try {
    parseFilter(text, schema);
  } catch (e) {
    assert.ok(e instanceof FilterError, `not a FilterError: ${e}`);
    assert.ok(!e.message.includes('\n'), e.message);
    assert.match(e.message, new RegExp(`^filter: .* at ${e.position}`));
    return e;
  }
  assert.fail(`no error for ${text}`);
}

test('comparisons, precedence (not > and > or) and parentheses', () => {
  assert.deepEqual(parseFilter('price >= 10 and price < 50', schema), {
    op: 'and',
    args: [
      { op: 'cmp', field: 'price', cmp: '>=', type: 'number', value: 10 },
      { op: 'cmp', field: 'price', cmp: '<', type: 'number', value: 50 },
    ],
  });
  const t = parseFilter('color = "red" or not sale = true and price>-1.5e2', schema);
  assert.deepEqual(t, {
    op: 'or',
    args: [
      { op: 'cmp', field: 'color', cmp: '=', type: 'string', value: 'red' },
      { op: 'and', args: [{ op: 'not', arg: { op: 'cmp', field: 'sale', cmp: '=', type: 'boolean', value: true } }, { op: 'cmp', field: 'price', cmp: '>', type: 'number', value: -150 }] },
    ],
  });
  const p = parseFilter('(color = red or color = blue) AND price != 3', schema);
  assert.equal(p.op, 'and');
  assert.deepEqual((p as { args: unknown[] }).args[1], { op: 'cmp', field: 'price', cmp: '!=', type: 'number', value: 3 });
});

test('in, not in, between, ^=, contains, exists, id, dates and quoting', () => {
  assert.deepEqual(parseFilter(`label in ("a", 'b c', d)`, schema), { op: 'in', field: 'label', type: 'string', values: ['a', 'b c', 'd'] });
  assert.deepEqual(parseFilter('price not in (1, 2)', schema), { op: 'not', arg: { op: 'in', field: 'price', type: 'number', values: [1, 2] } });
  assert.deepEqual(parseFilter('taken between 2024-01-01 and "2024-06-30T12:00:00+02:00"', schema), {
    op: 'and',
    args: [
      { op: 'cmp', field: 'taken', cmp: '>=', type: 'date', value: '2024-01-01T00:00:00.000Z' },
      { op: 'cmp', field: 'taken', cmp: '<=', type: 'date', value: '2024-06-30T10:00:00.000Z' },
    ],
  });
  assert.deepEqual(parseFilter('price == 2 or price <> 3', schema), {
    op: 'or',
    args: [
      { op: 'cmp', field: 'price', cmp: '=', type: 'number', value: 2 },
      { op: 'cmp', field: 'price', cmp: '!=', type: 'number', value: 3 },
    ],
  });
  assert.deepEqual(parseFilter('folder ^= "shoes/"', schema), { op: 'prefix', field: 'folder', value: 'shoes/' });
  assert.deepEqual(parseFilter('id ^= shoes/red', schema), { op: 'prefix', field: 'id', value: 'shoes/red' });
  assert.deepEqual(parseFilter('tags contains "red"', schema), { op: 'contains', field: 'tags', value: 'red' });
  assert.deepEqual(parseFilter('tags = red', schema), { op: 'contains', field: 'tags', value: 'red' });
  assert.deepEqual(parseFilter('tags != red', schema), { op: 'not', arg: { op: 'contains', field: 'tags', value: 'red' } });
  assert.deepEqual(parseFilter('NOT exists(taken)', schema), { op: 'not', arg: { op: 'exists', field: 'taken' } });
  assert.deepEqual(parseFilter(`color = "say \\"hi\\"" or color = 'it\\'s'`, schema), {
    op: 'or',
    args: [
      { op: 'cmp', field: 'color', cmp: '=', type: 'string', value: 'say "hi"' },
      { op: 'cmp', field: 'color', cmp: '=', type: 'string', value: "it's" },
    ],
  });
  // An injection attempt is one plain string value.
  assert.deepEqual(parseFilter(`color = "x'); drop table t; --"`, schema), { op: 'cmp', field: 'color', cmp: '=', type: 'string', value: "x'); drop table t; --" });
});

test('unknown field: position and did-you-mean', () => {
  const e = fails('colr = "red"');
  assert.equal(e.position, 0);
  assert.equal(e.message, 'filter: unknown field "colr" at 0 (did you mean "color"?)');
  assert.equal(fails('price > 1 and exists(tagz)').position, 21);
});

test('wrong type: the position of the literal', () => {
  assert.equal(fails('price < "cheap"').position, 8);
  assert.match(fails('price < "cheap"').message, /field "price" is a number, got "cheap"/);
  assert.equal(fails('taken >= 2024-13-01').position, 9);
  assert.equal(fails('sale = yes').position, 7);
  assert.equal(fails('color = 5').position, 8);
  assert.match(fails('color = and').message, /quote it/);
  assert.equal(fails('price in (1, two)').position, 13);
  // Operators that do not apply to the type: the operator's position.
  assert.equal(fails('sale < true').position, 5);
  assert.equal(fails('tags > "a"').position, 5);
  assert.equal(fails('price ^= "1"').position, 6);
  assert.equal(fails('color contains "r"').position, 6);
});

test('unbalanced parentheses, trailing garbage, empty, stray characters', () => {
  const open = fails('(color = "red" or price > 1');
  assert.equal(open.position, 0);
  assert.match(open.message, /unclosed "\("/);
  const extra = fails('color = "red")');
  assert.equal(extra.position, 13);
  assert.match(extra.message, /unmatched "\)"/);
  assert.equal(fails(')').position, 0);
  assert.equal(fails('price > 1 price < 2').position, 10);
  assert.equal(fails('   ').position, 0);
  assert.equal(fails('').position, 0);
  assert.equal(fails('color = "red').position, 8);
  assert.equal(fails('color = red; drop table t').position, 11);
  assert.equal(fails('price > 1 and').position, 13);
  assert.equal(fails('price 5').position, 6);
  assert.equal(fails('price ! 5').position, 6);
  assert.equal(fails('label in ("a", "b"').position, 9);
  assert.equal(fails('price between 1 or 2').position, 16);
});

test('limits: length and nesting depth', () => {
  const long = `color = "${'x'.repeat(MAX_FILTER_LENGTH)}"`;
  assert.equal(fails(long).position, MAX_FILTER_LENGTH);
  const deep = '('.repeat(MAX_FILTER_DEPTH + 1) + 'price > 1' + ')'.repeat(MAX_FILTER_DEPTH + 1);
  assert.match(fails(deep).message, /nested too deeply/);
  assert.match(fails('not '.repeat(1000) + 'price > 1').message, /nested too deeply/);
  const ok = '('.repeat(MAX_FILTER_DEPTH) + 'price > 1' + ')'.repeat(MAX_FILTER_DEPTH);
  assert.deepEqual(parseFilter(ok, schema), { op: 'cmp', field: 'price', cmp: '>', type: 'number', value: 1 });
});

test('any text either parses to a plain-JSON tree or is a FilterError with a position inside it', () => {
  const pieces = ['price', 'color', 'tags', 'taken', 'id', 'nope', ' ', '(', ')', '"', "'", '\\', '=', '!=', '<', '>=', '^=', ',', 'and', 'or', 'not', 'in', 'between', 'exists', 'contains', '1', '-2.5e3', '2024-01-01', 'red', '"x y"', ';', '$1', 'é', '\u0000'];
  let s = 7;
  const r = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  for (let i = 0; i < 3000; i++) {
    const text = Array.from({ length: 1 + Math.floor(r() * 9) }, () => pieces[Math.floor(r() * pieces.length)]).join(r() < 0.5 ? ' ' : '');
    try {
      const tree = parseFilter(text, schema);
      assert.deepEqual(JSON.parse(JSON.stringify(tree)), tree, text);
    } catch (e) {
      assert.ok(e instanceof FilterError, `${JSON.stringify(text)}: ${e}`);
      assert.ok(e.position >= 0 && e.position <= text.length, `${JSON.stringify(text)}: position ${e.position}`);
    }
  }
});
