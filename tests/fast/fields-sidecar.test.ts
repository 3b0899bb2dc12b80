/** Fields from sidecar files (CSV and JSONL) and from users (checkFields): typing, path normalisation, limits and file:line errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkFields, itemPath, MAX_FIELDS, MAX_FIELDS_BYTES, readFieldsFile } from '../../src/data/fields/sidecar.ts';
import { canonicalDate, parseDate } from '../../src/data/fields/dates.ts';
import { tmpDir } from '../helpers/tmp.ts';
import type { FieldSchema } from '../../src/data/field-types.ts';

const dir = tmpDir('lookalike-fields-');
function write(name: string, text: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

test('CSV: inferred and annotated types, lists, empty cells, path normalisation', () => {
  const f = write(
    'items.csv',
    [
      'path,price,brand,sale,when,tags:list,code:string,size:number',
      './shoes/a.jpg,10,Acme,true,2024-01-01,red|new,007,',
      'shoes//b.jpg, 49.5 ,"Bolt, Inc.",FALSE,2024-06-30T12:00:00+02:00, blue ,12,3',
      'c.jpg,,,,,,,',
    ].join('\n'),
  );
  const { byPath, schema } = readFieldsFile(f);
  assert.deepEqual(schema, { price: 'number', brand: 'string', sale: 'boolean', when: 'date', tags: 'list', code: 'string', size: 'number' });
  assert.deepEqual([...byPath.keys()], ['shoes/a.jpg', 'shoes/b.jpg', 'c.jpg']);
  assert.deepEqual(byPath.get('shoes/a.jpg'), { price: 10, brand: 'Acme', sale: true, when: '2024-01-01', tags: ['red', 'new'], code: '007' });
  assert.deepEqual(byPath.get('shoes/b.jpg'), { price: 49.5, brand: 'Bolt, Inc.', sale: false, when: '2024-06-30T10:00:00.000Z', tags: ['blue'], code: '12', size: 3 });
  assert.deepEqual(byPath.get('c.jpg'), {});
});

test('CSV: a type error names file:line and the column', () => {
  const f = write('bad.csv', 'path,price:number\na.jpg,1\nb.jpg,abc\n');
  assert.throws(() => readFieldsFile(f), { message: `${f}:3: column "price": "abc" is not a number` });
  const d = write('baddate.csv', 'path,when:date\na.jpg,2024-02-30\n');
  assert.throws(() => readFieldsFile(d), new RegExp(`^Error: ${d}:2: column "when": "2024-02-30" is not a date`));
  assert.throws(() => readFieldsFile(write('ann.csv', 'path,price:numbr\n')), /ann\.csv:1: column "price:numbr": unknown type "numbr" .*did you mean "number"/);
  assert.throws(() => readFieldsFile(write('nopath.csv', 'file,price\na,1\n')), /nopath\.csv:1: no path column/);
  assert.throws(() => readFieldsFile(write('dup.csv', 'path,x\na.jpg,1\n./a.jpg,2\n')), /dup\.csv:3: duplicate path a\.jpg \(first on line 2\)/);
  assert.throws(() => readFieldsFile(write('name.csv', 'path,id\na.jpg,1\n')), /name\.csv:1: column 2: field name "id" is reserved/);
  assert.throws(() => readFieldsFile(write('up.csv', 'path,x\n../a.jpg,1\n')), /up\.csv:2: path "\.\.\/a\.jpg" is not a file inside the indexed folder/);
  assert.throws(() => readFieldsFile(write('abs.csv', 'path,x\n/data/a.jpg,1\n')), /abs\.csv:2: absolute path "\/data\/a\.jpg": give paths relative to the indexed folder/);
  assert.throws(() => readFieldsFile(write('cols.csv', 'path,x\na.jpg,1,2\n')), /cols\.csv:2: 3 columns, header has 2/);
  assert.throws(() => readFieldsFile(write('items.txt', 'path\n')), /must be \.csv or \.jsonl/);
});

test('absolute paths are made relative to the indexed folder when it is given', () => {
  const f = write('absok.csv', 'path,x\n/data/photos/shoes/a.jpg,1\n');
  assert.deepEqual([...readFieldsFile(f, { root: '/data/photos' }).byPath.keys()], ['shoes/a.jpg']);
  assert.throws(() => readFieldsFile(f, { root: '/data/other' }), /absok\.csv:2: path .* is not a file inside the indexed folder/);
  assert.equal(itemPath('a\\b.jpg'), 'a/b.jpg');
});

test('JSONL: types from JSON, date strings, nulls, and errors naming the line', () => {
  const f = write(
    'items.jsonl',
    [
      '{"path": "a.jpg", "price": 10, "tags": ["x", "y"], "taken": "2024-01-01", "note": "2024-01-01", "ok": true}',
      '',
      '{"path": "./b.jpg", "price": 2.5, "taken": "2024-05-01 10:00:00", "note": "hello", "ok": null}',
    ].join('\n'),
  );
  const { byPath, schema } = readFieldsFile(f);
  assert.deepEqual(schema, { price: 'number', tags: 'list', taken: 'date', note: 'string', ok: 'boolean' });
  assert.deepEqual(byPath.get('a.jpg'), { price: 10, tags: ['x', 'y'], taken: '2024-01-01', note: '2024-01-01', ok: true });
  assert.deepEqual(byPath.get('b.jpg'), { price: 2.5, taken: '2024-05-01T10:00:00.000Z', note: 'hello' });
  const mixed = write('mixed.jsonl', '{"path":"a.jpg","price":1}\n{"path":"b.jpg","price":"abc"}\n');
  assert.throws(() => readFieldsFile(mixed), { message: `${mixed}:2: field "price": "abc" is not a number (line 1 made it number)` });
  assert.throws(() => readFieldsFile(write('json.jsonl', '{"path":"a.jpg"}\n{"path": \n')), /json\.jsonl:2: not valid JSON/);
  assert.throws(() => readFieldsFile(write('nested.jsonl', '{"path":"a.jpg","o":{"a":1}}\n')), /nested\.jsonl:1: field "o": an object is not a string, number, boolean or list of strings/);
  assert.throws(() => readFieldsFile(write('list.jsonl', '{"path":"a.jpg","t":["a",1]}\n')), /list\.jsonl:1: field "t": a list is not/);
  assert.throws(() => readFieldsFile(write('nop.jsonl', '{"file":"a.jpg"}\n')), /nop\.jsonl:1: no "path" string/);
});

test('checkFields: types against the schema, new fields added, dates canonical, limits', () => {
  const r = checkFields({ price: 3, taken: '2024-01-01T12:00:00+01:00', tags: ['a'], brand: 'x' }, { price: 'number' }, 'POST /items: item "a.jpg"');
  assert.deepEqual(r.fields, { price: 3, taken: '2024-01-01T11:00:00.000Z', tags: ['a'], brand: 'x' });
  assert.deepEqual(r.schema, { price: 'number', taken: 'date', tags: 'list', brand: 'string' });
  const w = 'POST /items: item "a.jpg"';
  assert.throws(() => checkFields({ price: 'cheap' }, { price: 'number' }, w), { message: `${w}: field "price" is a number, got "cheap"` });
  assert.throws(() => checkFields({ taken: 'soon' }, { taken: 'date' }, w), /field "taken" is a date .*got "soon"/);
  assert.throws(() => checkFields({ 'bad name': 1 }, {}, w), /field name "bad name" is not valid/);
  assert.throws(() => checkFields({ x: null }, {}, w), /field "x" must be a string, number, boolean or list of strings, got null/);
  assert.throws(() => checkFields({ x: { a: 1 } }, {}, w), /got an object/);
  assert.throws(() => checkFields({ x: 'a\0b' }, {}, w), /NUL or an unpaired surrogate/);
  assert.throws(() => checkFields({ x: '\ud800' }, {}, w), /NUL or an unpaired surrogate/);
  assert.throws(() => checkFields([1], {}, w), /fields must be a JSON object/);
  assert.throws(() => checkFields({ toString: 1, constructor: 'x' }, { toString: 'string' } as FieldSchema, w), /field "toString" is a string, got 1/);
  assert.deepEqual(checkFields({ constructor: 'x' }, {}, w).schema, { constructor: 'string' });
  const many = Object.fromEntries(Array.from({ length: MAX_FIELDS + 1 }, (_, i) => [`f${i}`, i]));
  assert.throws(() => checkFields(many, {}, w), new RegExp(`${MAX_FIELDS + 1} fields, at most ${MAX_FIELDS}`));
  assert.throws(() => checkFields({ x: 'y'.repeat(MAX_FIELDS_BYTES) }, {}, w), new RegExp(`at most ${MAX_FIELDS_BYTES} per item`));
  assert.throws(() => checkFields({ n: Infinity }, {}, w), /field "n" must be/);
});

test('dates: accepted forms, instants, UTC without a zone, invalid days and years', () => {
  assert.equal(parseDate('2024-01-01'), Date.UTC(2024, 0, 1));
  assert.equal(parseDate('2024-01-01T01:30+01:30'), Date.UTC(2024, 0, 1));
  assert.equal(parseDate('2024-01-01 00:00:00.0009'), Date.UTC(2024, 0, 1)); // fractions cut to milliseconds
  assert.equal(canonicalDate('0050-03-01T10:00'), '0050-03-01T10:00:00.000Z'); // not 1950
  assert.equal(canonicalDate('2024-02-29'), '2024-02-29');
  for (const bad of ['2023-02-29', '1900-02-29', '2024-04-31', '2024-13-01', '0000-01-01', '2024-01-01T24:00', '2024-01-01T10:60', '2024-01-01T10:00:60', '9999-12-31T23:00-05:00', '2024-1-1', '2024-01-01T10:00+0200', '20240101', ' 2024-01-01']) {
    assert.equal(parseDate(bad), undefined, bad);
  }
  assert.equal(canonicalDate('2000-02-29T23:59:59.999-00:30'), '2000-03-01T00:29:59.999Z');
});
